"""Order messages: requests to FIX :class:`~fixengine.codec.Message` objects and back.

Theory of operation
-------------------
Builders turn the typed requests of :mod:`fixengine.orders.model` into
application messages for one FIX version (:class:`FixVersion`): the body only; the
session adds the standard header (BeginString, ApplVerID under FIXT.1.1, sequence
numbers, SendingTime) and trailer. What differs by version, from the FIX 4.2, 4.3,
4.4 and 5.0 SP2 message layouts:

* HandlInst(21) is required on NewOrderSingle and OrderCancelReplaceRequest in
  FIX 4.2 and 4.3 (optional later): it defaults to "1" (automated, private) there.
* ExecutionReports carry ExecTransType(20) in FIX 4.2 and not from 4.3 on; fills
  are ExecType 1/2 (partial fill / fill) in 4.2 and ExecType F (trade) from 4.3.
  Trade busts and corrections are ExecTransType 1/2 in 4.2, ExecType H/G later.
* OrdStatus 5 (Replaced) exists up to 4.3 and again in 5.0 SP2's dictionary;
  from 4.4 a replace reports the order's real status.
* OrderMassCancelRequest (35=q) exists from FIX 4.3: asking for it on a 4.2
  session raises :class:`~fixengine.errors.LocalProtocolError`.

Parsers go the other way, leniently by version (a 4.4 counterparty that still sends
ExecType 2 is understood) but strictly on values: a missing ExecID, an unknown
ExecType, a price that is not a decimal raise :class:`MessageError` naming the tag,
never a bare exception. The order state machine turns that into an anomaly.

Both directions exist for both sides, so the simulator (acceptor) parses requests
with the same code the router (initiator) builds them with, and builds the
ExecutionReports the router parses.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from ..codec import Message, utc_timestamp_millis
from ..errors import LocalProtocolError, RemoteProtocolError
from ..fields import (
    format_local_mkt_date,
    parse_decimal,
    parse_int,
    parse_local_mkt_date,
    parse_utc_timestamp_ns,
)
from .model import (
    CancelRequest,
    CxlRejResponseTo,
    ExecTransType,
    ExecType,
    HandlInst,
    MassCancelRequest,
    MassCancelRequestType,
    NewOrderRequest,
    OrdStatus,
    OrdType,
    ReplaceRequest,
    Side,
    StatusRequest,
    TimeInForce,
    frozen_init,
)

__all__ = [
    "CancelReject",
    "ExecutionReport",
    "FixVersion",
    "MessageError",
    "build_request",
    "cancel_reject_message",
    "execution_report_message",
    "new_order_single",
    "new_order_single_as",
    "order_cancel_replace_request",
    "order_cancel_request",
    "order_mass_cancel_request",
    "order_status_request",
    "parse_cancel_reject",
    "parse_cancel_request",
    "parse_execution_report",
    "parse_mass_cancel_request",
    "parse_new_order_single",
    "parse_replace_request",
    "parse_status_request",
]


class MessageError(RemoteProtocolError, ValueError):
    """A received order message lacks a required field or has a malformed value.

    ``tag`` names the field (None when the problem is the message as a whole).
    """

    def __init__(self, text: str, tag: int | None = None) -> None:
        super().__init__(text)
        self.tag = tag


class FixVersion(enum.Enum):
    """The application version whose message layouts to follow."""

    FIX42 = "FIX.4.2"
    FIX43 = "FIX.4.3"
    FIX44 = "FIX.4.4"
    FIX50 = "FIX.5.0"
    FIX50SP1 = "FIX.5.0SP1"
    FIX50SP2 = "FIX.5.0SP2"

    @classmethod
    def parse(cls, value: FixVersion | str) -> FixVersion:
        """``FIX.4.4``, ``FIX44``, ``4.4``, ``FIX.5.0SP2``, ``FIX50SP2`` or ApplVerID ``9``."""
        if isinstance(value, FixVersion):
            return value
        text = str(value).strip().upper()
        if text in _APPL_VER_IDS:
            return _APPL_VER_IDS[text]
        key = text.replace("FIX", "").replace(".", "").lstrip("_")
        for member in cls:
            if member.value.replace("FIX", "").replace(".", "").upper() == key:
                return member
        if text.startswith("FIXT"):
            raise LocalProtocolError(
                f"{value!r} is a transport version: give the application version "
                "(e.g. FIX.5.0SP2, the session's DefaultApplVerID)"
            )
        raise LocalProtocolError(
            f"unsupported FIX version {value!r} (supported: "
            + ", ".join(m.value for m in cls)
            + ")"
        )

    @property
    def begin_string(self) -> str:
        """BeginString(8) of a session of this version."""
        return "FIXT.1.1" if self.value.startswith("FIX.5") else self.value

    @property
    def appl_ver_id(self) -> str | None:
        """ApplVerID(1128) value for FIX 5.x, else None."""
        return {"FIX.5.0": "7", "FIX.5.0SP1": "8", "FIX.5.0SP2": "9"}.get(self.value)

    @property
    def has_exec_trans_type(self) -> bool:
        """ExecutionReports carry ExecTransType(20) (FIX 4.2)."""
        return self is FixVersion.FIX42

    @property
    def has_mass_cancel(self) -> bool:
        """OrderMassCancelRequest (35=q) exists (FIX 4.3 and later)."""
        return self is not FixVersion.FIX42

    @property
    def requires_handl_inst(self) -> bool:
        """HandlInst(21) is required on D and G (FIX 4.2 and 4.3)."""
        return self in (FixVersion.FIX42, FixVersion.FIX43)

    @property
    def has_replaced_status(self) -> bool:
        """OrdStatus 5 (Replaced) is a valid value."""
        return self in (FixVersion.FIX42, FixVersion.FIX43, FixVersion.FIX50SP2)


_APPL_VER_IDS = {
    "4": FixVersion.FIX42,
    "5": FixVersion.FIX43,
    "6": FixVersion.FIX44,
    "7": FixVersion.FIX50,
    "8": FixVersion.FIX50SP1,
    "9": FixVersion.FIX50SP2,
}

VersionLike = FixVersion | str


# -- helpers --------------------------------------------------------------------------------


#: UTCTimestamp with milliseconds, made once a millisecond (every order carries a
#: TransactTime; compiled with the codec)
_timestamp = utc_timestamp_millis


def _put(msg: Message, tag: int, value: Any) -> None:
    """Append ``tag`` when ``value`` is not None (enums by their FIX value)."""
    if value is None:
        return
    if isinstance(value, enum.Enum):
        value = value._value_  # (what .value returns, without the property call)
    msg.append(tag, value)


def _put_expiry(msg: Message, expire_time: float | None, expire_date: _dt.date | None) -> None:
    if expire_date is not None:
        msg.append(432, format_local_mkt_date(expire_date))
    if expire_time is not None:
        msg.append(126, _timestamp(expire_time))


def _handl_inst(value: HandlInst | None, version: FixVersion) -> HandlInst | None:
    if value is None and version.requires_handl_inst:
        return HandlInst.AUTOMATED_PRIVATE
    return value


_HANDL_INST_REQUIRED = frozenset(v for v in FixVersion if v.requires_handl_inst)
# (the same as a tuple: ``in`` compares members by identity, where the frozenset would
# hash the member through Enum.__hash__, a Python call)
_HANDL_INST_VERSIONS = tuple(_HANDL_INST_REQUIRED)
assert HandlInst.AUTOMATED_PRIVATE.value == "1"


# -- builders (initiator side) ----------------------------------------------------------------


def new_order_single(req: NewOrderRequest, version: VersionLike, *, now: float) -> Message:
    """NewOrderSingle (35=D) for ``req``; TransactTime(60) is ``now`` (UTC epoch seconds)."""
    v = FixVersion.parse(version)
    if req.cl_ord_id is None:
        raise LocalProtocolError("ClOrdID(11) is not assigned (OrderRegistry.new_order does)")
    return new_order_single_as(req, req.cl_ord_id, v, now)


_NEW_ORDER_TEMPLATE = Message(b"D")
_PLACEHOLDER = b"-"
#: (Symbol, Side) -> (OrderQty, OrdType, Price, TimeInForce, version, the NewOrderSingle
#: of those terms with ClOrdID and TransactTime left to fill in)
_NEW_ORDER_TEMPLATES: dict[tuple[str, str], tuple[Any, ...]] = {}
_TEMPLATE_LIMIT = 256


def _usual_new_order(
    req: NewOrderRequest, cl_ord_id: str | bytes, version: FixVersion, transact_time: bytes
) -> Message:
    """The NewOrderSingle of an order with no optional terms, field by field."""
    msg = _NEW_ORDER_TEMPLATE.copy()  # MsgType D (cheaper than building it)
    append = msg.append
    append(11, cl_ord_id)
    if version in _HANDL_INST_VERSIONS:
        append(21, b"1")  # automated execution, private (see _handl_inst)
    append(55, req.symbol)
    append(54, req.side._value_)
    append(60, transact_time)
    # (the codec writes a Decimal as to_bytes does, a non-finite one raising)
    append(38, req.quantity)
    append(40, req.ord_type._value_)
    price = req.price
    if price is not None:
        append(44, price)
    append(59, req.time_in_force._value_)
    return msg


def new_order_single_as(
    req: NewOrderRequest, cl_ord_id: str, version: FixVersion, now: float
) -> Message:
    """:func:`new_order_single` for ``req`` sent as ``cl_ord_id`` (whatever ``req`` carries).

    What the router uses: the ClOrdID the registry assigned goes on the wire without a
    copy of the request being made for it. The usual order (no optional terms) is
    copied from the message last built for the same terms, ClOrdID and TransactTime
    set in it; the terms are matched by identity (OrderQty and Price the same Decimal
    objects), so a quantity written differently, such as 100 and 100.0, gets its own.
    """
    if (
        req.account is None
        and req.handl_inst is None
        and req.exec_inst is None
        and req.min_qty is None
        and req.max_floor is None
        and req.ex_destination is None
        and req.security_id is None
        and req.security_id_source is None
        and req.stop_px is None
        and req.currency is None
        and req.expire_time is None
        and req.expire_date is None
        and req.text is None
        and not req.extra_fields
    ):
        key = (req.symbol, req.side._value_)
        entry = _NEW_ORDER_TEMPLATES.get(key)
        quantity = req.quantity
        price = req.price
        ord_type = req.ord_type
        tif = req.time_in_force
        if (
            entry is None
            or entry[0] is not quantity
            or entry[1] is not ord_type
            or entry[2] is not price
            or entry[3] is not tif
            or entry[4] is not version
        ):
            if len(_NEW_ORDER_TEMPLATES) >= _TEMPLATE_LIMIT:
                _NEW_ORDER_TEMPLATES.clear()
            template = _usual_new_order(req, _PLACEHOLDER, version, _PLACEHOLDER)
            entry = _NEW_ORDER_TEMPLATES[key] = (quantity, ord_type, price, tif, version, template)
        msg: Message = entry[5].copy()
        msg.set(11, cl_ord_id)
        msg.set(60, _timestamp(now))
        return msg
    msg = Message("D")
    msg.append(11, cl_ord_id)
    _put(msg, 1, req.account)
    _put(msg, 21, _handl_inst(req.handl_inst, version))
    _put(msg, 18, req.exec_inst)
    _put(msg, 110, req.min_qty)
    _put(msg, 111, req.max_floor)
    _put(msg, 100, req.ex_destination)
    msg.append(55, req.symbol)
    _put(msg, 48, req.security_id)
    _put(msg, 22, req.security_id_source)
    msg.append(54, req.side.value)
    msg.append(60, _timestamp(now))
    msg.append(38, req.quantity)
    msg.append(40, req.ord_type.value)
    _put(msg, 44, req.price)
    _put(msg, 99, req.stop_px)
    _put(msg, 15, req.currency)
    msg.append(59, req.time_in_force.value)
    _put_expiry(msg, req.expire_time, req.expire_date)
    _put(msg, 58, req.text)
    for tag, value in req.extra_fields:
        msg.append(tag, value)
    return msg


def order_cancel_request(req: CancelRequest, version: VersionLike, *, now: float) -> Message:
    """OrderCancelRequest (35=F)."""
    FixVersion.parse(version)
    msg = Message("F")
    msg.append(41, req.orig_cl_ord_id)
    _put(msg, 37, req.order_id)
    msg.append(11, req.cl_ord_id)
    _put(msg, 1, req.account)
    msg.append(55, req.symbol)
    msg.append(54, req.side.value)
    msg.append(60, _timestamp(now))
    _put(msg, 38, req.quantity)
    _put(msg, 58, req.text)
    return msg


def order_cancel_replace_request(
    req: ReplaceRequest, version: VersionLike, *, now: float
) -> Message:
    """OrderCancelReplaceRequest (35=G): every term of the order, changed or not."""
    v = FixVersion.parse(version)
    msg = Message("G")
    _put(msg, 37, req.order_id)
    msg.append(41, req.orig_cl_ord_id)
    msg.append(11, req.cl_ord_id)
    _put(msg, 1, req.account)
    _put(msg, 21, _handl_inst(req.handl_inst, v))
    _put(msg, 18, req.exec_inst)
    _put(msg, 110, req.min_qty)
    _put(msg, 111, req.max_floor)
    msg.append(55, req.symbol)
    msg.append(54, req.side.value)
    msg.append(60, _timestamp(now))
    msg.append(38, req.quantity)
    msg.append(40, req.ord_type.value)
    _put(msg, 44, req.price)
    _put(msg, 99, req.stop_px)
    msg.append(59, req.time_in_force.value)
    _put_expiry(msg, req.expire_time, req.expire_date)
    _put(msg, 58, req.text)
    for tag, value in req.extra_fields:
        msg.append(tag, value)
    return msg


def order_status_request(req: StatusRequest, version: VersionLike) -> Message:
    """OrderStatusRequest (35=H)."""
    FixVersion.parse(version)
    msg = Message("H")
    _put(msg, 37, req.order_id)
    msg.append(11, req.cl_ord_id)
    msg.append(55, req.symbol)
    msg.append(54, req.side.value)
    return msg


def order_mass_cancel_request(
    req: MassCancelRequest, version: VersionLike, *, now: float
) -> Message:
    """OrderMassCancelRequest (35=q); FIX 4.3 and later only."""
    v = FixVersion.parse(version)
    if not v.has_mass_cancel:
        raise LocalProtocolError(
            f"OrderMassCancelRequest (35=q) does not exist in {v.value} (added in FIX 4.3); "
            "cancel the orders one by one"
        )
    msg = Message("q")
    msg.append(11, req.cl_ord_id)
    msg.append(530, req.request_type.value)
    _put(msg, 336, req.trading_session_id)
    _put(msg, 55, req.symbol)
    _put(msg, 54, req.side)
    msg.append(60, _timestamp(now))
    _put(msg, 58, req.text)
    return msg


Request = NewOrderRequest | CancelRequest | ReplaceRequest | StatusRequest | MassCancelRequest


def build_request(req: Request, version: VersionLike, *, now: float) -> Message:
    """The message for any request type."""
    if isinstance(req, NewOrderRequest):
        return new_order_single(req, version, now=now)
    if isinstance(req, CancelRequest):
        return order_cancel_request(req, version, now=now)
    if isinstance(req, ReplaceRequest):
        return order_cancel_replace_request(req, version, now=now)
    if isinstance(req, StatusRequest):
        return order_status_request(req, version)
    if isinstance(req, MassCancelRequest):
        return order_mass_cancel_request(req, version, now=now)
    raise TypeError(f"not an order request: {type(req).__name__}")


# -- reports -----------------------------------------------------------------------------------


@frozen_init
@dataclasses.dataclass(frozen=True, slots=True)
class ExecutionReport:
    """An ExecutionReport (35=8), typed. ``message`` is the message it came from, if any."""

    exec_id: str
    exec_type: ExecType
    ord_status: OrdStatus
    order_id: str | None = None
    cl_ord_id: str | None = None
    orig_cl_ord_id: str | None = None
    exec_trans_type: ExecTransType | None = None
    exec_ref_id: str | None = None
    symbol: str | None = None
    side: Side | None = None
    order_qty: Decimal | None = None
    ord_type: OrdType | None = None
    price: Decimal | None = None
    stop_px: Decimal | None = None
    time_in_force: TimeInForce | None = None
    last_qty: Decimal | None = None
    last_px: Decimal | None = None
    cum_qty: Decimal | None = None
    leaves_qty: Decimal | None = None
    avg_px: Decimal | None = None
    ord_rej_reason: int | None = None
    exec_restatement_reason: int | None = None
    account: str | None = None
    text: str | None = None
    transact_time: str | None = None
    poss_dup: bool = False
    poss_resend: bool = False
    message: Message | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def is_fill(self) -> bool:
        """A new execution (ExecType F, or 1/2 with ExecTransType New/absent)."""
        return self.exec_type in (ExecType.TRADE, ExecType.PARTIAL_FILL, ExecType.FILL) and (
            self.exec_trans_type in (None, ExecTransType.NEW)
        )


@frozen_init
@dataclasses.dataclass(frozen=True, slots=True)
class CancelReject:
    """An OrderCancelReject (35=9), typed."""

    cl_ord_id: str
    ord_status: OrdStatus | None
    response_to: CxlRejResponseTo
    order_id: str | None = None
    orig_cl_ord_id: str | None = None
    reason: int | None = None
    text: str | None = None
    transact_time: str | None = None
    poss_dup: bool = False
    poss_resend: bool = False
    message: Message | None = dataclasses.field(default=None, compare=False, repr=False)


_T = TypeVar("_T")
_E = TypeVar("_E", bound=enum.Enum)


def _field(
    msg: Message, tag: int, conv: Callable[[bytes], _T], required: bool = False
) -> _T | None:
    raw = msg.get(tag)
    if raw is None or raw == b"":
        if required:
            raise MessageError(f"required tag {tag} missing", tag)
        return None
    try:
        return conv(raw)
    except (ValueError, UnicodeDecodeError):
        raise MessageError(f"tag {tag} has a malformed value {raw[:40]!r}", tag) from None


def _str(raw: bytes) -> str:
    return raw.decode("utf-8")


def _enum_conv(cls: type[enum.Enum]) -> Callable[[bytes], Any]:
    def conv(raw: bytes) -> Any:
        return cls(raw.decode("ascii"))

    return conv


_ENUM_TABLES: dict[type[enum.Enum], dict[bytes, Any]] = {}


def _enum_field(msg: Message, tag: int, cls: type[_E], required: bool = False) -> _E | None:
    """``_field(msg, tag, _enum_conv(cls), required)`` by a table of the wire values
    (an unknown value takes the general path, which raises the same error)."""
    raw = msg.get(tag)
    if raw:
        table = _ENUM_TABLES.get(cls)
        if table is None:
            table = _ENUM_TABLES[cls] = {m.value.encode(): m for m in cls}
        member: _E | None = table.get(raw)
        if member is not None:
            return member
    return _field(msg, tag, _enum_conv(cls), required)


_DECIMALS: dict[bytes, Decimal] = {}


def wire_decimal(raw: bytes) -> Decimal:
    """``parse_decimal(raw)`` (ValueError if malformed); the Decimals of values seen
    before are reused (quantities and prices repeat; a Decimal is immutable)."""
    value = _DECIMALS.get(raw)
    if value is None:
        value = parse_decimal(raw)
        if len(raw) <= 24:
            if len(_DECIMALS) >= 4096:
                _DECIMALS.clear()
            _DECIMALS[bytes(raw)] = value
    return value


def wire_enum(cls: type[_E]) -> dict[bytes, _E]:
    """``{wire value: member}`` of a FIX enumeration (what ``cls(raw.decode())`` gives)."""
    table = _ENUM_TABLES.get(cls)
    if table is None:
        table = _ENUM_TABLES[cls] = {m.value.encode(): m for m in cls}
    return table


def _decimal_field(msg: Message, tag: int) -> Decimal | None:
    """``_field(msg, tag, parse_decimal)`` through :func:`wire_decimal`'s cache."""
    raw = msg.get(tag)
    if raw:
        value = _DECIMALS.get(raw)
        if value is not None:
            return value
        value = _field(msg, tag, parse_decimal)
        if value is not None and len(raw) <= 24:
            if len(_DECIMALS) >= 4096:
                _DECIMALS.clear()
            _DECIMALS[bytes(raw)] = value
        return value
    return _field(msg, tag, parse_decimal)


