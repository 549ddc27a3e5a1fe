"""The simulator end to end: the engine's own initiator trades with it over loopback.

Every report the simulator sends is also applied to a client-side
:class:`~fixengine.orders.state.OrderRegistry`, which cross-checks CumQty, LeavesQty,
AvgPx and the order state transitions: no test may leave an anomaly behind.
"""

from __future__ import annotations

import asyncio
import io
import time
from decimal import Decimal
from typing import Any

import pytest
from test_transport_fakes import eventually

from fixengine.application import Engine, SessionHandle
from fixengine.codec import Message
from fixengine.orders.messages import (
    FixVersion,
    build_request,
    parse_cancel_reject,
    parse_execution_report,
)
from fixengine.orders.model import (
    ExecType,
    NewOrderRequest,
    OrdStatus,
    OrdType,
    Side,
    TimeInForce,
)
from fixengine.orders.state import OrderRegistry
from fixengine.session.config import SessionConfig
from fixengine.session.events import MessageReceived, RejectReceived
from fixengine.sim.exchange import FillSpec
from fixengine.sim.server import SimSession, Simulator
from fixengine.transport import InitiatorOptions

FAST = InitiatorOptions(
    connect_timeout=2.0, reconnect_interval=0.05, max_reconnect_interval=0.2, jitter=0.0
)


class Client:
    """An initiator session to the simulator with an order registry and a report queue."""

    def __init__(
        self,
        port: int,
        sender: str = "CLIENT",
        target: str = "EXEC",
        begin_string: str = "FIX.4.4",
        *,
        default_appl_ver_id: str | None = None,
        **config: Any,
    ) -> None:
        config.setdefault("logon_timeout", 3.0)
        config.setdefault("logout_timeout", 1.0)
        config.setdefault("heartbeat_interval", 10)
        self.config = SessionConfig(
            begin_string, sender, target, default_appl_ver_id=default_appl_ver_id, **config
        )
        self.version = FixVersion.parse(default_appl_ver_id or begin_string)
        self.port = port
        self.engine = Engine()
        self.registry = OrderRegistry(now=time.time())
        self.handle: SessionHandle | None = None
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Client:
        await self.engine.start()
        self.handle = self.engine.add_initiator(
            self.config, [("127.0.0.1", self.port)], options=FAST
        )
        self._task = asyncio.get_running_loop().create_task(self._read(self.handle))
        await self.handle.wait_logged_on(timeout=5)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.engine.stop()

    async def _read(self, handle: SessionHandle) -> None:
        async for event in handle.events(MessageReceived, RejectReceived):
            msg = getattr(event, "message")  # noqa: B009
            if msg.msg_type in (b"8", b"9"):
                self.registry.apply(msg, time.time())
            await self._inbox.put(msg)

    async def send(self, msg: Message) -> int:
        assert self.handle is not None
        return await self.handle.send(msg)

    async def submit(
        self,
        side: Side = Side.BUY,
        qty: int | str = 100,
        price: str | None = "10",
        *,
        symbol: str = "XYZ",
        ord_type: OrdType | None = None,
        tif: TimeInForce = TimeInForce.DAY,
        **kw: Any,
    ) -> str:
        """Send a NewOrderSingle; returns its ClOrdID."""
        if ord_type is None:
            ord_type = OrdType.LIMIT if price is not None else OrdType.MARKET
        req = NewOrderRequest(
            symbol=symbol,
            side=side,
            quantity=Decimal(qty),
            ord_type=ord_type,
            price=Decimal(price) if price is not None else None,
            time_in_force=tif,
            **kw,
        )
        req = self.registry.new_order(req, time.time())
        await self.send(build_request(req, self.version, now=time.time()))
        assert req.cl_ord_id is not None
        return req.cl_ord_id

    async def next(self, timeout: float = 10.0) -> Message:
        return await asyncio.wait_for(self._inbox.get(), timeout)

    async def reports(self, n: int, timeout: float = 10.0) -> list[Any]:
        """The next ``n`` ExecutionReports, parsed."""
        out = []
        for _ in range(n):
            msg = await self.next(timeout)
            assert msg.msg_type == b"8", msg
            out.append(parse_execution_report(msg))
        return out

    async def nothing_more(self, wait: float = 0.2) -> None:
        await asyncio.sleep(wait)
        assert self._inbox.empty(), self._inbox.get_nowait()

    def no_anomalies(self) -> None:
        assert list(self.registry.anomalies) == []


