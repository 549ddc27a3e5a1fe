"""The simulator's fast path, in Python: the pure twin of ``fixengine._sim``.

Theory of operation
-------------------
:meth:`FastPath.fill` answers the common NewOrderSingle of a session with the
immediate fill model: a market or limit order, Buy or Sell, Day, GTC or IOC, not a
possible resend, that nothing on the book would trade with, so that the house fills
it whole on arrival. Its terms are one :meth:`Message.pick` of :data:`FAST_TAGS`
whose values are looked up as a cached :class:`~fixengine.sim.reports.OrderShape`;
the matching engine keeps the order as one tuple of plain values (see
``MatchingEngine._filled``), exactly as :meth:`MatchingEngine.submit` would have left
it; and the two reports (ExecutionReport New, then the house Trade) are copies of the
pair laid for the shape, with OrderID, ClOrdID, ExecID and TransactTime filled in.

Anything that may end another way returns False with nothing changed, and the
exchange's general path (parse the request, submit it, report the engine's events)
takes the message: the checks come in :meth:`MatchingEngine.submit`'s order of
precedence. ``ext/_sim.pyx`` is the same algorithm in C; tests/test_sim_fast_orders.py
runs both against the general path and against each other.
"""

from __future__ import annotations

from decimal import Decimal
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import FixError
from ..fields import utc_timestamp_millis as stamp
from .faults import FaultInjected
from .reports import FAST_TAGS, _fast_shapes, fast_shape

if TYPE_CHECKING:
    from ..codec import Message

__all__ = ["FAST_TAGS", "FastPath", "on_event", "on_message", "stamp", "twin"]

_ZERO = Decimal(0)


def twin() -> ModuleType:
    """The compiled ``fixengine._sim``, or this pure twin when it is not built or
    ``FIXENGINE_NO_EXTENSIONS=1``."""
    import sys

    from ..extensions import compiled

    return compiled("_sim") or sys.modules[__name__]


def on_message(exchange: Any, session: Any, message: Message) -> None:
    """``Exchange.on_message``: the exchange's fast path first (when on), else its
    general path."""
    if exchange.fast_orders and exchange._fast_path.fill(session, message):
        return
    exchange._request(session, message)


def on_event(exchange: Any, session: Any, event: Any) -> None:
    """``Exchange.on_event``, called after every event of every session: a fault injected
    on purpose is told (the exchange's ``notify``), anything else ignored."""
    if isinstance(event, FaultInjected):
        exchange._say(f"fault on {session.session_id}: {event.detail}")


def _report(
    laid: Message, order_id: str, raw_cl: bytes, exec_id: str, transact_time: bytes
) -> Message:
    """A copy of a report laid for the order's shape, with this order's IDs and time."""
    report = laid.copy()
    put = report.set
    put(37, order_id)
    put(11, raw_cl)
    put(17, exec_id)
    put(60, transact_time)
    return report