def _req_decimal(msg: Message, tag: int) -> Decimal:
    """``_field(msg, tag, parse_decimal, required=True)`` through the cache."""
    value = _decimal_field(msg, tag)
    if value is None:
        value = _field(msg, tag, parse_decimal, required=True)
        assert value is not None
    return value


def _str_field(msg: Message, tag: int) -> str | None:
    """``_field(msg, tag, _str)`` without the converter call for the usual ASCII value."""
    raw = msg.get(tag)
    if raw and raw.isascii():
        return raw.decode("ascii")
    return _field(msg, tag, _str)


def _req_str(msg: Message, tag: int) -> str:
    value = _field(msg, tag, _str, required=True)
    assert value is not None
    return value


def _flag(msg: Message, tag: int) -> bool:
    return msg.get(tag) == b"Y"


def _check_type(msg: Message, expected: bytes, name: str) -> None:
    if msg.msg_type != expected:
        raise MessageError(f"not an {name} (35={expected.decode()}): 35={msg.msg_type!r}", 35)


def parse_execution_report(msg: Message) -> ExecutionReport:
    """Typed view of an ExecutionReport; :class:`MessageError` if it cannot be one."""
    _check_type(msg, b"8", "ExecutionReport")
    exec_type = _enum_field(msg, 150, ExecType, required=True)
    ord_status = _enum_field(msg, 39, OrdStatus, required=True)
    assert exec_type is not None and ord_status is not None
    report = ExecutionReport(
        exec_id=_req_str(msg, 17),
        exec_type=exec_type,
        ord_status=ord_status,
        order_id=_str_field(msg, 37),
        cl_ord_id=_str_field(msg, 11),
        orig_cl_ord_id=_str_field(msg, 41),
        exec_trans_type=_enum_field(msg, 20, ExecTransType),
        exec_ref_id=_str_field(msg, 19),
        symbol=_str_field(msg, 55),
        side=_enum_field(msg, 54, Side),
        order_qty=_decimal_field(msg, 38),
        ord_type=_enum_field(msg, 40, OrdType),
        price=_decimal_field(msg, 44),
        stop_px=_decimal_field(msg, 99),
        time_in_force=_enum_field(msg, 59, TimeInForce),
        last_qty=_decimal_field(msg, 32),
        last_px=_decimal_field(msg, 31),
        cum_qty=_decimal_field(msg, 14),
        leaves_qty=_decimal_field(msg, 151),
        avg_px=_decimal_field(msg, 6),
        ord_rej_reason=_field(msg, 103, parse_int),
        exec_restatement_reason=_field(msg, 378, parse_int),
        account=_str_field(msg, 1),
        text=_str_field(msg, 58),
        transact_time=_str_field(msg, 60),
        poss_dup=_flag(msg, 43),
        poss_resend=_flag(msg, 97),
        message=msg,
    )
    if report.is_fill and (report.last_qty is None or report.last_px is None):
        missing = 32 if report.last_qty is None else 31
        raise MessageError(f"fill report {report.exec_id} without LastQty/LastPx", missing)
    return report