def exec_types(reports: list[Any]) -> list[ExecType]:
    return [r.exec_type for r in reports]


# -- lifecycles with one client ------------------------------------------------------------------


async def test_limit_order_is_acknowledged_then_filled_at_once(simulator: Simulator) -> None:
    async with Client(simulator.port) as client:
        cl = await client.submit(Side.BUY, 100, "10.25")
        new, fill = await client.reports(2)
        assert (new.exec_type, new.ord_status) == (ExecType.NEW, OrdStatus.NEW)
        assert (new.cum_qty, new.leaves_qty) == (0, 100)
        assert (fill.exec_type, fill.ord_status) == (ExecType.TRADE, OrdStatus.FILLED)
        assert (fill.last_qty, fill.last_px, fill.cum_qty, fill.leaves_qty) == (
            100,
            Decimal("10.25"),
            100,
            0,
        )
        assert fill.avg_px == Decimal("10.25")
        assert new.order_id == fill.order_id and new.exec_id != fill.exec_id
        assert fill.cl_ord_id == cl and fill.symbol == "XYZ" and fill.side is Side.BUY
        assert client.registry[cl].status is OrdStatus.FILLED
        client.no_anomalies()


async def test_partial_model_fills_a_share_per_interval(simulator: Simulator) -> None:
    simulator.set_fill("CLIENT", FillSpec("partial", Decimal("0.4"), partial_interval=0.05))
    async with Client(simulator.port) as client:
        cl = await client.submit(Side.SELL, 10, "5")
        reports = await client.reports(4)
        assert exec_types(reports) == [ExecType.NEW] + [ExecType.TRADE] * 3
        assert [r.last_qty for r in reports[1:]] == [4, 4, 2]
        assert [r.ord_status for r in reports[1:]] == [
            OrdStatus.PARTIALLY_FILLED,
            OrdStatus.PARTIALLY_FILLED,
            OrdStatus.FILLED,
        ]
        assert [(r.cum_qty, r.leaves_qty) for r in reports[1:]] == [(4, 6), (8, 2), (10, 0)]
        assert client.registry[cl].cum_qty == 10
        client.no_anomalies()


async def test_cancel_of_a_resting_order(simulator: Simulator) -> None:
    simulator.set_fill("CLIENT", "none")
    async with Client(simulator.port) as client:
        cl = await client.submit(Side.BUY, 50, "9")
        (new,) = await client.reports(1)
        assert new.ord_status is OrdStatus.NEW
        cancel = client.registry.cancel(cl, time.time())
        await client.send(build_request(cancel, client.version, now=time.time()))
        (done,) = await client.reports(1)
        assert (done.exec_type, done.ord_status) == (ExecType.CANCELED, OrdStatus.CANCELED)
        assert (done.cl_ord_id, done.orig_cl_ord_id) == (cancel.cl_ord_id, cl)
        assert (done.cum_qty, done.leaves_qty) == (0, 0)
        assert client.registry[cl].status is OrdStatus.CANCELED
        client.no_anomalies()


async def test_cancel_of_an_unknown_order_gets_a_cancel_reject(simulator: Simulator) -> None:
    async with Client(simulator.port) as client:
        msg = Message("F")
        for tag, value in [(41, "NOPE"), (11, "X1"), (55, "XYZ"), (54, "1"), (60, _now())]:
            msg.append(tag, value)
        await client.send(msg)
        reject = parse_cancel_reject(await client.next())
        assert reject.cl_ord_id == "X1" and reject.orig_cl_ord_id == "NOPE"
        assert reject.reason == 1  # unknown order
        assert reject.response_to.value == "1"
        assert reject.ord_status is OrdStatus.REJECTED


