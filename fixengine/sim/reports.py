"""Order messages from the simulator's side: requests in, reports out, per FIX version.

Theory of operation
-------------------
The simulator reads the five order requests a client sends - NewOrderSingle (D),
OrderCancelRequest (F), OrderCancelReplaceRequest (G), OrderStatusRequest (H) and
OrderMassCancelRequest (q, FIX 4.3 and later) - with the parsers of
:mod:`fixengine.orders.messages`, the same code the order router builds them with.
:func:`parse_request` turns every way a request can be unusable into one
:class:`BadRequest` that says which field is at fault, so the exchange can answer
it (an ExecutionReport with OrdStatus Rejected, an OrderCancelReject, or a
BusinessMessageReject when not even the identifiers are there); it never raises
anything else.

:class:`Reports` builds what goes back, laid out for the session's application
version (:func:`session_version`: the BeginString, or DefaultApplVerID under
FIXT.1.1):

* ExecutionReport (35=8) through
  :func:`fixengine.orders.messages.execution_report_message`: ExecTransType(20)=0
  and ExecType 1/2 for partial fill/fill in FIX 4.2; ExecType F (Trade) from 4.3;
  ExecType I (Order Status) for status answers from 4.3 (4.2: ExecTransType 3).
  OrdStatus is the order's real status, also on a replace acknowledgement (FIX 4.2
  Appendix D, D11; OrdStatus 5 is never sent). Every report carries OrderID, a
  unique ExecID, Symbol, Side, OrderQty, OrdType, Price, CumQty, LeavesQty, AvgPx
  and TransactTime; fills add LastQty/LastPx.
* OrderCancelReject (35=9) with CxlRejResponseTo(434) and CxlRejReason(102).
* OrderMassCancelReport (35=r) with the affected orders in NoAffectedOrders(534)
  (AffectedOrigClOrdID(1824) replaces OrigClOrdID(41) in 5.0 SP2, which also
  requires MassActionReportID(1369)).

Reason codes are checked against the shipped dictionary of the version: a code the
version does not define (OrdRejReason 99 "Other" in FIX 4.2, say) is sent as the
closest one it does (0, broker option).

Quantities are exact Decimals; AvgPx is the exact average when it terminates and
is otherwise rounded half-even to :data:`AVG_PX_PLACES` places.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact
from functools import cache
from typing import Protocol

from ..codec import Message, utc_timestamp_millis
from ..dictionary import DataDictionary
from ..dictionary import load as load_dictionary
from ..errors import ConfigError, LocalProtocolError
from ..fields import parse_decimal
from ..orders.messages import (
    CancelReject,
    ExecutionReport,
    FixVersion,
    MessageError,
    cancel_reject_message,
    execution_report_message,
    parse_cancel_request,
    parse_mass_cancel_request,
    parse_new_order_single,
    parse_replace_request,
    parse_status_request,
)
from ..orders.model import (
    CancelRequest,
    CxlRejReason,
    CxlRejResponseTo,
    ExecType,
    InvalidOrder,
    MassCancelRequest,
    NewOrderRequest,
    OrdRejReason,
    OrdStatus,
    OrdType,
    ReplaceRequest,
    Side,
    StatusRequest,
    TimeInForce,
)

__all__ = [
    "AVG_PX_PLACES",
    "BadRequest",
    "IdSource",
    "NewOrderTerms",
    "OrderShape",
    "OrderView",
    "Reports",
    "Request",
    "average_price",
    "parse_request",
    "read_new_order",
    "read_order",
    "round_avg_px",
    "session_version",
]

AVG_PX_PLACES = 10
"""Decimal places of an AvgPx that does not terminate (10/3 -> 3.3333333333)."""

Request = NewOrderRequest | CancelRequest | ReplaceRequest | StatusRequest | MassCancelRequest

_PARSERS: dict[bytes, Callable[[Message], Request]] = {
    b"D": parse_new_order_single,
    b"F": parse_cancel_request,
    b"G": parse_replace_request,
    b"H": parse_status_request,
    b"q": parse_mass_cancel_request,
}

#: MsgTypes :func:`parse_request` understands.
REQUEST_TYPES: frozenset[bytes] = frozenset(_PARSERS)


class BadRequest(Exception):
    """An order request the simulator cannot act on; ``tag`` names the field at fault.

    ``cl_ord_id`` / ``orig_cl_ord_id`` are the identifiers the message did carry, so
    the answer can refer to the request.
    """

    def __init__(
        self,
        text: str,
        *,
        tag: int | None = None,
        msg_type: bytes = b"",
        cl_ord_id: str | None = None,
        orig_cl_ord_id: str | None = None,
    ) -> None:
        super().__init__(text)
        self.text = text
        self.tag = tag
        self.msg_type = msg_type
        self.cl_ord_id = cl_ord_id
        self.orig_cl_ord_id = orig_cl_ord_id


def _ident(msg: Message, tag: int) -> str | None:
    raw = msg.get(tag)
    if not raw:
        return None
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return None


def parse_request(msg: Message) -> Request:
    """The typed request ``msg`` carries; :class:`BadRequest` when it cannot be used."""
    msg_type = msg.msg_type or b""
    parser = _PARSERS.get(msg_type)
    if parser is None:
        raise BadRequest(f"not an order request: MsgType {msg_type!r}", tag=35, msg_type=msg_type)
    try:
        request: Request = parser(msg)
    except (MessageError, InvalidOrder) as exc:
        raise BadRequest(
            str(exc),
            tag=getattr(exc, "tag", None),
            msg_type=msg_type,
            cl_ord_id=_ident(msg, 11),
            orig_cl_ord_id=_ident(msg, 41),
        ) from None
    except (ValueError, LocalProtocolError) as exc:  # anything else a value can trip
        raise BadRequest(
            f"malformed request: {exc}",
            msg_type=msg_type,
            cl_ord_id=_ident(msg, 11),
            orig_cl_ord_id=_ident(msg, 41),
        ) from None
    return request


#: A NewOrderSingle as :func:`read_new_order` reads it: ClOrdID, Symbol, Side, OrderQty,
#: OrdType, Price, TimeInForce, Account, each typed, then the values its reports repeat as
#: field bytes: ClOrdID, Symbol, Side, OrderQty, OrdType, Price, TimeInForce, Account.
NewOrderTerms = tuple[
    str,
    str,
    Side,
    Decimal,
    OrdType,
    Decimal | None,
    TimeInForce,
    str | None,
    bytes,
    bytes,
    bytes,
    bytes,
    bytes,
    bytes | None,
    bytes,
    bytes | None,
]

#: Tags of a NewOrderSingle that :func:`read_new_order` leaves to :func:`parse_request`
#: (each is checked there): HandlInst, ExecInst, MinQty, MaxFloor, ExpireTime,
#: ExpireDate, Text, Currency, SecurityID, SecurityIDSource, ExDestination, StopPx.
_LEFT_TO_PARSER = (21, 18, 110, 111, 126, 432, 58, 15, 48, 22, 100, 99)
_LEAN_SIDES = {b"1": Side.BUY, b"2": Side.SELL}
_LEAN_ORD_TYPES = {b"1": OrdType.MARKET, b"2": OrdType.LIMIT}
_LEAN_TIF = {
    b"0": TimeInForce.DAY,
    b"1": TimeInForce.GOOD_TILL_CANCEL,
    b"3": TimeInForce.IMMEDIATE_OR_CANCEL,
}
_TIF_INDEX = {tif: i for i, tif in enumerate(_LEAN_TIF.values())}
_CACHE_LIMIT = 4096
_PAIR_LIMIT = 256  # report pairs kept for the fast path (one per order shape)
_texts: dict[bytes, str] = {}  # Symbol / Account values seen, checked
_quantities: dict[bytes, tuple[Decimal, bytes]] = {}  # positive OrderQty -> (value, bytes)
_prices: dict[bytes, tuple[Decimal, bytes]] = {}  # Price -> (value, bytes)


def _lean_text(raw: bytes) -> str | None:
    """A Symbol or Account the parser would take as is (ASCII, no SOH), else None."""
    text = _texts.get(raw)
    if text is None:
        if not raw or not raw.isascii() or b"\x01" in raw:
            return None
        if len(_texts) >= _CACHE_LIMIT:
            _texts.clear()
        text = _texts[raw] = raw.decode("ascii")
    return text


def _lean_decimal(
    raw: bytes, cache: dict[bytes, tuple[Decimal, bytes]], positive: bool
) -> tuple[Decimal, bytes] | None:
    """(value, field bytes) of a decimal the parser would accept, else None."""
    try:
        value = parse_decimal(raw)
    except ValueError:
        return None
    if positive and not value > 0:
        return None
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    pair = cache[raw] = (value, format(value, "f").encode())
    return pair


class OrderShape:
    """The terms of a NewOrderSingle :func:`read_new_order` takes, but its ClOrdID: Symbol,
    Side, OrderQty, OrdType, Price, TimeInForce and Account, typed, and ``fields``, the
    bytes its reports repeat (Symbol, Side, OrderQty, OrdType, Price, TimeInForce,
    Account). Orders with the same terms share one shape (read once, then looked up by
    the field values)."""

    __slots__ = (
        "account", "buy", "fields", "market", "ord_type", "plan", "price", "quantity", "side",
        "symbol", "terms", "tif",
    )  # fmt: skip

    def __init__(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        ord_type: OrdType,
        price: Decimal | None,
        tif: TimeInForce,
        account: str | None,
        fields: tuple[bytes, bytes, bytes, bytes, bytes | None, bytes, bytes | None],
    ) -> None:
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.ord_type = ord_type
        self.price = price
        self.tif = tif
        self.account = account
        self.fields = fields
        #: a Buy; a market order; and the index of (side, ord_type, tif) among the terms an
        #: order filled on arrival may have (market then limit, Buy then Sell, Day, GTC, IOC)
        self.buy = side is Side.BUY
        self.market = ord_type is OrdType.MARKET
        self.terms = (0 if self.market else 6) + (0 if self.buy else 3) + _TIF_INDEX.get(tif, 0)
        #: what the fast path reads of the shape, in one attribute: Symbol, a Buy, a market
        #: order, Price, OrderQty, the terms' index, Account
        self.plan: tuple[str, bool, bool, Decimal | None, Decimal, int, str | None] = (
            symbol, self.buy, self.market, price, quantity, self.terms, account,
        )  # fmt: skip


#: The tags :func:`read_order` picks: the terms of an order shape (Symbol, Side, OrderQty,
#: OrdType, Price, TimeInForce, Account), then the fields left to the parser. (ClOrdID is
#: read apart: the picked values are then the key of the shape as they are.)
_READ_TAGS = (55, 54, 38, 40, 44, 59, 1, *_LEFT_TO_PARSER)
_TERMS = 7  # how many of them are the terms

#: The values of _READ_TAGS, as sent -> their shape. Only terms that read_new_order()
#: takes are kept: none with a field left to the parser.
_shapes: dict[tuple[bytes | None, ...], OrderShape] = {}


def _shape(key: tuple[bytes | None, ...]) -> OrderShape | None:
    """The shape of the values ``key`` (tags 55, 54, 38, 40, 44, 59, 1 then the fields
    left to the parser; None when absent) if :func:`read_new_order` takes them, else None."""
    if any(value is not None for value in key[_TERMS:]):
        return None
    raw_symbol, raw_side, raw_qty, raw_type, raw_px, raw_tif, raw_account = key[:_TERMS]
    if raw_symbol is None:
        return None
    symbol = _lean_text(raw_symbol)
    side = _LEAN_SIDES.get(raw_side) if raw_side is not None else None
    if symbol is None or side is None or raw_side is None or raw_qty is None:
        return None
    qty = _quantities.get(raw_qty) or _lean_decimal(raw_qty, _quantities, True)
    ord_type = _LEAN_ORD_TYPES.get(raw_type) if raw_type is not None else None
    if qty is None or ord_type is None or raw_type is None:
        return None
    price: Decimal | None = None
    px_bytes: bytes | None = None
    if ord_type is OrdType.LIMIT:
        if not raw_px:
            return None
        px = _prices.get(raw_px) or _lean_decimal(raw_px, _prices, False)
        if px is None:
            return None
        price, px_bytes = px
    elif raw_px is not None:
        return None
    if raw_tif is None:
        tif, raw_tif = TimeInForce.DAY, b"0"
    else:
        found = _LEAN_TIF.get(raw_tif)
        if found is None:
            return None
        tif = found
    account: str | None = None
    if raw_account is not None:
        account = _lean_text(raw_account)
        if account is None:
            return None
    fields = (raw_symbol, raw_side, qty[1], raw_type, px_bytes, raw_tif, raw_account)
    shape = OrderShape(symbol, side, qty[0], ord_type, price, tif, account, fields)
    if len(_shapes) >= _CACHE_LIMIT:
        _shapes.clear()
    _shapes[key] = shape
    return shape


#: What the simulator's fast path picks of every application message: MsgType and
#: PossResend, then the tags of :func:`read_order`'s key (ClOrdID is read apart).
FAST_TAGS = (35, 97, *_READ_TAGS)
#: The values of FAST_TAGS -> the shape of a NewOrderSingle that is not a possible resend
#: (the same shapes as _shapes, under a key that says MsgType D and no PossResend).
_fast_shapes: dict[tuple[bytes | None, ...], OrderShape] = {}


def fast_shape(key: tuple[bytes | None, ...]) -> OrderShape | None:
    """The shape of the values ``key`` of :data:`FAST_TAGS` (a NewOrderSingle with no
    PossResend(97) that :func:`read_order` takes), else None."""
    if key[0] != b"D" or key[1] is not None:
        return None
    rest = key[2:]
    shape = _shapes.get(rest)
    if shape is None:
        shape = _shape(rest)
        if shape is None:
            return None
    if len(_fast_shapes) >= _CACHE_LIMIT:
        _fast_shapes.clear()
    _fast_shapes[key] = shape
    return shape


def read_order(msg: Message) -> tuple[str, bytes, OrderShape] | None:
    """The common NewOrderSingle as (ClOrdID, its bytes, :class:`OrderShape`), or None.

    What :func:`read_new_order` reads, in the form the simulator's fast path takes it:
    the fields it needs are picked in one pass, and the shape is looked up by their
    values.
    """
    values = msg.pick(_READ_TAGS)
    shape = _shapes.get(values)
    if shape is None:
        shape = _shape(values)
        if shape is None:
            return None
    raw_cl = msg.get(11)
    if not raw_cl or not raw_cl.isascii():
        return None
    cl_ord_id = raw_cl.decode("ascii")
    if not cl_ord_id.isprintable() or " " in cl_ord_id:
        return None
    return cl_ord_id, raw_cl, shape


def read_new_order(msg: Message) -> NewOrderTerms | None:
    """The common NewOrderSingle, read without building a request, or None.

    Reads a market or limit order, Buy or Sell, Day, GTC or IOC, with optional
    Account and nothing else :func:`parse_request` would have to check. Whatever it
    returns is what :func:`parse_request` makes of the message, value for value (the
    test suite compares the two); None means "use :func:`parse_request`", which takes
    every other message, right or wrong, and raises the same :class:`BadRequest`.
    Quantities and prices come from the wire (no exponent), so ``0 + qty`` and
    ``qty - 0`` print as ``qty``.
    """
    order = read_order(msg)
    if order is None:
        return None
    cl_ord_id, raw_cl, s = order
    raw_symbol, raw_side, qty, raw_type, px, raw_tif, raw_account = s.fields
    return (
        cl_ord_id,
        s.symbol,
        s.side,
        s.quantity,
        s.ord_type,
        s.price,
        s.tif,
        s.account,
        raw_cl,
        raw_symbol,
        raw_side,
        qty,
        raw_type,
        px,
        raw_tif,
        raw_account,
    )


def session_version(begin_string: str, default_appl_ver_id: str | None = None) -> FixVersion:
    """The application version of a session: its BeginString, or DefaultApplVerID (FIXT.1.1).

    Raises :class:`~fixengine.errors.ConfigError` for versions the simulator does not
    trade (FIX.4.0 and 4.1 have another ExecutionReport layout).
    """
    name = begin_string
    if begin_string == "FIXT.1.1":
        name = default_appl_ver_id or "FIX.5.0SP2"
    try:
        return FixVersion.parse(name)
    except LocalProtocolError as exc:
        raise ConfigError(
            f"the simulator trades FIX.4.2 to FIX.5.0SP2, not {name}: {exc}"
        ) from None


@cache
def _dictionary(version: FixVersion) -> DataDictionary | None:
    try:
        return load_dictionary(version.value.replace(".", ""))
    except ConfigError:
        return None


def _supported(version: FixVersion, tag: int, value: int, fallback: int) -> int:
    """``value`` if the version's dictionary defines it for ``tag``, else ``fallback``."""
    dd = _dictionary(version)
    if dd is None or tag not in dd.fields:
        return value
    enums = dd.fields[tag].enums
    if not enums or str(value).encode() in enums:
        return value
    return fallback


