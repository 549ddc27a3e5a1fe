"""The order state machine, driven by ExecutionReports and OrderCancelRejects.

Theory of operation
-------------------
Each report is first classified into an :class:`ExecEvent` (what happened) from
ExecType(150) and, for FIX 4.2, ExecTransType(20): 4.2 fills are ExecType 1/2 with
ExecTransType 0, busts and corrections ExecTransType 1/2, status reports
ExecTransType 3; from 4.3 those are ExecType F, H, G and I.

An order has a *base* status (where the order itself is: PendingNew, New,
PartiallyFilled, Filled, DoneForDay, Canceled, Rejected, Expired, Stopped,
Suspended, Calculated, AcceptedForBidding) and an overlay of *pending requests*
(cancels/replaces we sent that are not settled yet). OrdStatus as FIX reports it
is derived from both by the precedence the order state change matrices give
(FIX 4.4 Vol. 4 Appendix D: Pending Cancel 12, Pending Replace 11, Done for Day
10 over the working states): an acknowledged pending cancel shows as
PendingCancel, a pending replace as PendingReplace. One deliberate difference: an
order that is done (Filled, Canceled, Rejected, Expired) shows its final status,
since nothing can be canceled any more. Keeping base and overlay apart is what lets
a fill arrive while a cancel or replace is pending (matrices B.1.b, C.1.b), or a
request be rejected (B.1.c, C.2.a, D.1), without losing where the order was.

:data:`TRANSITIONS` is the one table of (base status, event) -> next base status;
the next status may be :attr:`Next.BY_QTY` (New / PartiallyFilled / Filled as
CumQty says), :attr:`Next.KEEP`, or :attr:`Next.REPORTED` (a restatement carries
the new status). A pair that is not in the table is recorded as an
:class:`Anomaly` and the status is left alone: a late "New" after a fill
(:attr:`AnomalyKind.STALE_REPORT`) cannot move an order backwards, nor can a
"Canceled" un-fill a filled order. Quantities are never dropped: a fill is always
counted, even one that arrives on a canceled order (the anomaly says so).

After every report the order's own arithmetic is cross-checked against it:
CumQty(14), LeavesQty(151) (OrderQty - CumQty while live, else 0), AvgPx(6) (equal
to the exact average rounded or truncated to the digits the report carries),
OrdStatus(39) and OrderQty(38). Disagreements become anomalies; the order keeps
the values computed from its fills.

Duplicates: a report whose ExecID was already applied to the order is returned as a
duplicate and changes nothing, with or without PossDupFlag(43) / PossResend(97)
(a resent report with an ExecID never seen is applied normally, it may be the only
copy). OrderCancelRejects are deduplicated by the ClOrdID of the rejected request.

:class:`OrderRegistry` holds the orders by every ClOrdID they have had (chains of
cancel/replace and the IDs of requests in flight), by OrderID, and creates the
requests to send (assigning ClOrdIDs with :class:`ClOrdIdGenerator`). It
serialises to a plain dict (JSON-safe) so open orders survive a restart.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import json
import secrets
import string
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, TypeAlias

from ..codec import Message
from ..errors import LocalProtocolError
from . import _quick_py
from .messages import _DECIMALS as _CACHED_DECIMALS
from .messages import (
    CancelReject,
    ExecutionReport,
    MessageError,
    parse_cancel_reject,
    parse_execution_report,
    wire_decimal,
    wire_enum,
)
from .model import (
    TERMINAL_STATUSES,
    CancelRequest,
    CxlRejResponseTo,
    ExecTransType,
    ExecType,
    Fill,
    MassCancelRequest,
    MassCancelRequestType,
    NewOrderRequest,
    Order,
    OrdStatus,
    OrdType,
    PendingRequest,
    ReplaceRequest,
    Side,
    StatusRequest,
    TimeInForce,
    frozen_init,
    order_from_request,
)

__all__ = [
    "TRANSITIONS",
    "Anomaly",
    "AnomalyKind",
    "ClOrdIdGenerator",
    "ExecEvent",
    "Next",
    "OrderRegistry",
    "OrderUpdate",
    "apply_cancel_reject",
    "apply_execution_report",
    "apply_quick",
    "classify",
]


class ExecEvent(enum.Enum):
    """What a report says happened to an order."""

    PENDING_NEW = "pending new"
    NEW = "new"
    TRADE = "trade"
    TRADE_CORRECT = "trade correct"
    TRADE_CANCEL = "trade cancel"
    PENDING_CANCEL = "pending cancel"
    CANCELED = "canceled"
    PENDING_REPLACE = "pending replace"
    REPLACED = "replaced"
    REJECTED = "rejected"
    EXPIRED = "expired"
    DONE_FOR_DAY = "done for day"
    STOPPED = "stopped"
    SUSPENDED = "suspended"
    RESTATED = "restated"
    CALCULATED = "calculated"
    TRIGGERED = "triggered"
    STATUS = "status"
    CANCEL_REJECTED = "cancel rejected"
    REPLACE_REJECTED = "replace rejected"


class Next(enum.Enum):
    """Next base status that depends on more than the table row."""

    KEEP = "keep"  # unchanged
    BY_QTY = "by quantity"  # New, PartiallyFilled or Filled as CumQty says
    REPORTED = "reported"  # the OrdStatus the report carries (restatements)
    CONFIRMED = "confirmed"  # BY_QTY if the report shows the order accepted, else KEEP


class AnomalyKind(enum.Enum):
    """Why a report did not fit the order as this side knows it."""

    UNKNOWN_ORDER = "report for an order this registry does not know"
    MALFORMED_REPORT = "report lacks a required field or has a malformed value"
    UNEXPECTED_TRANSITION = "transition not in the order state table"
    STALE_REPORT = "report older than the order's state (out of order)"
    CUM_QTY_MISMATCH = "CumQty differs from the sum of the fills"
    LEAVES_QTY_MISMATCH = "LeavesQty differs from OrderQty - CumQty"
    AVG_PX_MISMATCH = "AvgPx differs from the fills' average price"
    STATUS_MISMATCH = "OrdStatus differs from the order's state"
    ORDER_QTY_MISMATCH = "OrderQty differs from the order's quantity"
    FIELD_MISMATCH = "Symbol, Side or OrderID differs from the order's"
    OVERFILL = "fills exceed the order quantity"
    UNKNOWN_EXEC_REF = "trade correction or bust for an unknown ExecID"
    UNMATCHED_CANCEL_REJECT = "cancel reject for a request not pending"
    UNSOLICITED_REPLACE = "replace report without a matching replace request"


@frozen_init
@dataclasses.dataclass(frozen=True, slots=True)
class Anomaly:
    """A report that did not fit; ``text`` says how, with the values involved."""

    kind: AnomalyKind
    text: str
    cl_ord_id: str | None = None
    exec_id: str | None = None
    time: float = 0.0


@frozen_init
@dataclasses.dataclass(frozen=True, slots=True)
class OrderUpdate:
    """What applying one report did.

    ``order`` is None when the report matched no order (see ``anomalies``).
    ``fill`` is the execution it added, if any. A ``duplicate`` changed nothing.
    """

    order: Order | None
    event: ExecEvent | None
    previous_status: OrdStatus | None
    status: OrdStatus | None
    fill: Fill | None = None
    duplicate: bool = False
    anomalies: tuple[Anomaly, ...] = ()
    report: ExecutionReport | CancelReject | None = None

    @property
    def changed(self) -> bool:
        """The order's status changed or it got a fill."""
        return self.fill is not None or self.previous_status is not self.status