async def test_cancel_of_a_filled_order_is_too_late(simulator: Simulator) -> None:
    async with Client(simulator.port) as client:
        cl = await client.submit(Side.BUY, 1, "1")
        await client.reports(2)
        msg = Message("F")
        for tag, value in [(41, cl), (11, "LATE"), (55, "XYZ"), (54, "1"), (60, _now())]:
            msg.append(tag, value)
        await client.send(msg)
        reject = parse_cancel_reject(await client.next())
        assert reject.reason == 0  # too late to cancel
        assert reject.ord_status is OrdStatus.FILLED
        assert reject.order_id == client.registry[cl].order_id


async def test_replace_changes_price_and_quantity_and_chains(simulator: Simulator) -> None:
    simulator.set_fill("CLIENT", "none")
    async with Client(simulator.port) as client:
        first = await client.submit(Side.BUY, 100, "10")
        await client.reports(1)
        r1 = client.registry.replace(first, time.time(), quantity=Decimal(80), price=Decimal(11))
        await client.send(build_request(r1, client.version, now=time.time()))
        (replaced,) = await client.reports(1)
        assert (replaced.exec_type, replaced.ord_status) == (ExecType.REPLACED, OrdStatus.NEW)
        assert (replaced.cl_ord_id, replaced.orig_cl_ord_id) == (r1.cl_ord_id, first)
        assert (replaced.order_qty, replaced.price, replaced.leaves_qty) == (80, 11, 80)
        # a replace of the replace: OrigClOrdID is the latest ClOrdID
        r2 = client.registry.replace(r1.cl_ord_id, time.time(), quantity=Decimal(60))
        await client.send(build_request(r2, client.version, now=time.time()))
        (again,) = await client.reports(1)
        assert (again.cl_ord_id, again.orig_cl_ord_id) == (r2.cl_ord_id, r1.cl_ord_id)
        assert client.registry[first].chain == [first, r1.cl_ord_id, r2.cl_ord_id]
        client.no_anomalies()


async def test_replace_of_an_unknown_order_is_rejected_as_a_replace(
    simulator: Simulator,
) -> None:
    async with Client(simulator.port) as client:
        msg = Message("G")
        for tag, value in [
            (41, "NOPE"), (11, "R1"), (21, "1"), (55, "XYZ"), (54, "1"), (60, _now()),
            (38, 10), (40, "2"), (44, "1"),
        ]:  # fmt: skip
            msg.append(tag, value)
        await client.send(msg)
        reject = parse_cancel_reject(await client.next())
        assert reject.response_to.value == "2" and reject.reason == 1


async def test_invalid_order_terms_are_rejected_with_a_reason(simulator: Simulator) -> None:
    async with Client(simulator.port) as client:
        msg = Message("D")  # a limit order without Price
        for tag, value in [
            (11, "BAD"), (21, "1"), (55, "XYZ"), (54, "1"), (60, _now()), (38, 10), (40, "2"),
        ]:  # fmt: skip
            msg.append(tag, value)
        await client.send(msg)
        (reject,) = await client.reports(1)
        assert (reject.exec_type, reject.ord_status) == (ExecType.REJECTED, OrdStatus.REJECTED)
        assert reject.cl_ord_id == "BAD" and "Price(44)" in (reject.text or "")
        # a ClOrdID used twice
        cl = await client.submit(Side.BUY, 1, "1")
        await client.reports(2)
        await client.submit(Side.BUY, 1, "1", cl_ord_id=None)  # a fresh one is fine
        await client.reports(2)
        dup = Message("D")
        for tag, value in [
            (11, cl), (55, "XYZ"), (54, "1"), (60, _now()), (38, 10), (40, "2"), (44, "1"),
        ]:  # fmt: skip
            dup.append(tag, value)
        await client.send(dup)
        (reject,) = await client.reports(1)
        assert reject.ord_status is OrdStatus.REJECTED and reject.ord_rej_reason == 6


async def test_reject_model_rejects_the_configured_share(simulator: Simulator) -> None:
    simulator.set_fill("CLIENT", FillSpec("reject", reject_fraction=1.0))
    async with Client(simulator.port) as client:
        cl = await client.submit(Side.BUY, 5, "3")
        (reject,) = await client.reports(1)
        assert reject.exec_type is ExecType.REJECTED and reject.cl_ord_id == cl
        assert reject.ord_rej_reason == 0  # broker option
        assert client.registry[cl].status is OrdStatus.REJECTED
        client.no_anomalies()


