"""The quick path of the order state machine, in Python: the pure twin of ``fixengine._orders``.

Theory of operation
-------------------
:class:`QuickApply` applies the most common ExecutionReports - an acknowledgement
(ExecType New) or a fill of an order with no cancel/replace pending, agreeing with
the order in every field - straight from the message, and leaves everything else
(None, nothing changed) to :func:`fixengine.orders.state.apply_execution_report`.
It is built once by :mod:`fixengine.orders.state` with the tables it reads (enum
members by wire value, the Decimal cache, :class:`~fixengine.orders.model.Fill`),
so neither twin imports the state machine. ``ext/_orders.pyx`` is the same
algorithm in C; both leave an order in the same state and return the same tuple
(tests/test_orders_quick_twins.py checks it).

:func:`set_slots` stores the fields of a frozen, slotted instance through the
slots' descriptors (what ``fixengine.orders.model.frozen_init`` builds ``__init__``
with); :func:`twin` is the module to use, compiled or this one.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from decimal import Decimal
from types import ModuleType
from typing import Any

__all__ = ["QUICK_TAGS", "QuickApply", "set_slots", "twin"]


def twin() -> ModuleType:
    """The compiled ``fixengine._orders``, or this pure twin when it is not built or
    ``FIXENGINE_NO_EXTENSIONS=1``."""
    import sys

    from ..extensions import compiled

    return compiled("_orders") or sys.modules[__name__]


def set_slots(obj: object, descriptors: tuple[Any, ...], values: tuple[Any, ...]) -> None:
    """``descriptors[i].__set__(obj, values[i])`` for each field, in order."""
    if len(values) != len(descriptors):
        raise ValueError(f"set_slots: {len(values)} values for {len(descriptors)} descriptors")
    for descriptor, value in zip(descriptors, values, strict=True):
        setter = getattr(type(descriptor), "__set__", None)
        if setter is None:
            raise TypeError("set_slots: not a data descriptor")
        setter(descriptor, obj, value)


#: Tags whose presence leaves a report to the general path: ExecTransType, OrigClOrdID,
#: ExecRefID, StopPx, OrdRejReason, ExecRestatementReason.
_QUICK_ABSENT = (20, 41, 19, 99, 103, 378)
#: What :meth:`QuickApply.apply` reads of a report, in one :meth:`Message.pick`.
QUICK_TAGS = (
    35, 150, *_QUICK_ABSENT, 39, 17, 11, 54, 40, 59, 1, 55, 37, 58, 60, 38, 44, 32, 31, 14, 151,
    6, 43, 97,
)  # fmt: skip


_ZERO = Decimal(0)
#: ExecIDs an order keeps in a tuple before they become its set.
_TUPLE_EXEC_IDS = 8


def _ulp(value: Decimal) -> Decimal:
    """One unit in the last digit ``value`` is written with."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return Decimal(1).scaleb(exponent)