# -- the table -----------------------------------------------------------------------------

S = OrdStatus
E = ExecEvent
_ALL_BASE = (
    S.PENDING_NEW,
    S.NEW,
    S.PARTIALLY_FILLED,
    S.FILLED,
    S.DONE_FOR_DAY,
    S.CANCELED,
    S.STOPPED,
    S.REJECTED,
    S.SUSPENDED,
    S.CALCULATED,
    S.EXPIRED,
    S.ACCEPTED_FOR_BIDDING,
)
_ACTIVE = (S.PENDING_NEW, S.NEW, S.PARTIALLY_FILLED, S.STOPPED, S.SUSPENDED, S.ACCEPTED_FOR_BIDDING)
_WORKING = (*_ACTIVE, S.DONE_FOR_DAY)  # GT orders done for the day may still be changed

_ROWS: tuple[tuple[ExecEvent, tuple[OrdStatus, ...], OrdStatus | Next], ...] = (
    (E.PENDING_NEW, (S.PENDING_NEW,), S.PENDING_NEW),
    (E.NEW, (S.PENDING_NEW, S.ACCEPTED_FOR_BIDDING, S.SUSPENDED), Next.BY_QTY),
    (E.NEW, (S.NEW,), Next.KEEP),
    (E.NEW, (S.DONE_FOR_DAY,), Next.BY_QTY),  # a GT order re-acknowledged the next day
    # fills: a venue may fill before acknowledging (an IOC or market order)
    (E.TRADE, (S.PENDING_NEW, S.NEW, S.PARTIALLY_FILLED, S.STOPPED, S.ACCEPTED_FOR_BIDDING),
     Next.BY_QTY),
    # busts and corrections may reopen a filled order (matrices group J)
    (E.TRADE_CORRECT, (S.NEW, S.PARTIALLY_FILLED, S.FILLED), Next.BY_QTY),
    (E.TRADE_CORRECT, (S.STOPPED, S.SUSPENDED, S.DONE_FOR_DAY, S.CANCELED, S.EXPIRED,
                       S.CALCULATED), Next.KEEP),
    (E.TRADE_CANCEL, (S.NEW, S.PARTIALLY_FILLED, S.FILLED), Next.BY_QTY),
    (E.TRADE_CANCEL, (S.STOPPED, S.SUSPENDED, S.DONE_FOR_DAY, S.CANCELED, S.EXPIRED,
                      S.CALCULATED), Next.KEEP),
    # cancel and replace (groups B, C, D): the pending overlay changes, the base does not
    (E.PENDING_CANCEL, _WORKING, Next.KEEP),
    (E.PENDING_REPLACE, _WORKING, Next.KEEP),
    (E.CANCELED, _WORKING, S.CANCELED),
    (E.REPLACED, (S.PENDING_NEW, S.NEW, S.PARTIALLY_FILLED, S.ACCEPTED_FOR_BIDDING), Next.BY_QTY),
    (E.REPLACED, (S.STOPPED, S.SUSPENDED, S.DONE_FOR_DAY), Next.KEEP),
    # a cancel reject or status report saying New answers for a lost acknowledgement
    (E.CANCEL_REJECTED, (S.PENDING_NEW,), Next.CONFIRMED),
    (E.CANCEL_REJECTED, _ALL_BASE[1:], Next.KEEP),
    (E.REPLACE_REJECTED, (S.PENDING_NEW,), Next.CONFIRMED),
    (E.REPLACE_REJECTED, _ALL_BASE[1:], Next.KEEP),
    # the venue's own actions
    (E.REJECTED, (S.PENDING_NEW,), S.REJECTED),
    (E.EXPIRED, _WORKING, S.EXPIRED),
    (E.DONE_FOR_DAY, (S.PENDING_NEW, S.NEW, S.PARTIALLY_FILLED, S.STOPPED, S.SUSPENDED),
     S.DONE_FOR_DAY),
    (E.STOPPED, (S.NEW, S.PARTIALLY_FILLED), S.STOPPED),
    (E.SUSPENDED, (S.PENDING_NEW, S.NEW, S.PARTIALLY_FILLED), S.SUSPENDED),
    (E.RESTATED, _WORKING, Next.REPORTED),
    (E.CALCULATED, (S.PARTIALLY_FILLED, S.FILLED, S.DONE_FOR_DAY), S.CALCULATED),
    (E.TRIGGERED, (S.PENDING_NEW, S.NEW, S.STOPPED, S.SUSPENDED), Next.BY_QTY),
    (E.STATUS, (S.PENDING_NEW,), Next.CONFIRMED),
    (E.STATUS, _ALL_BASE[1:], Next.KEEP),
)  # fmt: skip

#: (base status, event) -> next base status. Anything else is an anomaly.
TRANSITIONS: Mapping[tuple[OrdStatus, ExecEvent], OrdStatus | Next] = {
    (state, event): nxt for event, states, nxt in _ROWS for state in states
}

_BASE_STATUSES = frozenset(_ALL_BASE)
_QTY_STATUSES = frozenset({S.NEW, S.PARTIALLY_FILLED, S.FILLED})
_EARLY_EVENTS = frozenset({E.PENDING_NEW, E.NEW})

_EXEC_TYPE_EVENTS: dict[ExecType, ExecEvent] = {
    ExecType.NEW: E.NEW,
    ExecType.PARTIAL_FILL: E.TRADE,
    ExecType.FILL: E.TRADE,
    ExecType.TRADE: E.TRADE,
    ExecType.DONE_FOR_DAY: E.DONE_FOR_DAY,
    ExecType.CANCELED: E.CANCELED,
    ExecType.REPLACED: E.REPLACED,
    ExecType.PENDING_CANCEL: E.PENDING_CANCEL,
    ExecType.STOPPED: E.STOPPED,
    ExecType.REJECTED: E.REJECTED,
    ExecType.SUSPENDED: E.SUSPENDED,
    ExecType.PENDING_NEW: E.PENDING_NEW,
    ExecType.CALCULATED: E.CALCULATED,
    ExecType.EXPIRED: E.EXPIRED,
    ExecType.RESTATED: E.RESTATED,
    ExecType.PENDING_REPLACE: E.PENDING_REPLACE,
    ExecType.TRADE_CORRECT: E.TRADE_CORRECT,
    ExecType.TRADE_CANCEL: E.TRADE_CANCEL,
    ExecType.ORDER_STATUS: E.STATUS,
    ExecType.TRIGGERED_OR_ACTIVATED_BY_SYSTEM: E.TRIGGERED,
    # clearing-state reports do not change the order
    ExecType.TRADE_IN_A_CLEARING_HOLD: E.STATUS,
    ExecType.TRADE_RELEASED_TO_CLEARING: E.STATUS,
    ExecType.LOCKED: E.STATUS,
    ExecType.RELEASED: E.STATUS,
}