async def test_ioc_remainder_is_canceled_and_fok_is_killed(simulator: Simulator) -> None:
    simulator.set_fill("CLIENT", "none")
    simulator.set_fill("SELLER", "none")
    async with Client(simulator.port, "SELLER") as seller, Client(simulator.port) as buyer:
        await seller.submit(Side.SELL, 30, "10")
        await seller.reports(1)
        ioc = await buyer.submit(Side.BUY, 50, "10", tif=TimeInForce.IMMEDIATE_OR_CANCEL)
        _new, trade, canceled = await buyer.reports(3)
        assert (trade.last_qty, trade.ord_status) == (30, OrdStatus.PARTIALLY_FILLED)
        assert (canceled.exec_type, canceled.ord_status) == (ExecType.CANCELED, OrdStatus.CANCELED)
        assert (canceled.cum_qty, canceled.leaves_qty) == (30, 0)
        assert buyer.registry[ioc].status is OrdStatus.CANCELED
        await seller.reports(1)  # the seller's fill
        await seller.submit(Side.SELL, 10, "10")
        await seller.reports(1)
        fok = await buyer.submit(Side.BUY, 20, "10", tif=TimeInForce.FILL_OR_KILL)
        _new, killed = await buyer.reports(2)
        assert killed.exec_type is ExecType.CANCELED and killed.cum_qty == 0
        assert buyer.registry[fok].status is OrdStatus.CANCELED
        buyer.no_anomalies()
        seller.no_anomalies()


async def test_market_order_without_liquidity_is_canceled(simulator: Simulator) -> None:
    simulator.set_fill("CLIENT", "none")
    async with Client(simulator.port) as client:
        await client.submit(Side.BUY, 10, None)
        _new, canceled = await client.reports(2)
        assert canceled.exec_type is ExecType.CANCELED
        assert "nothing left to trade" in (canceled.text or "")


async def test_status_request_reports_the_order_and_unknown_orders(simulator: Simulator) -> None:
    simulator.set_fill("CLIENT", "none")
    async with Client(simulator.port) as client:
        cl = await client.submit(Side.SELL, 7, "8")
        await client.reports(1)
        await client.send(
            build_request(client.registry.status_request(cl), client.version, now=time.time())
        )
        (status,) = await client.reports(1)
        assert (status.exec_type, status.ord_status) == (ExecType.ORDER_STATUS, OrdStatus.NEW)
        assert (status.leaves_qty, status.cl_ord_id) == (7, cl)
        client.no_anomalies()
        unknown = Message("H")
        for tag, value in [(11, "GHOST"), (55, "XYZ"), (54, "1")]:
            unknown.append(tag, value)
        await client.send(unknown)
        (status,) = await client.reports(1)
        assert status.ord_status is OrdStatus.REJECTED and status.ord_rej_reason == 5


async def test_mass_cancel_cancels_every_order_then_reports(simulator: Simulator) -> None:
    simulator.set_fill("CLIENT", "none")
    async with Client(simulator.port) as client:
        a = await client.submit(Side.BUY, 1, "1", symbol="AAA")
        b = await client.submit(Side.SELL, 2, "99", symbol="BBB")
        await client.reports(2)
        request = client.registry.mass_cancel(time.time())
        await client.send(build_request(request, client.version, now=time.time()))
        canceled = await client.reports(2)
        assert {r.cl_ord_id for r in canceled} == {a, b}
        assert all(r.ord_status is OrdStatus.CANCELED for r in canceled)
        report = await client.next()
        assert report.msg_type == b"r"
        assert (report.get(531), report.get(533)) == (b"7", b"2")
        assert set(report.get_all(41)) == {a.encode(), b.encode()}
        client.no_anomalies()


async def test_unsupported_message_types_get_a_business_reject(simulator: Simulator) -> None:
    async with Client(simulator.port) as client:
        msg = Message("B")  # News
        for tag, value in [(148, "headline"), (33, 1), (58, "text")]:
            msg.append(tag, value)
        await client.send(msg)
        reject = await client.next()
        assert reject.msg_type == b"j" and reject.get(380) == b"3"


