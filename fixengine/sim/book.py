"""Limit order books and a matching engine for the simulator, with exact Decimals.

Theory of operation
-------------------
:class:`MatchingEngine` keeps one :class:`OrderBook` per symbol and every order by
OrderID and by (owner, ClOrdID); the owner is whatever names the session that sent
the order, so clients of different sessions trade with each other. Calls take the
typed requests of :mod:`fixengine.orders.model` and the time ``now`` (UTC epoch
seconds), and return the events they caused, in order (:class:`OrderAccepted`,
:class:`Trade`, :class:`OrderCanceled`, ...), each carrying immutable
:class:`OrderState` snapshots from which the simulator builds ExecutionReports.

Matching is price-time priority. A level is a dict in arrival order. An incoming
order trades against the best opposite level while it crosses (a buy at or above
the best ask, a sell at or below the best bid; market orders at any price), at the
resting order's price. What is left:

* limit DAY/GTC/GTD orders rest; IOC remainders are canceled; FOK orders trade
  only if the whole quantity can trade at once, else are canceled untouched;
* market orders never rest: what the book cannot fill is canceled (NO_LIQUIDITY);
* MinQty is an entry condition, as on CME Globex: at least MinQty must trade
  immediately or the order is canceled untouched; the remainder then rests with no
  minimum (a resting minimum could leave a crossed book);
* MaxFloor makes an iceberg: only MaxFloor shows; when the shown part is taken the
  next part shows at the back of the level (time priority is lost on each refresh);
* stop and stop-limit orders wait off the book until the last trade price reaches
  the stop price (buy: last >= StopPx, sell: last <= StopPx), then enter as market
  or limit orders with new time priority; triggers cascade, each stop once.

A replace keeps time priority when only the quantity goes down; a new price or a
larger quantity sends the order to the back (and may make it trade at once). A
quantity at or below CumQty fills the order, its OrderQty amended to CumQty (FIX
order state change matrices C.3.b, C.3.c). Side, symbol and order type cannot change.

Lone clients: a session may have a :mod:`fill model <fixengine.sim.fills>`. Its
orders still meet the book first; the house then fills what is left as the model
says (now, or later via :meth:`MatchingEngine.advance`), at the order's limit price
or, for market orders, the reference price (or last trade). House fills are trades
with one side (:attr:`Trade.sell` or :attr:`Trade.buy` is None).

Invariants (checked by the property tests): the book is never crossed or locked
after a call; every trade has the same price and quantity on both sides; no order
is ever filled beyond its quantity; a live order's CumQty + LeavesQty = OrderQty.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import datetime as _dt
import enum
import heapq
import itertools
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal

from ..orders.model import (
    CancelRequest,
    CxlRejReason,
    CxlRejResponseTo,
    NewOrderRequest,
    OrdRejReason,
    OrdStatus,
    OrdType,
    ReplaceRequest,
    Side,
    TimeInForce,
)
from .fills import FillModel, ImmediateFill

__all__ = [
    "BookEvent",
    "CancelReason",
    "CancelRejected",
    "Execution",
    "MatchingEngine",
    "OrderAccepted",
    "OrderBook",
    "OrderCanceled",
    "OrderExpired",
    "OrderRejected",
    "OrderReplaced",
    "OrderState",
    "RejectReason",
    "SelfTradePolicy",
    "StopTriggered",
    "Trade",
]

_ZERO = Decimal(0)
_SUPPORTED_TYPES = frozenset({OrdType.MARKET, OrdType.LIMIT, OrdType.STOP, OrdType.STOP_LIMIT})
_SUPPORTED_TIF = frozenset(
    {
        TimeInForce.DAY,
        TimeInForce.GOOD_TILL_CANCEL,
        TimeInForce.IMMEDIATE_OR_CANCEL,
        TimeInForce.FILL_OR_KILL,
        TimeInForce.GOOD_TILL_DATE,
    }
)
# members read on the fast path as globals (an Enum attribute costs ~10x a global on 3.11)
_BUY, _SELL = Side.BUY, Side.SELL
_MARKET, _LIMIT = OrdType.MARKET, OrdType.LIMIT
_DAY, _GTC, _IOC = (
    TimeInForce.DAY,
    TimeInForce.GOOD_TILL_CANCEL,
    TimeInForce.IMMEDIATE_OR_CANCEL,
)
_FILLED = OrdStatus.FILLED
#: (side, ord_type, tif) of an order filled on arrival (the simulator's fast path,
#: fixengine.sim._fast_py), by the index its record holds
_FILLED_TERMS = tuple(
    (side, ord_type, tif)
    for ord_type in (_MARKET, _LIMIT)
    for side in (_BUY, _SELL)
    for tif in (_DAY, _GTC, _IOC)
)
#: such an order: owner, ClOrdID, symbol, index of its terms, quantity, price, account,
#: seq, CumQty, notional
_FilledRecord = tuple[
    str, str, str, int, Decimal, Decimal | None, str | None, int, Decimal, Decimal
]
_RESTING_TIF = frozenset(
    {TimeInForce.DAY, TimeInForce.GOOD_TILL_CANCEL, TimeInForce.GOOD_TILL_DATE}
)


class RejectReason(enum.Enum):
    """Why an order was refused on entry; ``ord_rej_reason`` is the FIX code."""

    MISSING_CL_ORD_ID = "ClOrdID missing"
    DUPLICATE_CL_ORD_ID = "duplicate ClOrdID"
    UNKNOWN_SYMBOL = "unknown symbol"
    UNSUPPORTED_SIDE = "side not supported"
    UNSUPPORTED_ORDER_TYPE = "order type not supported"
    UNSUPPORTED_TIME_IN_FORCE = "time in force not supported"
    INVALID_PRICE_INCREMENT = "price not a multiple of the tick size"
    TOO_LATE = "expire time already passed"
    FILL_MODEL = "rejected by the fill model"

    @property
    def ord_rej_reason(self) -> OrdRejReason:
        """OrdRejReason(103) for the reject (values from FIX 4.4; map down for 4.2)."""
        return _ORD_REJ.get(self, OrdRejReason.OTHER)


_ORD_REJ = {
    RejectReason.DUPLICATE_CL_ORD_ID: OrdRejReason.DUPLICATE_ORDER,
    RejectReason.UNKNOWN_SYMBOL: OrdRejReason.UNKNOWN_SYMBOL,
    RejectReason.UNSUPPORTED_SIDE: OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
    RejectReason.UNSUPPORTED_ORDER_TYPE: OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
    RejectReason.UNSUPPORTED_TIME_IN_FORCE: OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
    RejectReason.INVALID_PRICE_INCREMENT: OrdRejReason.INVALID_PRICE_INCREMENT,
    RejectReason.TOO_LATE: OrdRejReason.TOO_LATE_TO_ENTER,
    RejectReason.FILL_MODEL: OrdRejReason.BROKER_OPTION,
}


class CancelReason(enum.Enum):
    """Why an order was canceled."""

    REQUESTED = "canceled on request"
    MASS_CANCEL = "canceled by a mass cancel"
    IOC_REMAINDER = "immediate-or-cancel remainder"
    FOK_NOT_FILLED = "fill-or-kill could not fill completely"
    MIN_QTY_NOT_MET = "MinQty could not trade on entry"
    NO_LIQUIDITY = "market order: nothing left to trade against"
    NO_REFERENCE_PRICE = "market order: no price to fill at"
    SELF_TRADE = "self-trade prevention"


class SelfTradePolicy(enum.Enum):
    """What happens when an order would trade with an order of the same owner."""

    ALLOW = "allow"
    CANCEL_RESTING = "cancel resting"
    CANCEL_INCOMING = "cancel incoming"


@dataclasses.dataclass(frozen=True, slots=True)
class OrderState:
    """An order as the engine holds it, at one moment (what an ExecutionReport shows)."""

    order_id: str
    owner: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    symbol: str
    side: Side
    ord_type: OrdType
    order_qty: Decimal
    price: Decimal | None
    stop_px: Decimal | None
    time_in_force: TimeInForce
    status: OrdStatus
    cum_qty: Decimal
    leaves_qty: Decimal
    avg_px: Decimal
    account: str | None = None
    min_qty: Decimal | None = None
    max_floor: Decimal | None = None
    expire_time: float | None = None
    triggered: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class OrderAccepted:
    """The order is on the venue (resting, waiting for its stop, or about to trade)."""

    order: OrderState


@dataclasses.dataclass(frozen=True, slots=True)
class OrderRejected:
    """The order was refused on entry; ``order`` has status REJECTED and no fills."""

    order: OrderState
    reason: RejectReason
    text: str


@dataclasses.dataclass(frozen=True, slots=True)
class Execution:
    """One side of a trade: the order after the fill, LastQty and LastPx."""

    order: OrderState
    last_qty: Decimal
    last_px: Decimal
    aggressor: bool
    contra_owner: str | None  # None for a house fill


@dataclasses.dataclass(frozen=True, slots=True)
class Trade:
    """A match; ``buy``/``sell`` are the two sides (one is None for a house fill)."""

    symbol: str
    price: Decimal
    quantity: Decimal
    match_id: int
    buy: Execution | None
    sell: Execution | None

    @property
    def executions(self) -> tuple[Execution, ...]:
        """The client sides of the trade (one ExecutionReport each)."""
        return tuple(e for e in (self.buy, self.sell) if e is not None)


@dataclasses.dataclass(frozen=True, slots=True)
class OrderCanceled:
    """The order is canceled; ``request_cl_ord_id`` is the cancel's ClOrdID, if one asked."""

    order: OrderState
    reason: CancelReason
    request_cl_ord_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class OrderReplaced:
    """The order has new terms; ``order.orig_cl_ord_id`` is the ClOrdID it replaced."""

    order: OrderState
    kept_priority: bool