def classify(report: ExecutionReport) -> ExecEvent:
    """The event an ExecutionReport stands for (FIX 4.2 ExecTransType first)."""
    trans = report.exec_trans_type
    if trans is ExecTransType.CANCEL:
        return E.TRADE_CANCEL
    if trans is ExecTransType.CORRECT:
        return E.TRADE_CORRECT
    if trans is ExecTransType.STATUS:
        return E.STATUS
    return _EXEC_TYPE_EVENTS[report.exec_type]


# -- applying reports --------------------------------------------------------------------------


class _Changes:
    """Collects anomalies while one report is applied."""

    __slots__ = ("anomalies", "cl_ord_id", "exec_id", "now")

    def __init__(self, cl_ord_id: str | None, exec_id: str | None, now: float) -> None:
        self.anomalies: list[Anomaly] = []
        self.cl_ord_id = cl_ord_id
        self.exec_id = exec_id
        self.now = now

    def add(self, kind: AnomalyKind, text: str) -> None:
        self.anomalies.append(Anomaly(kind, text, self.cl_ord_id, self.exec_id, self.now))


def _by_qty(order: Order) -> OrdStatus:
    cum = order.cum_qty
    if cum >= order.quantity:
        return S.FILLED
    return S.PARTIALLY_FILLED if cum > 0 else S.NEW


_ACCEPTED_STATUSES = frozenset(
    {S.NEW, S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.PENDING_REPLACE}
)


def _next_base(order: Order, nxt: OrdStatus | Next, reported: OrdStatus | None) -> OrdStatus:
    """The base status a table entry leads to for this order and report."""
    if isinstance(nxt, OrdStatus):
        return nxt
    if nxt is Next.BY_QTY:
        return _by_qty(order)
    if nxt is Next.REPORTED:
        if reported in _BASE_STATUSES and reported not in _QTY_STATUSES:
            return reported
        return _by_qty(order)
    if nxt is Next.CONFIRMED and reported in _ACCEPTED_STATUSES:
        return _by_qty(order)
    return order.base_status


def _settle_quantity(order: Order) -> None:
    """Whatever the path (a fill while suspended, a restated smaller quantity), a live
    order whose CumQty reaches OrderQty is filled: nothing is left to execute."""
    if order.is_live and order.cum_qty >= order.quantity:
        order.base_status = S.FILLED


def _find_fill(order: Order, exec_id: str | None) -> Fill | None:
    if exec_id is None:
        return None
    for fill in order.fills:
        if fill.exec_id == exec_id or fill.corrected_by == exec_id:
            return fill
    return None