# -- two clients trade with each other -------------------------------------------------------------


async def test_orders_from_two_sessions_match_and_both_get_reports(
    simulator: Simulator,
) -> None:
    simulator.set_fill("ALICE", "none")
    simulator.set_fill("BOB", "none")
    async with Client(simulator.port, "ALICE") as alice, Client(simulator.port, "BOB") as bob:
        ask = await alice.submit(Side.SELL, 100, "10.50")
        await alice.reports(1)
        bid = await bob.submit(Side.BUY, 60, "11")
        _new, bob_fill = await bob.reports(2)
        (alice_fill,) = await alice.reports(1)
        # at the resting order's price, the same quantity on both sides
        assert (bob_fill.last_qty, bob_fill.last_px) == (60, Decimal("10.50"))
        assert (alice_fill.last_qty, alice_fill.last_px) == (60, Decimal("10.50"))
        assert bob_fill.ord_status is OrdStatus.FILLED
        assert (alice_fill.ord_status, alice_fill.leaves_qty) == (OrdStatus.PARTIALLY_FILLED, 40)
        assert alice_fill.cl_ord_id == ask and bob_fill.cl_ord_id == bid
        assert alice_fill.exec_id != bob_fill.exec_id
        # price-time priority: a better price first, then the earlier order
        await alice.submit(Side.SELL, 10, "10.40")
        await alice.reports(1)
        await bob.submit(Side.BUY, 20, "11")
        _, first, second = await bob.reports(3)
        assert [(r.last_qty, r.last_px) for r in (first, second)] == [
            (10, Decimal("10.40")),
            (10, Decimal("10.50")),
        ]
        assert bob.registry.get(second.cl_ord_id) is not None
        assert second.avg_px == Decimal("10.45")
        await alice.reports(2)
        alice.no_anomalies()
        bob.no_anomalies()


@pytest.mark.parametrize(
    ("begin", "appl"), [("FIX.4.2", None), ("FIX.4.3", None), ("FIXT.1.1", "FIX.5.0SP2")]
)
async def test_every_version_trades_with_its_own_report_layout(
    simulator: Simulator, begin: str, appl: str | None
) -> None:
    simulator.set_fill("V", FillSpec("partial", Decimal("0.5"), partial_interval=0.05))
    async with Client(simulator.port, "V", begin_string=begin, default_appl_ver_id=appl) as c:
        await c.submit(Side.BUY, 10, "2")
        new, part, fill = await c.reports(3)
        raw = [r.message for r in (new, part, fill)]
        if begin == "FIX.4.2":
            assert [m.get(150) for m in raw] == [b"0", b"1", b"2"]
            assert all(m.get(20) == b"0" for m in raw)
        else:
            assert [m.get(150) for m in raw] == [b"0", b"F", b"F"]
            assert all(m.get(20) is None for m in raw)
        assert all(m.get(8) == begin.encode() for m in raw)
        c.no_anomalies()


def _now() -> str:
    from fixengine.fields import format_utc_timestamp

    return format_utc_timestamp(time.time_ns(), 3).decode()


async def test_configured_sessions_refuse_unknown_comp_ids() -> None:
    sim = Simulator([SimSession.acceptor("EXEC", "KNOWN")])
    async with sim:
        assert not sim.accept_any_comp_id
        async with Client(sim.port, "KNOWN") as client:
            await client.submit()
            await client.reports(2)
        engine = Engine()
        async with engine:
            cfg = SessionConfig("FIX.4.4", "STRANGER", "EXEC", logon_timeout=1.0)
            handle = engine.add_initiator(cfg, [("127.0.0.1", sim.port)], options=FAST)
            with pytest.raises(asyncio.TimeoutError):
                await handle.wait_logged_on(timeout=0.5)


async def test_market_order_fills_at_the_reference_price_then_at_the_last_trade(
    simulator: Simulator,
) -> None:
    async with Client(simulator.port) as client:
        await client.submit(Side.BUY, 10, None)
        _new, fill = await client.reports(2)
        assert (fill.last_qty, fill.last_px) == (10, Decimal(100))
        await client.submit(Side.SELL, 4, "101.5")
        await client.reports(2)
        await client.submit(Side.SELL, 3, None)
        _new, fill = await client.reports(2)
        assert fill.last_px == Decimal("101.5")  # the last trade price
        client.no_anomalies()