def parse_cancel_reject(msg: Message) -> CancelReject:
    """Typed view of an OrderCancelReject; :class:`MessageError` if it cannot be one."""
    _check_type(msg, b"9", "OrderCancelReject")
    response_to = _field(msg, 434, _enum_conv(CxlRejResponseTo), required=True)
    assert response_to is not None
    return CancelReject(
        cl_ord_id=_req_str(msg, 11),
        ord_status=_field(msg, 39, _enum_conv(OrdStatus)),
        response_to=response_to,
        order_id=_field(msg, 37, _str),
        orig_cl_ord_id=_field(msg, 41, _str),
        reason=_field(msg, 102, parse_int),
        text=_field(msg, 58, _str),
        transact_time=_field(msg, 60, _str),
        poss_dup=_flag(msg, 43),
        poss_resend=_flag(msg, 97),
        message=msg,
    )


def execution_report_message(report: ExecutionReport, version: VersionLike) -> Message:
    """An ExecutionReport (35=8) laid out for ``version`` (the acceptor side).

    ExecType and ExecTransType are translated: a TRADE is written as 1/2 in FIX
    4.2; 1/2 as F from 4.3; trade busts/corrections as ExecTransType 1/2 in 4.2;
    OrdStatus 5 (Replaced) as the order's real status where 5 does not exist.
    """
    v = FixVersion.parse(version)
    exec_type = report.exec_type
    trans = report.exec_trans_type
    leaves = report.leaves_qty
    if v.has_exec_trans_type:
        if exec_type is ExecType.TRADE_CORRECT:
            trans, exec_type = ExecTransType.CORRECT, ExecType.PARTIAL_FILL
        elif exec_type is ExecType.TRADE_CANCEL:
            trans, exec_type = ExecTransType.CANCEL, ExecType.PARTIAL_FILL
        elif exec_type is ExecType.ORDER_STATUS:
            trans, exec_type = ExecTransType.STATUS, _status_exec_type(report.ord_status)
        if exec_type in (ExecType.TRADE, ExecType.PARTIAL_FILL, ExecType.FILL):
            filled = report.ord_status is OrdStatus.FILLED or (leaves is not None and leaves == 0)
            exec_type = ExecType.FILL if filled else ExecType.PARTIAL_FILL
        if trans is None:
            trans = ExecTransType.NEW
        if exec_type not in _FIX42_EXEC_TYPES:
            raise LocalProtocolError(f"ExecType {exec_type.name} does not exist in {v.value}")
    else:
        if trans is ExecTransType.CANCEL:
            exec_type = ExecType.TRADE_CANCEL
        elif trans is ExecTransType.CORRECT:
            exec_type = ExecType.TRADE_CORRECT
        elif trans is ExecTransType.STATUS:
            exec_type = ExecType.ORDER_STATUS
        if exec_type in (ExecType.PARTIAL_FILL, ExecType.FILL):
            exec_type = ExecType.TRADE
        trans = None
    ord_status = report.ord_status
    if ord_status is OrdStatus.REPLACED and not v.has_replaced_status:
        cum = report.cum_qty or Decimal(0)
        if leaves is not None and leaves == 0 and cum > 0:
            ord_status = OrdStatus.FILLED
        else:
            ord_status = OrdStatus.PARTIALLY_FILLED if cum > 0 else OrdStatus.NEW
    msg = Message("8")
    msg.append(37, report.order_id if report.order_id is not None else "NONE")
    _put(msg, 11, report.cl_ord_id)
    _put(msg, 41, report.orig_cl_ord_id)
    msg.append(17, report.exec_id)
    _put(msg, 20, trans)
    _put(msg, 19, report.exec_ref_id)
    msg.append(150, exec_type._value_)
    msg.append(39, ord_status._value_)
    _put(msg, 103, report.ord_rej_reason)
    _put(msg, 378, report.exec_restatement_reason)
    _put(msg, 1, report.account)
    msg.append(55, report.symbol if report.symbol is not None else "[N/A]")
    msg.append(54, (report.side or Side.BUY)._value_)
    _put(msg, 38, report.order_qty)
    _put(msg, 40, report.ord_type)
    _put(msg, 44, report.price)
    _put(msg, 99, report.stop_px)
    _put(msg, 59, report.time_in_force)
    _put(msg, 32, report.last_qty)
    _put(msg, 31, report.last_px)
    msg.append(151, leaves if leaves is not None else Decimal(0))
    msg.append(14, report.cum_qty if report.cum_qty is not None else Decimal(0))
    msg.append(6, report.avg_px if report.avg_px is not None else Decimal(0))
    _put(msg, 60, report.transact_time)
    _put(msg, 58, report.text)
    return msg


