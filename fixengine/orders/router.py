"""The order router: an async API that sends orders on one session and tracks them.

Theory of operation
-------------------
An :class:`OrderRouter` is bound to one session (a
:class:`~fixengine.application.SessionHandle`, or anything with the same
``send``/``events``/``config``: :class:`SessionPort`). It owns an
:class:`~fixengine.orders.state.OrderRegistry` (the sans-IO order state machine),
a :class:`~fixengine.orders.risk.PreTradeRisk` and, optionally, an
:class:`~fixengine.orders.journal.OrderJournal`::

    async with OrderRouter(handle, risk=risk, journal=path) as router:
        order = await router.submit(NewOrderRequest("ACME", Side.BUY, Decimal(100),
                                                    price=Decimal("10.5")))
        await order.acknowledged(timeout=5)
        await router.replace(order, quantity=Decimal(200))
        await (await router.cancel(order)).result(timeout=5)

Sending. Every request passes the pre-trade checks *before* anything is built:
kill switch, duplicate ClOrdID, allowed symbols, maximum quantity and notional,
price collar against the reference price, then the throttle. A refusal raises
:class:`OrderRefused` and nothing reaches the session. A throttle that queues
(``max_delay`` set on it) makes the call wait for its slot; the kill switch is
checked again when the slot comes. An accepted new order is registered, written to
the journal (write-ahead: an order on the wire is always in the journal), stamped
for the round-trip clock, then handed to ``session.send``.

Receiving. The session's events are handled one at a time, in order: by a task
reading ``session.events()``, or inside the engine's callbacks when the router is
fed by a :class:`RouterApplication` (see Restart). ExecutionReports (35=8)
and OrderCancelRejects (35=9) go through the registry, which matches them to the
order by ClOrdID, OrigClOrdID or OrderID, applies them once (a repeated ExecID
changes nothing, PossDupFlag or not) and reports anything that does not fit as an
anomaly; the router never raises for what the counterparty sent. A session Reject
(35=3) or BusinessMessageReject (35=j) naming one of our requests (RefSeqNum or
BusinessRejectRefID) rejects that request. OrderMassCancelReport (35=r) settles a
mass cancel. Each of these becomes a :class:`RouterUpdate` - a frozen snapshot
(status, CumQty, LeavesQty, AvgPx, the fill, anomalies) - delivered to the
order's :meth:`OrderHandle.updates` and to :meth:`OrderRouter.updates`, and wakes
whatever waits on the order (:meth:`OrderHandle.acknowledged`, ``filled``,
``done``). The time from handing a NewOrderSingle to the session to the first
report on that order is the order's round-trip latency (``ack_latency``; the
``fix_order_round_trip_seconds`` histogram when the session has metrics).

Restart. With a journal, the order's snapshot is appended after every report that
changed it. A new router on the same journal restores the open orders (a
:data:`UpdateKind.RECOVERED` update each); the ExecIDs kept in each snapshot make a
report that comes again apply once. For a report to come again after a crash, the
session must not have confirmed it before it was journaled: the engine confirms an
application message (``Session.message_handled``) when the ``Application``
callback returns, but a message read through ``SessionHandle.events()`` as soon as
it is queued. So a router that must survive ``kill -9`` is fed by a
:class:`RouterApplication` (the engine's application, wrapping the service's own):
the report is applied and journaled inside the callback, and a crash before it
returns makes the counterparty resend it (PossDupFlag=Y) after the restart.
Without it the router reads ``session.events()`` itself: at most once across a
crash (the reconciliation below then reports the difference as CumQty and OrdStatus
anomalies, but cannot bring back a lost fill).

After every Logon the router reconciles: it lets the resend of any sequence gap
the Logon revealed complete (the resent reports are applied as they come), then
sends an OrderStatusRequest (35=H) for each order still open; each answer is an
update, and :meth:`OrderRouter.wait_reconciled` returns when all have come back. A
status answer "unknown order" (OrdStatus Rejected, OrdRejReason 5, as FIX 4.4
Vol. 4 prescribes for a status request on an unknown order) for an order never
acknowledged means the NewOrderSingle never reached the counterparty (the process
died between the journal write and the send): the order becomes REJECTED.

Cancels pass the kill switch and the limits (reducing risk must stay possible) and
meet only the throttle; the kill switch's own cancels and the reconciliation's
status requests wait for throttle slots rather than being refused.

Everything runs on the event loop of the session; no method is thread-safe.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import enum
import logging
import math
import os
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Protocol

from ..application import Application, SessionHandle
from ..codec import Message
from ..errors import FixError, LocalProtocolError
from ..fields import parse_int
from ..session.config import SessionConfig
from ..session.events import Event, MessageReceived
from ..session.store import FsyncPolicy, StoreError
from .journal import OrderJournal, journal_path_for
from .messages import (
    CancelReject,
    ExecutionReport,
    FixVersion,
    build_request,
    new_order_single_as,
)
from .model import (
    CancelRequest,
    Fill,
    MassCancelRequest,
    NewOrderRequest,
    Order,
    OrdStatus,
    OrdType,
    ReplaceRequest,
    Side,
    TimeInForce,
    frozen_init,
)
from .risk import Action, PreTradeRisk, RefusalReason, RiskDecision
from .state import (
    Anomaly,
    ClOrdIdGenerator,
    ExecEvent,
    OrderRegistry,
    OrderUpdate,
)
from .state import quick_apply as _quick_apply

__all__ = [
    "MassCancelResult",
    "OrderClosed",
    "OrderError",
    "OrderHandle",
    "OrderRefused",
    "OrderRejected",
    "OrderRouter",
    "RequestHandle",
    "RequestRejected",
    "RouterApplication",
    "RouterClosed",
    "RouterUpdate",
    "SessionPort",
    "UpdateKind",
    "UpdateStream",
    "latency_summary",
]

logger = logging.getLogger("fixengine.orders.router")

_UNSET: Any = object()


# -- errors -----------------------------------------------------------------------------------
class OrderError(FixError):
    """Base class of the router's errors."""


class OrderRefused(OrderError):
    """A request was refused before reaching the wire.

    ``reason`` is the pre-trade check that refused it (None when the session
    itself could not take the message); ``text`` says why, with the numbers.
    """

    def __init__(self, reason: RefusalReason | None, text: str) -> None:
        name = reason.name if reason is not None else "SESSION"
        super().__init__(f"refused ({name}): {text}")
        self.reason = reason
        self.text = text

    @classmethod
    def from_decision(cls, decision: RiskDecision) -> OrderRefused:
        """The error for a REFUSE decision of :class:`~fixengine.orders.risk.PreTradeRisk`."""
        return cls(decision.reason, decision.text)


class OrderRejected(OrderError):
    """The counterparty rejected the order (ExecutionReport OrdStatus Rejected, or a
    session/business reject of the NewOrderSingle)."""

    def __init__(self, cl_ord_id: str, reason: int | None, text: str | None) -> None:
        detail = text or "no reason given"
        code = f" (OrdRejReason {reason})" if reason is not None else ""
        super().__init__(f"order {cl_ord_id} rejected{code}: {detail}")
        self.cl_ord_id = cl_ord_id
        self.reason = reason
        self.text = text


class OrderClosed(OrderError):
    """The order ended in a state other than the one awaited (``filled()`` on an order
    that was canceled, say)."""

    def __init__(self, cl_ord_id: str, status: OrdStatus, cum_qty: Decimal) -> None:
        super().__init__(f"order {cl_ord_id} ended {status.name} with CumQty {cum_qty}")
        self.cl_ord_id = cl_ord_id
        self.status = status
        self.cum_qty = cum_qty


class RequestRejected(OrderError):
    """A cancel, replace, status or mass-cancel request did not take effect."""

    def __init__(self, cl_ord_id: str, kind: str, reason: int | None, text: str) -> None:
        code = f" (reason {reason})" if reason is not None else ""
        super().__init__(f"{kind} {cl_ord_id} rejected{code}: {text}")
        self.cl_ord_id = cl_ord_id
        self.kind = kind
        self.reason = reason
        self.text = text


class RouterClosed(OrderError):
    """The router stopped while a caller was waiting on it."""


# -- the session it needs ------------------------------------------------------------------------
class SessionPort(Protocol):
    """What the router needs from a session (a :class:`~fixengine.application.SessionHandle`)."""

    @property
    def config(self) -> SessionConfig:
        """The session's configuration (BeginString, DefaultApplVerID)."""
        ...

    @property
    def is_logged_on(self) -> bool:
        """True while the session is logged on."""
        ...

    async def send(self, message: Message) -> int:
        """Send an application message; returns its MsgSeqNum."""
        ...

    def events(self, *types: type) -> Any:
        """An async iterator of the session's events from now on (with ``close()``)."""
        ...


# -- updates --------------------------------------------------------------------------------------
class UpdateKind(enum.Enum):
    """What a :class:`RouterUpdate` reports."""

    SENT = "sent"  # a request went to the session
    REPORT = "report"  # an ExecutionReport was applied (or recognised as a duplicate)
    CANCEL_REJECT = "cancel reject"  # an OrderCancelReject was applied
    REQUEST_REJECTED = "request rejected"  # a session/business reject, or a local failure
    MASS_CANCEL_REPORT = "mass cancel report"  # an OrderMassCancelReport arrived
    RECOVERED = "recovered"  # an open order restored from the journal
    RECONCILING = "reconciling"  # status requests sent for the open orders after a Logon
    RECONCILED = "reconciled"  # every status request of the round was answered
    ANOMALY = "anomaly"  # something that matched no order, or a report our session rejected