async def test_stop_order_waits_for_a_trade_at_its_stop_price(simulator: Simulator) -> None:
    for name in ("ALICE", "BOB", "CAROL"):
        simulator.set_fill(name, "none")
    async with (
        Client(simulator.port, "ALICE") as alice,
        Client(simulator.port, "BOB") as bob,
        Client(simulator.port, "CAROL") as carol,
    ):
        await alice.submit(Side.SELL, 10, "101")
        await alice.reports(1)
        # the symbol opened at 100: a buy stop at 100.5 waits
        stop = await bob.submit(Side.BUY, 5, None, ord_type=OrdType.STOP, stop_px=Decimal("100.5"))
        (new,) = await bob.reports(1)
        assert new.ord_status is OrdStatus.NEW
        await bob.nothing_more(0.1)
        await carol.submit(Side.BUY, 1, "101")  # prints 101: the stop is reached
        await carol.reports(2)
        (fill,) = await bob.reports(1)
        assert (fill.cl_ord_id, fill.last_qty, fill.last_px) == (stop, 5, Decimal(101))
        assert fill.ord_status is OrdStatus.FILLED
        assert [r.last_qty for r in await alice.reports(2)] == [1, 5]
        for client in (alice, bob, carol):
            client.no_anomalies()


async def test_unlisted_symbols_are_rejected_when_symbols_are_listed() -> None:
    async with Simulator(symbols=["AAA"]) as sim, Client(sim.port) as client:
        await client.submit(Side.BUY, 1, "1", symbol="ZZZ")
        (reject,) = await client.reports(1)
        assert reject.ord_status is OrdStatus.REJECTED and reject.ord_rej_reason == 1
        assert "ZZZ" in (reject.text or "")
        await client.submit(Side.BUY, 1, "1", symbol="AAA")
        await client.reports(2)


async def test_cancel_on_disconnect_cancels_resting_orders_at_logout() -> None:
    async with Simulator(fill="none", cancel_on_disconnect=True) as sim:
        async with Client(sim.port) as client:
            await client.submit(Side.BUY, 5, "1")
            await client.reports(1)
        await eventually(lambda: sim.exchange.stats.cancels == 1)
        assert sim.exchange.engine.orders("FIX.4.4:EXEC->CLIENT") == []
        # the Canceled report waits in the store for the next session
        handle = sim.handle("CLIENT")
        sent = handle.session.store.get_sent(1, handle.next_sender_seq)
        assert any(b"\x01150=4\x01" in raw for _, raw in sent)


async def test_required_heartbeat_interval_refuses_other_logons() -> None:
    from fixengine.session.events import LogonRefused

    async with Simulator(required_heartbeat=30) as sim:
        engine = Engine()
        async with engine:
            cfg = SessionConfig("FIX.4.4", "CLIENT", "EXEC", heartbeat_interval=5)
            handle = engine.add_initiator(cfg, [("127.0.0.1", sim.port)], options=FAST)
            events = handle.events(LogonRefused)
            refused = await events.get(5)
            assert isinstance(refused, LogonRefused)
            assert refused.text == "HeartBtInt(108) must be 30"
        async with Client(sim.port, heartbeat_interval=30) as client:
            assert client.handle is not None and client.handle.is_logged_on


async def test_sessions_made_on_the_fly_get_message_logs(tmp_path: Any) -> None:
    from fixengine.decode import decode_files

    async with Simulator(log_dir=tmp_path) as sim, Client(sim.port, "ANYONE") as client:
        await client.submit()
        await client.reports(2)
    log = tmp_path / "FIX.4.4-EXEC-ANYONE.messages.log"
    assert log.is_file()
    out = io.StringIO()
    assert decode_files([str(log)], stdout=out, stderr=io.StringIO(), msg_types=["8"]) == 0
    assert out.getvalue().count("ExecutionReport") == 2