#: ExecType values of FIX 4.2 (0-9, A-E); Trade (F) and later came with 4.3.
_FIX42_EXEC_TYPES = frozenset(e for e in ExecType if e.value in "0123456789ABCDE")


def _status_exec_type(status: OrdStatus) -> ExecType:
    """FIX 4.2 status reports restate the last ExecType; pick the one matching OrdStatus."""
    return {
        OrdStatus.PARTIALLY_FILLED: ExecType.PARTIAL_FILL,
        OrdStatus.FILLED: ExecType.FILL,
        OrdStatus.CANCELED: ExecType.CANCELED,
        OrdStatus.REJECTED: ExecType.REJECTED,
        OrdStatus.EXPIRED: ExecType.EXPIRED,
        OrdStatus.PENDING_NEW: ExecType.PENDING_NEW,
        OrdStatus.DONE_FOR_DAY: ExecType.DONE_FOR_DAY,
        OrdStatus.PENDING_CANCEL: ExecType.PENDING_CANCEL,
        OrdStatus.PENDING_REPLACE: ExecType.PENDING_REPLACE,
        OrdStatus.STOPPED: ExecType.STOPPED,
        OrdStatus.SUSPENDED: ExecType.SUSPENDED,
    }.get(status, ExecType.NEW)


def cancel_reject_message(reject: CancelReject, version: VersionLike) -> Message:
    """An OrderCancelReject (35=9) for ``version`` (the acceptor side)."""
    FixVersion.parse(version)
    msg = Message("9")
    msg.append(37, reject.order_id if reject.order_id is not None else "NONE")
    msg.append(11, reject.cl_ord_id)
    _put(msg, 41, reject.orig_cl_ord_id)
    msg.append(39, (reject.ord_status or OrdStatus.REJECTED).value)
    msg.append(434, reject.response_to.value)
    _put(msg, 102, reject.reason)
    _put(msg, 60, reject.transact_time)
    _put(msg, 58, reject.text)
    return msg