def _ulp(value: Decimal) -> Decimal:
    """One unit in the last digit ``value`` is written with."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return Decimal(1).scaleb(exponent)


def _ack_pending(order: Order, kind: str, report: ExecutionReport, now: float) -> None:
    """Mark the pending request the report acknowledges (or note an unsolicited one)."""
    req = order.pending_request(report.cl_ord_id) if report.cl_ord_id else None
    if req is None:
        for p in order.pending:
            if p.kind == kind and not p.acknowledged:
                req = p
                break
    if req is None:
        # a cancel/replace raised elsewhere (a broker's desk, another session)
        req = PendingRequest(
            kind=kind,
            cl_ord_id=(
                report.cl_ord_id
                if report.cl_ord_id and report.cl_ord_id not in order.chain
                else f"{order.cl_ord_id}#{kind}"
            ),
            orig_cl_ord_id=report.orig_cl_ord_id or order.cl_ord_id,
            sent_at=now,
        )
        order.pending.append(req)
    req.acknowledged = True


def _adopt_terms(order: Order, report: ExecutionReport) -> None:
    """Take the order terms a Replaced/Restated report carries, keeping them coherent."""
    if report.ord_type is not None and report.ord_type is not order.ord_type:
        order.ord_type = report.ord_type
        if report.ord_type.forbids_price:
            order.price = None
        if not report.ord_type.needs_stop_px:
            order.stop_px = None
    if report.price is not None and not order.ord_type.forbids_price:
        order.price = report.price
    if report.stop_px is not None and order.ord_type.needs_stop_px:
        order.stop_px = report.stop_px
    if report.time_in_force is not None:
        order.time_in_force = report.time_in_force


def _apply_replace(order: Order, report: ExecutionReport, ch: _Changes) -> None:
    req = order.pending_request(report.cl_ord_id) if report.cl_ord_id else None
    new_id: str | None = None
    if req is not None and req.kind == "replace":
        order.pending.remove(req)
    else:
        ch.add(
            AnomalyKind.UNSOLICITED_REPLACE,
            f"Replaced report with ClOrdID {report.cl_ord_id!r} matches no replace request",
        )
        req = None
    if req is not None and req.ord_type is not None:
        # a request this side built: its full terms, then whatever the venue says differently
        new_id = req.cl_ord_id
        if req.quantity is not None:
            order.quantity = req.quantity
        venue_qty = report.order_qty
        if venue_qty is not None and venue_qty > 0 and venue_qty != order.quantity:
            # a quantity asked below CumQty is amended to CumQty (matrices C.3.b, C.3.c);
            # anything else the venue changed is worth a look - its quantity stands
            if not (order.quantity <= order.cum_qty and venue_qty == order.cum_qty):
                ch.add(
                    AnomalyKind.ORDER_QTY_MISMATCH,
                    f"replaced to OrderQty {venue_qty}, requested {order.quantity}",
                )
            order.quantity = venue_qty
        order.ord_type = req.ord_type
        order.price = req.price
        order.stop_px = req.stop_px
        if req.time_in_force is not None:
            order.time_in_force = req.time_in_force
    else:
        # the venue replaced the order on its own (announced by a PendingReplace or not)
        if report.cl_ord_id is not None and report.cl_ord_id not in order.chain:
            new_id = report.cl_ord_id
        if report.order_qty is not None and report.order_qty > 0:
            order.quantity = report.order_qty
    _adopt_terms(order, report)
    if new_id is not None and new_id not in order.chain:
        order.chain.append(new_id)
        order.cl_ord_id = new_id


def _settle_request(order: Order, cl_ord_id: str | None, kind: str, ch: _Changes) -> bool:
    """Remove the pending request ``cl_ord_id``; False (and an anomaly) if there is none."""
    req = order.pending_request(cl_ord_id) if cl_ord_id else None
    if req is None and order.is_done and cl_ord_id in order.aliases:
        # our request, dropped when the order ended first (the venue canceled it on its
        # own): "too late" is the answer FIX prescribes, not an anomaly
        order.rejected_requests.append(cl_ord_id)
        return False
    if req is None:
        ch.add(
            AnomalyKind.UNMATCHED_CANCEL_REJECT,
            f"{kind} reject for ClOrdID {cl_ord_id!r}, which is not a pending request",
        )
        return False
    order.pending.remove(req)
    order.rejected_requests.append(req.cl_ord_id)
    return True


def _consistent_status(order: Order, reported: OrdStatus, event: ExecEvent) -> bool:
    if reported in (order.status, order.base_status):
        return True
    if reported is S.REPLACED:  # FIX 4.2/4.3 OrdStatus on a replace report
        return event is E.REPLACED
    if reported is S.PENDING_CANCEL:
        return any(p.kind == "cancel" for p in order.pending)
    if reported is S.PENDING_REPLACE:
        return any(p.kind == "replace" for p in order.pending)
    # a status that finished the order beats an overlay we still hold, and vice versa
    return False


def _cross_check(order: Order, report: ExecutionReport, event: ExecEvent, ch: _Changes) -> None:
    cum = order.cum_qty
    if report.cum_qty is not None and report.cum_qty != cum:
        ch.add(
            AnomalyKind.CUM_QTY_MISMATCH,
            f"report CumQty {report.cum_qty}, fills sum to {cum}",
        )
    # FIX 4.4 LeavesQty(151): OrderQty - CumQty; "could be 0" once the order is no
    # longer active (Canceled, DoneForDay, Expired, Calculated, Rejected)
    if report.leaves_qty is not None:
        expected = {order.leaves_qty}
        if not order.is_live:
            expected.add(max(order.quantity - cum, Decimal(0)))
        if report.leaves_qty not in expected:
            ch.add(
                AnomalyKind.LEAVES_QTY_MISMATCH,
                f"report LeavesQty {report.leaves_qty}, expected {order.leaves_qty}",
            )
    if report.avg_px is not None and cum > 0:
        exact = order.avg_px
        if abs(report.avg_px - exact) >= _ulp(report.avg_px):  # rounded or truncated
            ch.add(
                AnomalyKind.AVG_PX_MISMATCH,
                f"report AvgPx {report.avg_px}, fills average {exact}",
            )
    if not _consistent_status(order, report.ord_status, event):
        ch.add(
            AnomalyKind.STATUS_MISMATCH,
            f"report OrdStatus {report.ord_status.name}, order is {order.status.name}",
        )
    if report.order_qty is not None and report.order_qty != order.quantity:
        ch.add(
            AnomalyKind.ORDER_QTY_MISMATCH,
            f"report OrderQty {report.order_qty}, order quantity {order.quantity}",
        )


def apply_execution_report(order: Order, report: ExecutionReport, now: float) -> OrderUpdate:
    """Apply one ExecutionReport to ``order`` (in place); never raises for bad reports."""
    previous = order.status
    event = classify(report)
    if event is not E.STATUS and report.exec_id in order.exec_ids:
        return OrderUpdate(order, event, previous, previous, duplicate=True, report=report)
    ch = _Changes(report.cl_ord_id or order.cl_ord_id, report.exec_id, now)
    if event is not E.STATUS:
        order.exec_ids.add(report.exec_id)
    order.last_reported_status = report.ord_status
    if report.side is not None and report.side is not order.side:
        ch.add(
            AnomalyKind.FIELD_MISMATCH, f"report Side {report.side.name}, order {order.side.name}"
        )
    if report.symbol is not None and report.symbol != order.symbol:
        ch.add(
            AnomalyKind.FIELD_MISMATCH, f"report Symbol {report.symbol!r}, order {order.symbol!r}"
        )
    if report.order_id is not None and report.order_id != "NONE":
        if (
            order.order_id is not None
            and report.order_id != order.order_id
            and event is not (E.REPLACED)
        ):
            ch.add(
                AnomalyKind.FIELD_MISMATCH,
                f"report OrderID {report.order_id!r}, order {order.order_id!r}",
            )
        order.order_id = report.order_id

    # A Rejected report naming one of our pending requests rejects that request, not the
    # order (some venues answer a bad cancel/replace with ExecType 8 rather than 35=9).
    if event is E.REJECTED and report.cl_ord_id is not None:
        req = order.pending_request(report.cl_ord_id)
        if req is not None:
            event = E.CANCEL_REJECTED if req.kind == "cancel" else E.REPLACE_REJECTED

    base = order.base_status
    nxt = TRANSITIONS.get((base, event))
    if nxt is None:
        kind = (
            AnomalyKind.STALE_REPORT
            if event in _EARLY_EVENTS and base is not S.PENDING_NEW
            else AnomalyKind.UNEXPECTED_TRANSITION
        )
        ch.add(kind, f"{event.value} report while the order is {base.name}")

    fill: Fill | None = None
    if event is E.TRADE:
        assert report.last_qty is not None and report.last_px is not None  # parser checks
        if report.last_qty <= 0:
            ch.add(AnomalyKind.MALFORMED_REPORT, f"fill with LastQty {report.last_qty}")
            nxt = Next.KEEP
        else:
            fill = Fill(report.exec_id, report.last_qty, report.last_px, now, report.transact_time)
            order.add_fill(fill)
        if order.cum_qty > order.quantity:
            ch.add(
                AnomalyKind.OVERFILL,
                f"CumQty {order.cum_qty} exceeds OrderQty {order.quantity}",
            )
    elif event in (E.TRADE_CORRECT, E.TRADE_CANCEL):
        target = _find_fill(order, report.exec_ref_id)
        if target is None:
            ch.add(AnomalyKind.UNKNOWN_EXEC_REF, f"ExecRefID {report.exec_ref_id!r} not a fill")
        elif event is E.TRADE_CANCEL:
            order.fills.remove(target)
            order.fills_changed()
        elif report.last_qty is not None and report.last_qty < 0:
            ch.add(AnomalyKind.MALFORMED_REPORT, f"trade correction to LastQty {report.last_qty}")
        else:
            if report.last_qty is not None:
                target.quantity = report.last_qty
            if report.last_px is not None:
                target.price = report.last_px
            target.corrected_by = report.exec_id
            if target.quantity == 0:
                order.fills.remove(target)
            order.fills_changed()
    elif event is E.PENDING_CANCEL and nxt is not None:
        _ack_pending(order, "cancel", report, now)
    elif event is E.PENDING_REPLACE and nxt is not None:
        _ack_pending(order, "replace", report, now)
    elif event is E.CANCELED and nxt is not None:
        order.pending = [p for p in order.pending if p.kind != "cancel"]
    elif event is E.REPLACED and nxt is not None:
        _apply_replace(order, report, ch)
    elif event in (E.CANCEL_REJECTED, E.REPLACE_REJECTED):
        _settle_request(order, report.cl_ord_id, event.value, ch)
    elif event is E.RESTATED and nxt is not None:
        if report.order_qty is not None and report.order_qty > 0:
            order.quantity = report.order_qty
        _adopt_terms(order, report)

    if nxt is not None:
        order.base_status = _next_base(order, nxt, report.ord_status)
    # (a fill outside the table is counted above; the status stays, the anomaly says why)
    if event is E.REJECTED and order.base_status is S.REJECTED:
        order.ord_rej_reason = report.ord_rej_reason
    if report.text is not None:
        order.text = report.text
    if report.ord_status in (S.PENDING_CANCEL, S.PENDING_REPLACE) and order.base_status in _WORKING:
        # e.g. a fill reported with OrdStatus PendingCancel: the cancel was acknowledged
        pending_kind = "cancel" if report.ord_status is S.PENDING_CANCEL else "replace"
        for p in order.pending:
            if p.kind == pending_kind:
                p.acknowledged = True
    _settle_quantity(order)
    _cross_check(order, report, event, ch)
    order.updated_at = now
    order.anomaly_count += len(ch.anomalies)
    return OrderUpdate(
        order, event, previous, order.status, fill, False, tuple(ch.anomalies), report
    )


def apply_cancel_reject(order: Order, reject: CancelReject, now: float) -> OrderUpdate:
    """Apply one OrderCancelReject to ``order``: its pending request is settled."""
    previous = order.status
    event = (
        E.CANCEL_REJECTED
        if reject.response_to is CxlRejResponseTo.ORDER_CANCEL_REQUEST
        else E.REPLACE_REJECTED
    )
    if reject.cl_ord_id in order.rejected_requests:
        return OrderUpdate(order, event, previous, previous, duplicate=True, report=reject)
    ch = _Changes(reject.cl_ord_id, None, now)
    req = order.pending_request(reject.cl_ord_id)
    if req is not None and (req.kind == "cancel") != (event is E.CANCEL_REJECTED):
        ch.add(
            AnomalyKind.UNMATCHED_CANCEL_REJECT,
            f"{event.value} for ClOrdID {reject.cl_ord_id!r}, which was a {req.kind} request",
        )
    _settle_request(order, reject.cl_ord_id, event.value, ch)
    nxt = TRANSITIONS[(order.base_status, event)]
    order.base_status = _next_base(order, nxt, reject.ord_status)
    if reject.order_id not in (None, "NONE") and order.order_id is None:
        order.order_id = reject.order_id
    if reject.ord_status is not None:
        order.last_reported_status = reject.ord_status
        if not _consistent_status(order, reject.ord_status, event):
            ch.add(
                AnomalyKind.STATUS_MISMATCH,
                f"cancel reject OrdStatus {reject.ord_status.name}, order is {order.status.name}",
            )
    if reject.text is not None:
        order.text = reject.text
    order.updated_at = now
    order.anomaly_count += len(ch.anomalies)
    return OrderUpdate(
        order, event, previous, order.status, None, False, tuple(ch.anomalies), reject
    )


# -- the common reports, quickly ---------------------------------------------------------------

#: ExecType values of the reports :func:`apply_quick` takes (acknowledgements and fills).
_QUICK_EXEC_TYPES: dict[bytes, ExecEvent] = {
    b"0": E.NEW,
    b"F": E.TRADE,
    b"1": E.TRADE,
    b"2": E.TRADE,
}

#: What :func:`apply_quick` returns: the order, the event, the status before, the fill
#: added (or None), the report's Text(58) and whether it was flagged PossDup/PossResend.
QuickUpdate: TypeAlias = tuple[Order, ExecEvent, OrdStatus, Fill | None, str | None, bool]


def _quick_arguments(fill: Any = Fill) -> tuple[Any, ...]:
    """What :class:`~fixengine.orders._quick_py.QuickApply` is built with."""
    return (
        _QUICK_EXEC_TYPES,
        wire_enum(OrdStatus),
        wire_enum(Side),
        wire_enum(OrdType),
        wire_enum(TimeInForce),
        S.PENDING_NEW,
        S.NEW,
        S.PARTIALLY_FILLED,
        S.FILLED,
        _CACHED_DECIMALS,
        wire_decimal,
        fill,
    )


def _make_quick(module: Any) -> Any:
    """The quick path of ``module`` (either twin) bound to this state machine's tables."""
    return module.QuickApply(*_quick_arguments())


