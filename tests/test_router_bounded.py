"""A long-running router stays bounded, and waiting on an order costs one future.

The router runs on an in-memory session (no sockets) and is fed ExecutionReports as
they come off the wire. Done orders beyond ``keep_done`` leave the live maps (and
lookups of them say so), each order keeps its last ``history_limit`` updates, the
round-trip samples are the last ``latency_samples``; updates nobody reads as they
happen are made when the history is read, equal to the ones a stream gets.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import types
from decimal import Decimal as D
from typing import Any

import pytest
from test_router_properties import MemoryPort

from fixengine.codec import Message, decode, encode
from fixengine.errors import LocalProtocolError
from fixengine.orders.messages import _timestamp, new_order_single_as
from fixengine.orders.model import (
    NewOrderRequest,
    Order,
    OrdStatus,
    OrdType,
    Side,
    TimeInForce,
    order_from_request,
)
from fixengine.orders.router import (
    OrderRefused,
    OrderRejected,
    OrderRouter,
    RouterApplication,
    RouterClosed,
    UpdateKind,
)
from fixengine.orders.state import AnomalyKind, ClOrdIdGenerator, OrderRegistry

VERSION = "FIX.4.4"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


_exec_ids = itertools.count(1)


def report(order: Order, exec_type: str, status: OrdStatus, last: D = D(0)) -> Message:
    """The venue's ExecutionReport for ``order`` (decoded from the wire)."""
    cum = order.cum_qty + last
    fields: list[tuple[int, Any]] = [
        (37, "O-" + order.chain[0]),
        (11, order.cl_ord_id),
        (17, f"E{next(_exec_ids)}"),
        (150, exec_type),
        (39, status.value),
        (55, order.symbol),
        (54, order.side.value),
        (38, order.quantity),
        (40, order.ord_type.value),
    ]
    if last:
        fields += [(32, last), (31, D("10.5"))]
    leaves = D(0) if status is OrdStatus.FILLED else order.quantity - cum
    avg = (order.notional + last * D("10.5")) / cum if cum else D(0)
    fields += [(151, leaves), (14, cum), (6, avg), (60, "20240101-00:00:00.000")]
    msg = Message("8")
    for tag, value in fields:
        msg.append(tag, value)
    for tag, value in ((49, "V"), (56, "C"), (34, 7), (52, "20240101-00:00:00.000")):
        msg.set(tag, value)
    return decode(encode(msg, VERSION))


class Harness:
    def __init__(self, **kwargs: Any) -> None:
        self.port = MemoryPort()
        self.app = RouterApplication()
        kwargs.setdefault("clock", Clock())
        self.router = OrderRouter(self.port, reconcile=False, application=self.app, **kwargs)

    def deliver(self, msg: Message) -> None:
        self.app.on_message(self.port, msg)  # type: ignore[arg-type]

    async def order(self, quantity: int = 100, **kwargs: Any) -> Any:
        request = NewOrderRequest("ACME", Side.BUY, D(quantity), OrdType.MARKET, **kwargs)
        return await self.router.submit(request)

    async def filled_order(self, **kwargs: Any) -> Any:
        handle = await self.order(**kwargs)
        self.deliver(report(handle.order, "0", OrdStatus.NEW))
        self.deliver(report(handle.order, "F", OrdStatus.FILLED, D(100)))
        assert handle.state is OrdStatus.FILLED
        return handle


# -- done orders -------------------------------------------------------------------------------
async def test_done_orders_beyond_keep_done_are_evicted_oldest_first() -> None:
    h = Harness(keep_done=2)
    await h.router.start()
    handles = [await h.filled_order() for _ in range(4)]
    live = await h.order()
    assert [x.key for x in h.router.orders()] == [handles[2].key, handles[3].key, live.key]
    assert h.router.get(handles[0].cl_ord_id) is None
    assert h.router.get(handles[3].cl_ord_id) is handles[3]
    assert len(h.router.registry) == 3 and len(h.router._handles) == 3
    # a handle already held keeps working
    assert handles[0].state is OrdStatus.FILLED and handles[0].cum_qty == D(100)
    assert await handles[0].filled() is handles[0]
    await h.router.stop()


