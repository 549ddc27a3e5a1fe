"""The simulator's application: order requests in, matching engine, reports out.

Theory of operation
-------------------
:class:`Exchange` is an ordinary :class:`~fixengine.application.Application`. The
engine hands it every application message of every session, in MsgSeqNum order;
everything here runs on the engine's event loop, so nothing needs a lock.

Each request is parsed (:func:`fixengine.sim.reports.parse_request`), handed to the
:class:`~fixengine.sim.book.MatchingEngine` - one price-time-priority book per
symbol shared by every session, so an order from session A fills against session
B's resting order - and every event the engine returns becomes a message to the
session that owns the order, built for that session's FIX version
(:class:`~fixengine.sim.reports.Reports`):

==========================  ===================================================
engine event                message
==========================  ===================================================
OrderAccepted               ExecutionReport New (150=0, 39=0)
OrderRejected               ExecutionReport Rejected, OrdRejReason(103) and Text
Trade                       ExecutionReport Trade to each client side (F; 1/2 in
                            FIX 4.2) with LastQty/LastPx, CumQty, LeavesQty, AvgPx
OrderCanceled               ExecutionReport Canceled (ClOrdID of the cancel
                            request and OrigClOrdID when one asked; else the
                            order's, with the reason in Text: IOC remainder, FOK,
                            no liquidity...)
OrderReplaced               ExecutionReport Replaced, the order's real OrdStatus
CancelRejected              OrderCancelReject, CxlRejResponseTo + CxlRejReason
                            (1 unknown order, 0 already done, 6 reused ClOrdID)
OrderExpired                ExecutionReport Expired (GTD)
==========================  ===================================================

A request flagged PossResend(97)=Y whose ClOrdID is already known is not acted on
again: the order's status is sent instead. An OrderStatusRequest is answered from
the engine's view of the order (ExecType I;
ExecTransType 3 in FIX 4.2), or with OrdStatus Rejected and OrdRejReason 5 when the
order is unknown. An OrderMassCancelRequest (FIX 4.3+, types 1 "security" and 7
"all orders") cancels the session's matching orders, an ExecutionReport each, then
an OrderMassCancelReport lists them. Any other message type is answered with a
BusinessMessageReject, unsupported message type (380=3).

Lone clients: each session has a fill model (:class:`FillSpec`, built into
:mod:`fixengine.sim.fills` models) that fills what the book did not: ``immediate``,
``partial`` (a share every interval), ``none`` (the book only) or ``reject`` (a
seeded share rejected, the rest filled at once). Time-driven work - partial fills,
GTD expiry - runs on one task (:meth:`Exchange.start`) that sleeps until the
engine's next wake-up. Every symbol opens at the reference price (default 100):
house fills of market orders happen there until a trade prints.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from ..application import Application, SessionHandle, UnsupportedMessageType
from ..codec import Message
from ..errors import FixError
from ..orders.model import (
    CancelRequest,
    CxlRejReason,
    CxlRejResponseTo,
    ExecType,
    MassCancelRequest,
    MassCancelRequestType,
    NewOrderRequest,
    OrdRejReason,
    ReplaceRequest,
    Side,
    StatusRequest,
)
from ..session.config import SessionID
from ._fast_py import twin
from .book import (
    BookEvent,
    CancelReason,
    CancelRejected,
    MatchingEngine,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    OrderReplaced,
    OrderState,
    Trade,
)
from .fills import FillModel, fill_model
from .reports import (
    BadRequest,
    IdSource,
    Reports,
    parse_request,
    round_avg_px,
    session_version,
)

__all__ = [
    "DEFAULT_REFERENCE_PRICE",
    "FILL_MODELS",
    "Exchange",
    "ExchangeStats",
    "FillSpec",
]

logger = logging.getLogger("fixengine.sim")

#: Fill model names (``never`` is accepted as another name of ``none``).
FILL_MODELS = ("immediate", "partial", "none", "reject")
DEFAULT_REFERENCE_PRICE = Decimal(100)


@dataclasses.dataclass(frozen=True)
class FillSpec:
    """How a session's orders fill when no other client trades with them.

    ``partial``: ``partial_fraction`` of the order quantity every ``partial_interval``
    seconds, the first one interval after the order arrives. ``reject``:
    ``reject_fraction`` of the orders (drawn from ``seed``) are rejected, the others
    filled at once.
    """

    model: str = "immediate"
    partial_fraction: Decimal = Decimal("0.25")
    partial_interval: float = 1.0
    reject_fraction: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        model = "none" if self.model == "never" else self.model
        object.__setattr__(self, "model", model)
        if model not in FILL_MODELS:
            raise ValueError(f"fill model must be one of {', '.join(FILL_MODELS)}: {self.model!r}")
        if not isinstance(self.partial_fraction, Decimal) or not 0 < self.partial_fraction <= 1:
            raise ValueError("partial_fraction must be a Decimal in (0, 1]")
        if not 0 < self.partial_interval <= 3600:
            raise ValueError("partial_interval must be in (0, 3600] seconds")
        if not 0.0 <= self.reject_fraction <= 1.0:
            raise ValueError("reject_fraction must be in [0, 1]")

    def build(self) -> FillModel | None:
        """The :mod:`fixengine.sim.fills` model (None for ``none``: the book only)."""
        if self.model == "none":
            return None
        return fill_model(
            self.model,
            partial_fraction=self.partial_fraction,
            partial_interval=self.partial_interval,
            reject_fraction=self.reject_fraction,
            seed=self.seed if self.seed is not None else 0,
        )

    def describe(self) -> str:
        """Short text for logs: ``partial 25%/1s``."""
        if self.model == "partial":
            share = (self.partial_fraction * 100).normalize()
            return f"partial {share:f}%/{self.partial_interval:g}s"
        if self.model == "reject":
            return f"reject {self.reject_fraction * 100:g}%"
        return self.model


@dataclasses.dataclass
class ExchangeStats:
    """Counts of what the exchange did."""

    logons: int = 0
    logouts: int = 0
    orders: int = 0
    executions: int = 0
    trades: int = 0
    cancels: int = 0
    replaces: int = 0
    rejects: int = 0
    cancel_rejects: int = 0
    status_requests: int = 0
    mass_cancels: int = 0
    expired: int = 0
    business_rejects: int = 0


_SIDES = frozenset(s.value.encode() for s in Side)
_FastPath: Any = twin().FastPath
_on_event: Any = twin().on_event
_on_message: Any = twin().on_message


class Exchange(Application):
    """The matching engine behind the simulator's sessions (see the module docstring)."""

    def __init__(
        self,
        *,
        fill_for: Callable[[SessionID], FillSpec] | None = None,
        symbols: Iterable[str] | None = None,
        reference_price: Decimal | None = None,
        tick_size: Decimal | None = None,
        cancel_on_disconnect: bool = False,
        notify: Callable[[str], None] | None = None,
        ids: IdSource | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.fill_for = fill_for or (lambda sid: FillSpec())
        self.reference_price = reference_price or DEFAULT_REFERENCE_PRICE
        self.cancel_on_disconnect = cancel_on_disconnect
        self.notify = notify
        self.ids = ids or IdSource()
        self.clock = clock
        self.engine = MatchingEngine(
            symbols=symbols,
            tick_size=tick_size,
            order_id_prefix=f"O-{self.ids.prefix}-",
        )
        self.stats = ExchangeStats()
        self._handles: dict[str, SessionHandle] = {}  # by owner (str of the SessionID)
        self._owners: dict[SessionHandle, str] = {}  # owner of each handle seen
        #: False sends every order through the general path (the tests compare the two)
        self.fast_orders = type(self.ids).exec_id_bytes is IdSource.exec_id_bytes and (
            type(self.ids).exec_id is IdSource.exec_id
        )
        self._reports: dict[str, Reports] = {}
        # by handle: (owner, reports, send, reports' pairs) for the fast path; emptied when a
        # session is created
        self._fast: dict[SessionHandle, tuple[Any, ...]] = {}
        self._opened: set[str] = set()  # symbols whose price was seeded
        self._wake: asyncio.Event | None = None
        self._sleeping_until = 0.0  # when the clock task wakes next (inf: only when poked)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._fast_path = _FastPath(self)

    # -- sessions ------------------------------------------------------------------------------
    @staticmethod
    def owner(session_id: SessionID) -> str:
        """The matching engine's name for a session's orders."""
        return str(session_id)

    def reports(self, owner: str) -> Reports:
        """The report builder of a session (its FIX version)."""
        reports = self._reports.get(owner)
        if reports is None:
            handle = self._handles[owner]
            cfg = handle.config
            version = session_version(cfg.begin_string, cfg.default_appl_ver_id)
            reports = self._reports[owner] = Reports(version, self.ids)
        return reports

    def set_fill(self, session_id: SessionID, spec: FillSpec) -> None:
        """Use ``spec`` for the session's orders from now on."""
        self.engine.set_fill_model(self.owner(session_id), spec.build())

    def on_create(self, session: SessionHandle) -> None:
        owner = self.owner(session.session_id)
        self._handles[owner] = session
        self._fast.clear()
        self.reports(owner)
        self.set_fill(session.session_id, self.fill_for(session.session_id))

    def on_logon(self, session: SessionHandle) -> None:
        self.stats.logons += 1
        conn = session.connection
        peer = conn.peer if conn is not None else None
        where = f" from {peer[0]}:{peer[1]}" if isinstance(peer, tuple) else ""
        self._say(f"logon {session.session_id}{where}")

    def on_logout(self, session: SessionHandle, text: str | None) -> None:
        self.stats.logouts += 1
        self._say(f"logout {session.session_id}" + (f" ({text})" if text else ""))
        if self.cancel_on_disconnect:
            events = self.engine.mass_cancel(self.owner(session.session_id), self.clock())
            self._dispatch(events, text="Canceled on disconnect")

    # a fault injected on a session is told; called after every event of every session,
    # it is the compiled twin's when built (fixengine.sim._fast_py.on_event)
    on_event = _on_event

    # -- requests --------------------------------------------------------------------------------
    # the common NewOrderSingle, filled whole by the house on arrival, is answered by the
    # fast path (self._fast_path, see fixengine.sim._fast_py); anything else, or everything
    # when fast_orders is off, goes to _request. (The function is the fast path module's,
    # compiled when built: no Python frame per message.)
    on_message = _on_message

    def _request(self, session: SessionHandle, message: Message) -> None:
        """An application message :meth:`on_message` does not answer at once."""
        owner = self._owners.get(session)
        if owner is None:
            owner = self._owners[session] = self.owner(session.session_id)
        self._handles.setdefault(owner, session)
        now = self.clock()
        if message.msg_type == b"q" and not self.reports(owner).version.has_mass_cancel:
            raise UnsupportedMessageType()
        try:
            request = parse_request(message)
        except BadRequest as exc:
            if exc.tag == 35:
                raise UnsupportedMessageType() from None
            self._bad_request(session, owner, message, exc, now)
            return
        if message.get(97) == b"Y" and self._already_processed(owner, request, now):
            return
        if isinstance(request, NewOrderRequest):
            self.stats.orders += 1
            self._open(request.symbol, now)
            self._dispatch(self.engine.submit(owner, request, now), now=now)
        elif isinstance(request, CancelRequest):
            self._dispatch(self.engine.cancel(owner, request, now), now=now)
        elif isinstance(request, ReplaceRequest):
            self._dispatch(self.engine.replace(owner, request, now), now=now)
        elif isinstance(request, StatusRequest):
            self.status(owner, request, now)
        else:
            self.mass_cancel(owner, request, now)
        self._reschedule()

    def _fast_entry(self, session: SessionHandle) -> tuple[Any, ...] | None:
        """What :meth:`on_message`'s fast path needs of a session, kept until a session is
        created: its owner, its report builder and the send of the handle its owner's
        reports go to and the report pairs laid for it (None, nothing kept, when the owner
        has no report builder)."""
        owner = self._owners.get(session)
        if owner is None:
            owner = self._owners[session] = self.owner(session.session_id)
        handle = self._handles.setdefault(owner, session)
        reports = self._reports.get(owner)
        if reports is None:
            return None
        send: Callable[[Message], int] = handle.send_nowait
        if type(handle).send_nowait is SessionHandle.send_nowait:
            send = handle.driver.send  # what SessionHandle.send_nowait calls
        fast = self._fast[session] = (owner, reports, send, reports._pairs)
        return fast

    def _not_sent(self, owner: str, exc: FixError) -> None:
        logger.warning("%s: report not sent: %s", owner, exc)

    def _already_processed(self, owner: str, request: Any, now: float) -> bool:
        """A PossResend(97)=Y request whose ClOrdID is known: answer with the order's status.

        FIX leaves the receiver to recognise a possible resend by its ClOrdID; the
        order is not entered (or canceled, or replaced) a second time.
        """
        if isinstance(request, (StatusRequest, MassCancelRequest)):
            return False
        state = self.engine.find(owner, request.cl_ord_id)
        if state is None:
            return False
        text = f"PossResend: {request.cl_ord_id} was already processed"
        self._send(owner, self.reports(owner).status(_view(state), now=now, text=text))
        return True

    def _open(self, symbol: str, now: float) -> None:
        """A symbol's first order: the market opens at the reference price."""
        if symbol in self._opened:
            return
        self._opened.add(symbol)
        if self.engine.book(symbol).last_price is None:
            self._dispatch(self.engine.set_last_price(symbol, self.reference_price, now), now=now)

    def status(self, owner: str, request: StatusRequest, now: float) -> None:
        """OrderStatusRequest: the order as the engine holds it, or 'unknown order'."""
        self.stats.status_requests += 1
        state = self.engine.find(owner, request.cl_ord_id)
        if state is None and request.order_id is not None:
            candidate = self.engine.order(request.order_id)
            if candidate is not None and candidate.owner == owner:
                state = candidate
        reports = self.reports(owner)
        if state is None:
            self._send(owner, reports.status_unknown(request, now=now))
        else:
            self._send(owner, reports.status(_view(state), now=now))

    def mass_cancel(self, owner: str, request: MassCancelRequest, now: float) -> None:
        """OrderMassCancelRequest: cancel the matching orders, then the report."""
        self.stats.mass_cancels += 1
        reports = self.reports(owner)
        kind = request.request_type
        if kind not in (MassCancelRequestType.SECURITY, MassCancelRequestType.ALL_ORDERS):
            text = f"MassCancelRequestType {kind.name} is not supported (1 and 7 are)"
            report = reports.mass_cancel_report(request, [], now=now, reject_reason=0, text=text)
            self._send(owner, report)
            return
        symbol = request.symbol if kind is MassCancelRequestType.SECURITY else None
        events = self.engine.mass_cancel(owner, now, symbol=symbol, side=request.side)
        self._dispatch(events, now=now)
        affected = [_view(e.order) for e in events if isinstance(e, OrderCanceled)]
        self._send(owner, reports.mass_cancel_report(request, affected, now=now))

    def _bad_request(
        self,
        session: SessionHandle,
        owner: str,
        message: Message,
        exc: BadRequest,
        now: float,
    ) -> None:
        """A request that does not parse: reject it in the most specific way the IDs allow."""
        reports = self.reports(owner)
        if exc.msg_type == b"D" and exc.cl_ord_id is not None:
            self.stats.orders += 1
            self.stats.rejects += 1
            side = message.get(54)
            report = reports.order_rejected(
                cl_ord_id=exc.cl_ord_id,
                symbol=message.get_str(55),
                side=Side(side.decode()) if side in _SIDES else None,
                quantity=None,
                ord_type=None,
                price=None,
                reason=OrdRejReason.OTHER,
                text=exc.text,
                now=now,
            )
            self._send(owner, report)
            return
        if exc.msg_type in (b"F", b"G") and exc.cl_ord_id is not None:
            self.stats.cancel_rejects += 1
            to = (
                CxlRejResponseTo.ORDER_CANCEL_REQUEST
                if exc.msg_type == b"F"
                else CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST
            )
            report = reports.cancel_reject(
                cl_ord_id=exc.cl_ord_id,
                orig_cl_ord_id=exc.orig_cl_ord_id,
                response_to=to,
                reason=CxlRejReason.OTHER,
                text=exc.text,
                now=now,
            )
            self._send(owner, report)
            return
        self.stats.business_rejects += 1
        # 5 = conditionally required field missing, 0 = other
        session.reject(message, 5 if exc.tag is not None else 0, exc.text)

    # -- engine events -> messages ------------------------------------------------------------
    def _dispatch(
        self, events: list[BookEvent], text: str | None = None, now: float | None = None
    ) -> None:
        """Report ``events``; ``now`` (default: the clock) is the reports' TransactTime, the
        time the request that caused them was taken in (one clock reading per message)."""
        if now is None:
            now = self.clock()
        for event in events:
            try:
                self._event(event, now, text)
            except Exception:  # one bad report must not lose the others
                logger.exception("simulator: could not report %r", event)

    def _event(self, event: BookEvent, now: float, text: str | None) -> None:
        stats = self.stats
        if isinstance(event, Trade):
            stats.trades += 1
            for execution in event.executions:
                stats.executions += 1
                order = execution.order
                self._execution(
                    order,
                    ExecType.TRADE,
                    now,
                    last_qty=execution.last_qty,
                    last_px=execution.last_px,
                )
        elif isinstance(event, OrderAccepted):
            self._execution(event.order, ExecType.NEW, now)
        elif isinstance(event, OrderCanceled):
            stats.cancels += 1
            order = event.order
            if event.request_cl_ord_id is not None:
                order = dataclasses.replace(
                    order, cl_ord_id=event.request_cl_ord_id, orig_cl_ord_id=order.cl_ord_id
                )
            reason = None if event.reason is CancelReason.REQUESTED else event.reason.value
            self._execution(order, ExecType.CANCELED, now, text=text or _capital(reason))
        elif isinstance(event, OrderReplaced):
            stats.replaces += 1
            self._execution(event.order, ExecType.REPLACED, now)
        elif isinstance(event, OrderRejected):
            stats.rejects += 1
            o = event.order
            msg = self.reports(o.owner).order_rejected(
                cl_ord_id=o.cl_ord_id,
                symbol=o.symbol,
                side=o.side,
                quantity=o.order_qty,
                ord_type=o.ord_type,
                price=o.price,
                reason=event.reason.ord_rej_reason,
                text=_capital(event.text) or event.reason.value,
                now=now,
                order_id=o.order_id,
                account=o.account,
            )
            self._send(o.owner, msg)
        elif isinstance(event, CancelRejected):
            stats.cancel_rejects += 1
            state = event.order
            msg = self.reports(event.owner).cancel_reject(
                cl_ord_id=event.cl_ord_id,
                orig_cl_ord_id=event.orig_cl_ord_id,
                response_to=event.response_to,
                reason=event.reason,
                text=_capital(event.text) or "Rejected",
                now=now,
                order_id=state.order_id if state is not None else None,
                ord_status=state.status if state is not None else None,
            )
            self._send(event.owner, msg)
        elif isinstance(event, OrderExpired):
            stats.expired += 1
            self._execution(event.order, ExecType.EXPIRED, now, text="Order expired")
        # StopTriggered: the order keeps its OrdStatus; its trades follow as reports

    def _execution(self, order: OrderState, exec_type: ExecType, now: float, **kw: Any) -> None:
        msg = self.reports(order.owner).execution(_view(order), exec_type, now=now, **kw)
        self._send(order.owner, msg)

    def _send(self, owner: str, msg: Message) -> None:
        handle = self._handles.get(owner)
        if handle is None:
            logger.warning("%s: no session to send %r to", owner, msg.msg_type)
            return
        try:
            handle.send_nowait(msg)
        except FixError as exc:  # e.g. disconnected with ResetOnLogon: it could never arrive
            logger.warning("%s: report not sent: %s", owner, exc)

    def _say(self, text: str) -> None:
        if self.notify is not None:
            self.notify(text)

    # -- time -------------------------------------------------------------------------------------
    def advance(self, now: float) -> None:
        """Carry out the partial fills and expiries due by ``now``."""
        self._dispatch(self.engine.advance(now), now=now)

    def start(self) -> None:
        """Start the task that drives fills over time and expiries (needs a running loop)."""
        if self._task is not None:
            return
        self._stopping = False
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="fix-sim-clock")

    async def stop(self) -> None:
        """Stop that task."""
        task, self._task = self._task, None
        # the flag ends the loop even if a wake-up races the cancellation (wait_for
        # may then return normally instead of raising CancelledError, Python < 3.12)
        self._stopping = True
        self._poke()
        if task is not None:
            task.cancel()
            await asyncio.wait({task})  # a cancellation of stop() itself still propagates

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _reschedule(self) -> None:
        """Wake the clock task only if something is now due before it would wake anyway
        (an order that fills at once leaves nothing to do: no wake-up per order)."""
        due = self.engine.next_wakeup()
        if due is not None and due < self._sleeping_until:
            self._poke()

    async def _run(self) -> None:
        wake = self._wake
        assert wake is not None
        while not self._stopping:
            wake.clear()
            try:
                self.advance(self.clock())
            except Exception:  # a bug here must not stop the clock
                logger.exception("simulator clock step failed")
            due = self.engine.next_wakeup()
            timeout = None if due is None else max(due - self.clock(), 0.001)
            self._sleeping_until = math.inf if due is None else due
            try:
                await asyncio.wait_for(wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass


def _view(state: OrderState) -> OrderState:
    """The order as its reports show it: AvgPx(6) rounded to ``AVG_PX_PLACES`` decimals
    when it is longer (the state itself otherwise: no wrapper on every report)."""
    avg = state.avg_px
    rounded = round_avg_px(avg)
    return state if rounded is avg else dataclasses.replace(state, avg_px=rounded)


def _capital(text: str | None) -> str | None:
    return text[:1].upper() + text[1:] if text else text