async def test_a_foreign_fix_implementation_logs_on_with_reset_and_trades(
    simulator: Simulator,
) -> None:
    """A client built with simplefix, not with this engine: the header and rules are FIX's."""
    simplefix = pytest.importorskip("simplefix")
    reader, writer = await asyncio.open_connection("127.0.0.1", simulator.port)
    parser = simplefix.FixParser()
    seq = 0

    def message(msg_type: str, *fields: tuple[int, str]) -> bytes:
        nonlocal seq
        seq += 1
        msg = simplefix.FixMessage()
        msg.append_pair(8, "FIX.4.4", header=True)
        msg.append_pair(35, msg_type, header=True)
        msg.append_pair(49, "FOREIGN", header=True)
        msg.append_pair(56, "EXEC", header=True)
        msg.append_pair(34, seq, header=True)
        msg.append_utc_timestamp(52, precision=3, header=True)
        for tag, value in fields:
            msg.append_pair(tag, value)
        data: bytes = msg.encode()
        return data

    async def receive() -> Any:
        while True:
            msg = parser.get_message()
            if msg is not None:
                return msg
            parser.append_buffer(await asyncio.wait_for(reader.read(4096), 10))

    try:
        writer.write(message("A", (98, "0"), (108, "30"), (141, "Y")))
        logon = await receive()
        assert (logon.get(35), logon.get(141), logon.get(34)) == (b"A", b"Y", b"1")
        order = [
            (11, "F-1"), (55, "XYZ"), (54, "2"), (60, _now()), (38, "7"), (40, "2"),
            (44, "12.5"), (59, "0"),
        ]  # fmt: skip
        writer.write(message("D", *order))
        new, fill = await receive(), await receive()
        assert (new.get(35), new.get(150), new.get(11)) == (b"8", b"0", b"F-1")
        assert (fill.get(150), fill.get(39), fill.get(32), fill.get(31)) == (
            b"F",
            b"2",
            b"7",
            b"12.5",
        )
        assert fill.get(34) == b"3" and fill.get(49) == b"EXEC" and fill.get(56) == b"FOREIGN"
        writer.write(message("5"))
        assert (await receive()).get(35) == b"5"
    finally:
        writer.close()


async def test_a_possible_resend_of_a_known_order_gets_its_status_not_a_second_order(
    simulator: Simulator,
) -> None:
    simulator.set_fill("CLIENT", "none")
    async with Client(simulator.port) as client:
        order = Message("D")
        for tag, value in [
            (11, "PR-1"), (55, "XYZ"), (54, "1"), (60, _now()), (38, 10), (40, "2"), (44, "5"),
        ]:  # fmt: skip
            order.append(tag, value)
        await client.send(order.copy())
        (new,) = await client.reports(1)
        again = order.copy()
        again.append(97, "Y")
        await client.send(again)
        (status,) = await client.reports(1)
        assert (status.exec_type, status.ord_status) == (ExecType.ORDER_STATUS, OrdStatus.NEW)
        assert status.order_id == new.order_id and "already processed" in (status.text or "")
        assert len(simulator.exchange.engine.orders()) == 1
        # a possible resend never seen before is a new order
        fresh = order.copy()
        fresh.set(11, "PR-2")
        fresh.append(97, "Y")
        await client.send(fresh)
        (new2,) = await client.reports(1)
        assert new2.exec_type is ExecType.NEW and new2.cl_ord_id == "PR-2"


async def test_clock_task_stops_even_when_a_wake_up_races_the_cancellation() -> None:
    from fixengine.sim.exchange import Exchange

    exchange = Exchange()
    owner = "FIX.4.4:EXEC->CLIENT"
    exchange.engine.set_fill_model(owner, FillSpec("partial", partial_interval=60).build())
    request = NewOrderRequest("XYZ", Side.BUY, Decimal(10), price=Decimal(1), cl_ord_id="A")
    exchange.engine.submit(owner, request, time.time())
    assert exchange.engine.next_wakeup() is not None  # the task sleeps with a timeout
    for spins in range(20):
        exchange.start()
        for _ in range(spins % 4):
            await asyncio.sleep(0)
        task = exchange._task
        assert task is not None
        exchange._poke()  # a request arrived just as the simulator stops
        for _ in range(spins % 3):
            await asyncio.sleep(0)
        await asyncio.wait_for(exchange.stop(), 2.0)
        assert task.done()
