"""Order vocabulary: FIX enumerations, order requests, fills and the :class:`Order` record.

Theory of operation
-------------------
Everything here is plain data. Enumerations carry the FIX wire value as their
``value`` (``Side.BUY.value == "1"``), so a builder writes ``side.value`` and a
parser does ``Side(raw)``; member names are the FIX names in UPPER case.

Requests (:class:`NewOrderRequest`, :class:`CancelRequest`,
:class:`ReplaceRequest`, :class:`StatusRequest`, :class:`MassCancelRequest`) are
frozen and check themselves when built: a request that could never be a valid
FIX message raises :class:`InvalidOrder` (a
:class:`~fixengine.errors.LocalProtocolError` and a :class:`ValueError`) naming
the field. Prices and quantities are :class:`decimal.Decimal` (an ``int`` is
accepted and converted, being exact; a ``float`` is refused). Times are UTC epoch
seconds passed in by the caller (``now``); this package never reads a clock.

:class:`Order` is the client-side record of one order across its whole
cancel/replace chain: it is created by
:meth:`fixengine.orders.state.OrderRegistry.new_order` and changed only by
:mod:`fixengine.orders.state` as ExecutionReports and OrderCancelRejects arrive.
Cumulative quantity and average price are always recomputed from the fills kept
on the order, exactly (sum of LastQty; sum of LastQty x LastPx divided by CumQty).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import operator
from decimal import Decimal
from typing import Any, TypeVar

from ..errors import LocalProtocolError
from ..fields import FieldValue
from . import _quick_py

__all__ = [
    "LIVE_STATUSES",
    "TERMINAL_STATUSES",
    "CancelRequest",
    "CxlRejReason",
    "CxlRejResponseTo",
    "ExecTransType",
    "ExecType",
    "Fill",
    "HandlInst",
    "InvalidOrder",
    "MassCancelRequest",
    "MassCancelRequestType",
    "NewOrderRequest",
    "OrdRejReason",
    "OrdStatus",
    "OrdType",
    "Order",
    "PendingRequest",
    "ReplaceRequest",
    "Side",
    "StatusRequest",
    "TimeInForce",
    "order_from_request",
    "to_decimal",
]


_C = TypeVar("_C")


class InvalidOrder(LocalProtocolError, ValueError):
    """An order request that cannot be sent as it stands; the message names the field."""


# -- enumerations (wire values from the FIX 4.2 - 5.0 SP2 field dictionaries) -------------


class Side(str, enum.Enum):
    """Side(54)."""

    BUY = "1"
    SELL = "2"
    BUY_MINUS = "3"
    SELL_PLUS = "4"
    SELL_SHORT = "5"
    SELL_SHORT_EXEMPT = "6"
    UNDISCLOSED = "7"
    CROSS = "8"
    CROSS_SHORT = "9"
    CROSS_SHORT_EXEMPT = "A"
    AS_DEFINED = "B"
    OPPOSITE = "C"
    SUBSCRIBE = "D"
    REDEEM = "E"
    LEND = "F"
    BORROW = "G"
    SELL_UNDISCLOSED = "H"

    @property
    def is_buy(self) -> bool:
        """True for the sides that buy (Buy, Buy minus)."""
        return self in (Side.BUY, Side.BUY_MINUS)

    @property
    def is_sell(self) -> bool:
        """True for the sides that sell (Sell, Sell plus, Sell short, Sell short exempt...)."""
        return self in _SELL_SIDES


_SELL_SIDES = frozenset(
    {Side.SELL, Side.SELL_PLUS, Side.SELL_SHORT, Side.SELL_SHORT_EXEMPT, Side.SELL_UNDISCLOSED}
)


class OrdType(str, enum.Enum):
    """OrdType(40) (the common values)."""

    MARKET = "1"
    LIMIT = "2"
    STOP = "3"
    STOP_LIMIT = "4"
    MARKET_ON_CLOSE = "5"
    WITH_OR_WITHOUT = "6"
    LIMIT_OR_BETTER = "7"
    LIMIT_WITH_OR_WITHOUT = "8"
    ON_BASIS = "9"
    ON_CLOSE = "A"
    LIMIT_ON_CLOSE = "B"
    FOREX_MARKET = "C"
    PREVIOUSLY_QUOTED = "D"
    PREVIOUSLY_INDICATED = "E"
    FOREX_LIMIT = "F"
    FOREX_SWAP = "G"
    FOREX_PREVIOUSLY_QUOTED = "H"
    FUNARI = "I"
    MARKET_IF_TOUCHED = "J"
    MARKET_WITH_LEFT_OVER_AS_LIMIT = "K"
    PEGGED = "P"

    @property
    def needs_price(self) -> bool:
        """Price(44) is required: limit and stop-limit style orders."""
        return self in _NEEDS_PRICE

    @property
    def forbids_price(self) -> bool:
        """Price(44) makes no sense: market and stop (market) orders."""
        return self in _FORBIDS_PRICE

    @property
    def needs_stop_px(self) -> bool:
        """StopPx(99) is required: stop, stop-limit and market-if-touched orders."""
        return self in _NEEDS_STOP_PX


_NEEDS_PRICE = frozenset(
    {
        OrdType.LIMIT,
        OrdType.STOP_LIMIT,
        OrdType.LIMIT_ON_CLOSE,
        OrdType.LIMIT_OR_BETTER,
        OrdType.LIMIT_WITH_OR_WITHOUT,
        OrdType.FOREX_LIMIT,
    }
)
_FORBIDS_PRICE = frozenset({OrdType.MARKET, OrdType.STOP, OrdType.MARKET_ON_CLOSE})
_NEEDS_STOP_PX = frozenset({OrdType.STOP, OrdType.STOP_LIMIT, OrdType.MARKET_IF_TOUCHED})


class TimeInForce(str, enum.Enum):
    """TimeInForce(59)."""

    DAY = "0"
    GOOD_TILL_CANCEL = "1"
    AT_THE_OPENING = "2"
    IMMEDIATE_OR_CANCEL = "3"
    FILL_OR_KILL = "4"
    GOOD_TILL_CROSSING = "5"
    GOOD_TILL_DATE = "6"
    AT_THE_CLOSE = "7"
    GOOD_THROUGH_CROSSING = "8"
    AT_CROSSING = "9"


_GTD = TimeInForce.GOOD_TILL_DATE


class OrdStatus(str, enum.Enum):
    """OrdStatus(39): the state of an order. Also the states of the order state machine."""

    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    DONE_FOR_DAY = "3"
    CANCELED = "4"
    REPLACED = "5"  # FIX 4.2/4.3 only; from 4.4 a replace reports the order's real status
    PENDING_CANCEL = "6"
    STOPPED = "7"
    REJECTED = "8"
    SUSPENDED = "9"
    PENDING_NEW = "A"
    CALCULATED = "B"
    EXPIRED = "C"
    ACCEPTED_FOR_BIDDING = "D"
    PENDING_REPLACE = "E"


#: States in which an order can still be executed (LeavesQty = OrderQty - CumQty).
LIVE_STATUSES: frozenset[OrdStatus] = frozenset(
    {
        OrdStatus.PENDING_NEW,
        OrdStatus.NEW,
        OrdStatus.PARTIALLY_FILLED,
        OrdStatus.PENDING_CANCEL,
        OrdStatus.PENDING_REPLACE,
        OrdStatus.STOPPED,
        OrdStatus.SUSPENDED,
        OrdStatus.ACCEPTED_FOR_BIDDING,
    }
)

#: States an order never leaves (save for a trade correction or bust on a filled order).
TERMINAL_STATUSES: frozenset[OrdStatus] = frozenset(
    {
        OrdStatus.FILLED,
        OrdStatus.CANCELED,
        OrdStatus.REJECTED,
        OrdStatus.EXPIRED,
        OrdStatus.REPLACED,
    }
)


class ExecType(str, enum.Enum):
    """ExecType(150): what an ExecutionReport reports (OrdStatus says where the order is)."""

    NEW = "0"
    PARTIAL_FILL = "1"  # FIX 4.2 (4.3+ use TRADE)
    FILL = "2"  # FIX 4.2 (4.3+ use TRADE)
    DONE_FOR_DAY = "3"
    CANCELED = "4"
    REPLACED = "5"
    PENDING_CANCEL = "6"
    STOPPED = "7"
    REJECTED = "8"
    SUSPENDED = "9"
    PENDING_NEW = "A"
    CALCULATED = "B"
    EXPIRED = "C"
    RESTATED = "D"
    PENDING_REPLACE = "E"
    TRADE = "F"
    TRADE_CORRECT = "G"
    TRADE_CANCEL = "H"
    ORDER_STATUS = "I"
    TRADE_IN_A_CLEARING_HOLD = "J"
    TRADE_RELEASED_TO_CLEARING = "K"
    TRIGGERED_OR_ACTIVATED_BY_SYSTEM = "L"
    LOCKED = "M"
    RELEASED = "N"


class ExecTransType(str, enum.Enum):
    """ExecTransType(20), FIX 4.2 and earlier (dropped in 4.3)."""

    NEW = "0"
    CANCEL = "1"
    CORRECT = "2"
    STATUS = "3"


class HandlInst(str, enum.Enum):
    """HandlInst(21). Required on orders in FIX 4.2 and 4.3."""

    AUTOMATED_PRIVATE = "1"  # automated execution, no broker intervention
    AUTOMATED_PUBLIC = "2"  # automated execution, intervention OK
    MANUAL = "3"


class CxlRejResponseTo(str, enum.Enum):
    """CxlRejResponseTo(434): which request an OrderCancelReject answers."""

    ORDER_CANCEL_REQUEST = "1"
    ORDER_CANCEL_REPLACE_REQUEST = "2"


class CxlRejReason(enum.IntEnum):
    """CxlRejReason(102)."""

    TOO_LATE_TO_CANCEL = 0
    UNKNOWN_ORDER = 1
    BROKER_OPTION = 2
    ALREADY_PENDING = 3
    UNABLE_TO_PROCESS_MASS_CANCEL = 4
    ORIG_ORD_MOD_TIME_MISMATCH = 5
    DUPLICATE_CL_ORD_ID = 6
    PRICE_EXCEEDS_CURRENT_PRICE = 7
    PRICE_EXCEEDS_CURRENT_PRICE_BAND = 8
    INVALID_PRICE_INCREMENT = 18
    OTHER = 99


class OrdRejReason(enum.IntEnum):
    """OrdRejReason(103) (values 0-8 exist in FIX 4.2; the rest from 4.3 on)."""

    BROKER_OPTION = 0
    UNKNOWN_SYMBOL = 1
    EXCHANGE_CLOSED = 2
    ORDER_EXCEEDS_LIMIT = 3
    TOO_LATE_TO_ENTER = 4
    UNKNOWN_ORDER = 5
    DUPLICATE_ORDER = 6
    DUPLICATE_OF_VERBAL_ORDER = 7
    STALE_ORDER = 8
    TRADE_ALONG_REQUIRED = 9
    INVALID_INVESTOR_ID = 10
    UNSUPPORTED_ORDER_CHARACTERISTIC = 11
    SURVEILLANCE_OPTION = 12
    INCORRECT_QUANTITY = 13
    INCORRECT_ALLOCATED_QUANTITY = 14
    UNKNOWN_ACCOUNT = 15
    PRICE_EXCEEDS_CURRENT_PRICE_BAND = 16
    INVALID_PRICE_INCREMENT = 18
    REFERENCE_PRICE_NOT_AVAILABLE = 19
    NOTIONAL_VALUE_EXCEEDS_THRESHOLD = 20
    OTHER = 99


class MassCancelRequestType(str, enum.Enum):
    """MassCancelRequestType(530), FIX 4.3 and later."""

    SECURITY = "1"
    UNDERLYING_SECURITY = "2"
    PRODUCT = "3"
    CFI_CODE = "4"
    SECURITY_TYPE = "5"
    TRADING_SESSION = "6"
    ALL_ORDERS = "7"


# -- value checks -----------------------------------------------------------------------------


def to_decimal(value: object, name: str) -> Decimal:
    """``value`` as a finite Decimal; an int is converted, anything else (float!) refused."""
    if isinstance(value, bool):
        raise InvalidOrder(f"{name} must be a Decimal, not a bool")
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, Decimal):
        raise InvalidOrder(
            f"{name} must be a decimal.Decimal (exact), not {type(value).__name__}"
            + (" (floats are inexact)" if isinstance(value, float) else "")
        )
    if not value.is_finite():
        raise InvalidOrder(f"{name} must be finite, not {value}")
    return value


def _opt_decimal(value: object, name: str) -> Decimal | None:
    return None if value is None else to_decimal(value, name)


def _positive(value: object, name: str) -> Decimal:
    d = to_decimal(value, name)
    if d <= 0:
        raise InvalidOrder(f"{name} must be positive, not {d}")
    return d


def _opt_positive(value: object, name: str) -> Decimal | None:
    return None if value is None else _positive(value, name)


def _text(value: object, name: str, *, required: bool = False) -> str | None:
    """A string field value: no SOH, not empty when given."""
    if value is None:
        if required:
            raise InvalidOrder(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise InvalidOrder(f"{name} must be a str, not {type(value).__name__}")
    if not value:
        raise InvalidOrder(f"{name} must not be empty")
    if "\x01" in value:
        raise InvalidOrder(f"{name} must not contain SOH")
    return value


def _id(value: object, name: str, *, required: bool = True) -> str | None:
    """An identifier (ClOrdID, OrderID...): printable ASCII, no spaces."""
    text = _text(value, name, required=required)
    if text is not None and not (text.isascii() and text.isprintable() and " " not in text):
        raise InvalidOrder(f"{name} must be printable ASCII without spaces: {text!r}")
    return text


def _enum(cls: type[enum.Enum], value: object, name: str) -> Any:
    if isinstance(value, cls):
        return value
    try:
        return cls(value)
    except ValueError:
        raise InvalidOrder(f"{name}: {value!r} is not a {cls.__name__}") from None


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


_MISSING: Any = dataclasses.MISSING


def frozen_init(cls: type[_C]) -> type[_C]:
    """Give the frozen, slotted dataclass ``cls`` a faster ``__init__``, same signature.

    The generated ``__init__`` of a frozen dataclass stores each field with
    ``object.__setattr__`` looked up on every call; this one stores them all through
    the slots' own descriptors in one call (:func:`~fixengine.orders._quick_py.set_slots`,
    compiled when built), and calls ``__post_init__`` the same way. Requests,
    reports and updates are built for every order, so it shows.
    """
    params: list[str] = []
    names: list[str] = []
    descriptors: list[Any] = []
    body: list[str] = []
    module = _quick_py.twin()
    compiled = module is not _quick_py
    env: dict[str, Any] = {"_set_slots": module.set_slots}
    for i, f in enumerate(dataclasses.fields(cls)):  # type: ignore[arg-type]
        if not f.init or f.default_factory is not _MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: only plain fields are supported")
        if f.default is _MISSING:
            params.append(f.name)
        else:
            env[f"_d{i}"] = f.default
            params.append(f"{f.name}=_d{i}")
        descriptors.append(cls.__dict__[f.name])
        names.append(f.name)
        # without the compiled module, one call per field beats a loop over them
        env[f"_s{i}"] = cls.__dict__[f.name].__set__
        body.append(f"    _s{i}(self, {f.name})")
    env["_descriptors"] = tuple(descriptors)
    if compiled:
        body = [f"    _set_slots(self, _descriptors, ({', '.join(names)},))"]
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    src = f"def __init__(self, {', '.join(params)}) -> None:\n" + "\n".join(body) + "\n"
    exec(src, env)  # built from the field names above, as dataclasses does
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    setattr(cls, "__init__", init)  # noqa: B010
    return cls


def _check_order_terms(obj: Any) -> None:
    """Checks shared by new orders and replace requests (types already normalised)."""
    ord_type: OrdType = obj.ord_type
    if ord_type.needs_price and obj.price is None:
        raise InvalidOrder(f"Price(44) is required for OrdType {ord_type.name}")
    if ord_type.forbids_price and obj.price is not None:
        raise InvalidOrder(f"Price(44) must not be given for OrdType {ord_type.name}")
    if ord_type.needs_stop_px and obj.stop_px is None:
        raise InvalidOrder(f"StopPx(99) is required for OrdType {ord_type.name}")
    if not ord_type.needs_stop_px and obj.stop_px is not None:
        raise InvalidOrder(f"StopPx(99) must not be given for OrdType {ord_type.name}")
    tif: TimeInForce = obj.time_in_force
    if tif is TimeInForce.GOOD_TILL_DATE:
        if obj.expire_time is None and obj.expire_date is None:
            raise InvalidOrder("TimeInForce GTD needs ExpireTime(126) or ExpireDate(432)")
        if obj.expire_time is not None and obj.expire_date is not None:
            raise InvalidOrder("give ExpireTime(126) or ExpireDate(432), not both")
    elif obj.expire_time is not None or obj.expire_date is not None:
        raise InvalidOrder(f"ExpireTime/ExpireDate only go with TimeInForce GTD, not {tif.name}")
    if obj.expire_time is not None and (
        isinstance(obj.expire_time, bool) or not isinstance(obj.expire_time, (int, float))
    ):
        raise InvalidOrder("expire_time must be UTC epoch seconds (int or float)")
    if obj.expire_date is not None and (
        not isinstance(obj.expire_date, _dt.date) or isinstance(obj.expire_date, _dt.datetime)
    ):
        raise InvalidOrder("expire_date must be a datetime.date")
    if obj.min_qty is not None and obj.min_qty > obj.quantity:
        raise InvalidOrder(f"MinQty(110) {obj.min_qty} exceeds OrderQty(38) {obj.quantity}")
    if obj.max_floor is not None and obj.max_floor > obj.quantity:
        raise InvalidOrder(f"MaxFloor(111) {obj.max_floor} exceeds OrderQty(38) {obj.quantity}")
    if obj.exec_inst is not None:
        _text(obj.exec_inst, "ExecInst(18)")
    _check_extra(obj.extra_fields)


def _check_extra(extra: tuple[tuple[int, FieldValue], ...]) -> None:
    for item in extra:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], int)):
            raise InvalidOrder(f"extra_fields items must be (tag, value) pairs, not {item!r}")
        if item[0] in _MANAGED_TAGS:
            raise InvalidOrder(f"tag {item[0]} is set by the builder; use the request's field")
        if isinstance(item[1], float):
            raise InvalidOrder(f"extra field {item[0]}: floats are refused (inexact)")


#: Tags the builders write from request fields (and so refuse in ``extra_fields``).
_MANAGED_TAGS = frozenset(
    {8, 9, 10, 35, 1, 11, 18, 21, 37, 38, 40, 41, 44, 54, 55, 59, 60, 99, 110, 111, 126, 432, 530}
)


# -- requests -------------------------------------------------------------------------------


@frozen_init
@dataclasses.dataclass(frozen=True, slots=True)
class NewOrderRequest:
    """A NewOrderSingle (35=D) to send.

    ``cl_ord_id`` may be left None: :meth:`OrderRegistry.new_order` assigns one.
    ``expire_time`` (ExpireTime 126, UTC epoch seconds) or ``expire_date``
    (ExpireDate 432) go with TimeInForce GTD only. ``handl_inst`` defaults, where
    the version requires HandlInst(21) (4.2, 4.3), to automated-private ("1").
    ``extra_fields`` are appended as given (tag, value), e.g. venue-specific tags.
    """

    symbol: str
    side: Side
    quantity: Decimal
    ord_type: OrdType = OrdType.LIMIT
    price: Decimal | None = None
    stop_px: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    cl_ord_id: str | None = None
    account: str | None = None
    handl_inst: HandlInst | None = None
    exec_inst: str | None = None
    min_qty: Decimal | None = None
    max_floor: Decimal | None = None
    expire_time: float | None = None
    expire_date: _dt.date | None = None
    currency: str | None = None
    security_id: str | None = None
    security_id_source: str | None = None
    ex_destination: str | None = None
    text: str | None = None
    extra_fields: tuple[tuple[int, FieldValue], ...] = ()

    def __post_init__(self) -> None:
        # The common order (exact types, no optional terms) is checked in a few
        # comparisons; anything else takes the full normalisation below.
        symbol = self.symbol
        quantity = self.quantity
        price = self.price
        ord_type = self.ord_type
        cl = self.cl_ord_id
        if (
            type(symbol) is str
            and symbol
            and "\x01" not in symbol
            and type(self.side) is Side
            and type(quantity) is Decimal
            and quantity.is_finite()
            and quantity > _ZERO  # (a Decimal: no int to convert)
            and type(ord_type) is OrdType
            and (
                ord_type not in _NEEDS_PRICE
                if price is None
                else type(price) is Decimal and price.is_finite() and ord_type not in _FORBIDS_PRICE
            )
            and self.stop_px is None
            and ord_type not in _NEEDS_STOP_PX
            and type(self.time_in_force) is TimeInForce
            and self.time_in_force is not _GTD
            and (
                cl is None
                or (type(cl) is str and cl and cl.isascii() and cl.isprintable() and " " not in cl)
            )
            and self.account is None
            and self.handl_inst is None
            and self.exec_inst is None
            and self.min_qty is None
            and self.max_floor is None
            and self.expire_time is None
            and self.expire_date is None
            and self.currency is None
            and self.security_id is None
            and self.security_id_source is None
            and self.ex_destination is None
            and self.text is None
            and type(self.extra_fields) is tuple
            and not self.extra_fields
        ):
            return
        self._normalise()

    def _normalise(self) -> None:
        _set(self, "symbol", _text(self.symbol, "Symbol(55)", required=True))
        _set(self, "side", _enum(Side, self.side, "Side(54)"))
        _set(self, "quantity", _positive(self.quantity, "OrderQty(38)"))
        _set(self, "ord_type", _enum(OrdType, self.ord_type, "OrdType(40)"))
        _set(self, "price", _opt_decimal(self.price, "Price(44)"))
        _set(self, "stop_px", _opt_decimal(self.stop_px, "StopPx(99)"))
        _set(self, "time_in_force", _enum(TimeInForce, self.time_in_force, "TimeInForce(59)"))
        _set(self, "cl_ord_id", _id(self.cl_ord_id, "ClOrdID(11)", required=False))
        _set(self, "account", _text(self.account, "Account(1)"))
        if self.handl_inst is not None:
            _set(self, "handl_inst", _enum(HandlInst, self.handl_inst, "HandlInst(21)"))
        _set(self, "min_qty", _opt_positive(self.min_qty, "MinQty(110)"))
        _set(self, "max_floor", _opt_positive(self.max_floor, "MaxFloor(111)"))
        for name, label in (
            ("currency", "Currency(15)"),
            ("security_id", "SecurityID(48)"),
            ("security_id_source", "SecurityIDSource(22)"),
            ("ex_destination", "ExDestination(100)"),
            ("text", "Text(58)"),
        ):
            _set(self, name, _text(getattr(self, name), label))
        _set(self, "extra_fields", tuple(self.extra_fields))
        _check_order_terms(self)

    def with_cl_ord_id(self, cl_ord_id: str) -> NewOrderRequest:
        """A copy carrying ``cl_ord_id``.

        Only the identifier is checked: every other field was checked when ``self`` was
        built (``dataclasses.replace`` would check them all again, on every order sent).
        """
        checked = _id(cl_ord_id, "ClOrdID(11)")
        copy = object.__new__(NewOrderRequest)
        for store, value in zip(_NEW_ORDER_SETTERS, _new_order_values(self), strict=True):
            store(copy, value)
        _set_new_order_cl_ord_id(copy, checked)
        return copy


_NEW_ORDER_NAMES = tuple(f.name for f in dataclasses.fields(NewOrderRequest))
_NEW_ORDER_SETTERS = tuple(NewOrderRequest.__dict__[name].__set__ for name in _NEW_ORDER_NAMES)
_new_order_values = operator.attrgetter(*_NEW_ORDER_NAMES)
_set_new_order_cl_ord_id = NewOrderRequest.__dict__["cl_ord_id"].__set__


@frozen_init
@dataclasses.dataclass(frozen=True, slots=True)
class CancelRequest:
    """An OrderCancelRequest (35=F): cancel the order last known as ``orig_cl_ord_id``."""

    cl_ord_id: str
    orig_cl_ord_id: str
    symbol: str
    side: Side
    quantity: Decimal | None = None
    order_id: str | None = None
    account: str | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        _id(self.cl_ord_id, "ClOrdID(11)")
        _id(self.orig_cl_ord_id, "OrigClOrdID(41)")
        if self.cl_ord_id == self.orig_cl_ord_id:
            raise InvalidOrder("ClOrdID(11) of a cancel must differ from OrigClOrdID(41)")
        _set(self, "symbol", _text(self.symbol, "Symbol(55)", required=True))
        _set(self, "side", _enum(Side, self.side, "Side(54)"))
        _set(self, "quantity", _opt_positive(self.quantity, "OrderQty(38)"))
        _id(self.order_id, "OrderID(37)", required=False)
        _text(self.account, "Account(1)")
        _text(self.text, "Text(58)")


@frozen_init
@dataclasses.dataclass(frozen=True, slots=True)
class ReplaceRequest:
    """An OrderCancelReplaceRequest (35=G): the order's full new terms.

    FIX requires every term to be restated, changed or not (FIX 4.4 Vol. 4,
    "Order Cancel/Replace Request"): :meth:`OrderRegistry.replace` fills the
    unchanged ones from the order.
    """

    cl_ord_id: str
    orig_cl_ord_id: str
    symbol: str
    side: Side
    quantity: Decimal
    ord_type: OrdType = OrdType.LIMIT
    price: Decimal | None = None
    stop_px: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    order_id: str | None = None
    account: str | None = None
    handl_inst: HandlInst | None = None
    exec_inst: str | None = None
    min_qty: Decimal | None = None
    max_floor: Decimal | None = None
    expire_time: float | None = None
    expire_date: _dt.date | None = None
    text: str | None = None
    extra_fields: tuple[tuple[int, FieldValue], ...] = ()

    def __post_init__(self) -> None:
        _id(self.cl_ord_id, "ClOrdID(11)")
        _id(self.orig_cl_ord_id, "OrigClOrdID(41)")
        if self.cl_ord_id == self.orig_cl_ord_id:
            raise InvalidOrder("ClOrdID(11) of a replace must differ from OrigClOrdID(41)")
        _set(self, "symbol", _text(self.symbol, "Symbol(55)", required=True))
        _set(self, "side", _enum(Side, self.side, "Side(54)"))
        _set(self, "quantity", _positive(self.quantity, "OrderQty(38)"))
        _set(self, "ord_type", _enum(OrdType, self.ord_type, "OrdType(40)"))
        _set(self, "price", _opt_decimal(self.price, "Price(44)"))
        _set(self, "stop_px", _opt_decimal(self.stop_px, "StopPx(99)"))
        _set(self, "time_in_force", _enum(TimeInForce, self.time_in_force, "TimeInForce(59)"))
        _id(self.order_id, "OrderID(37)", required=False)
        _text(self.account, "Account(1)")
        if self.handl_inst is not None:
            _set(self, "handl_inst", _enum(HandlInst, self.handl_inst, "HandlInst(21)"))
        _set(self, "min_qty", _opt_positive(self.min_qty, "MinQty(110)"))
        _set(self, "max_floor", _opt_positive(self.max_floor, "MaxFloor(111)"))
        _text(self.text, "Text(58)")
        _set(self, "extra_fields", tuple(self.extra_fields))
        _check_order_terms(self)


@frozen_init
@dataclasses.dataclass(frozen=True, slots=True)
class StatusRequest:
    """An OrderStatusRequest (35=H)."""

    cl_ord_id: str
    symbol: str
    side: Side
    order_id: str | None = None

    def __post_init__(self) -> None:
        _id(self.cl_ord_id, "ClOrdID(11)")
        _set(self, "symbol", _text(self.symbol, "Symbol(55)", required=True))
        _set(self, "side", _enum(Side, self.side, "Side(54)"))
        _id(self.order_id, "OrderID(37)", required=False)


@frozen_init
@dataclasses.dataclass(frozen=True, slots=True)
class MassCancelRequest:
    """An OrderMassCancelRequest (35=q), FIX 4.3 and later.

    ``request_type`` SECURITY needs ``symbol``; ALL_ORDERS takes none. ``side``
    optionally limits the cancel to one side.
    """

    cl_ord_id: str
    request_type: MassCancelRequestType = MassCancelRequestType.ALL_ORDERS
    symbol: str | None = None
    side: Side | None = None
    trading_session_id: str | None = None
    account: str | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        _id(self.cl_ord_id, "ClOrdID(11)")
        _set(
            self,
            "request_type",
            _enum(MassCancelRequestType, self.request_type, "MassCancelRequestType(530)"),
        )
        _text(self.symbol, "Symbol(55)")
        if self.side is not None:
            _set(self, "side", _enum(Side, self.side, "Side(54)"))
        _text(self.trading_session_id, "TradingSessionID(336)")
        _text(self.account, "Account(1)")
        _text(self.text, "Text(58)")
        rt = self.request_type
        if rt is MassCancelRequestType.SECURITY and self.symbol is None:
            raise InvalidOrder("MassCancelRequestType SECURITY needs Symbol(55)")
        if rt is MassCancelRequestType.TRADING_SESSION and self.trading_session_id is None:
            raise InvalidOrder("MassCancelRequestType TRADING_SESSION needs TradingSessionID(336)")
        if rt is MassCancelRequestType.ALL_ORDERS and self.symbol is not None:
            raise InvalidOrder("MassCancelRequestType ALL_ORDERS takes no Symbol(55)")


# -- the order record -------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class Fill:
    """One execution on an order: ExecID(17), LastQty(32), LastPx(31)."""

    exec_id: str
    quantity: Decimal
    price: Decimal
    time: float  # when it was applied (the caller's ``now``)
    transact_time: str | None = None  # TransactTime(60) as reported, if any
    corrected_by: str | None = None  # ExecID of the last trade correction applied to it

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "exec_id": self.exec_id,
            "quantity": str(self.quantity),
            "price": str(self.price),
            "time": self.time,
            "transact_time": self.transact_time,
            "corrected_by": self.corrected_by,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fill:
        """Inverse of :meth:`to_dict`."""
        return cls(
            exec_id=str(data["exec_id"]),
            quantity=Decimal(data["quantity"]),
            price=Decimal(data["price"]),
            time=float(data["time"]),
            transact_time=data.get("transact_time"),
            corrected_by=data.get("corrected_by"),
        )


@dataclasses.dataclass(slots=True)
class PendingRequest:
    """A cancel or replace we sent that the counterparty has not settled yet.

    ``acknowledged`` turns True when a PendingCancel/PendingReplace report for it
    arrives; the request leaves the order when it is done (Canceled / Replaced) or
    rejected (OrderCancelReject).
    """

    kind: str  # "cancel" or "replace"
    cl_ord_id: str
    orig_cl_ord_id: str
    sent_at: float
    acknowledged: bool = False
    quantity: Decimal | None = None
    price: Decimal | None = None
    stop_px: Decimal | None = None
    ord_type: OrdType | None = None
    time_in_force: TimeInForce | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "kind": self.kind,
            "cl_ord_id": self.cl_ord_id,
            "orig_cl_ord_id": self.orig_cl_ord_id,
            "sent_at": self.sent_at,
            "acknowledged": self.acknowledged,
            "quantity": _s(self.quantity),
            "price": _s(self.price),
            "stop_px": _s(self.stop_px),
            "ord_type": None if self.ord_type is None else self.ord_type.value,
            "time_in_force": None if self.time_in_force is None else self.time_in_force.value,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PendingRequest:
        """Inverse of :meth:`to_dict`."""
        return cls(
            kind=str(data["kind"]),
            cl_ord_id=str(data["cl_ord_id"]),
            orig_cl_ord_id=str(data["orig_cl_ord_id"]),
            sent_at=float(data["sent_at"]),
            acknowledged=bool(data["acknowledged"]),
            quantity=_d(data.get("quantity")),
            price=_d(data.get("price")),
            stop_px=_d(data.get("stop_px")),
            ord_type=None if data.get("ord_type") is None else OrdType(data["ord_type"]),
            time_in_force=(
                None if data.get("time_in_force") is None else TimeInForce(data["time_in_force"])
            ),
        )


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


_ZERO = Decimal(0)


class Order:
    """Client-side view of one order, across its cancel/replace chain.

    ``cl_ord_id`` is the ClOrdID of the order's current (last accepted) version;
    ``chain`` every ClOrdID it has had, oldest first. ``status`` is OrdStatus as
    this side understands it (see :mod:`fixengine.orders.state`); ``base_status``
    the status beneath a pending cancel/replace. ``fills`` are the executions in
    the order they were applied. ``aliases`` are the ClOrdIDs of the cancel and
    replace requests sent for it (the order answers to them too).
    Quantities are exact Decimals.

    ``pending``, ``rejected_requests`` and ``aliases`` are made when first read (most
    orders never have a cancel or replace), and ``chain`` and ``exec_ids`` start as
    tuples (which the garbage collector stops tracking) that become the list and
    set when first read: an order kept after it is done holds fewer objects for
    the collector to walk.
    """

    __slots__ = (
        "_aliases",
        "_chain",
        "_exec_ids",
        "_pending",
        "_rejected_requests",
        "_totals",
        "account",
        "anomaly_count",
        "base_status",
        "cl_ord_id",
        "created_at",
        "exec_inst",
        "expire_date",
        "expire_time",
        "fills",
        "handl_inst",
        "last_reported_status",
        "max_floor",
        "min_qty",
        "ord_rej_reason",
        "ord_type",
        "order_id",
        "price",
        "quantity",
        "side",
        "stop_px",
        "symbol",
        "text",
        "time_in_force",
        "updated_at",
    )

    cl_ord_id: str
    symbol: str
    side: Side
    quantity: Decimal
    ord_type: OrdType
    price: Decimal | None
    stop_px: Decimal | None
    time_in_force: TimeInForce
    created_at: float
    account: str | None
    handl_inst: HandlInst | None
    exec_inst: str | None
    min_qty: Decimal | None
    max_floor: Decimal | None
    expire_time: float | None
    expire_date: _dt.date | None
    order_id: str | None
    base_status: OrdStatus
    fills: list[Fill]
    updated_at: float
    text: str | None
    ord_rej_reason: int | None
    last_reported_status: OrdStatus | None
    anomaly_count: int
    _chain: list[str] | tuple[str, ...]
    _exec_ids: set[str] | tuple[str, ...]
    _pending: list[PendingRequest] | None
    _rejected_requests: list[str] | None
    _aliases: list[str] | None
    _totals: tuple[Decimal, Decimal] | None

    def __init__(
        self,
        cl_ord_id: str,
        symbol: str,
        side: Side,
        quantity: Decimal,
        ord_type: OrdType,
        price: Decimal | None,
        stop_px: Decimal | None,
        time_in_force: TimeInForce,
        created_at: float,
        account: str | None = None,
        handl_inst: HandlInst | None = None,
        exec_inst: str | None = None,
        min_qty: Decimal | None = None,
        max_floor: Decimal | None = None,
        expire_time: float | None = None,
        expire_date: _dt.date | None = None,
        order_id: str | None = None,
        chain: list[str] | None = None,
        base_status: OrdStatus = OrdStatus.PENDING_NEW,
        pending: list[PendingRequest] | None = None,
        fills: list[Fill] | None = None,
        exec_ids: set[str] | None = None,
        rejected_requests: list[str] | None = None,
        aliases: list[str] | None = None,
        updated_at: float = 0.0,
        text: str | None = None,
        ord_rej_reason: int | None = None,
        last_reported_status: OrdStatus | None = None,
        anomaly_count: int = 0,
    ) -> None:
        self.cl_ord_id = cl_ord_id
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.ord_type = ord_type
        self.price = price
        self.stop_px = stop_px
        self.time_in_force = time_in_force
        self.created_at = created_at
        self.account = account
        self.handl_inst = handl_inst
        self.exec_inst = exec_inst
        self.min_qty = min_qty
        self.max_floor = max_floor
        self.expire_time = expire_time
        self.expire_date = expire_date
        self.order_id = order_id
        self._chain = chain if chain else (cl_ord_id,)
        self.base_status = base_status
        self._pending = pending
        self.fills = fills if fills is not None else []
        self._exec_ids = exec_ids if exec_ids is not None else ()
        self._rejected_requests = rejected_requests
        self._aliases = aliases
        self.updated_at = updated_at if updated_at else created_at
        self.text = text
        self.ord_rej_reason = ord_rej_reason
        self.last_reported_status = last_reported_status
        self.anomaly_count = anomaly_count
        self._totals = None

    # -- the containers made when first needed ---------------------------------------------
    @property
    def chain(self) -> list[str]:
        """Every ClOrdID the order has had, oldest first."""
        chain = self._chain
        if type(chain) is tuple:
            chain = self._chain = list(chain)
        return chain  # type: ignore[return-value]

    @chain.setter
    def chain(self, value: list[str]) -> None:
        self._chain = value

    @property
    def exec_ids(self) -> set[str]:
        """ExecIDs of the reports applied to the order (a repeated one is a duplicate)."""
        ids = self._exec_ids
        if type(ids) is tuple:
            ids = self._exec_ids = set(ids)
        return ids  # type: ignore[return-value]

    @exec_ids.setter
    def exec_ids(self, value: set[str]) -> None:
        self._exec_ids = value

    @property
    def pending(self) -> list[PendingRequest]:
        """The cancels and replaces sent and not settled yet (:class:`PendingRequest`)."""
        pending = self._pending
        if pending is None:
            pending = self._pending = []
        return pending

    @pending.setter
    def pending(self, value: list[PendingRequest]) -> None:
        self._pending = value

    @property
    def rejected_requests(self) -> list[str]:
        """ClOrdIDs of this order's cancel/replace requests that were rejected."""
        rejected = self._rejected_requests
        if rejected is None:
            rejected = self._rejected_requests = []
        return rejected

    @rejected_requests.setter
    def rejected_requests(self, value: list[str]) -> None:
        self._rejected_requests = value

    @property
    def aliases(self) -> list[str]:
        """ClOrdIDs of the cancel and replace requests sent for the order."""
        aliases = self._aliases
        if aliases is None:
            aliases = self._aliases = []
        return aliases

    @aliases.setter
    def aliases(self, value: list[str]) -> None:
        self._aliases = value

    # -- derived state ---------------------------------------------------------------------
    @property
    def status(self) -> OrdStatus:
        """OrdStatus(39): the base status, or the pending state that takes precedence.

        A working order with an acknowledged pending cancel is PENDING_CANCEL, with
        an acknowledged pending replace PENDING_REPLACE (precedence 12 and 11 in the
        FIX order state change matrices, above Done for Day's 10). A done order
        shows its final status.
        """
        base = self.base_status
        pending = self._pending
        if not pending or base in TERMINAL_STATUSES:
            return base
        kinds = {p.kind for p in pending if p.acknowledged}
        if "cancel" in kinds:
            return OrdStatus.PENDING_CANCEL
        if "replace" in kinds:
            return OrdStatus.PENDING_REPLACE
        return base

    @property
    def orig_cl_ord_id(self) -> str | None:
        """The ClOrdID before the current one (None for an order never replaced)."""
        chain = self._chain
        return chain[-2] if len(chain) > 1 else None

    def _sums(self) -> tuple[Decimal, Decimal]:
        """(CumQty, notional) of the fills, computed once until they change."""
        totals = self._totals
        if totals is None:
            cum = notional = _ZERO
            for fill in self.fills:
                cum += fill.quantity
                notional += fill.quantity * fill.price
            totals = self._totals = (cum, notional)
        return totals

    def add_fill(self, fill: Fill) -> None:
        """Append an execution (the sums follow without a recount)."""
        self.fills.append(fill)
        if self._totals is not None:
            cum, notional = self._totals
            self._totals = (cum + fill.quantity, notional + fill.quantity * fill.price)

    def fills_changed(self) -> None:
        """Call after changing :attr:`fills` other than by :meth:`add_fill`."""
        self._totals = None

    @property
    def cum_qty(self) -> Decimal:
        """CumQty(14): the sum of the fills' LastQty."""
        return self._sums()[0]

    @property
    def notional(self) -> Decimal:
        """Sum of LastQty x LastPx over the fills (exact)."""
        return self._sums()[1]

    @property
    def avg_px(self) -> Decimal:
        """AvgPx(6): notional / CumQty, or 0 before the first fill."""
        cum = self.cum_qty
        return self.notional / cum if cum else Decimal(0)

    @property
    def is_live(self) -> bool:
        """The order can still execute (LeavesQty = OrderQty - CumQty)."""
        return self.status in LIVE_STATUSES

    @property
    def is_done(self) -> bool:
        """Filled, canceled, rejected or expired: nothing more will happen to it."""
        return self.base_status in TERMINAL_STATUSES

    @property
    def leaves_qty(self) -> Decimal:
        """LeavesQty(151): OrderQty - CumQty while live, else 0."""
        if not self.is_live:
            return Decimal(0)
        return max(self.quantity - self.cum_qty, Decimal(0))

    def pending_request(self, cl_ord_id: str) -> PendingRequest | None:
        """The pending cancel/replace sent with ``cl_ord_id``, if any."""
        for p in self._pending or ():
            if p.cl_ord_id == cl_ord_id:
                return p
        return None

    # -- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (Decimals as strings, enums as FIX values)."""
        return {
            "cl_ord_id": self.cl_ord_id,
            "symbol": self.symbol,
            "side": self.side.value,
            "quantity": str(self.quantity),
            "ord_type": self.ord_type.value,
            "price": _s(self.price),
            "stop_px": _s(self.stop_px),
            "time_in_force": self.time_in_force.value,
            "created_at": self.created_at,
            "account": self.account,
            "handl_inst": None if self.handl_inst is None else self.handl_inst.value,
            "exec_inst": self.exec_inst,
            "min_qty": _s(self.min_qty),
            "max_floor": _s(self.max_floor),
            "expire_time": self.expire_time,
            "expire_date": None if self.expire_date is None else self.expire_date.isoformat(),
            "order_id": self.order_id,
            "chain": list(self._chain),
            "base_status": self.base_status.value,
            "pending": [p.to_dict() for p in self._pending or ()],
            "fills": [f.to_dict() for f in self.fills],
            "exec_ids": sorted(self._exec_ids),
            "rejected_requests": list(self._rejected_requests or ()),
            "aliases": list(self._aliases or ()),
            "updated_at": self.updated_at,
            "text": self.text,
            "ord_rej_reason": self.ord_rej_reason,
            "last_reported_status": (
                None if self.last_reported_status is None else self.last_reported_status.value
            ),
            "anomaly_count": self.anomaly_count,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Order:
        """Inverse of :meth:`to_dict`; raises ValueError/KeyError on a malformed record."""
        last = data.get("last_reported_status")
        return cls(
            cl_ord_id=str(data["cl_ord_id"]),
            symbol=str(data["symbol"]),
            side=Side(data["side"]),
            quantity=Decimal(data["quantity"]),
            ord_type=OrdType(data["ord_type"]),
            price=_d(data.get("price")),
            stop_px=_d(data.get("stop_px")),
            time_in_force=TimeInForce(data["time_in_force"]),
            created_at=float(data["created_at"]),
            account=data.get("account"),
            handl_inst=None if data.get("handl_inst") is None else HandlInst(data["handl_inst"]),
            exec_inst=data.get("exec_inst"),
            min_qty=_d(data.get("min_qty")),
            max_floor=_d(data.get("max_floor")),
            expire_time=None if data.get("expire_time") is None else float(data["expire_time"]),
            expire_date=(
                None
                if data.get("expire_date") is None
                else _dt.date.fromisoformat(data["expire_date"])
            ),
            order_id=data.get("order_id"),
            chain=[str(c) for c in data["chain"]],
            base_status=OrdStatus(data["base_status"]),
            pending=[PendingRequest.from_dict(p) for p in data.get("pending", [])],
            fills=[Fill.from_dict(f) for f in data.get("fills", [])],
            exec_ids={str(e) for e in data.get("exec_ids", [])},
            rejected_requests=[str(r) for r in data.get("rejected_requests", [])],
            aliases=[str(r) for r in data.get("aliases", [])],
            updated_at=float(data.get("updated_at", data["created_at"])),
            text=data.get("text"),
            ord_rej_reason=data.get("ord_rej_reason"),
            last_reported_status=None if last is None else OrdStatus(last),
            anomaly_count=int(data.get("anomaly_count", 0)),
        )

    def __repr__(self) -> str:
        return (
            f"Order({self.cl_ord_id!r}, {self.side.name} {self.quantity} {self.symbol}"
            f" @ {self.price}, {self.status.name}, cum={self.cum_qty})"
        )


_PENDING_NEW = OrdStatus.PENDING_NEW
_NO_FILLS = (_ZERO, _ZERO)
_new_order = Order.__new__


def order_from_request(cl_ord_id: str, request: NewOrderRequest, now: float) -> Order:
    """The :class:`Order` for ``request`` sent as ``cl_ord_id`` at ``now``: what
    ``Order(cl_ord_id, request.symbol, ..., now, request.account, ...)`` makes, every
    field stored once (no default factories or ``__post_init__``, one order per send)."""
    order = _new_order(Order)
    order.cl_ord_id = cl_ord_id
    order.symbol = request.symbol
    order.side = request.side
    order.quantity = request.quantity
    order.ord_type = request.ord_type
    order.price = request.price
    order.stop_px = request.stop_px
    order.time_in_force = request.time_in_force
    order.created_at = now
    order.account = request.account
    order.handl_inst = request.handl_inst
    order.exec_inst = request.exec_inst
    order.min_qty = request.min_qty
    order.max_floor = request.max_floor
    order.expire_time = request.expire_time
    order.expire_date = request.expire_date
    order.order_id = None
    order._chain = (cl_ord_id,)
    order.base_status = _PENDING_NEW
    order._pending = None
    order.fills = []
    order._exec_ids = ()
    order._rejected_requests = None
    order._aliases = None
    order.updated_at = now
    order.text = None
    order.ord_rej_reason = None
    order.last_reported_status = None
    order.anomaly_count = 0
    order._totals = _NO_FILLS  # the sums of no fills
    return order