@frozen_init
@dataclasses.dataclass(frozen=True, slots=True)
class RouterUpdate:
    """One change, as a snapshot taken when it happened.

    ``cl_ord_id`` is the order's ClOrdID at that moment (the request's for
    requests that belong to no order); ``request`` the ClOrdID of the request the
    update is about, when it is not the order's own (a cancel, a replace).
    ``order`` is the live :class:`~fixengine.orders.model.Order` (it keeps
    changing); every other field is frozen.
    """

    kind: UpdateKind
    time: float
    cl_ord_id: str | None
    status: OrdStatus | None = None
    previous_status: OrdStatus | None = None
    event: ExecEvent | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    cum_qty: Decimal = Decimal(0)
    leaves_qty: Decimal = Decimal(0)
    avg_px: Decimal = Decimal(0)
    fill: Fill | None = None
    duplicate: bool = False
    poss_dup: bool = False
    request: str | None = None
    text: str | None = None
    anomalies: tuple[Anomaly, ...] = ()
    order: Order | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def changed(self) -> bool:
        """The order's status changed or it got a fill."""
        return self.fill is not None or (
            self.status is not None and self.previous_status is not self.status
        )

    def line(self) -> str:
        """One readable line: time, ClOrdID, status, cum/leaves/avgpx, what happened."""
        stamp = time.strftime("%H:%M:%S", time.gmtime(self.time))
        stamp += f".{int(self.time * 1000) % 1000:03d}"
        status = self.status.name if self.status is not None else "-"
        text = (
            f"{stamp} {self.cl_ord_id or '-':<18} {status:<16} "
            f"cum={self.cum_qty} leaves={self.leaves_qty} avgpx={_fmt_px(self.avg_px)}"
        )
        if self.kind is UpdateKind.SENT:
            what = [" ".join(x for x in (self.text or "order", self.request, "sent") if x)]
        else:
            what = [self.event.value if self.event is not None else self.kind.value]
            if self.event is ExecEvent.REPLACED and self.quantity is not None:
                what[0] += f" to {self.quantity}" + (f" @ {self.price}" if self.price else "")
            if self.fill is not None:
                what.append(f"fill {self.fill.quantity} @ {self.fill.price}")
            if self.request is not None:
                what.append(f"request {self.request}")
            if self.duplicate:
                what.append("duplicate, ignored")
            if self.text:
                what.append(self.text)
        what.extend(a.kind.name for a in self.anomalies)
        return f"{text}  ({'; '.join(what)})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (Decimals as strings)."""
        return {
            "kind": self.kind.value,
            "time": self.time,
            "cl_ord_id": self.cl_ord_id,
            "status": None if self.status is None else self.status.name,
            "previous_status": None if self.previous_status is None else self.previous_status.name,
            "event": None if self.event is None else self.event.value,
            "cum_qty": str(self.cum_qty),
            "leaves_qty": str(self.leaves_qty),
            "avg_px": str(self.avg_px),
            "fill": None if self.fill is None else self.fill.to_dict(),
            "duplicate": self.duplicate,
            "poss_dup": self.poss_dup,
            "request": self.request,
            "text": self.text,
            "anomalies": [{"kind": a.kind.name, "text": a.text} for a in self.anomalies],
        }

    def __str__(self) -> str:
        return self.line()