#: ``apply(by_cl_ord_id, by_order_id, msg, now)``: :func:`apply_quick` that also indexes
#: the order by OrderID (what the registry and the order router call).
quick_apply: Any = _make_quick(_quick_py.twin()).apply


def apply_quick(by_cl_ord_id: Mapping[str, Order], msg: Message, now: float) -> QuickUpdate | None:
    """Apply the most common ExecutionReports - an acknowledgement (ExecType New) or a fill
    of an order with no cancel/replace pending, that agree with the order in every field
    - straight from the message; None (nothing changed) for anything else.

    The order ends exactly as :func:`apply_execution_report` would leave it, with no
    anomaly; every report that could give one, be a duplicate or be malformed is left
    to it (and to :func:`~fixengine.orders.messages.parse_execution_report`), which
    then decides. This is what spares the order router building an
    :class:`ExecutionReport` and an :class:`OrderUpdate` for nearly every report.

    Every field is read in one pass (:meth:`Message.pick`); text is decoded as ASCII,
    numbers through the decimal cache. The work is done by ``fixengine._orders``
    (compiled) or its pure twin :mod:`fixengine.orders._quick_py`.
    """
    result: QuickUpdate | None = quick_apply(by_cl_ord_id, None, msg, now)
    return result


# -- ClOrdIDs -------------------------------------------------------------------------------

_DIGITS = string.digits + string.ascii_lowercase


_PAIRS = [a + b for a in _DIGITS for b in _DIGITS]  # "00" .. "zz"
_SHORT = [pair.lstrip("0") or "0" for pair in _PAIRS]  # 0 .. 1295 without leading zeros


def _base36(n: int) -> str:
    """``n`` >= 0 in base 36 (lower case), two digits at a time."""
    out = ""
    while n >= 1296:
        n, r = divmod(n, 1296)
        out = _PAIRS[r] + out
    return _SHORT[n] + out