@dataclasses.dataclass(frozen=True, slots=True)
class CancelRejected:
    """A cancel or replace could not be done (answer with an OrderCancelReject)."""

    owner: str
    cl_ord_id: str
    orig_cl_ord_id: str
    response_to: CxlRejResponseTo
    reason: CxlRejReason
    text: str
    order: OrderState | None


@dataclasses.dataclass(frozen=True, slots=True)
class OrderExpired:
    """A DAY order at the end of the day, or a GTD order at its expire time."""

    order: OrderState


@dataclasses.dataclass(frozen=True, slots=True)
class StopTriggered:
    """A stop order's stop price was reached; it now works as a market or limit order."""

    order: OrderState


BookEvent = (
    OrderAccepted
    | OrderRejected
    | Trade
    | OrderCanceled
    | OrderReplaced
    | CancelRejected
    | OrderExpired
    | StopTriggered
)


# -- engine internals -------------------------------------------------------------------------


@dataclasses.dataclass(slots=True, eq=False)
class _Order:
    order_id: str
    owner: str
    cl_ord_id: str
    symbol: str
    side: Side
    ord_type: OrdType
    quantity: Decimal
    price: Decimal | None
    stop_px: Decimal | None
    tif: TimeInForce
    seq: int
    min_qty: Decimal | None = None
    max_floor: Decimal | None = None
    expire_time: float | None = None
    account: str | None = None
    orig_cl_ord_id: str | None = None
    cum: Decimal = _ZERO
    notional: Decimal = _ZERO
    status: OrdStatus = OrdStatus.NEW
    display: Decimal = _ZERO
    triggered: bool = False
    where: str = ""  # "book", "stops", "parked" or "" (not held)
    version: int = 0  # bumped whenever a planned house fill becomes void
    house: tuple[float, Decimal] | None = None  # the planned house fill (time, quantity)

    @property
    def is_buy(self) -> bool:
        return self.side.is_buy

    @property
    def live(self) -> bool:
        status = self.status
        return status is OrdStatus.NEW or status is OrdStatus.PARTIALLY_FILLED

    @property
    def leaves(self) -> Decimal:
        status = self.status
        if status is OrdStatus.NEW or status is OrdStatus.PARTIALLY_FILLED:
            return self.quantity - self.cum
        return _ZERO

    @property
    def market_like(self) -> bool:
        """Trades at any price: a market order or a triggered stop."""
        return self.ord_type is OrdType.MARKET or (self.ord_type is OrdType.STOP and self.triggered)

    def reset_display(self) -> None:
        leaves = self.leaves
        self.display = min(self.max_floor, leaves) if self.max_floor is not None else leaves

    def state(self) -> OrderState:
        return OrderState(
            order_id=self.order_id,
            owner=self.owner,
            cl_ord_id=self.cl_ord_id,
            orig_cl_ord_id=self.orig_cl_ord_id,
            symbol=self.symbol,
            side=self.side,
            ord_type=self.ord_type,
            order_qty=self.quantity,
            price=self.price,
            stop_px=self.stop_px,
            time_in_force=self.tif,
            status=self.status,
            cum_qty=self.cum,
            leaves_qty=self.leaves,
            avg_px=self.notional / self.cum if self.cum else _ZERO,
            account=self.account,
            min_qty=self.min_qty,
            max_floor=self.max_floor,
            expire_time=self.expire_time,
            triggered=self.triggered,
        )