class QuickApply:
    """The quick path, bound to the state machine's tables.

    ``events`` maps ExecType wire values to the events of the reports taken (New,
    Trade); ``statuses``, ``sides``, ``ord_types`` and ``time_in_forces`` map wire
    values to enum members; ``pending_new``, ``new``, ``partially_filled`` and
    ``filled`` are the OrdStatus members; ``decimals`` is the Decimal cache that
    ``wire_decimal`` fills; ``fill`` makes a Fill.
    """

    def __init__(
        self,
        events: dict[bytes, Any],
        statuses: dict[bytes, Any],
        sides: dict[bytes, Any],
        ord_types: dict[bytes, Any],
        time_in_forces: dict[bytes, Any],
        pending_new: Any,
        new: Any,
        partially_filled: Any,
        filled: Any,
        decimals: dict[bytes, Decimal],
        wire_decimal: Callable[[bytes], Decimal],
        fill: Callable[..., Any],
    ) -> None:
        self._events = events
        self._statuses = statuses
        self._sides = sides
        self._ord_types = ord_types
        self._time_in_forces = time_in_forces
        self._pending_new = pending_new
        self._new = new
        self._partially_filled = partially_filled
        self._filled = filled
        self._decimals = decimals
        self._wire_decimal = wire_decimal
        self._fill = fill
        # the event of a fill: the one that is not New's
        self._trade = next(e for e in events.values() if e is not events[b"0"])
        self._new_event = events[b"0"]

    def apply(
        self,
        by_cl_ord_id: MutableMapping[str, Any],
        by_order_id: MutableMapping[str, Any] | None,
        msg: Any,
        now: float,
    ) -> tuple[Any, Any, Any, Any, str | None, bool] | None:
        """Apply ``msg`` to its order in ``by_cl_ord_id`` if it is a common report
        that fits; ``(order, event, previous status, fill or None, text, poss_dup)``,
        or None (nothing changed). The order, if its OrderID is set, is indexed in
        ``by_order_id`` (when given)."""
        (
            msg_type, exec_type, f20, f41, f19, f99, f103, f378, ord_status, raw_exec_id, raw_cl,
            raw_side, raw_ord_type, raw_tif, raw_account, raw_symbol, raw_order_id, raw_text,
            raw_transact_time, raw_qty, raw_px, raw_last_qty, raw_last_px, raw_cum, raw_leaves,
            raw_avg_px, poss_dup, poss_resend,
        ) = msg.pick(QUICK_TAGS)  # fmt: skip
        event = self._events.get(exec_type)
        if event is None or msg_type != b"8":
            return None
        if f20 or f41 or f19 or f99 or f103 or f378:
            return None
        reported = self._statuses.get(ord_status)
        if reported is None or not raw_exec_id or not raw_cl:
            return None
        wire_decimal = self._wire_decimal
        decimals = self._decimals
        pending_new = self._pending_new
        new = self._new
        filled = self._filled
        # text values must be ASCII and numbers well-formed: UnicodeDecodeError and the
        # parser's errors are ValueErrors, and the general path reports them
        try:
            cl = raw_cl.decode("ascii")
            order = by_cl_ord_id.get(cl)
            if order is None or order._pending or order.cl_ord_id != cl:
                return None
            exec_id = raw_exec_id.decode("ascii")
            if exec_id in order._exec_ids:
                return None  # a duplicate: the general path says so
            base = order.base_status
            if event is self._new_event:
                if base is pending_new:
                    by_qty = True
                elif base is new:
                    by_qty = False
                else:
                    return None
            elif base is pending_new or base is new or base is self._partially_filled:
                by_qty = True
            else:
                return None
            if raw_side and self._sides.get(raw_side) is not order.side:
                return None
            if raw_ord_type and raw_ord_type not in self._ord_types:
                return None
            if raw_tif and raw_tif not in self._time_in_forces:
                return None
            if raw_account and not raw_account.isascii():
                return None
            if raw_symbol and raw_symbol.decode("ascii") != order.symbol:
                return None
            order_id = raw_order_id.decode("ascii") if raw_order_id else None
            if (
                order_id is not None
                and order_id != "NONE"
                and order.order_id is not None
                and order_id != order.order_id
            ):
                return None
            text = raw_text.decode("ascii") if raw_text else None
            transact_time = raw_transact_time.decode("ascii") if raw_transact_time else None
            # numbers: the cached Decimal of a value seen before (None if not: parse it;
            # a zero is falsy, so "cached(raw) or ..." would parse every zero again)
            cached = decimals.get
            quantity = order.quantity
            if raw_qty:
                value = cached(raw_qty)
                if (value if value is not None else wire_decimal(raw_qty)) != quantity:
                    return None
            if raw_px and raw_px not in decimals:
                wire_decimal(raw_px)
            cum, notional = order._totals or order._sums()
            last_qty = last_px = None
            if event is self._trade:
                if not raw_last_qty:
                    return None
                last_qty = cached(raw_last_qty)
                if last_qty is None:
                    last_qty = wire_decimal(raw_last_qty)
                if not raw_last_px:
                    return None
                last_px = cached(raw_last_px)
                if last_px is None:
                    last_px = wire_decimal(raw_last_px)
                if last_qty <= 0:
                    return None
                cum = cum + last_qty
                notional = notional + last_qty * last_px
                if cum > quantity:
                    return None
            else:
                # read (and checked well-formed) as the general path does
                if raw_last_qty and raw_last_qty not in decimals:
                    wire_decimal(raw_last_qty)
                if raw_last_px and raw_last_px not in decimals:
                    wire_decimal(raw_last_px)
            if by_qty:
                status = filled if cum >= quantity else self._partially_filled if cum > 0 else new
            else:
                status = filled if cum >= quantity else base
            if reported is not status:
                return None
            if raw_cum:
                value = cached(raw_cum)
                if (value if value is not None else wire_decimal(raw_cum)) != cum:
                    return None
            if raw_leaves:
                value = cached(raw_leaves)
                if (value if value is not None else wire_decimal(raw_leaves)) != (
                    _ZERO if status is filled else quantity - cum
                ):
                    return None
            if raw_avg_px:
                avg_px = cached(raw_avg_px)
                if avg_px is None:
                    avg_px = wire_decimal(raw_avg_px)
                if cum > 0:
                    exact = notional / cum
                    if avg_px != exact and abs(avg_px - exact) >= _ulp(avg_px):
                        return None
        except ValueError:
            return None
        # the report fits: apply it as apply_execution_report does
        # a few ExecIDs stay a tuple, which the garbage collector stops tracking
        ids = order._exec_ids
        if type(ids) is tuple and len(ids) < _TUPLE_EXEC_IDS:
            order._exec_ids = (*ids, exec_id)
        else:
            order.exec_ids.add(exec_id)
        order.last_reported_status = reported
        if order_id is not None and order_id != "NONE":
            order.order_id = order_id
        fill = None
        if last_qty is not None:
            fill = self._fill(exec_id, last_qty, last_px, now, transact_time)
            order.fills.append(fill)
            order._totals = (cum, notional)  # what add_fill adds up, done above
        order.base_status = status
        if text is not None:
            order.text = text
        order.updated_at = now
        if by_order_id is not None and order.order_id is not None:
            by_order_id[order.order_id] = order
        return order, event, base, fill, text, poss_dup == b"Y" or poss_resend == b"Y"