async def test_keep_done_none_keeps_every_order() -> None:
    h = Harness(keep_done=None)
    await h.router.start()
    handles = [await h.filled_order() for _ in range(5)]
    assert [x.key for x in h.router.orders()] == [x.key for x in handles]
    await h.router.stop()


async def test_requests_naming_an_evicted_order_say_it_is_done() -> None:
    h = Harness(keep_done=0)
    await h.router.start()
    gone = await h.filled_order()
    with pytest.raises(LocalProtocolError, match="FILLED and no longer tracked"):
        await h.router.cancel(gone.cl_ord_id)
    with pytest.raises(LocalProtocolError, match="it is FILLED"):
        await h.router.cancel(gone)
    # its ClOrdID still counts as used
    with pytest.raises(OrderRefused):
        await h.order(cl_ord_id=gone.cl_ord_id)
    await h.router.stop()


async def test_a_late_report_for_an_evicted_order_is_an_anomaly_naming_it() -> None:
    h = Harness(keep_done=0)
    await h.router.start()
    gone = await h.filled_order()
    stream = h.router.updates()
    h.deliver(report(gone.order, "0", OrdStatus.NEW))
    update = await stream.get(timeout=1)
    assert update.kind is UpdateKind.ANOMALY
    assert update.anomalies[0].kind is AnomalyKind.UNKNOWN_ORDER
    assert "no longer tracked" in update.anomalies[0].text
    await h.router.stop()


async def test_rejected_orders_are_evicted_too() -> None:
    h = Harness(keep_done=1)
    await h.router.start()
    first = await h.order()
    h.deliver(report(first.order, "8", OrdStatus.REJECTED))
    second = await h.order()
    h.deliver(report(second.order, "8", OrdStatus.REJECTED))
    assert h.router.get(first.cl_ord_id) is None and h.router.get(second.cl_ord_id) is second
    with pytest.raises(OrderRejected):
        await first.acknowledged()
    await h.router.stop()


def test_registry_remembers_a_bounded_number_of_evicted_ids() -> None:
    reg = OrderRegistry(ClOrdIdGenerator(1_700_000_000.0, entropy=3), max_evicted=4)
    orders = []
    for _ in range(10):
        order = reg.register(NewOrderRequest("ACME", Side.BUY, D(1), OrdType.MARKET), 1.0)
        order.base_status = OrdStatus.CANCELED
        assert reg.evict(order)
        orders.append(order)
    assert len(reg) == 0 and reg.get(orders[-1].cl_ord_id) is None
    assert reg.evicted_status(orders[-1].cl_ord_id) is OrdStatus.CANCELED
    assert orders[-1].cl_ord_id in reg
    assert reg.evicted_status(orders[0].cl_ord_id) is None
    assert len(reg._evicted) + len(reg._evicted_before) <= 4


def test_registry_evicts_only_done_orders_it_holds() -> None:
    reg = OrderRegistry(ClOrdIdGenerator(1_700_000_000.0, entropy=3))
    order = reg.register(NewOrderRequest("ACME", Side.BUY, D(1), OrdType.MARKET), 1.0)
    assert not reg.evict(order) and reg.get(order.cl_ord_id) is order
    order.base_status = OrdStatus.FILLED
    assert reg.evict(order) and not reg.evict(order)


# -- history and latencies ----------------------------------------------------------------------
async def test_history_keeps_the_last_history_limit_updates() -> None:
    h = Harness(history_limit=3)
    await h.router.start()
    handle = await h.order()
    h.deliver(report(handle.order, "0", OrdStatus.NEW))
    for _ in range(4):
        h.deliver(report(handle.order, "F", OrdStatus.PARTIALLY_FILLED, D(10)))
    history = handle.history
    assert len(history) == 3
    assert [u.cum_qty for u in history] == [D(20), D(30), D(40)]
    assert history == handle.history and history[0] is handle.history[0]
    await h.router.stop()