def _fmt_px(value: Decimal) -> str:
    """AvgPx for people: no trailing zeros, at most 8 decimals."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    text = f"{value:.8f}".rstrip("0")
    return text


class _UpdateQueue:
    """Unbounded FIFO of updates with one waiter (one consumer)."""

    __slots__ = ("__weakref__", "_items", "_waiter", "closed")

    def __init__(self) -> None:
        self._items: collections.deque[RouterUpdate] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False

    def put(self, update: RouterUpdate) -> None:
        if self.closed:
            return
        self._items.append(update)
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def get(self) -> RouterUpdate | None:
        while not self._items:
            if self.closed:
                return None
            if self._waiter is None:
                self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._items.popleft()

    def __len__(self) -> int:
        return len(self._items)


class UpdateStream:
    """``async for update in ...``: updates from the moment the stream was made.

    Ends when the router stops (or, for an order's stream, after the update that
    finished the order). Dropping the stream unsubscribes it.
    """

    def __init__(self, queue: _UpdateQueue, unsubscribe: Callable[[_UpdateQueue], None]) -> None:
        self._queue = queue
        self._unsubscribe = unsubscribe

    def __aiter__(self) -> UpdateStream:
        return self

    async def __anext__(self) -> RouterUpdate:
        update = await self._queue.get()
        if update is None:
            raise StopAsyncIteration
        return update

    async def get(self, timeout: float | None = None) -> RouterUpdate:
        """The next update (``TimeoutError`` after ``timeout`` seconds)."""
        return await asyncio.wait_for(self.__anext__(), timeout)

    def close(self) -> None:
        """Stop receiving; updates already queued are still returned."""
        self._queue.close()
        self._unsubscribe(self._queue)

    def __len__(self) -> int:
        return len(self._queue)

    def __del__(self) -> None:
        try:
            self._unsubscribe(self._queue)
        except Exception:  # interpreter shutdown
            pass


# -- waiting --------------------------------------------------------------------------------------
class _Signal:
    """Wakes every waiter on each change; waiters re-check their condition.

    Each waiter parks on a future of its own (a waiter that times out or is
    cancelled takes nothing from the others); :meth:`fire` resolves them all. Plain
    futures, not an ``asyncio.Event``: this is on the path of every order
    acknowledgement, where a fresh Event costs a lock on its first wait.
    """

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def fire(self) -> None:
        waiters = self._waiters
        if waiters:
            self._waiters = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def wait_until(
        self, check: Callable[[], Any], timeout: float | None, what: Callable[[], str]
    ) -> Any:
        """Return ``check()`` once it is not None (it may raise to end the wait).

        ``asyncio.TimeoutError`` naming ``what()`` after ``timeout`` seconds.
        """
        result = check()
        if result is not None:
            return result
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                if deadline is None:
                    await waiter
                else:
                    left = deadline - loop.time()
                    if left <= 0:
                        raise asyncio.TimeoutError
                    await asyncio.wait_for(waiter, left)
            except asyncio.TimeoutError:
                raise asyncio.TimeoutError(
                    f"timed out after {timeout}s waiting for {what()}"
                ) from None
            finally:
                if not waiter.done():
                    waiter.cancel()
                if waiter.cancelled():  # fire() resolved and dropped the others already
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(waiter)
            result = check()
            if result is not None:
                return result


# -- handles --------------------------------------------------------------------------------------
_ACKED = frozenset(
    {
        OrdStatus.NEW,
        OrdStatus.PARTIALLY_FILLED,
        OrdStatus.FILLED,
        OrdStatus.DONE_FOR_DAY,
        OrdStatus.CANCELED,
        OrdStatus.PENDING_CANCEL,
        OrdStatus.PENDING_REPLACE,
        OrdStatus.STOPPED,
        OrdStatus.SUSPENDED,
        OrdStatus.CALCULATED,
        OrdStatus.EXPIRED,
        OrdStatus.ACCEPTED_FOR_BIDDING,
        OrdStatus.REPLACED,
    }
)


_ACK_WAKE = _ACKED | {OrdStatus.REJECTED}  # what ends a wait for the acknowledgement
_REJECTED = OrdStatus.REJECTED
_FILLED = OrdStatus.FILLED


def _wake(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)


async def _park(
    waiters: list[asyncio.Future[None]],
    timeout: float | None,
    deadline: float | None,
    what: str,
    handle: OrderHandle,
) -> float | None:
    """Wait on a future of ours in ``waiters`` until it is resolved (or ``timeout``
    passes: ``TimeoutError`` naming ``what``); returns the deadline, for a wait that
    goes on."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    waiters.append(waiter)
    try:
        if timeout is None:
            await waiter
            return None
        if deadline is None:
            deadline = loop.time() + timeout
        left = deadline - loop.time()
        if left <= 0:
            raise asyncio.TimeoutError
        # a timer on the waiter itself, not wait_for: resolving the waiter resumes us at
        # the loop's next turn, with no future in between
        timer = loop.call_later(left, _time_out, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
        return deadline
    except asyncio.TimeoutError:
        raise asyncio.TimeoutError(
            f"timed out after {timeout}s waiting for {what.format(handle.cl_ord_id)}"
        ) from None
    finally:
        if not waiter.done() or waiter.cancelled() or waiter.exception() is not None:
            with contextlib.suppress(ValueError):  # not resolved: leave the list
                waiters.remove(waiter)


def _time_out(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(asyncio.TimeoutError())


class OrderHandle:
    """One order as the caller sees it: live state, awaitable milestones, its updates.

    :attr:`history` holds the order's updates, the last ``history_limit`` of them
    (the router's; unlimited when None). Waiting costs nothing until someone waits:
    :meth:`acknowledged`, :meth:`filled` and :meth:`done` park a future of their own
    only when the answer is not in yet, and the report that brings it resolves it.
    """

    __slots__ = (
        "__weakref__",
        "_ack_waiters",
        "_anomalies",
        "_done_waiters",
        "_history",
        "_requests",
        "_retired",
        "_router",
        "_sent_at",
        "_signal",
        "_streams",
        "ack_latency",
        "key",
        "order",
    )

    def __init__(self, router: OrderRouter, order: Order) -> None:
        self._router = router
        self.order = order
        self.key = order._chain[0]
        # RouterUpdates, or the plain tuple an update is made of when the history is read
        # (most never are): see _unmade_sent and _unmade_report
        self._history: list[Any] = []
        self.ack_latency: float | None = None
        self._sent_at: float | None = None  # perf_counter when the NewOrderSingle was handed over
        self._signal: _Signal | None = None  # made by the first wait_for()
        self._ack_waiters: list[asyncio.Future[None]] | None = None  # acknowledged()
        self._done_waiters: list[asyncio.Future[None]] | None = None  # filled(), done()
        # made by the first updates() call: most orders are never watched one by one
        self._streams: weakref.WeakSet[_UpdateQueue] | None = None
        # cancels/replaces not settled yet, made by the first one
        self._requests: dict[str, RequestHandle] | None = None
        self._anomalies: list[Anomaly] | None = None  # made by the first anomaly or read
        self._retired = False  # counted among the router's done orders

    @property
    def history(self) -> list[RouterUpdate]:
        """The order's updates so far, oldest first (the last ``history_limit``)."""
        return list(self._made())

    def _made(self) -> list[RouterUpdate]:
        """The history with every update made (kept so, one item each)."""
        entries = self._history
        order = self.order
        made: list[RouterUpdate] = []
        i = 0
        n = len(entries)
        while i < n:
            item = entries[i]
            i += 1
            if type(item) is not tuple:
                made.append(item)
            elif len(item) == _UNMADE_SENT:
                made.append(_make_sent(item, order))
            else:  # a report, and its fill next if it brought one
                fill = None
                if i < n and not isinstance(entries[i], (tuple, RouterUpdate)):
                    fill = entries[i]
                    i += 1
                made.append(_make_report(item, fill, order))
        self._history = made
        return made

    def _remember(self, entry: Any) -> None:
        """Add an update (or the tuple it is made of) to the history, dropping the
        oldest beyond the router's ``history_limit``."""
        entries = self._history
        entries.append(entry)
        if len(entries) > self._router._history_cap:
            self._trim()

    def _trim(self) -> None:
        """Keep the last ``history_limit`` updates (more items than that are in the list:
        maybe more updates too)."""
        made = self._made()
        excess = len(made) - self._router._history_cap
        if excess > 0:
            del made[: int(excess)]

    @property
    def anomalies(self) -> list[Anomaly]:
        """The anomalies of the reports on this order, oldest first."""
        anomalies = self._anomalies
        if anomalies is None:
            anomalies = self._anomalies = []
        return anomalies

    # -- state --------------------------------------------------------------------------
    @property
    def cl_ord_id(self) -> str:
        """ClOrdID of the order's current (last accepted) version."""
        return self.order.cl_ord_id

    @property
    def orig_cl_ord_id(self) -> str | None:
        """The ClOrdID before the current one (None if never replaced)."""
        return self.order.orig_cl_ord_id

    @property
    def chain(self) -> tuple[str, ...]:
        """Every ClOrdID the order has had, oldest first."""
        return tuple(self.order.chain)

    @property
    def order_id(self) -> str | None:
        """OrderID(37) the counterparty gave it."""
        return self.order.order_id

    @property
    def state(self) -> OrdStatus:
        """OrdStatus as this side understands it."""
        return self.order.status

    status = state

    @property
    def quantity(self) -> Decimal:
        """OrderQty of the current version."""
        return self.order.quantity

    @property
    def price(self) -> Decimal | None:
        """Price of the current version."""
        return self.order.price

    @property
    def cum_qty(self) -> Decimal:
        """CumQty, summed from the fills."""
        return self.order.cum_qty

    @property
    def leaves_qty(self) -> Decimal:
        """LeavesQty: OrderQty - CumQty while live, else 0."""
        return self.order.leaves_qty

    @property
    def avg_px(self) -> Decimal:
        """AvgPx, exact, from the fills."""
        return self.order.avg_px

    @property
    def fills(self) -> list[Fill]:
        """The executions, in the order they were applied."""
        return list(self.order.fills)

    @property
    def is_acknowledged(self) -> bool:
        """The counterparty has accepted (or already finished) the order."""
        return self.order.status in _ACKED

    @property
    def is_live(self) -> bool:
        """The order can still execute."""
        return self.order.is_live

    @property
    def is_done(self) -> bool:
        """Filled, canceled, rejected or expired."""
        return self.order.is_done

    # -- waiting ------------------------------------------------------------------------
    def _rejected(self) -> OrderRejected:
        return OrderRejected(self.cl_ord_id, self.order.ord_rej_reason, self.order.text)

    async def acknowledged(self, timeout: float | None = None) -> OrdStatus:
        """Wait until the counterparty accepted the order; returns its status.

        An order filled, canceled or expired before any "New" counts as accepted.
        Raises :class:`OrderRejected` if it was rejected, ``TimeoutError`` after
        ``timeout`` seconds, :class:`RouterClosed` if the router stops.
        """
        order = self.order
        # order.status, without the property for an order with nothing pending
        status = order.base_status if not order._pending else order.status
        if status in _ACKED:  # the answer is often in before the caller asks
            return status
        deadline = None
        while True:
            if status is _REJECTED:
                raise self._rejected()
            if self._router._closed:
                self._router._check_running()
            waiters = self._ack_waiters
            if waiters is None:
                waiters = self._ack_waiters = []
            deadline = await _park(waiters, timeout, deadline, "acknowledgement of {}", self)
            status = order.base_status if not order._pending else order.status
            if status in _ACKED:
                return status

    async def filled(self, timeout: float | None = None) -> OrderHandle:
        """Wait until the order is filled.

        Raises :class:`OrderRejected` or :class:`OrderClosed` if it ends otherwise.
        """
        order = self.order
        deadline = None
        while True:
            status = order.status
            if status is _FILLED:
                return self
            if status is _REJECTED:
                raise self._rejected()
            if order.is_done:
                raise OrderClosed(self.cl_ord_id, status, self.cum_qty)
            self._router._check_running()
            waiters = self._done_waiters
            if waiters is None:
                waiters = self._done_waiters = []
            deadline = await _park(waiters, timeout, deadline, "{} to be filled", self)

    async def done(self, timeout: float | None = None) -> OrdStatus:
        """Wait until the order is done (filled, canceled, rejected, expired); its status."""
        order = self.order
        deadline = None
        while True:
            if order.is_done:
                return order.status
            self._router._check_running()
            waiters = self._done_waiters
            if waiters is None:
                waiters = self._done_waiters = []
            deadline = await _park(waiters, timeout, deadline, "{} to be done", self)

    async def wait_for(
        self, predicate: Callable[[OrderHandle], bool], timeout: float | None = None
    ) -> OrderHandle:
        """Wait until ``predicate(self)`` holds (checked after every update)."""

        def check() -> OrderHandle | None:
            if predicate(self):
                return self
            self._router._check_running()
            return None

        signal = self._signal
        if signal is None:
            signal = self._signal = _Signal()
        result: OrderHandle = await signal.wait_until(
            check, timeout, lambda: f"a condition on {self.cl_ord_id}"
        )
        return result

    def updates(self, *, history: bool = True) -> UpdateStream:
        """This order's updates: its history so far (unless ``history=False``), then live
        ones; the stream ends after the update that finishes the order."""
        queue = _UpdateQueue()
        if history:
            for update in self.history:
                queue.put(update)
        if self._streams is None:
            self._streams = weakref.WeakSet()
        if self.order.is_done or self._router.closed:
            queue.close()
        else:
            self._streams.add(queue)
        return UpdateStream(queue, self._streams.discard)

    def _publish(self, update: RouterUpdate) -> None:
        self._remember(update)
        streams = self._streams
        if streams:  # iterating a WeakSet costs, and usually nobody reads one order's stream
            done = self.order.is_done
            for queue in list(streams):
                queue.put(update)
                if done:
                    queue.close()
            if done:
                streams.clear()
        self._notify()

    def _notify(self) -> None:
        """Wake the waits whose answer is in (after every change of the order)."""
        if self._ack_waiters is not None and self.order.status in _ACK_WAKE:
            waiters, self._ack_waiters = self._ack_waiters, None
            _wake(waiters)
        if self._done_waiters is not None and self.order.is_done:
            waiters, self._done_waiters = self._done_waiters, None
            _wake(waiters)
        if self._signal is not None:
            self._signal.fire()

    def _close(self) -> None:
        if self._streams:
            for queue in list(self._streams):
                queue.close()
            self._streams.clear()
        waiters = self._ack_waiters
        if waiters is not None:
            self._ack_waiters = None
            _wake(waiters)
        waiters = self._done_waiters
        if waiters is not None:
            self._done_waiters = None
            _wake(waiters)
        if self._signal is not None:
            self._signal.fire()

    def __repr__(self) -> str:
        return (
            f"<OrderHandle {self.cl_ord_id} {self.order.side.name} {self.quantity} "
            f"{self.order.symbol} @ {self.price} {self.state.name} cum={self.cum_qty}>"
        )


@frozen_init
@dataclasses.dataclass(frozen=True, slots=True)
class MassCancelResult:
    """What an OrderMassCancelReport (35=r) said."""

    response: str  # MassCancelResponse(531): "0" rejected, else the request type
    affected: int | None  # TotalAffectedOrders(533)
    affected_cl_ord_ids: tuple[str, ...]
    reject_reason: int | None  # MassCancelRejectReason(532)
    text: str | None

    @property
    def accepted(self) -> bool:
        """The mass cancel was carried out (531 is not 0)."""
        return self.response != "0"


class RequestHandle:
    """A cancel, replace, status or mass-cancel request; ``await result()`` for the outcome."""

    def __init__(self, router: OrderRouter, kind: str, cl_ord_id: str, order: OrderHandle | None):
        self._router = router
        self.kind = kind
        self.cl_ord_id = cl_ord_id
        self.order = order
        self.sent = False
        self.settled = False
        self.accepted: bool | None = None
        self.reason: int | None = None
        self.text: str | None = None
        self.status: OrdStatus | None = None
        self.mass_cancel: MassCancelResult | None = None
        self._signal = _Signal()

    def _settle(
        self, accepted: bool, *, reason: int | None = None, text: str | None = None
    ) -> None:
        if self.settled:
            return
        self.settled = True
        self.accepted = accepted
        self.reason = reason
        self.text = text
        if self.order is not None:
            self.status = self.order.state
        self._signal.fire()

    async def result(self, timeout: float | None = None) -> RequestHandle:
        """Wait until the request is settled; raises :class:`RequestRejected` if it failed.

        A cancel is settled when the order is canceled (accepted) or the cancel is
        rejected or the order ends otherwise (filled first: rejected); a replace
        when the new version is in force or rejected; a status request at the next
        status report on the order; a mass cancel at its OrderMassCancelReport.
        """

        def check() -> RequestHandle | None:
            if self.settled:
                if not self.accepted:
                    raise RequestRejected(
                        self.cl_ord_id, self.kind, self.reason, self.text or "rejected"
                    )
                return self
            self._router._check_running()
            return None

        result: RequestHandle = await self._signal.wait_until(
            check, timeout, lambda: f"the answer to {self.kind} {self.cl_ord_id}"
        )
        return result

    def __repr__(self) -> str:
        state = "pending" if not self.settled else ("accepted" if self.accepted else "rejected")
        return f"<RequestHandle {self.kind} {self.cl_ord_id} {state}>"


# -- latency --------------------------------------------------------------------------------------
def latency_summary(samples: Iterable[float]) -> dict[str, float | int]:
    """count, p50, p90, p99, max and mean of ``samples`` (seconds; nearest-rank
    percentiles). Empty input gives count 0 and NaNs."""
    data = sorted(samples)
    n = len(data)
    if not n:
        nan = float("nan")
        return {"count": 0, "p50": nan, "p90": nan, "p99": nan, "max": nan, "mean": nan}

    def pct(p: float) -> float:
        return data[max(0, math.ceil(p / 100 * n) - 1)]

    return {
        "count": n,
        "p50": pct(50),
        "p90": pct(90),
        "p99": pct(99),
        "max": data[-1],
        "mean": sum(data) / n,
    }


# -- the router -----------------------------------------------------------------------------------
_ORDER_REPORTS = (b"8", b"9")
_SETTLE = 0.05  # seconds after a Logon before reconciling (its gap, if any, is known by then)
_REJECTABLE = ("new", "cancel", "replace")
_MAX_SENT = 100_000  # requests remembered by MsgSeqNum, for matching session rejects
_ALLOW = Action.ALLOW
_ZERO = Decimal(0)
_SENT = UpdateKind.SENT
_REPORT = UpdateKind.REPORT
_perf_counter = time.perf_counter


def _sent_update(
    now: float, cl: str, status: OrdStatus, quantity: Decimal, price: Decimal | None, order: Order
) -> RouterUpdate:
    """The SENT update of an order just registered: pending new, nothing filled."""
    return RouterUpdate(
        _SENT,
        now,
        cl,
        status,
        status,
        None,
        quantity,
        price,
        _ZERO,
        quantity - _ZERO,  # leaves_qty as Order.leaves_qty computes it
        _ZERO,
        None,
        False,
        False,
        None,
        "new order",
        (),
        order,
    )


def _quick_update(
    now: float,
    cl: str,
    status: OrdStatus,
    previous: OrdStatus,
    event: ExecEvent,
    quantity: Decimal,
    price: Decimal | None,
    cum: Decimal,
    notional: Decimal,
    fill: Fill | None,
    poss_dup: bool,
    text: str | None,
    order: Order,
) -> RouterUpdate:
    """The REPORT update of a report :meth:`OrderRegistry.apply_quick` applied (no
    cancel/replace pending: the status is the base status; never overfilled)."""
    return RouterUpdate(
        _REPORT,
        now,
        cl,
        status,
        previous,
        event,
        quantity,
        price,
        cum,
        _ZERO if status is _FILLED else quantity - cum,
        notional / cum if cum else _ZERO,
        fill,
        False,
        poss_dup,
        None,
        text,
        (),
        order,
    )


# An update nobody has read yet stays in the order's history as a tuple of plain values
# (str, float, bool, Decimal, None; the statuses and the event by their values), which
# the garbage collector stops tracking after one pass, where the update, its enum
# members and its order would be walked by every collection for as long as the order
# is kept. The order is the handle's own; the Fill a report brought follows its tuple in
# the list. The tuples, told apart by their length:
#   _sent_update:  (time, cl_ord_id, status, quantity, price)
#   _quick_update: (time, cl_ord_id, status, previous, event, quantity, price, cum_qty,
#                   notional, poss_dup, text)
_UNMADE_SENT = 5
_STATUS_BY_VALUE: dict[str, OrdStatus] = {s._value_: s for s in OrdStatus}
_EVENT_BY_VALUE: dict[str, ExecEvent] = {e._value_: e for e in ExecEvent}


def _make_sent(entry: tuple[Any, ...], order: Order) -> RouterUpdate:
    """The SENT update a history tuple stands for (see above)."""
    now, cl, status, quantity, price = entry
    return _sent_update(now, cl, _STATUS_BY_VALUE[status], quantity, price, order)


def _make_report(entry: tuple[Any, ...], fill: Fill | None, order: Order) -> RouterUpdate:
    """The REPORT update a history tuple (and the fill after it) stands for."""
    now, cl, status, previous, event, quantity, price, cum, notional, poss_dup, text = entry
    return _quick_update(
        now,
        cl,
        _STATUS_BY_VALUE[status],
        _STATUS_BY_VALUE[previous],
        _EVENT_BY_VALUE[event],
        quantity,
        price,
        cum,
        notional,
        fill,
        poss_dup,
        text,
        order,
    )


class OrderRouter:
    """Send orders on one session and track them (see the module docstring).

    ``risk`` holds the limits, the throttle and the kill switch (default: no
    limits). ``reference_prices`` gives the price collar and market-order notional
    their reference: a mapping or a function of the symbol. ``journal`` is an
    :class:`OrderJournal`, a path, ``"store"`` (next to the session's durable
    store, fsynced per the store's policy) or None (orders kept in memory only).
    ``reconcile`` sends OrderStatusRequests for the open orders after each Logon;
    ``gap_timeout`` bounds how long it first waits for a resend to complete.
    ``application`` feeds the router from the engine's callbacks instead of
    ``session.events()`` (see :class:`RouterApplication`).

    Memory stays bounded however long the router runs. ``keep_done`` done orders
    (filled, canceled, rejected, expired) stay tracked, the most recently finished;
    older ones are evicted: :meth:`get` no longer finds them and :meth:`orders` no
    longer lists them, while a handle already held keeps working. A request naming
    an evicted order raises :class:`~fixengine.errors.LocalProtocolError` saying
    so, its ClOrdIDs still count as used (the registry remembers the last 10,000
    evicted ones) and a late report for it is an UNKNOWN_ORDER anomaly naming it.
    ``keep_done=None`` keeps every order. Each order keeps its last ``history_limit``
    updates (:attr:`OrderHandle.history`; None: all), and :attr:`latencies` the last
    ``latency_samples`` round trips.
    """

    def __init__(
        self,
        session: SessionPort,
        *,
        version: FixVersion | str | None = None,
        risk: PreTradeRisk | None = None,
        reference_prices: Mapping[str, Decimal] | Callable[[str], Decimal | None] | None = None,
        journal: OrderJournal | str | os.PathLike[str] | None = None,
        journal_fsync: FsyncPolicy | None = None,
        id_prefix: str = "",
        reconcile: bool = True,
        gap_timeout: float = 5.0,
        application: RouterApplication | None = None,
        clock: Callable[[], float] = time.time,
        keep_done: int | None = 10_000,
        history_limit: int | None = 100,
        latency_samples: int = 100_000,
    ) -> None:
        if keep_done is not None and keep_done < 0:
            raise ValueError(f"keep_done must be >= 0 or None, not {keep_done!r}")
        if history_limit is not None and history_limit < 1:
            raise ValueError(f"history_limit must be >= 1 or None, not {history_limit!r}")
        if latency_samples < 1:
            raise ValueError(f"latency_samples must be >= 1, not {latency_samples!r}")
        self.session = session
        self.keep_done = keep_done
        self.history_limit = history_limit
        self._history_cap = history_limit if history_limit is not None else math.inf
        config = session.config
        if version is None:
            version = config.default_appl_ver_id or config.begin_string
        self.version = FixVersion.parse(version)
        self.risk = risk if risk is not None else PreTradeRisk()
        self._reference_prices = reference_prices
        self._clock = clock
        self.reconcile_on_logon = reconcile
        self.gap_timeout = gap_timeout
        self.id_prefix = id_prefix
        now = clock()
        self.journal = self._open_journal(journal, journal_fsync, now)
        if self.journal is not None:
            self.registry = self.journal.restore(now=now, prefix=id_prefix)
        else:
            self.registry = OrderRegistry(now=now)
            if id_prefix:
                self.registry.ids = ClOrdIdGenerator(now, prefix=id_prefix)
        self._handles: dict[str, OrderHandle] = {}
        self._requests: dict[str, RequestHandle] = {}
        self._status_waiters: dict[str, list[RequestHandle]] = {}
        self._sent: collections.OrderedDict[int, tuple[str, str]] = collections.OrderedDict()
        self._streams: weakref.WeakSet[_UpdateQueue] = weakref.WeakSet()
        # the last latency_samples round trips (seconds), oldest first
        self.latencies: collections.deque[float] = collections.deque(maxlen=latency_samples)
        self._done: collections.deque[OrderHandle] = collections.deque()  # done, oldest first
        self._metrics: Any = None  # the session's metrics ...
        self._observe: Callable[[float], None] | None = None  # ... and their round-trip hook
        self.anomalies: collections.deque[RouterUpdate] = collections.deque(maxlen=1000)
        # subscribe now, before any Logon: no report can be missed
        self._events: Any = None if application is not None else session.events()
        self._application = application
        if application is not None:
            application.attach(self)
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._stopping = False
        self._started = False
        self._gap_open = False
        self._reconcile_due = False
        self._reconcile_timer: asyncio.TimerHandle | None = None
        self._reconcile_task: asyncio.Task[None] | None = None
        self._reconcile_targets: list[OrderHandle] = []
        self._reconciled = _Signal()
        self._reconcile_rounds = 0
        self._reconcile_done_rounds = 0
        self._logon_at = -math.inf
        self._logon_seen = False  # a LoggedOn was handled since the last disconnect
        self._sync_timer: asyncio.TimerHandle | None = None
        self._recovered: list[OrderHandle] = []
        for order in self.registry.open_orders():
            handle = self._handle_for(order)
            self._recovered.append(handle)

    # -- set-up ---------------------------------------------------------------------------
    def _open_journal(
        self,
        journal: OrderJournal | str | os.PathLike[str] | None,
        fsync: FsyncPolicy | None,
        now: float,
    ) -> OrderJournal | None:
        if journal is None or isinstance(journal, OrderJournal):
            return journal
        store = getattr(getattr(self.session, "session", None), "store", None)
        if journal == "store":
            if store is None:
                raise StoreError("the session exposes no store to put the order journal beside")
            path = journal_path_for(store)
        else:
            path = os.fspath(journal)
        policy: FsyncPolicy = "always"
        if fsync is not None:
            policy = fsync
        elif getattr(store, "fsync_policy", None) == "batch":
            policy = "batch"
        elif getattr(store, "fsync_policy", None) == "never":
            policy = "never"
        return OrderJournal(path, fsync=policy, now=now)

    async def start(self) -> None:
        """Start reading the session's events (reports the recovered orders)."""
        if self._started:
            return
        if self._closed:
            raise RouterClosed("the router was stopped; make a new one")
        self._started = True
        prefer = getattr(getattr(self.session, "driver", None), "prefer_first_message_alone", None)
        if prefer is not None:
            # callers await acknowledgements: they resume before the rest of a read (a
            # fill that came with the acknowledgement) is worked on
            prefer()
        now = self._clock()
        for handle in self._recovered:
            self._publish(handle, self._snapshot(UpdateKind.RECOVERED, handle.order, now))
        self._recovered.clear()
        if self._events is not None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"order-router {getattr(self.session, 'session_id', '')}"
            )
        if self.session.is_logged_on:
            # logged on before the router started: its LoggedOn may never reach us; then
            # the orders open now (recovered ones) are reconciled, not those sent later
            asyncio.get_running_loop().call_later(_SETTLE, self._late_logon, self.open_orders())

    async def stop(self, *, timeout: float = 2.0) -> None:
        """Handle the events already queued (up to ``timeout`` seconds), stop reading,
        wake every waiter with :class:`RouterClosed`, close the journal."""
        if self._closed:
            return
        self._stopping = True
        if self._events is not None:
            with contextlib.suppress(Exception):
                self._events.close()  # what is queued is still handled, then the task ends
        task = self._task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout)
            except (asyncio.TimeoutError, Exception):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._closed = True
        if self._application is not None:
            self._application.detach(self)
        rtask = self._reconcile_task
        if rtask is not None and not rtask.done():
            rtask.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await rtask
        for timer in (self._reconcile_timer, self._sync_timer):
            if timer is not None:
                timer.cancel()
        for queue in list(self._streams):
            queue.close()
        for handle in self._handles.values():
            if (
                handle._streams
                or handle._ack_waiters is not None
                or handle._done_waiters is not None
                or handle._signal is not None
            ):  # (most have nothing to close)
                handle._close()
        for request in self._requests.values():
            request._signal.fire()
        for waiters in self._status_waiters.values():
            for waiter in waiters:
                waiter._signal.fire()
        self._reconciled.fire()
        if self.journal is not None:
            self.journal.close()

    async def __aenter__(self) -> OrderRouter:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def closed(self) -> bool:
        """True once :meth:`stop` ran."""
        return self._closed

    def _check_running(self) -> None:
        if self._closed:
            raise RouterClosed("the order router was stopped")

    # -- lookups --------------------------------------------------------------------------
    def _handle_for(self, order: Order) -> OrderHandle:
        key = order._chain[0]
        handle = self._handles.get(key)
        if handle is None or handle.order is not order:
            handle = OrderHandle(self, order)
            self._handles[key] = handle
        return handle

    def get(self, cl_ord_id: str) -> OrderHandle | None:
        """The order that has (or had) ``cl_ord_id``, or None (also for an order done
        and evicted: see ``keep_done``)."""
        order = self.registry.get(cl_ord_id)
        return None if order is None else self._handle_for(order)

    def orders(self) -> list[OrderHandle]:
        """Every order this router knows, oldest first."""
        return [self._handle_for(o) for o in self.registry]

    def open_orders(self) -> list[OrderHandle]:
        """Orders not done yet."""
        return [self._handle_for(o) for o in self.registry.open_orders()]

    def updates(self) -> UpdateStream:
        """Every update of every order from now on (and router-wide anomalies)."""
        queue = _UpdateQueue()
        if self._closed:
            queue.close()
        else:
            self._streams.add(queue)
        return UpdateStream(queue, self._streams.discard)

    def latency_summary(self) -> dict[str, float | int]:
        """p50/p90/p99/max of the order round trips measured so far (seconds): the last
        ``latency_samples`` of them."""
        return latency_summary(self.latencies)

    def reference_price(self, symbol: str) -> Decimal | None:
        """The reference price the checks use for ``symbol`` (None if unknown)."""
        ref = self._reference_prices
        if ref is None:
            return None
        if callable(ref):
            return ref(symbol)
        return ref.get(symbol)

    # -- admission ------------------------------------------------------------------------
    def _resolve(self, order: OrderHandle | str) -> OrderHandle:
        if isinstance(order, OrderHandle):
            return order
        handle = self.get(order)
        if handle is None:
            status = self.registry.evicted_status(order)
            if status is not None:
                raise LocalProtocolError(
                    f"order {order!r} is {status.name} and no longer tracked (evicted)"
                )
            raise LocalProtocolError(f"unknown order {order!r}")
        return handle

    async def _admit(self, decision: RiskDecision) -> None:
        """Raise for REFUSE; wait for the slot of a QUEUE decision."""
        if decision.action is Action.REFUSE:
            raise OrderRefused.from_decision(decision)
        if decision.action is Action.QUEUE and decision.until is not None:
            delay = decision.until - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            self._check_running()

    async def _slot(self) -> None:
        """Wait for a throttle slot however long it takes (cancels of the kill switch,
        reconciliation): these must go, at the rate the throttle allows."""
        throttle = self.risk.throttle
        if throttle is None:
            return
        while True:
            now = self._clock()
            decision = throttle.acquire(now)
            if decision.action is Action.ALLOW:
                return
            if decision.action is Action.QUEUE and decision.until is not None:
                await asyncio.sleep(max(0.0, decision.until - now))
                return
            await asyncio.sleep(max(0.001, throttle.next_slot(now) - now))

    def _record(self, order: Order) -> None:
        journal = self.journal
        if journal is None or journal.closed:
            return
        journal.record_order(order)
        self._after_journal_write()

    def _after_journal_write(self) -> None:
        journal = self.journal
        assert journal is not None
        if journal.fsync_policy == "batch" and self._sync_timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                journal.sync()
            else:
                self._sync_timer = loop.call_later(journal.batch_interval, self._batch_sync)
        if journal.compaction_due:
            journal.compact(self._clock())

    def _batch_sync(self) -> None:
        self._sync_timer = None
        journal = self.journal
        if journal is not None and not journal.closed and journal.sync_due():
            loop = asyncio.get_running_loop()
            self._sync_timer = loop.call_later(journal.batch_interval, self._batch_sync)

    async def _send(self, msg: Message, kind: str, cl_ord_id: str) -> int:
        seq = await self.session.send(msg)
        self._sent[seq] = (kind, cl_ord_id)
        while len(self._sent) > _MAX_SENT:
            self._sent.popitem(last=False)
        return seq

    # -- requests -------------------------------------------------------------------------
    async def submit(
        self, request: NewOrderRequest, *, reference_price: Decimal | None = None
    ) -> OrderHandle:
        """Check, register, journal and send a NewOrderSingle; returns its handle.

        Raises :class:`OrderRefused` (nothing sent) when a pre-trade check refuses
        it or the session cannot take it.
        """
        if self._closed:
            self._check_running()
        ref = reference_price
        if ref is None and self._reference_prices is not None:
            ref = self.reference_price(request.symbol)
        risk = self.risk
        now = self._clock()
        decision = risk.check_new(request, now, reference_price=ref, known_cl_ord_ids=self.registry)
        if decision.action is not _ALLOW:
            await self._admit(decision)
            now = self._clock()
        if risk.kill_switch:  # engaged while the order waited for its slot
            raise OrderRefused(RefusalReason.KILL_SWITCH, "kill switch engaged while queued")
        try:
            order = self.registry.register(request, now)
        except LocalProtocolError as exc:  # the same ClOrdID went out while this one waited
            raise OrderRefused(RefusalReason.DUPLICATE_CL_ORD_ID, str(exc)) from None
        cl = order.cl_ord_id
        handle = OrderHandle(self, order)
        self._handles[cl] = handle
        msg = new_order_single_as(request, cl, self.version, now)
        if self.journal is not None:
            self._record(order)
        handle._sent_at = _perf_counter()
        try:
            seq = await self.session.send(msg)
        except (FixError, OSError) as exc:
            update = self.registry.request_rejected(cl, self._clock(), str(exc))
            self._record(order)
            self._publish(
                handle, self._from_update(UpdateKind.REQUEST_REJECTED, update, text=str(exc))
            )
            self._retire(handle)
            raise OrderRefused(None, f"the session did not take the order: {exc}") from exc
        sent = self._sent
        sent[seq] = ("new", cl)
        if len(sent) > _MAX_SENT:
            sent.popitem(last=False)
        # the snapshot of an order just registered: pending new, nothing filled
        if handle._streams or self._streams.data:  # type: ignore[attr-defined]
            self._publish(
                handle, _sent_update(now, cl, order.status, order.quantity, order.price, order)
            )
        else:  # nobody reads it now: made if the history is read (the first: no trimming)
            # (a new order's status is its base status: nothing is pending)
            handle._history.append(
                (now, cl, order.base_status._value_, order.quantity, order.price)
            )
        return handle

    async def cancel(self, order: OrderHandle | str, *, text: str | None = None) -> RequestHandle:
        """Send an OrderCancelRequest for the order; ``await result()`` on the handle.

        Cancels pass the kill switch and the limits (reducing risk is always
        possible) and meet only the throttle, if it counts cancels.
        """
        self._check_running()
        handle = self._resolve(order)
        now = self._clock()
        request = self.registry.cancel(handle.cl_ord_id, now, text=text)
        decision = self.risk.check_cancel(request, now)
        return await self._send_change(handle, request, decision, "cancel")

    async def replace(
        self,
        order: OrderHandle | str,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = _UNSET,
        stop_px: Decimal | None = _UNSET,
        ord_type: OrdType | None = None,
        time_in_force: TimeInForce | None = None,
        text: str | None = None,
        reference_price: Decimal | None = None,
    ) -> RequestHandle:
        """Send an OrderCancelReplaceRequest with the given changes (the rest restated).

        The new terms meet every pre-trade check. OrigClOrdID is the order's current
        ClOrdID, so a replace of a replaced order chains.
        """
        self._check_running()
        handle = self._resolve(order)
        now = self._clock()
        kwargs: dict[str, Any] = {"quantity": quantity, "text": text}
        if price is not _UNSET:
            kwargs["price"] = price
        if stop_px is not _UNSET:
            kwargs["stop_px"] = stop_px
        if ord_type is not None:
            kwargs["ord_type"] = ord_type
        if time_in_force is not None:
            kwargs["time_in_force"] = time_in_force
        request = self.registry.replace(handle.cl_ord_id, now, **kwargs)
        ref = (
            reference_price if reference_price is not None else self.reference_price(request.symbol)
        )
        decision = self.risk.check_replace(request, now, reference_price=ref)
        return await self._send_change(handle, request, decision, "replace")

    async def _send_change(
        self,
        handle: OrderHandle,
        request: CancelRequest | ReplaceRequest,
        decision: RiskDecision,
        kind: str,
    ) -> RequestHandle:
        order = handle.order
        try:
            await self._admit(decision)
            if kind == "replace" and self.risk.kill_switch:
                raise OrderRefused(RefusalReason.KILL_SWITCH, "kill switch engaged while queued")
        except BaseException as exc:
            self._withdraw(order, request.cl_ord_id, str(exc))
            raise
        if order.is_done or order.pending_request(request.cl_ord_id) is None:
            # the order finished while the request waited for its slot: nothing to send
            self._withdraw(order, request.cl_ord_id, f"order is {order.status.name}")
            raise OrderRefused(
                None, f"{kind} not sent: order {order.cl_ord_id} is {order.status.name}"
            )
        return await self._transmit(handle, request, kind)

    async def _transmit(
        self, handle: OrderHandle, request: CancelRequest | ReplaceRequest, kind: str
    ) -> RequestHandle:
        order = handle.order
        now = self._clock()
        msg = build_request(request, self.version, now=now)
        rh = RequestHandle(self, kind, request.cl_ord_id, handle)
        self._requests[request.cl_ord_id] = rh
        if handle._requests is None:
            handle._requests = {}
        handle._requests[request.cl_ord_id] = rh
        self._record(order)
        try:
            await self._send(msg, kind, request.cl_ord_id)
        except (FixError, OSError) as exc:
            update = self.registry.request_rejected(request.cl_ord_id, self._clock(), str(exc))
            self._record(order)
            self._publish(
                handle,
                self._from_update(
                    UpdateKind.REQUEST_REJECTED, update, request=request.cl_ord_id, text=str(exc)
                ),
            )
            self._settle_requests(handle)
            raise OrderRefused(None, f"the session did not take the {kind}: {exc}") from exc
        rh.sent = True
        self._publish(
            handle,
            self._snapshot(
                UpdateKind.SENT, order, now, request=request.cl_ord_id, text=f"{kind} request"
            ),
        )
        return rh

    def _withdraw(self, order: Order, cl_ord_id: str, text: str) -> None:
        """Forget a cancel/replace that was refused before being sent."""
        req = order.pending_request(cl_ord_id)
        if req is not None:
            order.pending.remove(req)
            order.rejected_requests.append(cl_ord_id)

    async def status(self, order: OrderHandle | str) -> RequestHandle:
        """Send an OrderStatusRequest; ``result()`` waits for the status report."""
        self._check_running()
        handle = self._resolve(order)
        throttle = self.risk.throttle
        if throttle is not None:
            await self._admit(throttle.acquire(self._clock()))
        return await self._send_status(handle)

    async def _send_status(self, handle: OrderHandle) -> RequestHandle:
        request = self.registry.status_request(handle.cl_ord_id)
        msg = build_request(request, self.version, now=self._clock())
        rh = RequestHandle(self, "status", request.cl_ord_id, handle)
        self._status_waiters.setdefault(handle.key, []).append(rh)
        try:
            await self._send(msg, "status", request.cl_ord_id)
        except (FixError, OSError) as exc:
            rh._settle(False, text=str(exc))
            raise OrderRefused(None, f"the session did not take the status request: {exc}") from exc
        rh.sent = True
        self._publish(
            handle,
            self._snapshot(UpdateKind.SENT, handle.order, self._clock(), text="status request"),
        )
        return rh

    async def mass_cancel(
        self, *, symbol: str | None = None, side: Side | None = None
    ) -> RequestHandle:
        """Send an OrderMassCancelRequest: every order, or those in ``symbol`` (``side``).

        FIX 4.2 has no mass cancel: use :meth:`cancel_all`, which cancels the orders
        this router knows one by one.
        """
        self._check_running()
        if not self.version.has_mass_cancel:
            raise LocalProtocolError(
                f"OrderMassCancelRequest (35=q) does not exist in {self.version.value}; "
                "use cancel_all() to cancel this router's orders one by one"
            )
        now = self._clock()
        request: MassCancelRequest = self.registry.mass_cancel(now, symbol=symbol, side=side)
        if self.journal is not None and not self.journal.closed:
            self.journal.record_id(request.cl_ord_id, now)
            self._after_journal_write()
        await self._admit(self.risk.check_cancel(request, now))
        msg = build_request(request, self.version, now=self._clock())
        rh = RequestHandle(self, "mass cancel", request.cl_ord_id, None)
        self._requests[request.cl_ord_id] = rh
        try:
            await self._send(msg, "mass cancel", request.cl_ord_id)
        except (FixError, OSError) as exc:
            rh._settle(False, text=str(exc))
            raise OrderRefused(None, f"the session did not take the mass cancel: {exc}") from exc
        rh.sent = True
        self._broadcast(
            RouterUpdate(
                UpdateKind.SENT,
                now,
                request.cl_ord_id,
                request=request.cl_ord_id,
                text="mass cancel" + (f" {symbol}" if symbol else " all orders"),
            )
        )
        return rh

    async def cancel_all(
        self, *, symbol: str | None = None, side: Side | None = None
    ) -> list[RequestHandle]:
        """Cancel every open order of this router (in ``symbol``/``side``), one request each.

        Orders that already have a cancel in flight are left to it. The cancels wait
        for throttle slots rather than being refused.
        """
        self._check_running()
        sent: list[RequestHandle] = []
        for handle in self.open_orders():
            order = handle.order
            if symbol is not None and order.symbol != symbol:
                continue
            if side is not None and order.side is not side:
                continue
            if any(p.kind == "cancel" for p in order.pending) or order.is_done:
                continue
            if self.risk.throttle is not None and self.risk.throttle_cancels:
                await self._slot()
            if order.is_done:
                continue
            request = self.registry.cancel(handle.cl_ord_id, self._clock(), text="cancel all")
            try:
                sent.append(await self._transmit(handle, request, "cancel"))
            except OrderRefused as exc:
                logger.warning("cancel of %s not sent: %s", handle.cl_ord_id, exc)
        return sent

    async def kill_switch(self, reason: str = "kill switch") -> list[RequestHandle]:
        """Block every new order and replace from now on, and cancel every open order.

        Returns the cancel requests (``await asyncio.gather(*(r.result() ...))`` to
        wait for them). Orders waiting in the throttle queue are refused when their
        slot comes. :meth:`release_kill_switch` accepts orders again.
        """
        self.risk.engage_kill_switch(reason)
        self._broadcast(
            RouterUpdate(
                UpdateKind.ANOMALY, self._clock(), None, text=f"kill switch engaged: {reason}"
            )
        )
        return await self.cancel_all()

    def release_kill_switch(self) -> None:
        """Accept new orders again."""
        self.risk.release_kill_switch()

    # -- reconciliation ---------------------------------------------------------------------
    async def reconcile(self, orders: list[OrderHandle] | None = None) -> list[RequestHandle]:
        """Send an OrderStatusRequest for each of ``orders`` still open (default: every
        open order), waiting for throttle slots; returns the requests."""
        self._check_running()
        now = self._clock()
        handles = [h for h in (self.open_orders() if orders is None else orders) if not h.is_done]
        self._broadcast(
            RouterUpdate(
                UpdateKind.RECONCILING,
                now,
                None,
                text=f"status requested for {len(handles)} open order(s)",
            )
        )
        requests: list[RequestHandle] = []
        for handle in handles:
            if handle.is_done:
                continue
            await self._slot()
            try:
                requests.append(await self._send_status(handle))
            except OrderRefused as exc:
                logger.warning("status request for %s not sent: %s", handle.cl_ord_id, exc)
        return requests

    async def _reconcile_round(self, orders: list[OrderHandle]) -> None:
        requests = await self.reconcile(orders)
        waits = [r.result() for r in requests]
        results = await asyncio.gather(*waits, return_exceptions=True)
        failed = sum(1 for r in results if isinstance(r, BaseException))
        self._reconcile_done_rounds += 1
        self._broadcast(
            RouterUpdate(
                UpdateKind.RECONCILED,
                self._clock(),
                None,
                text=f"{len(requests)} order(s) checked"
                + (f", {failed} without an answer" if failed else ""),
            )
        )
        self._reconciled.fire()

    def _schedule_reconcile(self, orders: list[OrderHandle]) -> None:
        """Reconcile ``orders`` (those open at the Logon: later ones are tracked live)
        once the Logon's companions are handled: a sequence gap it revealed is resent
        first (or ``gap_timeout`` passes)."""
        self._reconcile_targets = orders
        self._reconcile_due = True
        self._reconcile_rounds += 1
        loop = asyncio.get_running_loop()
        if self._reconcile_timer is not None:
            self._reconcile_timer.cancel()
        self._reconcile_timer = loop.call_later(self.gap_timeout, self._force_reconcile)
        # GapDetected is reported together with LoggedOn: look again once it is handled
        loop.call_later(_SETTLE, self._maybe_reconcile)

    def _force_reconcile(self) -> None:
        self._reconcile_timer = None
        if self._reconcile_due:
            self._gap_open = False
            self._maybe_reconcile(forced=True)

    def _maybe_reconcile(self, forced: bool = False) -> None:
        if not self._reconcile_due or self._gap_open or self._closed:
            return
        if not forced and self._events is not None and len(self._events) > 0:
            return  # handled first: the reports they hold may finish orders
        if not forced and asyncio.get_running_loop().time() < self._logon_at + _SETTLE:
            return
        self._reconcile_due = False
        if self._reconcile_timer is not None:
            self._reconcile_timer.cancel()
            self._reconcile_timer = None
        targets, self._reconcile_targets = self._reconcile_targets, []
        self._reconcile_task = asyncio.get_running_loop().create_task(
            self._reconcile_round(targets)
        )

    def _late_logon(self, orders: list[OrderHandle]) -> None:
        if not self._logon_seen and not self._closed and self.session.is_logged_on:
            self._logon_seen = True
            if self.reconcile_on_logon and orders:
                self._schedule_reconcile(orders)
            self._reconciled.fire()

    async def wait_reconciled(self, timeout: float | None = None) -> None:
        """Wait until the reconciliation after the last Logon has had every answer
        (returns at once when there was nothing to reconcile)."""

        def check() -> bool | None:
            self._check_running()
            if self.reconcile_on_logon and self.session.is_logged_on and not self._logon_seen:
                return None  # the Logon is not handled yet: its reconciliation is to come
            if self._reconcile_done_rounds >= self._reconcile_rounds and not self._reconcile_due:
                return True
            return None

        await self._reconciled.wait_until(check, timeout, lambda: "reconciliation")

    # -- receiving --------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            async for event in self._events:
                self.handle_event(event)
            if self._stopping or self._closed:
                return
            # the engine stopped (it ends every event stream); it may start again
            self._events = self.session.events()

    def handle_event(self, event: Any) -> None:
        """Apply one session event; what the reading task and :class:`RouterApplication`
        call. Never raises: a failure is logged and reported as an ANOMALY update."""
        if self._closed:
            return
        try:
            if type(event) is MessageReceived and event.message.msg_type in _ORDER_REPORTS:
                self._on_report(event.message)  # nearly every event: straight there
            else:
                self._on_event(event)
        except Exception:
            logger.exception("order router: failed handling %s", type(event).__name__)
            self._broadcast(
                RouterUpdate(
                    UpdateKind.ANOMALY,
                    self._clock(),
                    None,
                    text=f"internal error handling {type(event).__name__}",
                )
            )
        if self._reconcile_due:
            self._maybe_reconcile()

    def _handle_message(self, msg: Message) -> None:
        """:meth:`handle_event` for ``MessageReceived(msg)``, without making the event."""
        if self._closed:
            return
        try:
            if msg.msg_type in _ORDER_REPORTS:
                self._on_report(msg)
            else:
                self._on_message(msg)
        except Exception:
            logger.exception("order router: failed handling MessageReceived")
            self._broadcast(
                RouterUpdate(
                    UpdateKind.ANOMALY,
                    self._clock(),
                    None,
                    text="internal error handling MessageReceived",
                )
            )
        if self._reconcile_due:
            self._maybe_reconcile()

    def _on_event(self, event: Any) -> None:
        name = type(event).__name__
        if name == "MessageReceived":
            msg: Message = event.message
            self._on_message(msg)
        elif name == "RejectReceived":
            self._on_session_reject(event.message)
        elif name == "RejectSent":
            self._broadcast(
                RouterUpdate(
                    UpdateKind.ANOMALY,
                    self._clock(),
                    None,
                    text=f"our session rejected message {event.ref_seq}: {event.text}",
                )
            )
        elif name == "LoggedOn":
            self._gap_open = False
            self._logon_seen = True
            self._logon_at = asyncio.get_running_loop().time()
            open_orders = self.open_orders()
            if self.reconcile_on_logon and open_orders:
                self._schedule_reconcile(open_orders)
            self._reconciled.fire()
        elif name == "GapDetected":
            self._gap_open = True
        elif name == "GapFilled":
            self._gap_open = False
        elif name in ("LoggedOut", "Disconnected"):
            self._gap_open = False
            self._logon_seen = False

    def _on_message(self, msg: Message) -> None:
        mt = msg.msg_type
        if mt in _ORDER_REPORTS:
            self._on_report(msg)
        elif mt == b"r":
            self._on_mass_cancel_report(msg)
        elif mt == b"j":
            self._on_business_reject(msg)

    def _on_report(self, msg: Message) -> None:
        """Apply an ExecutionReport or OrderCancelReject. The common ones (see
        :meth:`OrderRegistry.apply_quick`) are handled here without the intermediate
        objects, and their update made only when someone reads it: a stream now, or
        the order's history later; the others by :meth:`_on_full_report`."""
        now = self._clock()
        registry = self.registry
        # OrderRegistry.apply_quick, without the hop
        quick = _quick_apply(registry._by_cl, registry._by_order_id, msg, now)
        if quick is None:
            self._on_full_report(msg, now)
            return
        order, event, previous, fill, text, poss_dup = quick
        handle = self._handles.get(order._chain[0])
        if handle is None or handle.order is not order:
            handle = self._handle_for(order)
        if handle.ack_latency is None and handle._sent_at is not None:
            self._round_trip(handle)
        if self.journal is not None:
            self._record(order)
        cum, notional = order._totals or order._sums()
        status = order.base_status  # no cancel/replace pending: the order's status
        if handle._streams or self._streams.data:  # type: ignore[attr-defined]
            snapshot = _quick_update(
                now,
                order.cl_ord_id,
                status,
                previous,
                event,
                order.quantity,
                order.price,
                cum,
                notional,
                fill,
                poss_dup,
                text,
                order,
            )
            handle._publish(snapshot)
            self._broadcast(snapshot)
        else:
            # handle._remember(), inline: the update is made when the history is read
            history = handle._history
            history.append(
                (
                    now,
                    order.cl_ord_id,
                    status._value_,
                    previous._value_,
                    event._value_,
                    order.quantity,
                    order.price,
                    cum,
                    notional,
                    poss_dup,
                    text,
                )
            )
            if fill is not None:
                history.append(fill)
            if len(history) > self._history_cap:
                handle._trim()
            # handle._notify(), for the statuses a quick report leaves
            if handle._ack_waiters is not None:
                waiters, handle._ack_waiters = handle._ack_waiters, None
                _wake(waiters)  # New, PartiallyFilled and Filled are all acknowledged
            if status is _FILLED and handle._done_waiters is not None:
                waiters, handle._done_waiters = handle._done_waiters, None
                _wake(waiters)
            if handle._signal is not None:
                handle._signal.fire()
        if handle._requests or self._status_waiters:
            self._settle(handle, event, None)
        if status is _FILLED:
            self._retire(handle)

    def _on_full_report(self, msg: Message, now: float) -> None:
        update = self.registry.apply(msg, now)
        order = update.order
        if order is None:
            anomaly = RouterUpdate(
                UpdateKind.ANOMALY,
                now,
                msg.get_str(11),
                anomalies=update.anomalies,
                poss_dup=msg.get(43) == b"Y",
                text=update.anomalies[0].text if update.anomalies else None,
            )
            self.anomalies.append(anomaly)
            self._broadcast(anomaly)
            return
        handle = self._handle_for(order)
        if (
            update.event is ExecEvent.STATUS
            and update.report is not None
            and getattr(update.report, "ord_status", None) is OrdStatus.REJECTED
            and order.base_status is OrdStatus.PENDING_NEW
        ):
            # "unknown order": the NewOrderSingle never reached the counterparty
            text = getattr(update.report, "text", None) or "unknown order at the counterparty"
            self.registry.request_rejected(order.chain[0], now, text)
            if order.ord_rej_reason is None:
                order.ord_rej_reason = getattr(update.report, "ord_rej_reason", None)
            update = dataclasses.replace(update, status=order.status)
        if handle._sent_at is not None and handle.ack_latency is None and not update.duplicate:
            self._round_trip(handle)
        if not update.duplicate:
            self._record(order)
        kind = UpdateKind.REPORT if msg.msg_type == b"8" else UpdateKind.CANCEL_REJECT
        snapshot = self._from_update(kind, update)
        if update.anomalies:
            handle.anomalies.extend(update.anomalies)
            self.anomalies.append(snapshot)
        self._publish(handle, snapshot)
        self._settle_requests(handle, update)
        if order.is_done:
            self._retire(handle)

    def _round_trip(self, handle: OrderHandle) -> None:
        """The first report on an order: its round trip is measured."""
        assert handle._sent_at is not None
        latency = handle.ack_latency = _perf_counter() - handle._sent_at
        self.latencies.append(latency)
        metrics = getattr(self.session, "metrics", None)
        if metrics is not self._metrics:
            self._metrics = metrics
            self._observe = getattr(metrics, "observe_round_trip", None)
        if self._observe is not None:
            self._observe(latency)

    def _retire(self, handle: OrderHandle) -> None:
        """``handle``'s order is done: it joins the done orders kept, and the oldest of
        them beyond ``keep_done`` are evicted."""
        if handle._retired:
            return
        handle._retired = True
        keep = self.keep_done
        if keep is None:
            return
        done = self._done
        done.append(handle)
        while len(done) > keep:
            old = done.popleft()
            old._retired = False  # (live again after a busted fill: not evicted)
            if self.registry.evict(old.order) and self._handles.get(old.key) is old:
                del self._handles[old.key]

    def _settle_requests(self, handle: OrderHandle, update: OrderUpdate | None = None) -> None:
        """Settle the handle's cancel/replace/status requests the last change decided."""
        if update is None:
            self._settle(handle, None, None)
        else:
            self._settle(handle, update.event, update.report)

    def _settle(
        self,
        handle: OrderHandle,
        event: ExecEvent | None,
        report: ExecutionReport | CancelReject | None,
    ) -> None:
        order = handle.order
        if event is ExecEvent.STATUS or order.is_done:
            waiters = self._status_waiters.pop(handle.key, None) if self._status_waiters else None
            for waiter in waiters or ():
                waiter._settle(True)
        if not handle._requests:
            return
        pending = {p.cl_ord_id for p in order.pending}
        rejected = set(order.rejected_requests)
        for cl, rh in list(handle._requests.items()):
            if cl in rejected:
                reason = None
                if report is not None and getattr(report, "cl_ord_id", None) == cl:
                    reason = getattr(report, "reason", None)
                    if reason is None:
                        reason = getattr(report, "ord_rej_reason", None)
                rh._settle(False, reason=reason, text=order.text or "rejected")
            elif cl in pending and not order.is_done:
                continue
            elif rh.kind == "replace":
                ok = cl in order.chain
                rh._settle(ok, text=None if ok else f"order is {order.status.name}")
            else:
                ok = order.status is OrdStatus.CANCELED
                rh._settle(ok, text=None if ok else f"order is {order.status.name}")
            del handle._requests[cl]
            self._requests.pop(cl, None)

    def _on_mass_cancel_report(self, msg: Message) -> None:
        now = self._clock()
        cl = msg.get_str(11)
        rh = self._requests.pop(cl) if cl is not None and cl in self._requests else None
        affected: list[str] = []
        for tag in (41, 1824):
            affected.extend(v.decode("utf-8", "replace") for v in msg.get_all(tag))
        total = _int_or_none(msg.get(533))
        reason = _int_or_none(msg.get(532))
        result = MassCancelResult(
            response=msg.get_str(531) or "",
            affected=total,
            affected_cl_ord_ids=tuple(affected),
            reject_reason=reason,
            text=msg.get_str(58),
        )
        if rh is not None:
            rh.mass_cancel = result
            rh._settle(result.accepted, reason=reason, text=result.text)
        update = RouterUpdate(
            UpdateKind.MASS_CANCEL_REPORT if rh is not None else UpdateKind.ANOMALY,
            now,
            cl,
            request=cl,
            text=(
                f"mass cancel {'accepted' if result.accepted else 'rejected'}"
                f", {total} order(s) affected"
                if rh is not None
                else f"mass cancel report for unknown request {cl!r}"
            ),
        )
        if rh is None:
            self.anomalies.append(update)
        self._broadcast(update)

    def _on_business_reject(self, msg: Message) -> None:
        ref_id = msg.get_str(379)
        target: tuple[str, str] | None = None
        if ref_id is not None:
            kind = self._kind_of(ref_id)
            if kind is not None:
                target = (kind, ref_id)
        if target is None:
            target = self._by_seq(msg.get(45))
        text = _reject_text(msg, "BusinessRejectReason", 380)
        self._reject_request(target, text, _int_or_none(msg.get(380)), msg)

    def _on_session_reject(self, msg: Message) -> None:
        target = self._by_seq(msg.get(45))
        text = _reject_text(msg, "SessionRejectReason", 373)
        self._reject_request(target, text, _int_or_none(msg.get(373)), msg)

    def _by_seq(self, raw: bytes | None) -> tuple[str, str] | None:
        try:
            seq = parse_int(raw) if raw is not None else None
        except ValueError:
            return None
        return self._sent.get(seq) if seq is not None else None

    def _kind_of(self, cl_ord_id: str) -> str | None:
        for kind, cl in self._sent.values():
            if cl == cl_ord_id:
                return kind
        rh = self._requests.get(cl_ord_id)
        if rh is not None:
            return rh.kind
        order = self.registry.get(cl_ord_id)
        if order is not None:
            return "new" if cl_ord_id == order.chain[0] else None
        return None

    def _reject_request(
        self, target: tuple[str, str] | None, text: str, reason: int | None, msg: Message
    ) -> None:
        now = self._clock()
        if target is None:
            anomaly = RouterUpdate(
                UpdateKind.ANOMALY,
                now,
                None,
                text=f"reject (35={msg.get_str(35)}) of no request of ours: {text}",
            )
            self.anomalies.append(anomaly)
            self._broadcast(anomaly)
            return
        kind, cl = target
        order = self.registry.get(cl)
        handle = None if order is None else self._handle_for(order)
        if kind in _REJECTABLE and handle is not None:
            update = self.registry.request_rejected(cl, now, text)
            self._record(handle.order)
            self._publish(
                handle,
                self._from_update(
                    UpdateKind.REQUEST_REJECTED,
                    update,
                    request=None if kind == "new" else cl,
                    text=text,
                ),
            )
            rh = self._requests.pop(cl, None)
            if rh is not None:
                rh._settle(False, reason=reason, text=text)
            self._settle_requests(handle)
            if handle.order.is_done:
                self._retire(handle)
            return
        if kind == "status" and handle is not None:
            for waiter in self._status_waiters.pop(handle.key, []):
                waiter._settle(False, reason=reason, text=text)
        elif kind == "mass cancel":
            request = self._requests.pop(cl, None)
            if request is not None:
                request._settle(False, reason=reason, text=text)
        self._broadcast(
            RouterUpdate(UpdateKind.REQUEST_REJECTED, now, cl, request=cl, text=f"{kind}: {text}")
        )

    # -- publishing -------------------------------------------------------------------------
    def _snapshot(
        self,
        kind: UpdateKind,
        order: Order,
        now: float,
        *,
        request: str | None = None,
        text: str | None = None,
    ) -> RouterUpdate:
        return RouterUpdate(
            kind,
            now,
            order.cl_ord_id,
            status=order.status,
            previous_status=order.status,
            quantity=order.quantity,
            price=order.price,
            cum_qty=order.cum_qty,
            leaves_qty=order.leaves_qty,
            avg_px=order.avg_px,
            request=request,
            text=text,
            order=order,
        )

    def _from_update(
        self,
        kind: UpdateKind,
        update: OrderUpdate,
        *,
        request: str | None = None,
        text: str | None = None,
    ) -> RouterUpdate:
        order = update.order
        assert order is not None
        report = update.report
        if request is None and report is not None:
            cl = getattr(report, "cl_ord_id", None)
            if cl is not None and cl != order.cl_ord_id and cl not in order.chain:
                request = cl
        if text is None and report is not None:
            text = getattr(report, "text", None)
        return RouterUpdate(
            kind,
            self._clock(),
            order.cl_ord_id,
            status=order.status,
            previous_status=update.previous_status,
            event=update.event,
            quantity=order.quantity,
            price=order.price,
            cum_qty=order.cum_qty,
            leaves_qty=order.leaves_qty,
            avg_px=order.avg_px,
            fill=update.fill,
            duplicate=update.duplicate,
            poss_dup=bool(report is not None and (report.poss_dup or report.poss_resend)),
            request=request,
            text=text,
            anomalies=update.anomalies,
            order=order,
        )

    def _publish(self, handle: OrderHandle, update: RouterUpdate) -> None:
        handle._publish(update)
        self._broadcast(update)

    def _broadcast(self, update: RouterUpdate) -> None:
        # the WeakSet's own set of references is empty unless someone subscribed (its
        # length is a Python call, iterating it more)
        if self._streams.data:  # type: ignore[attr-defined]
            for queue in list(self._streams):
                queue.put(update)

    def __repr__(self) -> str:
        return (
            f"<OrderRouter {self.version.value} {len(self.registry)} orders, "
            f"{len(self.registry.open_orders())} open{', closed' if self._closed else ''}>"
        )