def round_avg_px(avg: Decimal) -> Decimal:
    """An AvgPx(6) as reports show it: rounded to :data:`AVG_PX_PLACES` decimals (and
    normalized) when it has more, else ``avg`` itself."""
    exponent = avg.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > AVG_PX_PLACES:
        return avg.quantize(Decimal(1).scaleb(-AVG_PX_PLACES)).normalize()
    return avg


def average_price(notional: Decimal, quantity: Decimal) -> Decimal:
    """``notional / quantity`` exactly when it terminates, else to :data:`AVG_PX_PLACES`."""
    if not quantity:
        return Decimal(0)
    ctx = Context(prec=60, traps=[Inexact])
    try:
        value = ctx.divide(notional, quantity)
    except Inexact:
        return (notional / quantity).quantize(
            Decimal(1).scaleb(-AVG_PX_PLACES), rounding=ROUND_HALF_EVEN
        )
    return value


class IdSource:
    """OrderIDs and ExecIDs unique within a run and across restarts.

    Each ID is a prefix made from the start time (base 36 milliseconds) and the
    process ID, then a counter: ``O-LX2F0K9A-1a2b-17``.
    """

    def __init__(self, prefix: str | None = None) -> None:
        if prefix is None:
            prefix = f"{_base36(time.time_ns() // 1_000_000)}-{_base36(os.getpid())}"
        self.prefix = prefix
        self._orders = itertools.count(1)
        self._execs = itertools.count(1)
        self._reports = itertools.count(1)
        self._exec_prefix: tuple[str, bytes] = (prefix, f"E-{prefix}-".encode())

    def order_id(self) -> str:
        """A new OrderID(37)."""
        return f"O-{self.prefix}-{next(self._orders)}"

    def exec_id(self) -> str:
        """A new ExecID(17)."""
        return f"E-{self.prefix}-{next(self._execs)}"

    def exec_id_bytes(self) -> bytes:
        """:meth:`exec_id` as the bytes of the field (the same counter)."""
        if self._exec_prefix[0] is not self.prefix:
            self._exec_prefix = (self.prefix, f"E-{self.prefix}-".encode())
        return b"%b%d" % (self._exec_prefix[1], next(self._execs))

    def report_id(self) -> str:
        """A new ID for a mass cancel report (its OrderID and MassActionReportID)."""
        return f"M-{self.prefix}-{next(self._reports)}"


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out.upper()