async def test_history_made_later_equals_the_updates_a_stream_gets() -> None:
    async def run(watch: bool) -> tuple[list[Any], list[Any]]:
        global _exec_ids
        _exec_ids = itertools.count(1)  # the same ExecIDs in both runs
        h = Harness()
        await h.router.start()
        streamed: list[Any] = []
        stream = h.router.updates() if watch else None
        handle = await h.order(cl_ord_id="A1")
        h.deliver(report(handle.order, "0", OrdStatus.NEW))
        h.deliver(report(handle.order, "F", OrdStatus.PARTIALLY_FILLED, D(40)))
        h.deliver(report(handle.order, "F", OrdStatus.FILLED, D(60)))
        if stream is not None:
            streamed = [await stream.get(timeout=1) for _ in range(4)]
        history = handle.history
        await h.router.stop()
        return history, streamed

    lazy, _ = await run(False)
    eager, streamed = await run(True)
    assert lazy == eager == streamed
    assert [u.kind for u in lazy] == [UpdateKind.SENT] + [UpdateKind.REPORT] * 3
    assert [u.status for u in lazy] == [
        OrdStatus.PENDING_NEW,
        OrdStatus.NEW,
        OrdStatus.PARTIALLY_FILLED,
        OrdStatus.FILLED,
    ]
    assert [(u.cum_qty, u.leaves_qty, u.avg_px) for u in lazy[2:]] == [
        (D(40), D(60), D("10.5")),
        (D(100), D(0), D("10.5")),
    ]
    assert [u.time for u in lazy] == [u.time for u in eager]


async def test_latencies_keep_the_last_latency_samples() -> None:
    h = Harness(latency_samples=3)
    await h.router.start()
    handles = [await h.filled_order() for _ in range(5)]
    assert len(h.router.latencies) == 3
    assert list(h.router.latencies) == [x.ack_latency for x in handles[2:]]
    assert h.router.latency_summary()["count"] == 3
    await h.router.stop()


def test_limits_must_be_sensible() -> None:
    for kwargs in ({"keep_done": -1}, {"history_limit": 0}, {"latency_samples": 0}):
        with pytest.raises(ValueError):
            OrderRouter(MemoryPort(), application=RouterApplication(), **kwargs)


# -- waiting ------------------------------------------------------------------------------------
async def test_acknowledged_parks_one_future_resolved_by_the_report() -> None:
    h = Harness()
    await h.router.start()
    handle = await h.order()
    waiter = asyncio.ensure_future(handle.acknowledged())
    await asyncio.sleep(0)
    assert handle._ack_waiters is not None and len(handle._ack_waiters) == 1
    h.deliver(report(handle.order, "0", OrdStatus.NEW))
    assert handle._ack_waiters is None
    assert await waiter is OrdStatus.NEW
    # answered at once when the acknowledgement is in
    assert await handle.acknowledged() is OrdStatus.NEW and handle._ack_waiters is None
    await h.router.stop()


async def test_a_waiter_that_times_out_or_is_cancelled_leaves_the_others_waiting() -> None:
    h = Harness()
    await h.router.start()
    handle = await h.order()
    patient = asyncio.ensure_future(handle.acknowledged())
    cancelled = asyncio.ensure_future(handle.acknowledged())
    await asyncio.sleep(0)
    with pytest.raises(TimeoutError, match=f"acknowledgement of {handle.cl_ord_id}"):
        await handle.acknowledged(timeout=0.01)
    cancelled.cancel()
    await asyncio.sleep(0)
    assert handle._ack_waiters is not None and len(handle._ack_waiters) == 1
    h.deliver(report(handle.order, "0", OrdStatus.NEW))
    assert await patient is OrdStatus.NEW
    await h.router.stop()


async def test_filled_and_done_wake_when_the_order_is_done() -> None:
    h = Harness()
    await h.router.start()
    handle = await h.order()
    filled = asyncio.ensure_future(handle.filled())
    done = asyncio.ensure_future(handle.done(timeout=5))
    await asyncio.sleep(0)
    h.deliver(report(handle.order, "0", OrdStatus.NEW))
    h.deliver(report(handle.order, "F", OrdStatus.PARTIALLY_FILLED, D(50)))
    await asyncio.sleep(0)
    assert not filled.done() and not done.done()
    h.deliver(report(handle.order, "F", OrdStatus.FILLED, D(50)))
    assert await filled is handle and await done is OrdStatus.FILLED
    await h.router.stop()