# -- request parsers (acceptor side) ----------------------------------------------------------


def _epoch(raw: bytes) -> float:
    return parse_utc_timestamp_ns(raw) / 1_000_000_000


def _order_terms(msg: Message) -> dict[str, Any]:
    """Fields shared by D and G; each value typed, missing ones None."""
    return {
        "symbol": _str_field(msg, 55),
        "side": _enum_field(msg, 54, Side, required=True),
        "quantity": _req_decimal(msg, 38),
        "ord_type": _enum_field(msg, 40, OrdType, required=True),
        "price": _decimal_field(msg, 44),
        "stop_px": _decimal_field(msg, 99),
        "time_in_force": _enum_field(msg, 59, TimeInForce) or TimeInForce.DAY,
        "account": _str_field(msg, 1),
        "handl_inst": _enum_field(msg, 21, HandlInst),
        "exec_inst": _str_field(msg, 18),
        "min_qty": _decimal_field(msg, 110),
        "max_floor": _decimal_field(msg, 111),
        "expire_time": _field(msg, 126, _epoch),
        "expire_date": _field(msg, 432, parse_local_mkt_date),
        "text": _str_field(msg, 58),
    }


def _symbol(terms: dict[str, Any], msg: Message) -> str:
    symbol = terms.pop("symbol")
    if symbol is None:
        symbol = _field(msg, 48, _str)
    if symbol is None:
        raise MessageError("Symbol(55) (or SecurityID(48)) missing", 55)
    return str(symbol)