class ClOrdIdGenerator:
    """ClOrdIDs unique across restarts without a shared counter.

    An ID is ``<prefix><stem>.<n>``: the *stem* is the start time in milliseconds
    and four random characters, both base 36 (12 characters, e.g. ``lz4k2m1qx7f0``),
    drawn once per generator; ``n`` counts up in base 36. A process that restarts
    without its saved state gets a new stem (a later millisecond and fresh random
    characters), so it cannot repeat an earlier run's IDs; one that restores
    :meth:`state` (the registry saves it) continues the same series. IDs are
    printable ASCII, sort by creation within a stem, and stay short (about 16
    characters for the first million orders), which venues with a 20-character
    ClOrdID limit accept. ``entropy`` (0 to 36**4 - 1) makes the stem deterministic
    for tests.
    """

    __slots__ = ("_counter", "_head", "_high", "_high_text", "_prefix", "_stem")

    def __init__(self, now: float, *, prefix: str = "", entropy: int | None = None) -> None:
        if not (prefix.isascii() and (prefix == "" or prefix.isprintable())) or " " in prefix:
            raise ValueError(f"ClOrdID prefix must be printable ASCII without spaces: {prefix!r}")
        if not now >= 0:
            raise ValueError(f"now must be UTC epoch seconds (>= 0), not {now!r}")
        rand = secrets.randbelow(36**4) if entropy is None else entropy % 36**4
        self._prefix = prefix
        self._stem = _base36(int(now * 1000)) + _base36(rand).rjust(4, "0")
        self._head = f"{prefix}{self._stem}."
        self._counter = 0
        self._high = -1  # counter // 1296 of the last ID from 1296 on, and its text
        self._high_text = ""

    def next(self) -> str:
        """A new ClOrdID."""
        n = self._counter = self._counter + 1
        if n < 1296:
            return self._head + _SHORT[n]
        # _base36(n) is _base36(n // 1296) and two digits: the first part changes once
        # every 1296 IDs
        high, low = divmod(n, 1296)
        if high != self._high:
            self._high = high
            self._high_text = self._head + _base36(high)
        return self._high_text + _PAIRS[low]

    def state(self) -> dict[str, Any]:
        """What to persist to continue the series after a restart."""
        return {"prefix": self._prefix, "stem": self._stem, "counter": self._counter}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ClOrdIdGenerator:
        """A generator continuing a saved series."""
        gen = cls.__new__(cls)
        gen._prefix = str(state["prefix"])
        gen._stem = str(state["stem"])
        gen._counter = int(state["counter"])
        gen._head = f"{gen._prefix}{gen._stem}."
        gen._high = -1
        gen._high_text = ""
        return gen


# -- the registry ---------------------------------------------------------------------------

_UNSET: Any = object()
_FORMAT = "fixengine.orders"
_FORMAT_VERSION = 1