async def test_waiters_are_woken_with_router_closed_when_it_stops() -> None:
    h = Harness()
    await h.router.start()
    handle = await h.order()
    ack = asyncio.ensure_future(handle.acknowledged())
    filled = asyncio.ensure_future(handle.filled())
    await asyncio.sleep(0)
    await h.router.stop()
    for waiter in (ack, filled):
        with pytest.raises(RouterClosed):
            await waiter


# -- building the NewOrderSingle ------------------------------------------------------------------
def test_order_from_request_makes_what_the_constructor_makes() -> None:
    request = NewOrderRequest(
        "ACME", Side.SELL, D(5), OrdType.LIMIT, price=D("1.5"), account="A", min_qty=D(1)
    )
    fast = order_from_request("X1", request, 12.5)
    slow = Order(
        "X1",
        request.symbol,
        request.side,
        request.quantity,
        request.ord_type,
        request.price,
        request.stop_px,
        request.time_in_force,
        12.5,
        request.account,
        request.handl_inst,
        request.exec_inst,
        request.min_qty,
        request.max_floor,
        request.expire_time,
        request.expire_date,
    )
    assert fast.to_dict() == slow.to_dict()
    assert fast._sums() == slow._sums() == (D(0), D(0))


def test_timestamps_are_exact_across_milliseconds_and_seconds() -> None:
    base = 1_700_000_000.0
    for now, text in [
        (base + 0.9994, b"20231114-22:13:20.999"),
        (base + 0.9996, b"20231114-22:13:21.000"),
        (base + 0.9994, b"20231114-22:13:20.999"),
        (base + 1.0016, b"20231114-22:13:21.002"),
        (base + 1.0016, b"20231114-22:13:21.002"),
    ]:
        assert _timestamp(now) == text


def test_new_order_single_writes_each_value_as_given() -> None:
    request = NewOrderRequest("ACME", Side.BUY, D("100.0"), price=D("10.50"))
    msg = new_order_single_as(request, "C1", _version(), 1_700_000_000.0)
    assert (msg.get(38), msg.get(44)) == (b"100.0", b"10.50")
    assert msg.msg_type == b"D" and msg.get(59) == TimeInForce.DAY.value.encode()


def _version() -> Any:
    from fixengine.orders.messages import FixVersion

    return FixVersion.parse(VERSION)


# -- what a done order holds ------------------------------------------------------------------
def _tracked_from(root: Any, stop: Any) -> dict[int, Any]:
    """The objects the collector tracks that ``root`` reaches (not through ``stop``,
    classes, modules or functions, which are shared by every order)."""
    seen: dict[int, Any] = {}
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or obj is stop:
            continue
        if isinstance(obj, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)):
            continue
        if gc.is_tracked(obj):
            seen[id(obj)] = obj
        stack.extend(gc.get_referents(obj))
    return seen


async def test_a_done_order_holds_few_objects_for_the_collector() -> None:
    h = Harness()
    await h.router.start()

    async def filled() -> Any:
        # report() reads order.chain, which would make the list: the same fields, read
        # from the handle instead
        handle = await h.order()
        base = [(37, "O-" + handle.key), (11, handle.key), (55, "ACME"), (54, "1")]
        base += [(38, "100"), (40, "1"), (60, "20240101-00:00:00.000")]
        for fields in (
            [(17, f"E{next(_exec_ids)}"), (150, "0"), (39, "0"), (151, "100"), (14, "0")],
            [
                (17, f"E{next(_exec_ids)}"),
                (150, "F"),
                (39, "2"),
                (32, "100"),
                (31, "10.5"),
                (151, "0"),
                (14, "100"),
                (6, "10.5"),
            ],
        ):
            msg = Message("8")
            for tag, value in [*base, *fields]:
                msg.append(tag, value)
            for tag, value in ((49, "V"), (56, "C"), (34, 7), (52, "20240101-00:00:00.000")):
                msg.set(tag, value)
            h.deliver(decode(encode(msg, VERSION)))
        assert handle.state is OrdStatus.FILLED and handle._anomalies is None
        assert not h.router.anomalies
        return handle

    first, second = await filled(), await filled()
    gc.collect()  # untracks tuples of atoms (the order's sums), as any collection does
    shared = _tracked_from(second, h.router)
    own = [o for i, o in _tracked_from(first, h.router).items() if i not in shared]
    # the handle, its order, the order's fills, the fill, the history (the chain and the
    # ExecIDs are tuples of strings, which the collector untracks)
    assert sorted(type(o).__name__ for o in own) == sorted(
        ["OrderHandle", "Order", "list", "Fill", "list"]
    )
    # made when first needed, and then kept
    order = first.order
    assert order._pending is None and order._aliases is None and first._anomalies is None
    assert order._chain == (first.key,) and len(order._exec_ids) == 2
    assert order.chain == [first.key] and order.chain is order.chain
    assert order.exec_ids == set(order._exec_ids) and order.exec_ids is order.exec_ids
    assert order.pending == [] and order.pending is order.pending
    assert first.anomalies == [] and first.anomalies is first.anomalies
    assert order.to_dict()["pending"] == [] and order.status is OrdStatus.FILLED
    await h.router.stop()