def parse_new_order_single(msg: Message) -> NewOrderRequest:
    """The :class:`NewOrderRequest` a NewOrderSingle carries.

    Raises :class:`MessageError` for a missing or malformed field and
    :class:`~fixengine.orders.model.InvalidOrder` for terms that do not fit
    together (e.g. a limit order without Price); an acceptor rejects either.
    """
    _check_type(msg, b"D", "NewOrderSingle")
    terms = _order_terms(msg)
    symbol = _symbol(terms, msg)
    return NewOrderRequest(
        symbol=symbol,
        cl_ord_id=_req_str(msg, 11),
        currency=_str_field(msg, 15),
        security_id=_str_field(msg, 48),
        security_id_source=_str_field(msg, 22),
        ex_destination=_str_field(msg, 100),
        **terms,
    )


def parse_replace_request(msg: Message) -> ReplaceRequest:
    """The :class:`ReplaceRequest` an OrderCancelReplaceRequest carries (see above)."""
    _check_type(msg, b"G", "OrderCancelReplaceRequest")
    terms = _order_terms(msg)
    symbol = _symbol(terms, msg)
    return ReplaceRequest(
        cl_ord_id=_req_str(msg, 11),
        orig_cl_ord_id=_req_str(msg, 41),
        order_id=_field(msg, 37, _str),
        symbol=symbol,
        **terms,
    )


