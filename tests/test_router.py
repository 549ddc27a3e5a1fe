"""The order router over real sessions against a scripted counterparty.

Each test runs a :class:`~test_router_fakes.ScriptedVenue` acceptor and an initiator
with an :class:`~fixengine.orders.router.OrderRouter` over loopback sockets; the venue
answers by itself or as the test scripts it (late, repeated, impossible reports).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal as D
from typing import Any

import pytest
from test_router_fakes import FAST, Client, ScriptedVenue, VenueServer, client_config

from fixengine.application import Engine
from fixengine.codec import Message
from fixengine.errors import LocalProtocolError
from fixengine.orders import NewOrderRequest, OrdType, Side, TimeInForce
from fixengine.orders.model import ExecType, OrdStatus
from fixengine.orders.risk import (
    PreTradeRisk,
    RefusalReason,
    RiskLimits,
    SlidingWindowThrottle,
)
from fixengine.orders.router import (
    OrderClosed,
    OrderRefused,
    OrderRejected,
    OrderRouter,
    RequestRejected,
    RouterClosed,
    RouterUpdate,
    UpdateKind,
    latency_summary,
)
from fixengine.orders.state import AnomalyKind


def limit(qty: int = 100, px: str = "10", side: Side = Side.BUY, **kw: Any) -> NewOrderRequest:
    return NewOrderRequest("ACME", side, D(qty), price=D(px), **kw)


@pytest.fixture
async def venue_port() -> AsyncIterator[tuple[ScriptedVenue, int]]:
    venue = ScriptedVenue()
    async with VenueServer(venue) as server:
        yield venue, server.port


@pytest.fixture
async def pair(
    venue_port: tuple[ScriptedVenue, int],
) -> AsyncIterator[tuple[ScriptedVenue, Client]]:
    venue, port = venue_port
    async with Client(port) as client:
        yield venue, client


def drain(stream: Any) -> list[RouterUpdate]:
    out = []
    while len(stream):
        out.append(stream._queue._items.popleft())
    return out


# -- lifecycles ----------------------------------------------------------------------------------
async def test_limit_order_is_acknowledged_then_filled(pair: tuple[ScriptedVenue, Client]) -> None:
    venue, client = pair
    order = await client.router.submit(limit(100, "10.25"))
    assert order.state is OrdStatus.PENDING_NEW
    assert await order.acknowledged(2) is OrdStatus.NEW
    assert order.order_id is not None and order.order_id.startswith("O")
    await venue.fill(order.cl_ord_id, D(100), D("10.25"))
    await order.filled(2)
    assert (order.state, order.cum_qty, order.leaves_qty, order.avg_px) == (
        OrdStatus.FILLED,
        D(100),
        D(0),
        D("10.25"),
    )
    assert await order.done(1) is OrdStatus.FILLED
    new = venue.messages(b"D")[0]
    assert new.get(11) == order.cl_ord_id.encode() and new.get(44) == b"10.25"


async def test_partial_fills_accumulate_with_exact_average_price(
    pair: tuple[ScriptedVenue, Client],
) -> None:
    venue, client = pair
    order = await client.router.submit(limit(100, "10"))
    await order.acknowledged(2)
    await venue.fill(order.cl_ord_id, D(30), D("10"))
    await venue.fill(order.cl_ord_id, D(30), D("9.99"))
    await order.wait_for(lambda o: o.cum_qty == 60, 2)
    assert order.state is OrdStatus.PARTIALLY_FILLED
    assert order.leaves_qty == D(40)
    assert order.avg_px == D("9.995")
    await venue.fill(order.cl_ord_id, D(40), D("10.01"))
    await order.filled(2)
    assert order.avg_px == (D(300) + D("299.7") + D("400.4")) / 100
    assert [f.quantity for f in order.fills] == [D(30), D(30), D(40)]


async def test_order_updates_iterate_its_lifecycle_and_end_when_done(
    pair: tuple[ScriptedVenue, Client],
) -> None:
    venue, client = pair
    order = await client.router.submit(limit(50, "10"))
    await order.acknowledged(2)
    await venue.fill(order.cl_ord_id, D(20), D("10"))
    await venue.fill(order.cl_ord_id, D(30), D("10"))

    async def collect() -> list[RouterUpdate]:
        return [u async for u in order.updates()]

    updates = await asyncio.wait_for(collect(), 2)
    assert [u.status for u in updates] == [
        OrdStatus.PENDING_NEW,
        OrdStatus.NEW,
        OrdStatus.PARTIALLY_FILLED,
        OrdStatus.FILLED,
    ]
    assert [u.cum_qty for u in updates] == [D(0), D(0), D(20), D(50)]
    assert updates[0].kind is UpdateKind.SENT
    assert updates[2].fill is not None and updates[2].fill.quantity == D(20)
    assert "PARTIALLY_FILLED" in updates[2].line() and "fill 20 @ 10" in updates[2].line()


async def test_cancel_of_a_resting_order_cancels_it(pair: tuple[ScriptedVenue, Client]) -> None:
    venue, client = pair
    order = await client.router.submit(limit())
    await order.acknowledged(2)
    request = await client.router.cancel(order)
    await request.result(2)
    assert request.accepted and order.state is OrdStatus.CANCELED
    cancel = venue.messages(b"F")[0]
    assert cancel.get(41) == order.chain[0].encode()
    assert cancel.get(11) == request.cl_ord_id.encode()
    with pytest.raises(OrderClosed, match="CANCELED"):
        await order.filled(1)


async def test_cancel_rejected_as_too_late_leaves_the_order_filled(
    venue_port: tuple[ScriptedVenue, int],
) -> None:
    venue, port = venue_port
    async with Client(port) as client:
        order = await client.router.submit(limit(10))
        await order.acknowledged(2)
        venue.auto = False
        request = await client.router.cancel(order)
        cancel = await venue.next_request(b"F")
        await venue.fill(order.cl_ord_id, D(10), D(10))
        await venue.cancel_reject(cancel, text="too late to cancel")
        with pytest.raises(RequestRejected, match="FILLED"):
            await request.result(2)  # settled by the fill that finished the order
        await order.wait_for(lambda o: not o.order.pending, 2)  # then the reject arrives
        assert order.state is OrdStatus.FILLED and order.cum_qty == D(10)
        assert order.order.rejected_requests == [request.cl_ord_id]
        assert not order.anomalies


async def test_replace_changes_quantity_and_price_and_keeps_the_chain(
    pair: tuple[ScriptedVenue, Client],
) -> None:
    venue, client = pair
    order = await client.router.submit(limit(100, "10"))
    await order.acknowledged(2)
    first = order.cl_ord_id
    request = await client.router.replace(order, quantity=D(150), price=D("10.5"))
    await request.result(2)
    assert (order.quantity, order.price) == (D(150), D("10.5"))
    assert order.chain == (first, request.cl_ord_id)
    assert order.orig_cl_ord_id == first and order.cl_ord_id == request.cl_ord_id
    replace = venue.messages(b"G")[0]
    assert replace.get(41) == first.encode() and replace.get(38) == b"150"
    assert client.router.get(first) is order


async def test_replace_of_a_replace_chains_orig_cl_ord_ids(
    pair: tuple[ScriptedVenue, Client],
) -> None:
    venue, client = pair
    order = await client.router.submit(limit(100, "10"))
    await order.acknowledged(2)
    r1 = await client.router.replace(order, price=D("10.1"))
    await r1.result(2)
    r2 = await client.router.replace(order, price=D("10.2"))
    await r2.result(2)
    assert order.chain == (order.chain[0], r1.cl_ord_id, r2.cl_ord_id)
    replaces = venue.messages(b"G")
    assert replaces[1].get(41) == r1.cl_ord_id.encode()
    await venue.fill(r2.cl_ord_id, D(100), D("10.2"))
    await order.filled(2)
    assert order.avg_px == D("10.2")


async def test_replace_rejected_keeps_the_old_terms(venue_port: tuple[ScriptedVenue, int]) -> None:
    venue, port = venue_port
    async with Client(port) as client:
        order = await client.router.submit(limit(100, "10"))
        await order.acknowledged(2)
        venue.auto = False
        request = await client.router.replace(order, price=D("11"))
        msg = await venue.next_request(b"G")
        await venue.cancel_reject(msg, text="price out of band")
        with pytest.raises(RequestRejected, match="price out of band"):
            await request.result(2)
        assert order.price == D("10") and order.state is OrdStatus.NEW
        assert order.cl_ord_id == order.chain[0]


async def test_rejected_order_raises_order_rejected(pair: tuple[ScriptedVenue, Client]) -> None:
    venue, client = pair
    venue.reject_symbols.add("BAD")
    order = await client.router.submit(NewOrderRequest("BAD", Side.SELL, D(5), price=D(1)))
    with pytest.raises(OrderRejected, match="unknown symbol"):
        await order.acknowledged(2)
    assert order.is_done and order.state is OrdStatus.REJECTED
    with pytest.raises(OrderRejected):
        await order.filled(1)


@pytest.mark.parametrize(
    "tif", [TimeInForce.IMMEDIATE_OR_CANCEL, TimeInForce.FILL_OR_KILL], ids=["IOC", "FOK"]
)
async def test_ioc_and_fok_remainders_are_canceled_by_the_venue(
    pair: tuple[ScriptedVenue, Client], tif: TimeInForce
) -> None:
    venue, client = pair
    venue.fill_on_ack = D(40) if tif is TimeInForce.IMMEDIATE_OR_CANCEL else None
    order = await client.router.submit(limit(100, "10", time_in_force=tif))
    assert await order.done(2) is OrdStatus.CANCELED
    expected = D(40) if tif is TimeInForce.IMMEDIATE_OR_CANCEL else D(0)
    assert order.cum_qty == expected and order.leaves_qty == 0
    assert venue.messages(b"D")[0].get(59) == tif.value.encode()


async def test_market_stop_and_stop_limit_orders_carry_their_fields(
    pair: tuple[ScriptedVenue, Client],
) -> None:
    venue, client = pair
    router = client.router
    await router.submit(NewOrderRequest("ACME", Side.SELL_SHORT, D(10), ord_type=OrdType.MARKET))
    await router.submit(
        NewOrderRequest("ACME", Side.SELL, D(10), ord_type=OrdType.STOP, stop_px=D("9.5"))
    )
    await router.submit(
        NewOrderRequest(
            "ACME",
            Side.BUY,
            D(10),
            ord_type=OrdType.STOP_LIMIT,
            price=D("10.6"),
            stop_px=D("10.5"),
            account="ACC1",
            exec_inst="G",
            min_qty=D(5),
            max_floor=D(5),
            time_in_force=TimeInForce.GOOD_TILL_CANCEL,
        )
    )
    await asyncio.wait_for(_until(lambda: len(venue.messages(b"D")) == 3), 2)
    market, stop, stop_limit = venue.messages(b"D")
    assert (market.get(40), market.get(54), market.get(44)) == (b"1", b"5", None)
    assert (stop.get(40), stop.get(99), stop.get(44)) == (b"3", b"9.5", None)
    assert [stop_limit.get(t) for t in (40, 44, 99, 1, 18, 110, 111, 59)] == [
        b"4",
        b"10.6",
        b"10.5",
        b"ACC1",
        b"G",
        b"5",
        b"5",
        b"1",
    ]


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.005)


async def test_status_request_is_answered_with_the_order_state(
    pair: tuple[ScriptedVenue, Client],
) -> None:
    venue, client = pair
    order = await client.router.submit(limit(100))
    await order.acknowledged(2)
    await venue.fill(order.cl_ord_id, D(25), D(10))
    request = await client.router.status(order)
    await request.result(2)
    assert request.status is OrdStatus.PARTIALLY_FILLED and order.cum_qty == D(25)
    status = venue.messages(b"H")[0]
    assert status.get(11) == order.cl_ord_id.encode() and status.get(37) == b"O1"


async def test_mass_cancel_cancels_every_open_order(pair: tuple[ScriptedVenue, Client]) -> None:
    venue, client = pair
    orders = [await client.router.submit(limit(10 + i)) for i in range(3)]
    for order in orders:
        await order.acknowledged(2)
    request = await client.router.mass_cancel()
    await request.result(2)
    assert request.mass_cancel is not None and request.mass_cancel.affected == 3
    for order in orders:
        assert await order.done(2) is OrdStatus.CANCELED
    assert venue.messages(b"q")[0].get(530) == b"7"


async def test_mass_cancel_does_not_exist_in_fix_42() -> None:
    venue = ScriptedVenue("FIX.4.2")
    async with VenueServer(venue) as server, Client(server.port, version="FIX.4.2") as client:
        with pytest.raises(LocalProtocolError, match="cancel_all"):
            await client.router.mass_cancel()
        order = await client.router.submit(limit())
        await order.acknowledged(2)
        [request] = await client.router.cancel_all()
        await request.result(2)
        assert order.state is OrdStatus.CANCELED
        assert venue.messages(b"D")[0].get(21) == b"1"  # HandlInst required in 4.2


async def test_fix50sp2_session_routes_orders() -> None:
    venue = ScriptedVenue("FIX.5.0SP2")
    async with VenueServer(venue) as server, Client(server.port, version="FIX.5.0SP2") as client:
        order = await client.router.submit(limit())
        await order.acknowledged(2)
        await venue.fill(order.cl_ord_id, D(100), D(10))
        await order.filled(2)
        assert client.router.version.value == "FIX.5.0SP2"


# -- what the counterparty gets wrong -------------------------------------------------------------
async def test_repeated_report_is_applied_once_and_marked_duplicate(
    venue_port: tuple[ScriptedVenue, int],
) -> None:
    venue, port = venue_port
    async with Client(port) as client:
        stream = client.router.updates()
        order = await client.router.submit(limit(100))
        await order.acknowledged(2)
        fill = await venue.fill(order.cl_ord_id, D(30), D(10))
        await venue.send(fill.copy())  # the same ExecID again (a venue's own retransmission)
        await asyncio.sleep(0.1)
        assert order.cum_qty == D(30) and len(order.fills) == 1
        dups = [u for u in drain(stream) if u.duplicate]
        assert len(dups) == 1 and not dups[0].changed and "duplicate" in dups[0].line()


async def test_late_new_after_a_fill_is_an_anomaly_not_a_step_back(
    venue_port: tuple[ScriptedVenue, int],
) -> None:
    venue, port = venue_port
    venue.auto = False
    async with Client(port) as client:
        order = await client.router.submit(limit(100))
        new = await venue.next_request(b"D")
        vo = await venue.ack(new)  # builds the ack...
        await order.acknowledged(2)
        await venue.fill(order.cl_ord_id, D(100), D(10))
        await order.filled(2)
        await venue.send(venue.report(vo, ExecType.NEW, ord_status=OrdStatus.NEW))
        await order.wait_for(lambda o: len(o.anomalies) > 0, 2)
        assert order.state is OrdStatus.FILLED
        assert AnomalyKind.STALE_REPORT in {a.kind for a in order.anomalies}


async def test_report_for_an_unknown_order_is_surfaced_as_an_anomaly(
    venue_port: tuple[ScriptedVenue, int],
) -> None:
    venue, port = venue_port
    async with Client(port) as client:
        stream = client.router.updates()
        order = await client.router.submit(limit())
        await order.acknowledged(2)
        ghost = venue.report(venue.orders[order.cl_ord_id], ExecType.NEW, cl_ord_id="GHOST")
        ghost.remove(37)
        ghost.set(37, "O-unknown")
        await venue.send(ghost)
        update = await _next(stream, lambda u: u.kind is UpdateKind.ANOMALY)
        assert update.anomalies[0].kind is AnomalyKind.UNKNOWN_ORDER
        assert client.router.anomalies[-1] is update
        assert order.state is OrdStatus.NEW


async def test_malformed_report_is_an_anomaly_and_the_router_keeps_working(
    venue_port: tuple[ScriptedVenue, int],
) -> None:
    venue, port = venue_port
    async with Client(port) as client:
        order = await client.router.submit(limit())
        await order.acknowledged(2)
        bad = venue.report(venue.orders[order.cl_ord_id], ExecType.NEW)
        bad.remove(17)  # no ExecID
        await venue.send(bad)
        await asyncio.sleep(0.1)
        await venue.fill(order.cl_ord_id, D(100), D(10))
        await order.filled(2)
        assert any(a.kind is AnomalyKind.MALFORMED_REPORT for a in client.router.registry.anomalies)


async def test_business_reject_of_a_new_order_rejects_it(
    venue_port: tuple[ScriptedVenue, int],
) -> None:
    venue, port = venue_port
    venue.auto = False
    async with Client(port) as client:
        order = await client.router.submit(limit())
        new = await venue.next_request(b"D")
        reject = Message("j")
        reject.append(45, new.get(34) or b"0")
        reject.append(372, "D")
        reject.append(379, order.cl_ord_id)
        reject.append(380, 4)
        reject.append(58, "Application not available")
        await venue.send(reject)
        with pytest.raises(OrderRejected, match=r"Application not available \(BusinessReject"):
            await order.acknowledged(2)


async def test_session_reject_of_a_new_order_rejects_it() -> None:
    venue = ScriptedVenue()
    async with VenueServer(venue, validate=True) as server, Client(server.port) as client:
        # OrderCapacity(528) "Z" is not a FIX 4.4 value: the venue's session rejects the
        # message (35=3, SessionRejectReason 5) before its application sees it
        order = await client.router.submit(limit(extra_fields=((528, "Z"),)))
        with pytest.raises(OrderRejected, match="SessionRejectReason 5, RefTagID 528"):
            await order.acknowledged(2)
        assert not venue.messages(b"D")
        fine = await client.router.submit(limit())
        await fine.acknowledged(2)


async def _next(stream: Any, predicate: Any, timeout: float = 2.0) -> RouterUpdate:
    async def find() -> RouterUpdate:
        async for update in stream:
            if predicate(update):
                return update
        raise AssertionError("stream ended")

    return await asyncio.wait_for(find(), timeout)


# -- pre-trade checks ----------------------------------------------------------------------------
REFUSALS = [
    (RiskLimits(max_order_qty=D(50)), limit(51), RefusalReason.MAX_ORDER_QTY),
    (RiskLimits(max_notional=D(999)), limit(100, "10"), RefusalReason.MAX_NOTIONAL),
    (RiskLimits(price_collar_pct=D(5)), limit(10, "10.6"), RefusalReason.PRICE_COLLAR),
    (
        RiskLimits(allowed_symbols=frozenset({"ACME"})),
        NewOrderRequest("OTHER", Side.BUY, D(1), price=D(10)),
        RefusalReason.SYMBOL_NOT_ALLOWED,
    ),
    (RiskLimits(price_collar_pct=D(5)), limit(10, "9.4"), RefusalReason.PRICE_COLLAR),
]


@pytest.mark.parametrize(
    ("limits", "request_", "reason"), REFUSALS, ids=[r[2].name for r in REFUSALS]
)
async def test_refused_order_never_reaches_the_wire(
    venue_port: tuple[ScriptedVenue, int],
    limits: RiskLimits,
    request_: NewOrderRequest,
    reason: RefusalReason,
) -> None:
    venue, port = venue_port
    risk = PreTradeRisk(limits)
    async with Client(port, risk=risk, reference_prices={"ACME": D(10)}) as client:
        with pytest.raises(OrderRefused) as info:
            await client.router.submit(request_)
        assert info.value.reason is reason
        assert reason.name in str(info.value)
        ok = await client.router.submit(limit(1, "10"))  # a sane order still goes
        await ok.acknowledged(2)
        sent = venue.messages(b"D")
        assert [m.get(11) for m in sent] == [ok.cl_ord_id.encode()]
        assert len(client.router.registry) == 1


async def test_duplicate_cl_ord_id_is_refused_before_the_wire(
    pair: tuple[ScriptedVenue, Client],
) -> None:
    venue, client = pair
    first = await client.router.submit(limit(cl_ord_id="MINE-1"))
    await first.acknowledged(2)
    with pytest.raises(OrderRefused) as info:
        await client.router.submit(limit(cl_ord_id="MINE-1"))
    assert info.value.reason is RefusalReason.DUPLICATE_CL_ORD_ID
    assert len(venue.messages(b"D")) == 1


async def test_replace_beyond_the_limits_is_refused_and_the_order_stays(
    venue_port: tuple[ScriptedVenue, int],
) -> None:
    venue, port = venue_port
    risk = PreTradeRisk(RiskLimits(max_order_qty=D(100)))
    async with Client(port, risk=risk) as client:
        order = await client.router.submit(limit(100))
        await order.acknowledged(2)
        with pytest.raises(OrderRefused, match="MAX_ORDER_QTY"):
            await client.router.replace(order, quantity=D(101))
        assert not venue.messages(b"G") and not order.order.pending
        request = await client.router.replace(order, quantity=D(90))
        await request.result(2)
        assert order.quantity == D(90)


async def test_throttle_refuses_beyond_the_rate_when_not_queueing(
    venue_port: tuple[ScriptedVenue, int],
) -> None:
    venue, port = venue_port
    risk = PreTradeRisk(throttle=SlidingWindowThrottle(3, 60.0))
    async with Client(port, risk=risk) as client:
        for _ in range(3):
            await client.router.submit(limit())
        with pytest.raises(OrderRefused) as info:
            await client.router.submit(limit())
        assert info.value.reason is RefusalReason.THROTTLED
        await asyncio.sleep(0.05)
        assert len(venue.messages(b"D")) == 3


async def test_throttle_queues_and_sends_at_the_allowed_rate(
    venue_port: tuple[ScriptedVenue, int],
) -> None:
    venue, port = venue_port
    risk = PreTradeRisk(throttle=SlidingWindowThrottle(2, 0.2, max_delay=1.0))
    async with Client(port, risk=risk) as client:
        loop = asyncio.get_running_loop()
        start = loop.time()
        orders = await asyncio.gather(*(client.router.submit(limit()) for _ in range(6)))
        elapsed = loop.time() - start
        assert len({o.cl_ord_id for o in orders}) == 6
        assert elapsed >= 0.38  # 6 messages at 2 per 0.2 s: the last pair at t = 0.4
        await asyncio.wait_for(_until(lambda: len(venue.messages(b"D")) == 6), 2)
        times = sorted(m.get(52) or b"" for m in venue.messages(b"D"))
        assert times[0] < times[-1]


async def test_kill_switch_cancels_open_orders_and_blocks_new_ones(
    pair: tuple[ScriptedVenue, Client],
) -> None:
    venue, client = pair
    orders = [await client.router.submit(limit(10 * (i + 1))) for i in range(3)]
    for order in orders:
        await order.acknowledged(2)
    await venue.fill(orders[0].cl_ord_id, D(10), D(10))  # already done: nothing to cancel
    await orders[0].filled(2)
    requests = await client.router.kill_switch("risk breach")
    assert len(requests) == 2
    await asyncio.gather(*(r.result(2) for r in requests))
    assert [o.state for o in orders] == [OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.CANCELED]
    with pytest.raises(OrderRefused) as info:
        await client.router.submit(limit())
    assert info.value.reason is RefusalReason.KILL_SWITCH and "risk breach" in str(info.value)
    assert len(venue.messages(b"D")) == 3
    client.router.release_kill_switch()
    again = await client.router.submit(limit())
    await again.acknowledged(2)


async def test_kill_switch_refuses_orders_waiting_in_the_throttle_queue(
    venue_port: tuple[ScriptedVenue, int],
) -> None:
    venue, port = venue_port
    risk = PreTradeRisk(
        throttle=SlidingWindowThrottle(1, 0.3, max_delay=2.0), throttle_cancels=False
    )
    async with Client(port, risk=risk) as client:
        first = await client.router.submit(limit())
        queued = asyncio.ensure_future(client.router.submit(limit()))
        await asyncio.sleep(0.05)
        await client.router.kill_switch()
        with pytest.raises(OrderRefused, match="KILL_SWITCH"):
            await queued
        assert await first.done(2) is OrdStatus.CANCELED
        assert len(venue.messages(b"D")) == 1


# -- measuring -----------------------------------------------------------------------------------
async def test_round_trip_latency_is_recorded_per_order_and_in_the_metrics(
    pair: tuple[ScriptedVenue, Client],
) -> None:
    _, client = pair
    orders = [await client.router.submit(limit()) for _ in range(20)]
    for order in orders:
        await order.acknowledged(2)
    assert all(o.ack_latency is not None and 0 < o.ack_latency < 2 for o in orders)
    summary = client.router.latency_summary()
    assert summary["count"] == 20
    assert 0 < summary["p50"] <= summary["p90"] <= summary["p99"] <= summary["max"]
    metrics = client.engine.metrics
    labels = {"session": str(client.handle.session_id)}
    assert metrics.value("fix_order_round_trip_seconds_count", labels) == 20


def test_latency_summary_uses_nearest_rank_percentiles() -> None:
    summary = latency_summary([i / 1000 for i in range(1, 101)])
    assert summary["count"] == 100
    assert summary["p50"] == 0.05 and summary["p90"] == 0.09 and summary["p99"] == 0.099
    assert summary["max"] == 0.1
    assert latency_summary([])["count"] == 0


# -- life-cycle of the router itself ---------------------------------------------------------------
async def test_waiters_are_woken_with_router_closed_when_it_stops(
    venue_port: tuple[ScriptedVenue, int],
) -> None:
    venue, port = venue_port
    venue.auto = False
    client = Client(port)
    await client.__aenter__()
    order = await client.router.submit(limit())
    waiting = asyncio.ensure_future(order.acknowledged())
    await asyncio.sleep(0.05)
    await client.close()
    with pytest.raises(RouterClosed):
        await asyncio.wait_for(waiting, 2)
    with pytest.raises(RouterClosed):
        await client.router.submit(limit())


async def test_router_reading_session_events_without_an_application_works_too(
    venue_port: tuple[ScriptedVenue, int],
) -> None:
    venue, port = venue_port
    async with Client(port, feed="events") as client:
        order = await client.router.submit(limit())
        await order.acknowledged(2)
        await venue.fill(order.cl_ord_id, D(100), D(10))
        await order.filled(2)
        assert order.order.fills[0].exec_id.startswith("E")


async def test_timeouts_name_what_was_awaited(venue_port: tuple[ScriptedVenue, int]) -> None:
    venue, port = venue_port
    venue.auto = False
    async with Client(port) as client:
        order = await client.router.submit(limit())
        with pytest.raises(asyncio.TimeoutError, match="acknowledgement of"):
            await order.acknowledged(0.05)
        assert order.state is OrdStatus.PENDING_NEW


async def test_cancel_of_a_done_order_is_a_local_error(pair: tuple[ScriptedVenue, Client]) -> None:
    venue, client = pair
    order = await client.router.submit(limit(5))
    await order.acknowledged(2)
    await venue.fill(order.cl_ord_id, D(5), D(10))
    await order.filled(2)
    with pytest.raises(LocalProtocolError, match="FILLED"):
        await client.router.cancel(order)
    assert not venue.messages(b"F")


async def test_cancel_answered_too_late_after_the_venue_canceled_is_no_anomaly(
    venue_port: tuple[ScriptedVenue, int],
) -> None:
    venue, port = venue_port
    async with Client(port) as client:
        order = await client.router.submit(limit())
        await order.acknowledged(2)
        venue.auto = False
        request = await client.router.cancel(order)
        cancel = await venue.next_request(b"F")
        await venue.cancel_rest(order.cl_ord_id, text="trading halt")  # the venue's own cancel
        await venue.cancel_reject(cancel, text="order already canceled")
        await order.wait_for(lambda o: request.cl_ord_id in o.order.rejected_requests, 2)
        assert order.state is OrdStatus.CANCELED and order.order.text == "order already canceled"
        assert request.settled and not order.anomalies


async def test_orders_sent_after_the_logon_are_not_asked_about(
    venue_port: tuple[ScriptedVenue, int],
) -> None:
    venue, port = venue_port
    engine = Engine()
    handle = engine.add_initiator(client_config(), [("127.0.0.1", port)], options=FAST)
    await engine.start()
    try:
        await handle.wait_logged_on(timeout=5)
        async with OrderRouter(handle) as router:  # made after the Logon
            order = await router.submit(limit())
            await order.acknowledged(2)
            await router.wait_reconciled(2)
            await asyncio.sleep(0.1)
            assert not venue.messages(b"H")  # its state is tracked live: nothing to check
    finally:
        await engine.stop(timeout=0.5)