def _reject_text(msg: Message, reason_name: str, reason_tag: int) -> str:
    """A reject's Text(58) with its reason code and RefTagID(371), e.g. for a log line."""
    parts = [msg.get_str(58) or "rejected"]
    codes = []
    if msg.get(reason_tag) is not None:
        codes.append(f"{reason_name} {msg.get_str(reason_tag)}")
    if msg.get(371) is not None:
        codes.append(f"RefTagID {msg.get_str(371)}")
    if msg.get(372) is not None:
        codes.append(f"RefMsgType {msg.get_str(372)}")
    if codes:
        parts.append(f"({', '.join(codes)})")
    return " ".join(parts)


def _int_or_none(raw: bytes | None) -> int | None:
    if raw is None:
        return None
    try:
        return parse_int(raw)
    except ValueError:
        return None


# -- feeding routers from the engine's callbacks --------------------------------------------------
class RouterApplication(Application):
    """The engine's :class:`~fixengine.application.Application` that feeds order routers.

    Each received message is applied (and journaled) by the router bound to its
    session *inside* the callback, so the engine confirms it to the session only
    afterwards: a report the router had not journaled when the process died is
    resent by the counterparty after the restart (at least once; the router applies
    it once). Every callback is then passed on to ``inner``, the service's own
    application, if any::

        app = RouterApplication(MyApplication())
        engine = Engine(app)
        handle = engine.add_initiator(config, hosts, store=store)
        router = OrderRouter(handle, journal="store", application=app)
    """

    def __init__(self, inner: Application | None = None) -> None:
        self.inner = inner
        self._routers: dict[Any, OrderRouter] = {}
        # the last session seen and its router: a SessionID hashes in Python (a
        # dataclass), and the callbacks come from one session after another
        self._last_session: Any = None
        self._last_router: OrderRouter | None = None

    def attach(self, router: OrderRouter) -> None:
        """Feed ``router`` the events of its session (done by the router's constructor)."""
        key = getattr(router.session, "session_id", None)
        if key in self._routers and self._routers[key] is not router:
            raise LocalProtocolError(f"session {key} already has an order router")
        self._routers[key] = router
        self._last_session = self._last_router = None

    def detach(self, router: OrderRouter) -> None:
        """Stop feeding ``router`` (done by :meth:`OrderRouter.stop`)."""
        key = getattr(router.session, "session_id", None)
        if self._routers.get(key) is router:
            del self._routers[key]
        self._last_session = self._last_router = None

    def _router(self, session: SessionHandle) -> OrderRouter | None:
        if session is self._last_session:
            return self._last_router
        router = self._routers.get(session.session_id)
        self._last_session = session
        self._last_router = router
        return router

    def on_create(self, session: SessionHandle) -> None:
        """Passed on to ``inner``."""
        if self.inner is not None:
            self.inner.on_create(session)

    def on_logon(self, session: SessionHandle) -> Awaitable[None] | None:
        """Passed on to ``inner``."""
        return self.inner.on_logon(session) if self.inner is not None else None

    def on_logout(self, session: SessionHandle, text: str | None) -> Awaitable[None] | None:
        """Passed on to ``inner``."""
        return self.inner.on_logout(session, text) if self.inner is not None else None

    def on_message(self, session: SessionHandle, message: Message) -> Awaitable[None] | None:
        """The router applies and journals ``message``, then ``inner`` sees it."""
        router = self._last_router if session is self._last_session else self._router(session)
        if router is not None:
            router._handle_message(message)
        return self.inner.on_message(session, message) if self.inner is not None else None

    def on_admin_message(self, session: SessionHandle, message: Message) -> Awaitable[None] | None:
        """Passed on to ``inner``."""
        return self.inner.on_admin_message(session, message) if self.inner is not None else None

    def on_reject(self, session: SessionHandle, event: Event) -> Awaitable[None] | None:
        """Passed on to ``inner``."""
        return self.inner.on_reject(session, event) if self.inner is not None else None

    def on_disconnect(self, session: SessionHandle, reason: str) -> Awaitable[None] | None:
        """Passed on to ``inner``."""
        return self.inner.on_disconnect(session, reason) if self.inner is not None else None

    def on_event(self, session: SessionHandle, event: Event) -> Awaitable[None] | None:
        """The router sees every other event (Logon, gaps, rejects), then ``inner``."""
        if not isinstance(event, MessageReceived):
            router = self._router(session)
            if router is not None:
                router.handle_event(event)
        return self.inner.on_event(session, event) if self.inner is not None else None