def parse_cancel_request(msg: Message) -> CancelRequest:
    """The :class:`CancelRequest` an OrderCancelRequest carries."""
    _check_type(msg, b"F", "OrderCancelRequest")
    symbol = _field(msg, 55, _str) or _field(msg, 48, _str)
    if symbol is None:
        raise MessageError("Symbol(55) (or SecurityID(48)) missing", 55)
    side = _field(msg, 54, _enum_conv(Side), required=True)
    assert side is not None
    return CancelRequest(
        cl_ord_id=_req_str(msg, 11),
        orig_cl_ord_id=_req_str(msg, 41),
        symbol=symbol,
        side=side,
        quantity=_field(msg, 38, parse_decimal),
        order_id=_field(msg, 37, _str),
        account=_field(msg, 1, _str),
        text=_field(msg, 58, _str),
    )


def parse_status_request(msg: Message) -> StatusRequest:
    """The :class:`StatusRequest` an OrderStatusRequest carries."""
    _check_type(msg, b"H", "OrderStatusRequest")
    symbol = _field(msg, 55, _str) or _field(msg, 48, _str)
    if symbol is None:
        raise MessageError("Symbol(55) (or SecurityID(48)) missing", 55)
    side = _field(msg, 54, _enum_conv(Side), required=True)
    assert side is not None
    return StatusRequest(
        cl_ord_id=_req_str(msg, 11),
        symbol=symbol,
        side=side,
        order_id=_field(msg, 37, _str),
    )


def parse_mass_cancel_request(msg: Message) -> MassCancelRequest:
    """The :class:`MassCancelRequest` an OrderMassCancelRequest carries."""
    _check_type(msg, b"q", "OrderMassCancelRequest")
    request_type = _field(msg, 530, _enum_conv(MassCancelRequestType), required=True)
    assert request_type is not None
    return MassCancelRequest(
        cl_ord_id=_req_str(msg, 11),
        request_type=request_type,
        symbol=_field(msg, 55, _str),
        side=_field(msg, 54, _enum_conv(Side)),
        trading_session_id=_field(msg, 336, _str),
        text=_field(msg, 58, _str),
    )