class OrderBook:
    """The resting orders of one symbol: bids and asks by price level, stops apart."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.last_price: Decimal | None = None
        self._levels: dict[bool, dict[Decimal, dict[str, _Order]]] = {True: {}, False: {}}
        self._prices: dict[bool, list[Decimal]] = {True: [], False: []}  # ascending
        self._stops: dict[str, _Order] = {}
        self._parked: dict[str, _Order] = {}

    # -- reading --------------------------------------------------------------------------
    def best_bid(self) -> Decimal | None:
        """Highest bid price, or None."""
        prices = self._prices[True]
        return prices[-1] if prices else None

    def best_ask(self) -> Decimal | None:
        """Lowest ask price, or None."""
        prices = self._prices[False]
        return prices[0] if prices else None

    def depth(
        self, levels: int = 5
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """(bids, asks), best first: (price, shown quantity) per level."""
        out: list[list[tuple[Decimal, Decimal]]] = []
        for buy in (True, False):
            rows = []
            for price in itertools.islice(self._walk(buy), levels):
                shown = sum((o.display for o in self._levels[buy][price].values()), _ZERO)
                rows.append((price, shown))
            out.append(rows)
        return out[0], out[1]

    def orders(self, side_is_buy: bool | None = None) -> Iterator[OrderState]:
        """Resting orders in priority order (bids first unless a side is given)."""
        sides = (True, False) if side_is_buy is None else (side_is_buy,)
        for buy in sides:
            for price in self._walk(buy):
                for order in self._levels[buy][price].values():
                    yield order.state()

    def stops(self) -> list[OrderState]:
        """Stop orders waiting for their trigger, in arrival order."""
        return [o.state() for o in self._stops.values()]

    def __len__(self) -> int:
        return sum(len(lv) for side in self._levels.values() for lv in side.values())

    # -- internals ----------------------------------------------------------------------------
    def _walk(self, buy: bool) -> Iterator[Decimal]:
        """Price levels of a side, best first."""
        prices = self._prices[buy]
        return reversed(prices) if buy else iter(prices)

    def _best(self, buy: bool) -> Decimal | None:
        return self.best_bid() if buy else self.best_ask()

    def _add(self, order: _Order) -> None:
        assert order.price is not None
        buy = order.is_buy
        level = self._levels[buy].get(order.price)
        if level is None:
            level = self._levels[buy][order.price] = {}
            bisect.insort(self._prices[buy], order.price)
        level[order.order_id] = order
        order.where = "book"

    def _remove(self, order: _Order) -> None:
        if order.where == "book":
            assert order.price is not None
            buy = order.is_buy
            level = self._levels[buy][order.price]
            del level[order.order_id]
            if not level:
                del self._levels[buy][order.price]
                prices = self._prices[buy]
                del prices[bisect.bisect_left(prices, order.price)]
        elif order.where == "stops":
            del self._stops[order.order_id]
        elif order.where == "parked":
            del self._parked[order.order_id]
        order.where = ""

    def _requeue(self, order: _Order) -> None:
        """Move a resting order to the back of its level."""
        assert order.price is not None
        level = self._levels[order.is_buy][order.price]
        del level[order.order_id]
        level[order.order_id] = order


def _crosses(incoming: _Order, price: Decimal) -> bool:
    if incoming.market_like:
        return True
    assert incoming.price is not None
    return price <= incoming.price if incoming.is_buy else price >= incoming.price


def _stop_reached(order: _Order, last: Decimal) -> bool:
    assert order.stop_px is not None
    return last >= order.stop_px if order.is_buy else last <= order.stop_px


def _date_end(day: _dt.date) -> float:
    """End of ``day`` (UTC) as epoch seconds: when a GTD order with ExpireDate expires."""
    end = _dt.datetime(day.year, day.month, day.day, tzinfo=_dt.timezone.utc) + _dt.timedelta(1)
    return end.timestamp()


class MatchingEngine:
    """Order books for every symbol, matching, and house fills for lone clients.

    ``symbols`` limits the symbols accepted (None: any); ``tick_size`` (Decimal or
    a mapping symbol -> Decimal) refuses prices off the tick; ``reference_prices``
    price market orders the house fills. ``max_done`` bounds how many finished
    orders are remembered (for "too late to cancel" answers and duplicate ClOrdIDs).
    """

    def __init__(
        self,
        *,
        symbols: Iterable[str] | None = None,
        tick_size: Decimal | Mapping[str, Decimal] | None = None,
        self_trade: SelfTradePolicy = SelfTradePolicy.ALLOW,
        reference_prices: Mapping[str, Decimal] | None = None,
        order_id_prefix: str = "",
        max_done: int = 100_000,
    ) -> None:
        self.symbols = None if symbols is None else frozenset(symbols)
        self.tick_size = tick_size
        self.self_trade = self_trade
        self.reference_prices: dict[str, Decimal] = dict(reference_prices or {})
        self.order_id_prefix = order_id_prefix
        self.max_done = max_done
        self._books: dict[str, OrderBook] = {}
        self._order_map: dict[str, _Order] = {}  # by OrderID, oldest first (see _orders)
        # orders the fast path filled on arrival (fixengine.sim._fast_py), by OrderID, in
        # arrival order: kept as tuples of plain values (which the garbage collector stops
        # tracking) and made into _Order records only when something reads the orders
        # (see _orders)
        self._filled: dict[str, _FilledRecord] = {}
        self._by_client: dict[tuple[str, str], str] = {}  # (owner, ClOrdID) -> OrderID
        # every ClOrdID of an order that had more than its own (a cancel or replace), by
        # OrderID; an order absent here is known by its cl_ord_id alone
        self._client_ids: dict[str, list[str]] = {}
        # OrderIDs of finished orders, oldest first (an order finishes once)
        self._done: collections.deque[str] = collections.deque()
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._match_ids = itertools.count(1)
        self._timers = itertools.count(1)
        self._models: dict[str, FillModel] = {}
        self._immediate: set[str] = set()  # owners whose model is ImmediateFill
        self._house: list[tuple[float, int, str, int, Decimal]] = []  # (t, n, id, version, qty)
        self._expiry: list[tuple[float, int, str]] = []
        # the fast path: (quantity, price, CumQty, notional, AvgPx) of the last fill it worked out
        self._fill_sums: tuple[Decimal | None, Decimal | None, Decimal, Decimal, Decimal] = (
            None, None, _ZERO, _ZERO, _ZERO,
        )  # fmt: skip

    @property
    def _orders(self) -> dict[str, _Order]:
        """Every order remembered, by OrderID, oldest first: the orders filled on arrival
        (kept in ``_filled``) are added to the map on the first read after them, so such
        an order costs one tuple unless it is ever looked at again."""
        if self._filled:
            self._file_filled()
        return self._order_map

    def _file_filled(self) -> None:
        orders = self._order_map
        for order_id, record in self._filled.items():
            owner, cl_ord_id, symbol, terms, quantity, price, account, seq, cum, notional = record
            side, ord_type, tif = _FILLED_TERMS[terms]
            orders[order_id] = _Order(
                order_id=order_id,
                owner=owner,
                cl_ord_id=cl_ord_id,
                symbol=symbol,
                side=side,
                ord_type=ord_type,
                quantity=quantity,
                price=price,
                stop_px=None,
                tif=tif,
                seq=seq,
                account=account,
                cum=cum,
                notional=notional,
                status=_FILLED,
                # planned, carried out, finished, planned again, finished: as submit()
                version=4,
            )
        self._filled.clear()

    # -- configuration and reading ----------------------------------------------------------
    def set_fill_model(self, owner: str, model: FillModel | None) -> None:
        """Give ``owner``'s future orders a fill model (None: the book only)."""
        if model is None:
            self._models.pop(owner, None)
        else:
            self._models[owner] = model
        if type(model) is ImmediateFill:
            self._immediate.add(owner)
        else:
            self._immediate.discard(owner)

    def fill_model(self, owner: str) -> FillModel | None:
        """The fill model of ``owner``, if any."""
        return self._models.get(owner)

    def book(self, symbol: str) -> OrderBook:
        """The book of ``symbol`` (created empty on first use)."""
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = OrderBook(symbol)
        return book

    def books(self) -> dict[str, OrderBook]:
        """Every book there is, by symbol."""
        return dict(self._books)

    def order(self, order_id: str) -> OrderState | None:
        """An order by OrderID (live, or finished and still remembered)."""
        order = self._orders.get(order_id)
        return None if order is None else order.state()

    def find(self, owner: str, cl_ord_id: str) -> OrderState | None:
        """The order ``owner`` knows as ``cl_ord_id`` (any ClOrdID it had)."""
        order_id = self._by_client.get((owner, cl_ord_id))
        return None if order_id is None else self.order(order_id)

    def orders(self, owner: str | None = None, *, live_only: bool = True) -> list[OrderState]:
        """Orders (of ``owner``), oldest first."""
        return [
            o.state()
            for o in self._orders.values()
            if (owner is None or o.owner == owner) and (o.live or not live_only)
        ]

    def set_last_price(self, symbol: str, price: Decimal, now: float) -> list[BookEvent]:
        """Set the last trade price (e.g. from a reference feed); stops may trigger."""
        book = self.book(symbol)
        book.last_price = price
        events: list[BookEvent] = []
        self._trigger_stops(book, now, events)
        return events

    def _prune(self) -> None:
        """Drop timers whose order has finished or changed since they were set."""
        # (timers are never set for the orders filled on arrival, kept apart)
        house, expiry, orders = self._house, self._expiry, self._order_map
        while house:
            order = orders.get(house[0][2])
            if order is not None and order.live and order.version == house[0][3]:
                break
            heapq.heappop(house)
        while expiry:
            order = orders.get(expiry[0][2])
            if order is not None and order.live and order.expire_time == expiry[0][0]:
                break
            heapq.heappop(expiry)

    def next_wakeup(self) -> float | None:
        """When :meth:`advance` next has something to do (a house fill, an expiry)."""
        self._prune()
        times = []
        if self._house:
            times.append(self._house[0][0])
        if self._expiry:
            times.append(self._expiry[0][0])
        return min(times) if times else None

    # -- entering orders ----------------------------------------------------------------------
    def _new_id(self) -> str:
        return f"{self.order_id_prefix}{next(self._ids)}"

    def _reject(
        self, owner: str, request: NewOrderRequest, reason: RejectReason, text: str
    ) -> OrderRejected:
        state = OrderState(
            order_id=self._new_id(),
            owner=owner,
            cl_ord_id=request.cl_ord_id or "",
            orig_cl_ord_id=None,
            symbol=request.symbol,
            side=request.side,
            ord_type=request.ord_type,
            order_qty=request.quantity,
            price=request.price,
            stop_px=request.stop_px,
            time_in_force=request.time_in_force,
            status=OrdStatus.REJECTED,
            cum_qty=_ZERO,
            leaves_qty=_ZERO,
            avg_px=_ZERO,
            account=request.account,
        )
        return OrderRejected(state, reason, text)

    def _tick(self, symbol: str) -> Decimal | None:
        tick = self.tick_size
        if tick is None or isinstance(tick, Decimal):
            return tick
        return tick.get(symbol)

    def _off_tick(self, symbol: str, *prices: Decimal | None) -> Decimal | None:
        tick = self._tick(symbol)
        if tick is None:
            return None
        for price in prices:
            if price is not None and price % tick != 0:
                return price
        return None

    def _check_entry(
        self, owner: str, request: NewOrderRequest, now: float
    ) -> tuple[RejectReason, str] | None:
        if request.cl_ord_id is None:
            return RejectReason.MISSING_CL_ORD_ID, "ClOrdID(11) is required"
        if (owner, request.cl_ord_id) in self._by_client:
            return RejectReason.DUPLICATE_CL_ORD_ID, f"ClOrdID {request.cl_ord_id!r} already used"
        if self.symbols is not None and request.symbol not in self.symbols:
            return RejectReason.UNKNOWN_SYMBOL, f"unknown symbol {request.symbol!r}"
        if not (request.side.is_buy or request.side.is_sell):
            return RejectReason.UNSUPPORTED_SIDE, f"side {request.side.name} is not supported"
        if request.ord_type not in _SUPPORTED_TYPES:
            return (
                RejectReason.UNSUPPORTED_ORDER_TYPE,
                f"OrdType {request.ord_type.name} is not supported",
            )
        if request.time_in_force not in _SUPPORTED_TIF:
            return (
                RejectReason.UNSUPPORTED_TIME_IN_FORCE,
                f"TimeInForce {request.time_in_force.name} is not supported",
            )
        off = self._off_tick(request.symbol, request.price, request.stop_px)
        if off is not None:
            return (
                RejectReason.INVALID_PRICE_INCREMENT,
                f"price {off} is not a multiple of the tick {self._tick(request.symbol)}",
            )
        expire = _expire_time(request.expire_time, request.expire_date)
        if expire is not None and expire <= now:
            return RejectReason.TOO_LATE, f"expire time {expire} is not after now ({now})"
        return None

    def submit(self, owner: str, request: NewOrderRequest, now: float) -> list[BookEvent]:
        """Enter a NewOrderSingle from ``owner``; the events it caused, in order."""
        problem = self._check_entry(owner, request, now)
        if problem is not None:
            # a rejected ClOrdID stays used (FIX: unique per day), unless it was a duplicate
            reject = self._reject(owner, request, *problem)
            if problem[0] is not RejectReason.DUPLICATE_CL_ORD_ID and request.cl_ord_id:
                self._by_client[(owner, request.cl_ord_id)] = reject.order.order_id
            return [reject]
        assert request.cl_ord_id is not None
        order = _Order(
            order_id=self._new_id(),
            owner=owner,
            cl_ord_id=request.cl_ord_id,
            symbol=request.symbol,
            side=request.side,
            ord_type=request.ord_type,
            quantity=request.quantity,
            price=request.price,
            stop_px=request.stop_px,
            tif=request.time_in_force,
            seq=next(self._seq),
            min_qty=request.min_qty,
            max_floor=request.max_floor,
            expire_time=_expire_time(request.expire_time, request.expire_date),
            account=request.account,
        )
        model = self._models.get(owner)
        if model is not None:
            text = model.rejects(order.state())
            if text is not None:
                reject = self._reject(owner, request, RejectReason.FILL_MODEL, text)
                self._by_client[(owner, order.cl_ord_id)] = reject.order.order_id
                return [reject]
        self._orders[order.order_id] = order
        self._remember(owner, order.cl_ord_id, order)
        if order.expire_time is not None:
            heapq.heappush(self._expiry, (order.expire_time, next(self._timers), order.order_id))
        events: list[BookEvent] = [OrderAccepted(order.state())]
        book = self.book(order.symbol)
        if order.ord_type in (OrdType.STOP, OrdType.STOP_LIMIT):
            if book.last_price is None or not _stop_reached(order, book.last_price):
                book._stops[order.order_id] = order
                order.where = "stops"
                return events
            self._trigger(order, events)
        self._work(order, now, events, entry=True)
        self._trigger_stops(book, now, events)
        return events

    def _remember(self, owner: str, cl_ord_id: str, order: _Order) -> None:
        self._by_client[(owner, cl_ord_id)] = order.order_id
        ids = self._client_ids.get(order.order_id)
        if ids is not None:
            ids.append(cl_ord_id)
        elif cl_ord_id != order.cl_ord_id:  # (before a replace changes cl_ord_id)
            self._client_ids[order.order_id] = [order.cl_ord_id, cl_ord_id]

    def _trigger(self, order: _Order, events: list[BookEvent]) -> None:
        order.triggered = True
        order.seq = next(self._seq)
        events.append(StopTriggered(order.state()))

    # -- matching ---------------------------------------------------------------------------
    def _house_price(self, order: _Order) -> Decimal | None:
        if not order.market_like:
            return order.price
        ref = self.reference_prices.get(order.symbol)
        return ref if ref is not None else self.book(order.symbol).last_price

    def _house_now(self, order: _Order, now: float) -> Decimal:
        """What the owner's fill model would fill at once (for FOK / MinQty)."""
        model = self._models.get(order.owner)
        if model is None or self._house_price(order) is None:
            return _ZERO
        plan = model.next_fill(order.state(), now)
        if plan is None or plan[0] > now:
            return _ZERO
        return min(plan[1], order.leaves)

    def _available(self, order: _Order) -> Decimal:
        """Quantity the book could trade with ``order`` right now (hidden parts included)."""
        book = self.book(order.symbol)
        total = _ZERO
        for price in book._walk(not order.is_buy):
            if not _crosses(order, price):
                break
            for resting in book._levels[not order.is_buy][price].values():
                if resting.owner == order.owner:
                    if self.self_trade is SelfTradePolicy.CANCEL_INCOMING:
                        return total
                    if self.self_trade is SelfTradePolicy.CANCEL_RESTING:
                        continue
                total += resting.leaves
        return total

    def _work(self, order: _Order, now: float, events: list[BookEvent], *, entry: bool) -> None:
        """Trade an incoming (or repriced, or triggered) order, then rest or cancel the rest."""
        if entry and (order.tif is TimeInForce.FILL_OR_KILL or order.min_qty is not None):
            fok = order.tif is TimeInForce.FILL_OR_KILL
            need = order.quantity if fok else order.min_qty
            assert need is not None
            if self._available(order) + self._house_now(order, now) < need:
                reason = CancelReason.FOK_NOT_FILLED if fok else CancelReason.MIN_QTY_NOT_MET
                self._cancel(order, reason, None, events)
                return
        self._match(order, now, events)
        if not order.live:
            return
        if order.owner in self._models:
            self._schedule_house(order, now)
            self._run_house(now, events, only=order.order_id)
            if not order.live:
                return
        if order.market_like:
            if order.owner in self._models and self._house_price(order) is None:
                self._cancel(order, CancelReason.NO_REFERENCE_PRICE, None, events)
            elif self._pending_house(order):
                self._park(order)  # the house fills it later
            else:
                self._cancel(order, CancelReason.NO_LIQUIDITY, None, events)
        elif order.tif not in _RESTING_TIF:
            reason = (
                CancelReason.FOK_NOT_FILLED
                if order.tif is TimeInForce.FILL_OR_KILL
                else CancelReason.IOC_REMAINDER
            )
            self._cancel(order, reason, None, events)
        elif order.where != "book":
            order.reset_display()
            self.book(order.symbol)._add(order)

    def _park(self, order: _Order) -> None:
        book = self.book(order.symbol)
        book._parked[order.order_id] = order
        order.where = "parked"

    def _match(self, order: _Order, now: float, events: list[BookEvent]) -> None:
        book = self.book(order.symbol)
        buy = order.is_buy
        opposite = book._levels[not buy]
        while order.leaves > 0:
            best = book._best(not buy)
            if best is None or not _crosses(order, best):
                return
            level = opposite[best]
            resting = next(iter(level.values()))
            if resting.owner == order.owner and self.self_trade is not SelfTradePolicy.ALLOW:
                if self.self_trade is SelfTradePolicy.CANCEL_RESTING:
                    self._cancel(resting, CancelReason.SELF_TRADE, None, events)
                    continue
                self._cancel(order, CancelReason.SELF_TRADE, None, events)
                return
            if resting.display <= 0:  # never expected: heal rather than trade nothing forever
                resting.reset_display()
                if resting.display <= 0:
                    book._remove(resting)
                    continue
            self._fill(order, min(order.leaves, resting.display), best, events, resting=resting)

    def _apply_fill(self, order: _Order, qty: Decimal, price: Decimal) -> None:
        order.cum += qty
        order.notional += qty * price
        order.status = (
            OrdStatus.FILLED if order.cum >= order.quantity else OrdStatus.PARTIALLY_FILLED
        )
        if not order.live:
            self.book(order.symbol)._remove(order)
            self._finish(order)
        elif order.where == "book":
            order.display -= qty
            if order.display <= 0:
                # an iceberg's shown part is gone: show the next part, at the back
                order.reset_display()
                order.seq = next(self._seq)
                self.book(order.symbol)._requeue(order)

    def _fill(
        self,
        order: _Order,
        qty: Decimal,
        price: Decimal,
        events: list[BookEvent],
        *,
        resting: _Order | None,
    ) -> None:
        """Execute ``qty`` at ``price``: against ``resting``, or the house if None."""
        self._apply_fill(order, qty, price)
        if resting is not None:
            self._apply_fill(resting, qty, price)
        mine = Execution(
            order.state(), qty, price, True, resting.owner if resting is not None else None
        )
        theirs = (
            None if resting is None else Execution(resting.state(), qty, price, False, order.owner)
        )
        buy, sell = (mine, theirs) if order.is_buy else (theirs, mine)
        events.append(Trade(order.symbol, price, qty, next(self._match_ids), buy, sell))
        self.book(order.symbol).last_price = price

    def _trigger_stops(self, book: OrderBook, now: float, events: list[BookEvent]) -> None:
        """Trigger every stop the last price has reached, in arrival order, cascading."""
        while book.last_price is not None:
            due = [o for o in book._stops.values() if _stop_reached(o, book.last_price)]
            if not due:
                return
            for order in due:
                if order.where != "stops":
                    continue
                book._remove(order)
                self._trigger(order, events)
                self._work(order, now, events, entry=True)  # FOK / MinQty apply from here

    # -- house fills (lone clients) -----------------------------------------------------------
    def _schedule_house(self, order: _Order, after: float) -> None:
        """Ask the owner's model for the next house fill; any earlier plan is void."""
        model = self._models.get(order.owner)
        order.version += 1
        order.house = None
        if model is None or not order.live:
            return
        plan = model.next_fill(order.state(), after)
        if plan is not None and plan[1] > 0:
            order.house = plan
            entry = (plan[0], next(self._timers), order.order_id, order.version, plan[1])
            heapq.heappush(self._house, entry)

    def _pending_house(self, order: _Order) -> bool:
        return order.house is not None

    def _run_house(self, now: float, events: list[BookEvent], *, only: str | None = None) -> None:
        """Carry out the house fills due by ``now`` (only ``only``'s, if given), in time order."""
        if only is None:
            while self._house and self._house[0][0] <= now:
                self._house_fill(heapq.heappop(self._house), now, events)
            return
        order = self._orders.get(only)
        while order is not None and order.house is not None and order.house[0] <= now:
            t, qty = order.house
            self._house_fill((t, 0, only, order.version, qty), now, events)

    def _house_fill(
        self, entry: tuple[float, int, str, int, Decimal], now: float, events: list[BookEvent]
    ) -> None:
        t, _, order_id, version, qty = entry
        order = self._orders.get(order_id)
        if order is None or not order.live or order.version != version:
            return  # superseded by a replace, a fill, a cancel
        order.version += 1  # this plan is being carried out: its heap entry is spent
        order.house = None
        if order.where == "stops":
            return  # not active yet; planned again when the stop triggers
        price = self._house_price(order)
        if price is None:
            if order.where == "parked":
                self._cancel(order, CancelReason.NO_REFERENCE_PRICE, None, events)
            return
        self._fill(order, min(qty, order.leaves), price, events, resting=None)
        self._schedule_house(order, t)
        self._trigger_stops(self.book(order.symbol), now, events)

    def fill(self, order_id: str, quantity: Decimal, price: Decimal, now: float) -> list[BookEvent]:
        """The house fills ``quantity`` of a working order at ``price`` (capped at LeavesQty)."""
        order = self._orders.get(order_id)
        if order is None or not order.live or order.where == "stops" or quantity <= 0:
            return []
        events: list[BookEvent] = []
        self._fill(order, min(quantity, order.leaves), price, events, resting=None)
        self._trigger_stops(self.book(order.symbol), now, events)
        return events

    # -- cancel, replace, expiry ------------------------------------------------------------
    def _finish(self, order: _Order) -> None:
        order.version += 1
        order.house = None
        self._done.append(order.order_id)
        if len(self._done) > self.max_done:
            self._forget()

    def _forget(self) -> None:
        """Drop the oldest finished orders beyond ``max_done``."""
        while len(self._done) > self.max_done:
            old = self._done.popleft()
            gone = self._order_map.pop(old, None)
            if gone is not None:
                for cl in self._client_ids.pop(old, None) or (gone.cl_ord_id,):
                    self._by_client.pop((gone.owner, cl), None)
                continue
            filled = self._filled.pop(old, None)  # (never replaced: no other ClOrdID)
            if filled is not None:
                self._by_client.pop((filled[0], filled[1]), None)

    def _cancel(
        self,
        order: _Order,
        reason: CancelReason,
        request_cl_ord_id: str | None,
        events: list[BookEvent],
    ) -> None:
        self.book(order.symbol)._remove(order)
        order.status = OrdStatus.CANCELED
        self._finish(order)
        events.append(OrderCanceled(order.state(), reason, request_cl_ord_id))

    def _target(
        self, owner: str, cl_ord_id: str, orig: str, order_id: str | None, to: CxlRejResponseTo
    ) -> _Order | CancelRejected:
        """The order a cancel/replace is for, or the reject to send."""
        if (owner, cl_ord_id) in self._by_client:
            return CancelRejected(
                owner, cl_ord_id, orig, to, CxlRejReason.DUPLICATE_CL_ORD_ID,
                f"ClOrdID {cl_ord_id!r} already used", None,
            )  # fmt: skip
        found = self._by_client.get((owner, orig))
        if found is None and order_id is not None:
            candidate = self._orders.get(order_id)
            if candidate is not None and candidate.owner == owner:
                found = order_id
        order = self._orders.get(found) if found is not None else None
        if order is None:
            return CancelRejected(
                owner, cl_ord_id, orig, to, CxlRejReason.UNKNOWN_ORDER,
                f"no order {orig!r}", None,
            )  # fmt: skip
        if not order.live:
            return CancelRejected(
                owner, cl_ord_id, orig, to, CxlRejReason.TOO_LATE_TO_CANCEL,
                f"order {orig!r} is {order.status.name}", order.state(),
            )  # fmt: skip
        return order

    def cancel(self, owner: str, request: CancelRequest, now: float) -> list[BookEvent]:
        """An OrderCancelRequest from ``owner``."""
        target = self._target(
            owner,
            request.cl_ord_id,
            request.orig_cl_ord_id,
            request.order_id,
            CxlRejResponseTo.ORDER_CANCEL_REQUEST,
        )
        if isinstance(target, CancelRejected):
            return [target]
        self._remember(owner, request.cl_ord_id, target)
        events: list[BookEvent] = []
        self._cancel(target, CancelReason.REQUESTED, request.cl_ord_id, events)
        return events

    def mass_cancel(
        self,
        owner: str,
        now: float,
        *,
        symbol: str | None = None,
        side: Side | None = None,
        reason: CancelReason = CancelReason.MASS_CANCEL,
    ) -> list[BookEvent]:
        """Cancel every live order of ``owner`` (in ``symbol``, on ``side``)."""
        events: list[BookEvent] = []
        for order in list(self._orders.values()):
            if order.owner != owner or not order.live:
                continue
            if symbol is not None and order.symbol != symbol:
                continue
            if side is not None and order.side.is_buy != side.is_buy:
                continue
            self._cancel(order, reason, None, events)
        return events

    def replace(self, owner: str, request: ReplaceRequest, now: float) -> list[BookEvent]:
        """An OrderCancelReplaceRequest from ``owner``."""
        to = CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST
        target = self._target(
            owner, request.cl_ord_id, request.orig_cl_ord_id, request.order_id, to
        )
        if isinstance(target, CancelRejected):
            return [target]
        order = target
        problem = self._check_replace(order, request)
        if problem is not None:
            return [
                CancelRejected(
                    owner,
                    request.cl_ord_id,
                    request.orig_cl_ord_id,
                    to,
                    CxlRejReason.BROKER_OPTION,
                    problem,
                    order.state(),
                )
            ]
        self._remember(owner, request.cl_ord_id, order)
        book = self.book(order.symbol)
        repriced = request.price != order.price or request.stop_px != order.stop_px
        grown = request.quantity > order.quantity
        keep = not repriced and not grown
        order.orig_cl_ord_id = order.cl_ord_id
        order.cl_ord_id = request.cl_ord_id
        order.tif = request.time_in_force
        order.account = request.account if request.account is not None else order.account
        order.max_floor = request.max_floor
        new_expiry = _expire_time(request.expire_time, request.expire_date)
        if new_expiry != order.expire_time and new_expiry is not None:
            heapq.heappush(self._expiry, (new_expiry, next(self._timers), order.order_id))
        order.expire_time = new_expiry
        events: list[BookEvent] = []
        if request.quantity <= order.cum:
            # nothing left to execute: OrderQty is amended to CumQty and the order is filled
            # (FIX order state change matrices C.3.b and C.3.c)
            order.quantity = order.cum
            book._remove(order)
            order.status = OrdStatus.FILLED
            self._finish(order)
            events.append(OrderReplaced(order.state(), kept_priority=False))
            return events
        where = order.where
        if not keep:
            book._remove(order)  # before the price changes: levels are keyed by price
        order.quantity = request.quantity
        order.price = request.price
        order.stop_px = request.stop_px
        if keep:
            if where == "book":
                if order.max_floor is None:
                    order.display = order.leaves
                else:
                    order.display = min(order.display, order.max_floor, order.leaves)
                    if order.display <= 0:
                        order.reset_display()
            events.append(OrderReplaced(order.state(), kept_priority=True))
        else:
            order.seq = next(self._seq)
            events.append(OrderReplaced(order.state(), kept_priority=False))
            if where == "stops":
                if book.last_price is not None and _stop_reached(order, book.last_price):
                    self._trigger(order, events)
                    self._work(order, now, events, entry=True)
                else:
                    book._stops[order.order_id] = order
                    order.where = "stops"
            else:
                order.display = _ZERO
                self._work(order, now, events, entry=False)
        if order.live and order.owner in self._models and order.where != "stops":
            self._schedule_house(order, now)
            self._run_house(now, events, only=order.order_id)
            if order.live and order.where == "parked" and not self._pending_house(order):
                self._cancel(order, CancelReason.NO_LIQUIDITY, None, events)
        self._trigger_stops(book, now, events)
        return events

    def _check_replace(self, order: _Order, request: ReplaceRequest) -> str | None:
        if request.symbol != order.symbol:
            return f"Symbol cannot change ({order.symbol!r} to {request.symbol!r})"
        if request.side.is_buy != order.side.is_buy:
            return f"Side cannot change ({order.side.name} to {request.side.name})"
        if request.ord_type is not order.ord_type:
            return f"OrdType cannot change ({order.ord_type.name} to {request.ord_type.name})"
        if request.time_in_force not in _RESTING_TIF and request.time_in_force is not order.tif:
            return f"TimeInForce cannot become {request.time_in_force.name}"
        off = self._off_tick(order.symbol, request.price, request.stop_px)
        if off is not None:
            return f"price {off} is not a multiple of the tick {self._tick(order.symbol)}"
        return None

    def _expire(self, order: _Order, events: list[BookEvent]) -> None:
        self.book(order.symbol)._remove(order)
        order.status = OrdStatus.EXPIRED
        self._finish(order)
        events.append(OrderExpired(order.state()))

    def end_of_day(self, now: float) -> list[BookEvent]:
        """Expire every DAY order (GTC and GTD orders stay)."""
        events: list[BookEvent] = []
        for order in list(self._orders.values()):
            if order.live and order.tif is TimeInForce.DAY:
                self._expire(order, events)
        return events

    def advance(self, now: float) -> list[BookEvent]:
        """Time moves to ``now``: house fills and GTD expiries due by then, in time order.

        An expiry and a fill due at the same instant: the order expires first.
        """
        events: list[BookEvent] = []
        while True:
            fill_at = self._house[0][0] if self._house else None
            expiry_at = self._expiry[0][0] if self._expiry else None
            if (
                expiry_at is not None
                and expiry_at <= now
                and (fill_at is None or expiry_at <= fill_at)
            ):
                _, _, order_id = heapq.heappop(self._expiry)
                order = self._orders.get(order_id)
                if order is not None and order.live and order.expire_time == expiry_at:
                    self._expire(order, events)
            elif fill_at is not None and fill_at <= now:
                self._house_fill(heapq.heappop(self._house), now, events)
            else:
                return events


def _expire_time(expire_time: float | None, expire_date: _dt.date | None) -> float | None:
    if expire_time is not None:
        return float(expire_time)
    if expire_date is not None:
        return _date_end(expire_date)
    return None