class OrderView(Protocol):
    """What a report says about an order (the exchange's order record provides it)."""

    @property
    def order_id(self) -> str: ...
    @property
    def cl_ord_id(self) -> str: ...
    @property
    def orig_cl_ord_id(self) -> str | None: ...
    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> Side: ...
    @property
    def order_qty(self) -> Decimal: ...
    @property
    def ord_type(self) -> OrdType: ...
    @property
    def price(self) -> Decimal | None: ...
    @property
    def stop_px(self) -> Decimal | None: ...
    @property
    def time_in_force(self) -> TimeInForce: ...
    @property
    def account(self) -> str | None: ...
    @property
    def cum_qty(self) -> Decimal: ...
    @property
    def leaves_qty(self) -> Decimal: ...
    @property
    def avg_px(self) -> Decimal: ...
    @property
    def status(self) -> OrdStatus: ...


#: TransactTime with milliseconds, made once a millisecond (every report carries one;
#: compiled with the codec)
_stamp = utc_timestamp_millis


def _timestamp(now: float) -> str:
    return _stamp(now).decode()


@dataclasses.dataclass
class Reports:
    """Builds the simulator's answers for one application version."""

    version: FixVersion
    ids: IdSource = dataclasses.field(default_factory=IdSource)
    _fix42: bool = dataclasses.field(default=False, init=False, repr=False, compare=False)
    # the New/Fill pair last laid for each order shape: the LastPx and AvgPx it was laid
    # for (the Decimals, then their field bytes) and the two messages
    _pairs: dict[OrderShape, tuple[Decimal, Decimal, bytes, bytes, Message, Message]] = (
        dataclasses.field(default_factory=dict, init=False, repr=False, compare=False)
    )

    def __post_init__(self) -> None:
        self._fix42 = self.version is FixVersion.FIX42

    # -- execution reports ---------------------------------------------------------------
    def execution(
        self,
        order: OrderView,
        exec_type: ExecType,
        *,
        now: float,
        last_qty: Decimal | None = None,
        last_px: Decimal | None = None,
        text: str | None = None,
        ord_status: OrdStatus | None = None,
        exec_restatement_reason: int | None = None,
    ) -> Message:
        """An ExecutionReport on ``order`` as it stands now (after the event)."""
        report = ExecutionReport(
            exec_id=self.ids.exec_id(),
            exec_type=exec_type,
            ord_status=ord_status if ord_status is not None else order.status,
            order_id=order.order_id,
            cl_ord_id=order.cl_ord_id,
            orig_cl_ord_id=order.orig_cl_ord_id,
            symbol=order.symbol,
            side=order.side,
            order_qty=order.order_qty,
            ord_type=order.ord_type,
            price=order.price,
            stop_px=order.stop_px,
            time_in_force=order.time_in_force,
            last_qty=last_qty,
            last_px=last_px,
            cum_qty=order.cum_qty,
            leaves_qty=order.leaves_qty,
            avg_px=order.avg_px,
            exec_restatement_reason=exec_restatement_reason,
            account=order.account,
            text=text,
            transact_time=_timestamp(now),
        )
        return execution_report_message(report, self.version)

    def _relay(
        self, shape: OrderShape, last_px: Decimal, avg: Decimal
    ) -> tuple[Decimal, Decimal, bytes, bytes, Message, Message]:
        """The New/Fill pair of the fast path (:mod:`fixengine.sim._fast_py`) for an order
        shape filled whole at new LastPx/AvgPx Decimals: the one laid for the shape if
        their field bytes are the same, else one laid anew."""
        px_bytes = format(last_px, "f").encode()
        avg_text = format(avg, "f")
        dot = avg_text.find(".")
        if dot >= 0 and len(avg_text) - dot - 1 > AVG_PX_PLACES:
            avg_text = format(round_avg_px(avg), "f")
        avg_bytes = avg_text.encode()
        pairs = self._pairs
        laid = pairs.get(shape)
        if laid is not None and laid[2] == px_bytes and laid[3] == avg_bytes:
            new, fill = laid[4], laid[5]
        else:
            if len(pairs) >= _PAIR_LIMIT:
                pairs.clear()
            new, fill = self._lay_pair(shape.fields, px_bytes, avg_bytes)
        laid = pairs[shape] = (last_px, avg, px_bytes, avg_bytes, new, fill)
        return laid

    def _lay_pair(
        self,
        fields: tuple[bytes, bytes, bytes, bytes, bytes | None, bytes, bytes | None],
        px_bytes: bytes,
        avg_bytes: bytes,
    ) -> tuple[Message, Message]:
        """The New and Fill reports of the fast path for an order shape's
        ``fields`` and the LastPx/AvgPx field bytes, OrderID, ClOrdID, ExecID and
        TransactTime left blank."""
        raw_symbol, raw_side, qty, raw_type, px, raw_tif, raw_account = fields
        fix42 = self._fix42
        blank = b"-"

        def terms(put: Callable[[int, bytes], object]) -> None:
            # the order's terms, as both reports repeat them
            if raw_account is not None:
                put(1, raw_account)
            put(55, raw_symbol)
            put(54, raw_side)
            put(38, qty)
            put(40, raw_type)
            if px is not None:
                put(44, px)
            put(59, raw_tif)

        new = Message(b"8")
        put = new.append
        put(37, blank)
        put(11, blank)
        put(17, blank)
        if fix42:
            put(20, b"0")
        put(150, b"0")
        put(39, b"0")
        terms(put)
        put(151, qty)
        put(14, b"0")
        put(6, b"0")
        put(60, blank)

        fill = Message(b"8")
        put = fill.append
        put(37, blank)
        put(11, blank)
        put(17, blank)
        if fix42:
            put(20, b"0")
            put(150, b"2")
        else:
            put(150, b"F")
        put(39, b"2")
        terms(put)
        put(32, qty)
        put(31, px_bytes)
        put(151, b"0")
        put(14, qty)
        put(6, avg_bytes)
        put(60, blank)
        return new, fill

    def status(self, order: OrderView, *, now: float, text: str | None = None) -> Message:
        """The answer to an OrderStatusRequest on a known order (ExecType I / ExecTransType 3)."""
        return self.execution(order, ExecType.ORDER_STATUS, now=now, text=text)

    def order_rejected(
        self,
        *,
        cl_ord_id: str,
        symbol: str | None,
        side: Side | None,
        quantity: Decimal | None,
        ord_type: OrdType | None,
        price: Decimal | None,
        reason: OrdRejReason,
        text: str,
        now: float,
        order_id: str | None = None,
        account: str | None = None,
    ) -> Message:
        """ExecutionReport ExecType/OrdStatus Rejected with OrdRejReason(103) and Text."""
        report = ExecutionReport(
            exec_id=self.ids.exec_id(),
            exec_type=ExecType.REJECTED,
            ord_status=OrdStatus.REJECTED,
            order_id=order_id if order_id is not None else self.ids.order_id(),
            cl_ord_id=cl_ord_id,
            symbol=symbol,
            side=side,
            order_qty=quantity,
            ord_type=ord_type,
            price=price,
            cum_qty=Decimal(0),
            leaves_qty=Decimal(0),
            avg_px=Decimal(0),
            ord_rej_reason=_supported(self.version, 103, int(reason), 0),
            account=account,
            text=text,
            transact_time=_timestamp(now),
        )
        return execution_report_message(report, self.version)

    def status_unknown(self, request: StatusRequest, *, now: float) -> Message:
        """The answer to a status request for an order the simulator does not know.

        ExecType I (4.2: ExecTransType 3), OrdStatus Rejected, OrdRejReason 5
        (unknown order), as the order state change matrices prescribe.
        """
        report = ExecutionReport(
            exec_id=self.ids.exec_id(),
            exec_type=ExecType.ORDER_STATUS,
            ord_status=OrdStatus.REJECTED,
            order_id=request.order_id or "NONE",
            cl_ord_id=request.cl_ord_id,
            symbol=request.symbol,
            side=request.side,
            cum_qty=Decimal(0),
            leaves_qty=Decimal(0),
            avg_px=Decimal(0),
            ord_rej_reason=int(OrdRejReason.UNKNOWN_ORDER),
            text="Unknown order",
            transact_time=_timestamp(now),
        )
        return execution_report_message(report, self.version)

    # -- cancel rejects ---------------------------------------------------------------------
    def cancel_reject(
        self,
        *,
        cl_ord_id: str,
        orig_cl_ord_id: str | None,
        response_to: CxlRejResponseTo,
        reason: CxlRejReason,
        text: str,
        now: float,
        order_id: str | None = None,
        ord_status: OrdStatus | None = None,
    ) -> Message:
        """OrderCancelReject (35=9); OrdStatus is the order's, or Rejected when unknown."""
        fallback = 99 if self.version not in (FixVersion.FIX42, FixVersion.FIX43) else 2
        reject = CancelReject(
            cl_ord_id=cl_ord_id,
            ord_status=ord_status if ord_status is not None else OrdStatus.REJECTED,
            response_to=response_to,
            order_id=order_id,
            orig_cl_ord_id=orig_cl_ord_id if orig_cl_ord_id is not None else "NONE",
            reason=_supported(self.version, 102, int(reason), fallback),
            text=text,
            transact_time=_timestamp(now),
        )
        return cancel_reject_message(reject, self.version)

    # -- mass cancel ------------------------------------------------------------------------
    def mass_cancel_report(
        self,
        request: MassCancelRequest,
        affected: Iterable[OrderView],
        *,
        now: float,
        reject_reason: int | None = None,
        text: str | None = None,
    ) -> Message:
        """OrderMassCancelReport (35=r): what was canceled, or why nothing was (531=0)."""
        if not self.version.has_mass_cancel:
            raise LocalProtocolError(f"{self.version.value} has no OrderMassCancelReport")
        report_id = self.ids.report_id()
        orders = list(affected)
        msg = Message("r")
        msg.append(11, request.cl_ord_id)
        msg.append(37, report_id)
        if self.version is FixVersion.FIX50SP2:
            msg.append(1369, report_id)
        msg.append(530, request.request_type.value)
        if reject_reason is not None:
            msg.append(531, "0")
            msg.append(532, reject_reason)
        else:
            msg.append(531, request.request_type.value)
        msg.append(533, len(orders))
        if orders:
            delimiter = self._affected_delimiter()
            msg.append(534, len(orders))
            for order in orders:
                msg.append(delimiter, order.cl_ord_id)
                msg.append(535, order.order_id)
        if request.trading_session_id is not None:
            msg.append(336, request.trading_session_id)
        if request.symbol is not None:
            msg.append(55, request.symbol)
        if request.side is not None:
            msg.append(54, request.side.value)
        msg.append(60, _timestamp(now))
        if text is not None:
            msg.append(58, text)
        return msg

    def _affected_delimiter(self) -> int:
        dd = _dictionary(self.version)
        if dd is not None and dd.has_message("r"):
            group = dd.message("r").groups.get(534)
            if group is not None:
                return group.delimiter
        return 41
