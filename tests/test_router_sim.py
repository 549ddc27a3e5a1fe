"""The order router end to end against the exchange simulator, over loopback sockets.

The simulator (:mod:`fixengine.sim`) validates every message against the shipped
dictionaries, keeps one order book per symbol shared by its sessions, fills by the
session's fill model and injects faults on request. Each test checks the router's
view against what the simulator did (its counters, its fault statistics).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from test_router_fakes import Client

from fixengine.orders import NewOrderRequest, OrdType, Side, TimeInForce
from fixengine.orders.model import OrdStatus
from fixengine.orders.risk import PreTradeRisk, RefusalReason, RiskLimits, SlidingWindowThrottle
from fixengine.orders.router import OrderRefused, OrderRejected, UpdateKind
from fixengine.sim.exchange import FillSpec
from fixengine.sim.server import Simulator


def buy(qty: int = 100, px: str = "100", **kw: Any) -> NewOrderRequest:
    return NewOrderRequest("ACME", Side.BUY, D(qty), price=D(px), **kw)


def sell(qty: int = 100, px: str = "100", **kw: Any) -> NewOrderRequest:
    return NewOrderRequest("ACME", Side.SELL, D(qty), price=D(px), **kw)


@pytest.fixture
def sim(simulator: Simulator) -> Simulator:
    """The shared simulator fixture, trading on its books only unless a test says otherwise."""
    simulator.default_fill = FillSpec("none")
    return simulator


def client(sim: Any, sender: str = "CLIENT", **kw: Any) -> Client:
    return Client(sim.port, sender=sender, target="EXEC", **kw)


def stats(sim: Any) -> Any:
    return sim.exchange.stats


# -- lifecycles ----------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["FIX.4.2", "FIX.4.4", "FIX.5.0SP2"])
async def test_limit_order_new_ack_fill_in_every_version(sim: Any, version: str) -> None:
    sim.set_fill("CLIENT", "immediate")
    async with client(sim, version=version) as c:
        order = await c.router.submit(buy(100, "100.25"))
        await order.filled(3)
        assert order.avg_px == D("100.25") and order.leaves_qty == 0
        assert [u.status for u in order.history if u.changed][-1] is OrdStatus.FILLED
        assert not order.anomalies and not c.router.anomalies


async def test_a_caller_resumes_on_the_ack_before_the_fill_read_with_it_is_applied(
    sim: Any,
) -> None:
    sim.set_fill("CLIENT", "immediate")  # the ack and the fill leave in one write
    async with client(sim) as c:
        assert c.handle.driver.first_message_alone  # the router asked for it
        for _ in range(3):
            order = await c.router.submit(buy(100, "100.25"))
            assert await order.acknowledged(3) is OrdStatus.NEW
            await order.filled(3)
            assert order.status is OrdStatus.FILLED and order.leaves_qty == 0


async def test_partial_fills_then_filled(sim: Any) -> None:
    sim.set_fill("CLIENT", FillSpec("partial", partial_fraction=D("0.5"), partial_interval=0.05))
    async with client(sim) as c:
        order = await c.router.submit(buy(100))
        await order.filled(3)
        statuses = [u.status for u in order.history if u.kind is UpdateKind.REPORT]
        assert OrdStatus.PARTIALLY_FILLED in statuses and statuses[-1] is OrdStatus.FILLED
        assert [f.quantity for f in order.fills] == [D(50), D(50)]
        assert not order.anomalies


async def test_cancel_replace_and_replace_of_a_replace(sim: Any) -> None:
    async with client(sim) as c:
        order = await c.router.submit(buy(100, "99"))
        await order.acknowledged(3)
        r1 = await c.router.replace(order, quantity=D(150))
        await r1.result(3)
        r2 = await c.router.replace(order, price=D("99.5"))
        await r2.result(3)
        assert order.chain == (order.key, r1.cl_ord_id, r2.cl_ord_id)
        assert (order.quantity, order.price) == (D(150), D("99.5"))
        status = await c.router.status(order)
        await status.result(3)
        assert status.status is OrdStatus.NEW
        cancel = await c.router.cancel(order)
        await cancel.result(3)
        assert order.state is OrdStatus.CANCELED
        s = stats(sim)
        assert (s.orders, s.replaces, s.cancels, s.status_requests) == (1, 2, 1, 1)
        assert not order.anomalies


async def test_rejected_order(sim: Any) -> None:
    sim.set_fill("CLIENT", FillSpec("reject", reject_fraction=1.0, seed=1))
    async with client(sim) as c:
        order = await c.router.submit(buy())
        with pytest.raises(OrderRejected):
            await order.acknowledged(3)
        assert order.state is OrdStatus.REJECTED and order.order.text


@pytest.mark.parametrize(
    "tif", [TimeInForce.IMMEDIATE_OR_CANCEL, TimeInForce.FILL_OR_KILL], ids=["IOC", "FOK"]
)
async def test_ioc_and_fok_against_the_book(sim: Any, tif: TimeInForce) -> None:
    async with client(sim, "MAKER") as maker, client(sim) as taker:
        resting = await maker.router.submit(sell(60, "100"))
        await resting.acknowledged(3)
        order = await taker.router.submit(buy(100, "100", time_in_force=tif))
        assert await order.done(3) is OrdStatus.CANCELED
        # IOC takes what is there; FOK all or nothing
        expected = D(60) if tif is TimeInForce.IMMEDIATE_OR_CANCEL else D(0)
        assert order.cum_qty == expected
        assert resting.cum_qty == expected


async def test_market_and_stop_orders_are_accepted(sim: Any) -> None:
    sim.set_fill("CLIENT", "immediate")
    async with client(sim) as c:
        market = await c.router.submit(
            NewOrderRequest("ACME", Side.SELL_SHORT, D(10), ord_type=OrdType.MARKET)
        )
        await market.filled(3)
        stop = await c.router.submit(
            NewOrderRequest(
                "ACME", Side.BUY, D(10), ord_type=OrdType.STOP_LIMIT, price=D(101), stop_px=D(100)
            )
        )
        await stop.acknowledged(3)
        assert not c.router.anomalies


async def test_mass_cancel(sim: Any) -> None:
    async with client(sim) as c:
        orders = [await c.router.submit(buy(10, str(90 + i))) for i in range(3)]
        for o in orders:
            await o.acknowledged(3)
        request = await c.router.mass_cancel(symbol="ACME")
        await request.result(3)
        assert request.mass_cancel is not None and request.mass_cancel.affected == 3
        for o in orders:
            assert await o.done(3) is OrdStatus.CANCELED


async def test_two_client_routers_trade_with_each_other(sim: Any) -> None:
    async with client(sim, "ALICE") as alice, client(sim, "BOB") as bob:
        bid = await alice.router.submit(buy(100, "100.10"))
        await bid.acknowledged(3)
        offer = await bob.router.submit(sell(40, "100.00"))
        await offer.filled(3)
        await bid.wait_for(lambda o: o.cum_qty == 40, 3)
        assert offer.avg_px == D("100.10")  # the resting order's price
        assert bid.state is OrdStatus.PARTIALLY_FILLED and bid.leaves_qty == D(60)
        offer2 = await bob.router.submit(sell(60, "99.00"))
        await bid.filled(3)
        await offer2.filled(3)
        assert bid.avg_px == D("100.10") and stats(sim).trades == 2


# -- refusals ------------------------------------------------------------------------------------
REFUSED = [
    (RiskLimits(max_order_qty=D(100)), buy(101), RefusalReason.MAX_ORDER_QTY),
    (RiskLimits(max_notional=D(10_000)), buy(101, "100"), RefusalReason.MAX_NOTIONAL),
    (RiskLimits(price_collar_pct=D(5)), buy(10, "106"), RefusalReason.PRICE_COLLAR),
    (
        RiskLimits(allowed_symbols=frozenset({"ACME"})),
        NewOrderRequest("OTHER", Side.BUY, D(1), price=D(100)),
        RefusalReason.SYMBOL_NOT_ALLOWED,
    ),
]


@pytest.mark.parametrize(
    ("limits", "request_", "reason"), REFUSED, ids=[r[2].name for r in REFUSED]
)
async def test_each_refusal_never_reaches_the_simulator(
    sim: Any, limits: RiskLimits, request_: NewOrderRequest, reason: RefusalReason
) -> None:
    async with client(sim, risk=PreTradeRisk(limits), reference_prices={"ACME": D(100)}) as c:
        with pytest.raises(OrderRefused) as info:
            await c.router.submit(request_)
        assert info.value.reason is reason
        await asyncio.sleep(0.05)
        assert stats(sim).orders == 0
        assert len(c.router.registry) == 0


async def test_throttle_queue_and_refuse_against_the_simulator(sim: Any) -> None:
    queueing = PreTradeRisk(throttle=SlidingWindowThrottle(5, 0.2, max_delay=1.0))
    async with client(sim, risk=queueing) as c:
        start = asyncio.get_running_loop().time()
        orders = await asyncio.gather(*(c.router.submit(buy(1, "90")) for _ in range(12)))
        assert asyncio.get_running_loop().time() - start >= 0.38  # 12 at 5 per 0.2 s
        for o in orders:
            await o.acknowledged(3)
    refusing = PreTradeRisk(throttle=SlidingWindowThrottle(5, 10.0))
    async with client(sim, "OTHER", risk=refusing) as c:
        for _ in range(5):
            await c.router.submit(buy(1, "90"))
        with pytest.raises(OrderRefused, match="THROTTLED"):
            await c.router.submit(buy(1, "90"))
        await asyncio.sleep(0.05)
    assert stats(sim).orders == 17


async def test_kill_switch_against_the_simulator(sim: Any) -> None:
    async with client(sim) as c:
        orders = [await c.router.submit(buy(10, str(95 + i))) for i in range(4)]
        for o in orders:
            await o.acknowledged(3)
        requests = await c.router.kill_switch("desk limit")
        await asyncio.gather(*(r.result(3) for r in requests))
        assert all(o.state is OrdStatus.CANCELED for o in orders)
        with pytest.raises(OrderRefused, match="KILL_SWITCH"):
            await c.router.submit(buy())
        await asyncio.sleep(0.05)
        assert stats(sim).orders == 4 and stats(sim).cancels == 4


# -- restart ------------------------------------------------------------------------------------
async def test_restarted_client_recovers_open_orders_and_reconciles(
    sim: Any, tmp_path: Path
) -> None:
    async with client(sim, store_dir=tmp_path) as first:
        resting = await first.router.submit(buy(100, "99"))
        partly = await first.router.submit(buy(100, "100"))
        for o in (resting, partly):
            await o.acknowledged(3)
        ids = (resting.cl_ord_id, partly.cl_ord_id)
    # while the client is away another client trades against its resting bid
    async with client(sim, "MAKER") as maker:
        offer = await maker.router.submit(sell(30, "100"))
        await offer.filled(3)
    async with client(sim, store_dir=tmp_path) as second:
        await second.router.wait_reconciled(5)
        r, p = second.router.get(ids[0]), second.router.get(ids[1])
        assert r is not None and p is not None
        assert r.state is OrdStatus.NEW and p.state is OrdStatus.PARTIALLY_FILLED
        assert p.cum_qty == D(30) and len(p.fills) == 1
        assert stats(sim).status_requests == 2  # both still open after the resend
        cancel = await second.router.cancel(r)
        await cancel.result(3)
        assert not second.router.anomalies and not p.anomalies


# -- faults --------------------------------------------------------------------------------------
async def _trade_through(c: Client, n: int) -> list[Any]:
    orders = []
    for i in range(n):
        orders.append(await c.router.submit(buy(10, "100") if i % 2 else sell(10, "100")))
    for o in orders:
        await o.filled(8)
    return orders


async def test_connection_dropped_mid_stream_loses_and_duplicates_no_order(sim: Any) -> None:
    sim.set_fill("CLIENT", "immediate")
    sim.faults("CLIENT").drop_after = 8
    async with client(sim) as c:
        orders = await _trade_through(c, 20)
        assert sim.fault_stats("CLIENT").dropped == 1
        assert stats(sim).orders == 20
        assert len({o.order_id for o in orders}) == 20
        assert all(len(o.fills) == 1 for o in orders)
        assert not c.router.anomalies


@pytest.mark.parametrize("mode", ["resend", "gap-fill"])
async def test_withheld_reports_are_recovered(sim: Any, mode: str) -> None:
    sim.set_fill("CLIENT", "immediate")
    async with client(sim) as c:
        warm = await c.router.submit(buy(10))
        await warm.filled(3)
        faults = sim.faults("CLIENT")
        faults.skip_mode = mode
        faults.skip_seq = 1  # the next report (an acknowledgement) goes missing
        orders = await _trade_through(c, 6)
        assert sim.fault_stats("CLIENT").withheld == 1
        assert all(o.state is OrdStatus.FILLED and len(o.fills) == 1 for o in orders)
        resent = [u for o in orders for u in o.history if u.poss_dup]
        assert len(resent) == (1 if mode == "resend" else 0)


async def test_garbled_copies_are_ignored(sim: Any) -> None:
    sim.set_fill("CLIENT", "immediate")
    sim.faults("CLIENT").garble_every = 3
    async with client(sim) as c:
        orders = await _trade_through(c, 10)
        assert sim.fault_stats("CLIENT").garbled >= 3
        assert all(len(o.fills) == 1 for o in orders)
        assert not any(u.duplicate for o in orders for u in o.history)


async def test_refused_logons_then_orders_sent_meanwhile_arrive_once(sim: Any) -> None:
    sim.set_fill("CLIENT", "immediate")
    sim.faults("CLIENT").refuse_logons = 2
    c = client(sim)
    await c.router.start()
    await c.engine.start()
    try:
        order = await c.router.submit(buy(10))  # stored; goes by resend after the Logon
        await c.handle.wait_logged_on(timeout=5)
        await order.filled(5)
        assert stats(sim).orders == 1 and len(order.fills) == 1
    finally:
        await c.close()


async def test_delayed_reports_show_in_the_round_trip(sim: Any) -> None:
    sim.set_fill("CLIENT", "immediate")
    sim.faults("CLIENT").delay_ms = 30
    async with client(sim) as c:
        order = await c.router.submit(buy(10))
        await order.filled(3)
        assert order.ack_latency is not None and order.ack_latency >= 0.03