class OrderRegistry:
    """Every order of a session (or router), by ClOrdID and OrderID, with its chain.

    The registry creates the requests to send (:meth:`new_order`, :meth:`cancel`,
    :meth:`replace`, :meth:`status_request`, :meth:`mass_cancel`) and applies what
    comes back (:meth:`apply`). Every anomaly is returned in the
    :class:`OrderUpdate` and also kept in :attr:`anomalies` (the last
    ``max_anomalies``).

    Orders stay until they are forgotten: all done ones at once (:meth:`forget_done`)
    or one by one (:meth:`evict`, what a long-running order router does with the
    oldest done orders). An evicted order leaves every lookup, but the ClOrdIDs of
    the last evicted orders (from ``max_evicted`` / 2 to ``max_evicted`` of them, in
    two generations) are remembered with the order's final status
    (:meth:`evicted_status`): they still count as used (``in``, so a new order cannot
    take one) and a report naming one is reported as such.
    """

    def __init__(
        self,
        id_generator: ClOrdIdGenerator | None = None,
        *,
        now: float = 0.0,
        max_anomalies: int = 1000,
        max_evicted: int = 10_000,
    ) -> None:
        self.ids = id_generator if id_generator is not None else ClOrdIdGenerator(now)
        self._orders: dict[str, Order] = {}  # first ClOrdID -> order, oldest first
        self._by_cl: dict[str, Order] = {}
        self._by_order_id: dict[str, Order] = {}
        self._used_ids: set[str] = set()  # mass-cancel IDs, which belong to no order
        self.anomalies: collections.deque[Anomaly] = collections.deque(maxlen=max_anomalies)
        self.max_evicted = max_evicted
        # ClOrdID of an evicted order -> its final status, in two generations: the
        # recent one fills up to max_evicted / 2, then replaces the older one
        self._evicted: dict[str, OrdStatus] = {}
        self._evicted_before: dict[str, OrdStatus] = {}

    # -- lookups -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._orders)

    def __iter__(self) -> Iterator[Order]:
        return iter(list(self._orders.values()))

    def __contains__(self, cl_ord_id: object) -> bool:
        return (
            cl_ord_id in self._by_cl
            or cl_ord_id in self._used_ids
            or cl_ord_id in self._evicted
            or cl_ord_id in self._evicted_before
        )

    def __getitem__(self, cl_ord_id: str) -> Order:
        return self._by_cl[cl_ord_id]

    def get(self, cl_ord_id: str) -> Order | None:
        """The order that has (or had) ``cl_ord_id``, or None."""
        return self._by_cl.get(cl_ord_id)

    def by_order_id(self, order_id: str) -> Order | None:
        """The order the counterparty calls ``order_id``, or None."""
        return self._by_order_id.get(order_id)

    def live_orders(self) -> list[Order]:
        """Orders that can still execute."""
        return [o for o in self._orders.values() if o.is_live]

    def open_orders(self) -> list[Order]:
        """Orders not yet done (live, done for the day, calculated)."""
        return [o for o in self._orders.values() if not o.is_done]

    def evicted_status(self, cl_ord_id: str) -> OrdStatus | None:
        """The final status of the evicted order that had ``cl_ord_id`` (None if no
        evicted order among the last ``max_evicted`` or so had it)."""
        status = self._evicted.get(cl_ord_id)
        return status if status is not None else self._evicted_before.get(cl_ord_id)

    def chain(self, cl_ord_id: str) -> tuple[str, ...]:
        """Every ClOrdID of the order that has (or had) ``cl_ord_id``, oldest first."""
        return tuple(self[cl_ord_id].chain)

    def status_of(self, cl_ord_id: str) -> OrdStatus:
        """Status of one version of an order: REPLACED for an ID that was replaced."""
        order = self[cl_ord_id]
        if cl_ord_id in order.chain and cl_ord_id != order.cl_ord_id:
            return S.REPLACED
        return order.status

    # -- creating requests ------------------------------------------------------------------
    def _fresh_id(self, wanted: str | None) -> str:
        if wanted is None:
            cl = self.ids.next()
            while cl in self:
                cl = self.ids.next()
            return cl
        if wanted in self:
            raise LocalProtocolError(f"duplicate ClOrdID {wanted!r}: it is already in use")
        return wanted

    def _index(self, cl_ord_id: str, order: Order) -> None:
        self._by_cl[cl_ord_id] = order
        if cl_ord_id not in order.chain:
            order.aliases.append(cl_ord_id)

    def new_order(self, request: NewOrderRequest, now: float) -> NewOrderRequest:
        """Register a new order; returns the request with its ClOrdID, ready to send."""
        cl = self.register(request, now).cl_ord_id
        return request if request.cl_ord_id == cl else request.with_cl_ord_id(cl)

    def register(self, request: NewOrderRequest, now: float) -> Order:
        """:meth:`new_order` returning the new :class:`Order` (its ``cl_ord_id`` is the
        ClOrdID to send) rather than a copy of the request carrying it."""
        wanted = request.cl_ord_id
        if wanted is None:
            cl = self.ids.next()
            while (
                cl in self._by_cl
                or cl in self._used_ids
                or cl in self._evicted
                or cl in self._evicted_before
            ):
                cl = self.ids.next()
        else:
            cl = self._fresh_id(wanted)
        order = order_from_request(cl, request, now)
        self._orders[cl] = order
        self._by_cl[cl] = order  # the first ID of its chain: no alias
        return order

    def _open_order(self, cl_ord_id: str, action: str) -> Order:
        order = self.get(cl_ord_id)
        if order is None:
            status = self.evicted_status(cl_ord_id)
            if status is not None:
                raise LocalProtocolError(
                    f"cannot {action} order {cl_ord_id!r}: it is {status.name} (evicted)"
                )
            raise LocalProtocolError(f"cannot {action} unknown order {cl_ord_id!r}")
        if order.is_done:
            raise LocalProtocolError(
                f"cannot {action} order {order.cl_ord_id!r}: it is {order.status.name}"
            )
        return order

    def cancel(
        self,
        cl_ord_id: str,
        now: float,
        *,
        new_cl_ord_id: str | None = None,
        text: str | None = None,
    ) -> CancelRequest:
        """An OrderCancelRequest for the order known as ``cl_ord_id`` (any ID of its chain)."""
        order = self._open_order(cl_ord_id, "cancel")
        cl = self._fresh_id(new_cl_ord_id)
        request = CancelRequest(
            cl_ord_id=cl,
            orig_cl_ord_id=order.cl_ord_id,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            order_id=order.order_id,
            account=order.account,
            text=text,
        )
        order.pending.append(PendingRequest("cancel", cl, order.cl_ord_id, now))
        self._index(cl, order)
        return request

    def replace(
        self,
        cl_ord_id: str,
        now: float,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = _UNSET,
        stop_px: Decimal | None = _UNSET,
        ord_type: OrdType | None = None,
        time_in_force: TimeInForce | None = None,
        new_cl_ord_id: str | None = None,
        text: str | None = None,
    ) -> ReplaceRequest:
        """An OrderCancelReplaceRequest restating the order with the given changes.

        Unchanged terms are copied from the order (FIX requires them restated).
        OrigClOrdID is the order's current ClOrdID, so a replace of a replaced
        order chains (A -> B -> C).
        """
        order = self._open_order(cl_ord_id, "replace")
        cl = self._fresh_id(new_cl_ord_id)
        tif = time_in_force if time_in_force is not None else order.time_in_force
        keep_expiry = tif is TimeInForce.GOOD_TILL_DATE
        request = ReplaceRequest(
            cl_ord_id=cl,
            orig_cl_ord_id=order.cl_ord_id,
            symbol=order.symbol,
            side=order.side,
            quantity=quantity if quantity is not None else order.quantity,
            ord_type=ord_type if ord_type is not None else order.ord_type,
            price=order.price if price is _UNSET else price,
            stop_px=order.stop_px if stop_px is _UNSET else stop_px,
            time_in_force=tif,
            order_id=order.order_id,
            account=order.account,
            handl_inst=order.handl_inst,
            exec_inst=order.exec_inst,
            min_qty=order.min_qty,
            max_floor=order.max_floor,
            expire_time=order.expire_time if keep_expiry else None,
            expire_date=order.expire_date if keep_expiry else None,
            text=text,
        )
        order.pending.append(
            PendingRequest(
                "replace",
                cl,
                order.cl_ord_id,
                now,
                quantity=request.quantity,
                price=request.price,
                stop_px=request.stop_px,
                ord_type=request.ord_type,
                time_in_force=request.time_in_force,
            )
        )
        self._index(cl, order)
        return request

    def status_request(self, cl_ord_id: str) -> StatusRequest:
        """An OrderStatusRequest for the order known as ``cl_ord_id``."""
        order = self[cl_ord_id]
        return StatusRequest(order.cl_ord_id, order.symbol, order.side, order.order_id)

    def mass_cancel(
        self,
        now: float,
        *,
        symbol: str | None = None,
        side: Side | None = None,
        new_cl_ord_id: str | None = None,
    ) -> MassCancelRequest:
        """An OrderMassCancelRequest: every order, or those in ``symbol`` (and ``side``)."""
        cl = self._fresh_id(new_cl_ord_id)
        self._used_ids.add(cl)
        kind = MassCancelRequestType.SECURITY if symbol else MassCancelRequestType.ALL_ORDERS
        return MassCancelRequest(cl, kind, symbol=symbol, side=side)

    # -- applying reports -------------------------------------------------------------------
    def _find(self, *keys: str | None) -> Order | None:
        for key in keys:
            if key is not None and key in self._by_cl:
                return self._by_cl[key]
        return None

    def _record(self, update: OrderUpdate) -> OrderUpdate:
        self.anomalies.extend(update.anomalies)
        order = update.order
        if order is not None:
            for cl in (*order.chain, *(p.cl_ord_id for p in order._pending or ())):
                if cl not in self._by_cl:
                    self._index(cl, order)
            if order.order_id is not None:
                self._by_order_id[order.order_id] = order
        return update

    def apply_quick(self, msg: Message, now: float) -> QuickUpdate | None:
        """:func:`apply_quick` on this registry's orders: the common ExecutionReport
        applied (as :meth:`apply` would, with no anomaly), or None when it is left to
        :meth:`apply`."""
        result: QuickUpdate | None = quick_apply(self._by_cl, self._by_order_id, msg, now)
        return result

    def apply(self, item: Message | ExecutionReport | CancelReject, now: float) -> OrderUpdate:
        """Apply an ExecutionReport or OrderCancelReject (a Message or already parsed).

        Never raises for what the counterparty sent: an unknown order, a malformed
        report or an impossible transition come back as anomalies.
        """
        if isinstance(item, Message):
            msg = item
            try:
                if msg.msg_type == b"8":
                    item = parse_execution_report(msg)
                elif msg.msg_type == b"9":
                    item = parse_cancel_reject(msg)
                else:
                    raise MessageError(f"not an order report: 35={msg.msg_type!r}", 35)
            except MessageError as exc:
                return self._malformed(msg, exc, now)
        if isinstance(item, CancelReject):
            order = self._find(item.cl_ord_id, item.orig_cl_ord_id)
            if order is None and item.order_id is not None:
                order = self._by_order_id.get(item.order_id)
            if order is None:
                return self._unknown(item, item.cl_ord_id, None, now)
            return self._record(apply_cancel_reject(order, item, now))
        order = self._find(item.cl_ord_id, item.orig_cl_ord_id)
        if order is None and item.order_id is not None:
            order = self._by_order_id.get(item.order_id)
        if order is None:
            return self._unknown(item, item.cl_ord_id, item.exec_id, now)
        return self._record(apply_execution_report(order, item, now))

    def _unknown(
        self, item: ExecutionReport | CancelReject, cl: str | None, exec_id: str | None, now: float
    ) -> OrderUpdate:
        text = f"no order with ClOrdID {cl!r} / OrderID {item.order_id!r}"
        for key in (cl, getattr(item, "orig_cl_ord_id", None)):
            status = self.evicted_status(key) if key is not None else None
            if status is not None:
                text = f"order {key!r} is {status.name} and no longer tracked (evicted)"
                break
        anomaly = Anomaly(
            AnomalyKind.UNKNOWN_ORDER,
            text,
            cl,
            exec_id,
            now,
        )
        return self._record(OrderUpdate(None, None, None, None, anomalies=(anomaly,), report=item))

    def _malformed(self, msg: Message, exc: MessageError, now: float) -> OrderUpdate:
        cl = msg.get_str(11)
        order = self._find(cl, msg.get_str(41))
        anomaly = Anomaly(AnomalyKind.MALFORMED_REPORT, str(exc), cl, msg.get_str(17), now)
        if order is not None:
            order.anomaly_count += 1
        status = None if order is None else order.status
        return self._record(OrderUpdate(order, None, status, status, anomalies=(anomaly,)))

    def request_rejected(self, cl_ord_id: str, now: float, text: str = "") -> OrderUpdate:
        """Our request ``cl_ord_id`` was refused before reaching the order book.

        For a session-level Reject (35=3) or BusinessMessageReject (35=j) of a
        NewOrderSingle the order becomes REJECTED; of a cancel or replace, that
        request is dropped and the order stays as it was.
        """
        order = self.get(cl_ord_id)
        if order is None:
            return self._unknown_request(cl_ord_id, now)
        previous = order.status
        req = order.pending_request(cl_ord_id)
        if req is not None:
            order.pending.remove(req)
            order.rejected_requests.append(cl_ord_id)
        elif cl_ord_id == order.chain[0] and order.base_status is S.PENDING_NEW:
            order.base_status = S.REJECTED
        else:
            anomaly = Anomaly(
                AnomalyKind.UNEXPECTED_TRANSITION,
                f"request {cl_ord_id!r} rejected but the order is {order.status.name}",
                cl_ord_id,
                None,
                now,
            )
            return self._record(
                OrderUpdate(order, E.REJECTED, previous, previous, anomalies=(anomaly,))
            )
        if text:
            order.text = text
        order.updated_at = now
        return self._record(OrderUpdate(order, E.REJECTED, previous, order.status))

    def _unknown_request(self, cl_ord_id: str, now: float) -> OrderUpdate:
        anomaly = Anomaly(
            AnomalyKind.UNKNOWN_ORDER,
            f"no request with ClOrdID {cl_ord_id!r}",
            cl_ord_id,
            None,
            now,
        )
        return self._record(OrderUpdate(None, None, None, None, anomalies=(anomaly,)))

    def forget_done(self) -> int:
        """Drop orders that are done (filled, canceled, rejected, expired); return how many."""
        done = [o for o in self._orders.values() if o.is_done]
        if not done:
            return 0
        gone = {id(o) for o in done}
        self._orders = {k: o for k, o in self._orders.items() if id(o) not in gone}
        self._by_cl = {k: o for k, o in self._by_cl.items() if id(o) not in gone}
        self._by_order_id = {k: o for k, o in self._by_order_id.items() if id(o) not in gone}
        return len(done)

    def evict(self, order: Order) -> bool:
        """Forget one done order: it leaves every lookup (:meth:`get`, iteration,
        :meth:`by_order_id`); its ClOrdIDs join the remembered evicted ones. False
        (nothing done) for an order not done or not in the registry."""
        status = order.base_status
        if status not in TERMINAL_STATUSES:
            return False
        chain = order._chain
        key = chain[0]
        orders = self._orders
        if orders.get(key) is not order:
            return False
        del orders[key]
        by_cl = self._by_cl
        evicted = self._evicted
        if len(chain) == 1 and not order._aliases and not order._pending:  # the usual order
            if by_cl.get(key) is order:
                del by_cl[key]
            evicted[key] = status
        else:
            pending = order._pending or ()
            for cl in (*chain, *(order._aliases or ()), *(p.cl_ord_id for p in pending)):
                if by_cl.get(cl) is order:
                    del by_cl[cl]
                evicted[cl] = status
        oid = order.order_id
        if oid is not None and self._by_order_id.get(oid) is order:
            del self._by_order_id[oid]
        if len(evicted) >= self.max_evicted // 2 + 1:
            self._evicted_before = evicted
            self._evicted = {}
        return True

    # -- persistence ------------------------------------------------------------------------
    def to_dict(self, *, open_only: bool = False) -> dict[str, Any]:
        """Plain, JSON-safe state: the ID series and the orders (only open ones if asked)."""
        orders = self.open_orders() if open_only else list(self._orders.values())
        return {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "ids": self.ids.state(),
            "used_ids": sorted(self._used_ids),
            "orders": [o.to_dict() for o in orders],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, max_anomalies: int = 1000) -> OrderRegistry:
        """A registry restored from :meth:`to_dict`; ValueError if ``data`` is not one."""
        if data.get("format") != _FORMAT or data.get("version") != _FORMAT_VERSION:
            raise ValueError(
                f"not a saved order registry (format {data.get('format')!r}, "
                f"version {data.get('version')!r})"
            )
        try:
            registry = cls(ClOrdIdGenerator.from_state(data["ids"]), max_anomalies=max_anomalies)
            registry._used_ids = {str(x) for x in data.get("used_ids", [])}
            for record in data["orders"]:
                order = Order.from_dict(record)
                registry._orders[order.chain[0]] = order
                for cl in (*order.chain, *order.aliases):
                    registry._by_cl[cl] = order
                if order.order_id is not None:
                    registry._by_order_id[order.order_id] = order
        except (KeyError, TypeError, ArithmeticError) as exc:
            raise ValueError(f"malformed saved order registry: {exc!r}") from None
        return registry

    def to_json(self, *, open_only: bool = False) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(open_only=open_only), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> OrderRegistry:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    def __repr__(self) -> str:
        return f"OrderRegistry({len(self._orders)} orders, {len(self.live_orders())} live)"