async def test_history_read_between_updates_and_trimmed_equals_the_streamed_one() -> None:
    h = Harness(history_limit=4)
    await h.router.start()
    stream = h.router.updates()
    handle = await h.order(quantity=100)
    h.deliver(report(handle.order, "0", OrdStatus.NEW))
    early = handle.history  # made now; the later ones stay unmade until read
    for _ in range(5):
        h.deliver(report(handle.order, "F", OrdStatus.PARTIALLY_FILLED, D(10)))
    streamed = [await stream.get(timeout=1) for _ in range(7)]
    assert early == streamed[:2]
    assert handle.history == streamed[-4:]
    assert [u.cum_qty for u in handle.history] == [D(20), D(30), D(40), D(50)]
    await h.router.stop()


# -- the engine's callbacks ---------------------------------------------------------------------
class _Session:
    def __init__(self, name: str) -> None:
        self.session_id = name


class _Router:
    def __init__(self, session: _Session) -> None:
        self.session = session
        self.seen: list[Any] = []

    def _handle_message(self, msg: Any) -> None:
        self.seen.append(msg)

    def handle_event(self, event: Any) -> None:
        self.seen.append(event)


def test_router_application_feeds_each_session_its_router_however_they_interleave() -> None:
    app = RouterApplication()
    a, b, c = _Session("A"), _Session("B"), _Session("C")
    ra, rb = _Router(a), _Router(b)
    app.attach(ra)  # type: ignore[arg-type]
    app.attach(rb)  # type: ignore[arg-type]
    for session, msg in [(a, 1), (a, 2), (b, 3), (c, 4), (a, 5), (b, 6)]:
        app.on_message(session, msg)  # type: ignore[arg-type]
    app.on_event(b, "logon")  # type: ignore[arg-type]
    assert (ra.seen, rb.seen) == ([1, 2, 5], [3, 6, "logon"])
    app.detach(ra)  # type: ignore[arg-type]
    app.on_message(a, 7)  # type: ignore[arg-type]
    rc = _Router(c)
    app.attach(rc)  # type: ignore[arg-type]
    app.on_message(c, 8)  # type: ignore[arg-type]
    assert (ra.seen, rc.seen) == ([1, 2, 5], [8])


async def test_history_made_later_holds_the_orders_own_fills() -> None:
    h = Harness()
    await h.router.start()
    handle = await h.order(quantity=100)
    h.deliver(report(handle.order, "0", OrdStatus.NEW))
    h.deliver(report(handle.order, "F", OrdStatus.PARTIALLY_FILLED, D(40)))
    h.deliver(report(handle.order, "F", OrdStatus.PARTIALLY_FILLED, D(10)))
    h.deliver(report(handle.order, "0", OrdStatus.PARTIALLY_FILLED))  # a late New: no fill
    history = handle.history
    fills = [u.fill for u in history if u.fill is not None]
    assert len(fills) == 2 and all(a is b for a, b in zip(fills, handle.order.fills, strict=True))
    assert [u.order for u in history] == [handle.order] * len(history)
    assert all(u.order is handle.order for u in history)
    await h.router.stop()