class FastPath:
    """The fast path of one exchange (see the module docstring).

    The containers it works on are read once from the exchange and its matching engine
    (the private ones, which are never replaced; those of another engine when the
    exchange is given one); the settings anyone may change (the engine's symbols,
    reference prices, tick size, ``max_done``, OrderID prefix, the exchange's clock
    and stats, the IDs' prefix) are read on every order.
    """

    def __init__(self, exchange: Any) -> None:
        self.exchange = exchange
        self.fast: dict[Any, tuple[Any, ...]] = exchange._fast
        self.opened: set[str] = exchange._opened
        self.engine: Any = None
        self._bind(exchange.engine)

    def _bind(self, engine: Any) -> None:
        self.engine = engine
        self.by_client: dict[tuple[str, str], str] = engine._by_client
        self.immediate: set[str] = engine._immediate
        self.books: dict[str, Any] = engine._books
        self.filled: dict[str, Any] = engine._filled
        self.done: Any = engine._done
        self.order_ids: Any = engine._ids
        self.seqs: Any = engine._seq
        self.match_ids: Any = engine._match_ids

    def fill(self, session: Any, message: Message) -> bool:
        """Fill ``message`` whole on arrival and send its two reports, if it is the common
        NewOrderSingle that can end no other way (see the module docstring); else False,
        nothing changed."""
        values = message.pick(FAST_TAGS)
        shape = _fast_shapes.get(values)
        if shape is None:
            shape = fast_shape(values)
            if shape is None:
                return False
        exchange = self.exchange
        fast = self.fast.get(session)
        if fast is None:
            fast = exchange._fast_entry(session)
            if fast is None:
                return False
        raw_cl = message.get(11)
        # a ClOrdID of printable ASCII but the space (what parse_request takes as it is)
        if not raw_cl or not raw_cl.isascii():
            return False
        cl_ord_id = raw_cl.decode()
        if not cl_ord_id.isprintable() or " " in cl_ord_id:
            return False
        symbol, buy, market, price, quantity, terms, account = shape.plan
        if symbol not in self.opened:
            return False
        owner, reports, send, pairs = fast
        engine = exchange.engine
        if engine is not self.engine:
            self._bind(engine)
        key = (owner, cl_ord_id)
        by_client = self.by_client
        if key in by_client or owner not in self.immediate:
            return False
        book = self.books.get(symbol)
        if book is None or book._stops:
            return False
        allowed = engine.symbols
        if allowed is not None and symbol not in allowed:
            return False
        # the best price on the other side, if any
        if buy:
            opposite = book._prices[False]
            best = opposite[0] if opposite else None
        else:
            opposite = book._prices[True]
            best = opposite[-1] if opposite else None
        fill_px: Decimal | None
        if market:
            if best is not None:
                return False
            fill_px = engine.reference_prices.get(symbol)
            if fill_px is None:
                fill_px = book.last_price
                if fill_px is None:
                    return False
        else:
            fill_px = price
            assert fill_px is not None
            if best is not None and (best <= fill_px if buy else best >= fill_px):
                return False
            if engine.tick_size is not None and engine._off_tick(symbol, fill_px) is not None:
                return False
        now = exchange.clock()
        # what submit() works out, step for step: leaves = qty - 0, then cum and notional
        # grow from 0 (the same Decimal operations, so the same digits and exponents)
        sums = engine._fill_sums
        if quantity is sums[0] and fill_px is sums[1]:
            cum, notional, avg = sums[2], sums[3], sums[4]
        else:
            qty = quantity - _ZERO
            cum = _ZERO + qty
            notional = _ZERO + qty * fill_px
            avg = notional / cum
            engine._fill_sums = (quantity, fill_px, cum, notional, avg)
        order_id = f"{engine.order_id_prefix}{next(self.order_ids)}"
        self.filled[order_id] = (
            owner, cl_ord_id, symbol, terms, quantity, price, account, next(self.seqs), cum,
            notional,
        )  # fmt: skip
        by_client[key] = order_id
        done = self.done
        done.append(order_id)
        if len(done) > engine.max_done:
            engine._forget()
        next(self.match_ids)
        book.last_price = fill_px
        stats = exchange.stats
        stats.orders += 1
        stats.trades += 1
        stats.executions += 1
        # the reports: copies of the pair last laid for the shape (the engine hands the
        # same Decimals while the prices stay: one compare each), one timestamp for both
        laid = pairs.get(shape)
        if laid is None or laid[0] is not fill_px or laid[1] is not avg:
            laid = reports._relay(shape, fill_px, avg)
        transact_time = stamp(now)
        # ExecIDs as IdSource.exec_id() makes them (the fast path is only taken when it
        # is not overridden); IDs go in as str (the message takes ASCII text as it is)
        ids = reports.ids
        prefix = ids.prefix
        execs = ids._execs
        new = _report(laid[4], order_id, raw_cl, f"E-{prefix}-{next(execs)}", transact_time)
        fill = _report(laid[5], order_id, raw_cl, f"E-{prefix}-{next(execs)}", transact_time)
        # both reports go to the session back to back; nothing was left to wake the
        # clock for (an order filled on arrival sets no timer), so no reschedule either
        for report in (new, fill):
            try:
                send(report)
            except FixError as exc:
                exchange._not_sent(owner, exc)
        return True
