"""Simulator reports: ExecutionReports, cancel rejects and mass cancel reports per FIX version,
checked against the shipped dictionaries; request parsing that never raises."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from fixengine.codec import Message
from fixengine.dictionary import load
from fixengine.errors import ConfigError
from fixengine.orders.messages import FixVersion, parse_cancel_reject, parse_execution_report
from fixengine.orders.model import (
    CancelRequest,
    CxlRejReason,
    CxlRejResponseTo,
    ExecTransType,
    ExecType,
    MassCancelRequest,
    MassCancelRequestType,
    NewOrderRequest,
    OrdRejReason,
    OrdStatus,
    OrdType,
    Side,
    StatusRequest,
    TimeInForce,
)
from fixengine.sim.reports import (
    BadRequest,
    IdSource,
    Reports,
    average_price,
    parse_request,
    session_version,
)
from fixengine.validation import validate

VERSIONS = [FixVersion.FIX42, FixVersion.FIX43, FixVersion.FIX44, FixVersion.FIX50SP2]


@dataclasses.dataclass
class FakeOrder:
    order_id: str = "O-1"
    cl_ord_id: str = "C-2"
    orig_cl_ord_id: str | None = "C-1"
    symbol: str = "XYZ"
    side: Side = Side.BUY
    order_qty: Decimal = Decimal(100)
    ord_type: OrdType = OrdType.LIMIT
    price: Decimal | None = Decimal("10.25")
    stop_px: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    account: str | None = "ACC"
    cum_qty: Decimal = Decimal(40)
    leaves_qty: Decimal = Decimal(60)
    avg_px: Decimal = Decimal("10.2")
    status: OrdStatus = OrdStatus.PARTIALLY_FILLED


def on_the_wire(msg: Message, version: FixVersion, seq: int = 2) -> Message:
    """``msg`` with a standard header, as a session would send it, decoded again."""
    from fixengine.codec import decode

    out = Message(msg.msg_type)
    for tag, value in [(49, "EXEC"), (56, "CLIENT"), (34, seq), (52, "20240501-12:00:00.000")]:
        out.append(tag, value)
    for tag, value in msg.fields():
        if tag != 35:
            out.append(tag, value)
    return decode(out.encode(version.begin_string))


def check_valid(msg: Message, version: FixVersion) -> None:
    wire = on_the_wire(msg, version)
    if version.begin_string == "FIXT.1.1":
        rejection = validate(wire, load("FIXT11"), app_dictionary=load("FIX50SP2"))
    else:
        rejection = validate(wire, load(version.value.replace(".", "")))
    assert rejection is None, (version, rejection, wire)


@pytest.mark.parametrize("version", VERSIONS)
def test_fill_reports_are_valid_and_use_the_version_exec_type(version: FixVersion) -> None:
    reports = Reports(version, IdSource("T"))
    partial = reports.execution(
        FakeOrder(), ExecType.TRADE, now=1.0, last_qty=Decimal(40), last_px=Decimal("10.2")
    )
    filled = reports.execution(
        FakeOrder(cum_qty=Decimal(100), leaves_qty=Decimal(0), status=OrdStatus.FILLED),
        ExecType.TRADE,
        now=1.0,
        last_qty=Decimal(60),
        last_px=Decimal("10.25"),
    )
    for msg in (partial, filled):
        check_valid(msg, version)
    if version is FixVersion.FIX42:
        assert partial.get(150) == b"1" and filled.get(150) == b"2"
        assert partial.get(20) == b"0"
    else:
        assert partial.get(150) == b"F" and filled.get(150) == b"F"
        assert partial.get(20) is None
    report = parse_execution_report(on_the_wire(filled, version))
    assert report.is_fill
    assert (report.cum_qty, report.leaves_qty, report.last_qty) == (100, 0, 60)
    assert report.last_px == Decimal("10.25") and report.ord_status is OrdStatus.FILLED
    assert report.order_id == "O-1" and report.cl_ord_id == "C-2"
    assert partial.get(17) != filled.get(17)


@pytest.mark.parametrize("version", VERSIONS)
def test_new_cancel_replace_and_status_reports_are_valid(version: FixVersion) -> None:
    reports = Reports(version, IdSource("T"))
    new = FakeOrder(cum_qty=Decimal(0), leaves_qty=Decimal(100), status=OrdStatus.NEW)
    canceled = FakeOrder(leaves_qty=Decimal(0), status=OrdStatus.CANCELED)
    for exec_type, order in [
        (ExecType.NEW, new),
        (ExecType.CANCELED, canceled),
        (ExecType.REPLACED, FakeOrder()),
        (ExecType.ORDER_STATUS, FakeOrder()),
        (ExecType.EXPIRED, dataclasses.replace(canceled, status=OrdStatus.EXPIRED)),
    ]:
        msg = reports.execution(order, exec_type, now=2.0)
        check_valid(msg, version)
        assert msg.get(39) == order.status.value.encode()
    status = reports.status(FakeOrder(), now=2.0)
    if version is FixVersion.FIX42:
        assert status.get(20) == ExecTransType.STATUS.value.encode()
        assert status.get(150) == b"1"  # restates the last ExecType (partial fill)
    else:
        assert status.get(150) == b"I"


@pytest.mark.parametrize("version", VERSIONS)
def test_replace_ack_reports_the_order_real_status_never_replaced(version: FixVersion) -> None:
    msg = Reports(version).execution(FakeOrder(), ExecType.REPLACED, now=0.0)
    assert msg.get(150) == b"5"
    assert msg.get(39) == b"1"
    assert (msg.get(11), msg.get(41)) == (b"C-2", b"C-1")


@pytest.mark.parametrize("version", VERSIONS)
def test_order_rejects_use_a_reason_the_version_defines(version: FixVersion) -> None:
    reports = Reports(version)
    msg = reports.order_rejected(
        cl_ord_id="C-9",
        symbol="XYZ",
        side=Side.SELL,
        quantity=Decimal(5),
        ord_type=OrdType.LIMIT,
        price=None,
        reason=OrdRejReason.OTHER,
        text="Price(44) is required",
        now=0.0,
    )
    check_valid(msg, version)
    assert (msg.get(150), msg.get(39)) == (b"8", b"8")
    expected = b"0" if version in (FixVersion.FIX42, FixVersion.FIX43) else b"99"
    assert msg.get(103) == expected
    assert msg.get(58) == b"Price(44) is required"


@pytest.mark.parametrize("version", VERSIONS)
def test_cancel_rejects_are_valid_for_unknown_and_done_orders(version: FixVersion) -> None:
    reports = Reports(version)
    unknown = reports.cancel_reject(
        cl_ord_id="C-5",
        orig_cl_ord_id="NOPE",
        response_to=CxlRejResponseTo.ORDER_CANCEL_REQUEST,
        reason=CxlRejReason.UNKNOWN_ORDER,
        text="Unknown order",
        now=0.0,
    )
    late = reports.cancel_reject(
        cl_ord_id="C-6",
        orig_cl_ord_id="C-1",
        order_id="O-1",
        ord_status=OrdStatus.FILLED,
        response_to=CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST,
        reason=CxlRejReason.TOO_LATE_TO_CANCEL,
        text="Order is filled",
        now=0.0,
    )
    for msg in (unknown, late):
        check_valid(msg, version)
    typed = parse_cancel_reject(on_the_wire(unknown, version))
    assert typed.reason == 1 and typed.ord_status is OrdStatus.REJECTED
    assert typed.response_to is CxlRejResponseTo.ORDER_CANCEL_REQUEST
    assert typed.orig_cl_ord_id == "NOPE" and typed.order_id == "NONE"
    typed = parse_cancel_reject(on_the_wire(late, version))
    assert typed.reason == 0 and typed.ord_status is OrdStatus.FILLED
    assert typed.response_to is CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST


@pytest.mark.parametrize("version", VERSIONS[1:])
def test_mass_cancel_reports_list_the_affected_orders(version: FixVersion) -> None:
    reports = Reports(version)
    request = MassCancelRequest("M-1", MassCancelRequestType.SECURITY, symbol="XYZ")
    msg = reports.mass_cancel_report(
        request, [FakeOrder(cl_ord_id="A"), FakeOrder(cl_ord_id="B", order_id="O-2")], now=0.0
    )
    check_valid(msg, version)
    assert (msg.get(530), msg.get(531), msg.get(533)) == (b"1", b"1", b"2")
    delimiter = 1824 if version is FixVersion.FIX50SP2 else 41
    assert msg.get_all(delimiter) == [b"A", b"B"]
    assert msg.get_all(535) == [b"O-1", b"O-2"]
    rejected = reports.mass_cancel_report(request, [], now=0.0, reject_reason=0, text="no")
    check_valid(rejected, version)
    assert (rejected.get(531), rejected.get(532), rejected.get(533)) == (b"0", b"0", b"0")


def test_mass_cancel_report_does_not_exist_in_fix42() -> None:
    from fixengine.errors import LocalProtocolError

    with pytest.raises(LocalProtocolError):
        Reports(FixVersion.FIX42).mass_cancel_report(MassCancelRequest("M"), [], now=0.0)


def test_average_price_is_exact_when_it_terminates_and_rounded_otherwise() -> None:
    assert average_price(Decimal("301.5"), Decimal(30)) == Decimal("10.05")
    assert average_price(Decimal(10), Decimal(3)) == Decimal("3.3333333333")
    assert average_price(Decimal(0), Decimal(0)) == 0


def test_ids_are_unique_and_carry_a_per_run_prefix() -> None:
    a, b = IdSource(), IdSource()
    ids = {a.exec_id() for _ in range(100)} | {a.order_id() for _ in range(100)}
    assert len(ids) == 200
    assert a.exec_id() != b.exec_id() or a.prefix == b.prefix


def order_message(**fields: object) -> Message:
    base: dict[int, object] = {11: "C-1", 55: "XYZ", 54: "1", 38: "100", 40: "2", 44: "10"}
    base.update({int(k[1:]): v for k, v in fields.items()})
    msg = Message("D")
    for tag, value in base.items():
        if value is not None:
            msg.append(tag, value)  # type: ignore[arg-type]
    return msg


def test_parse_request_gives_typed_requests() -> None:
    request = parse_request(order_message())
    assert isinstance(request, NewOrderRequest)
    assert (request.quantity, request.price, request.side) == (100, 10, Side.BUY)
    cancel = Message.from_fields([(35, "F"), (11, "C-2"), (41, "C-1"), (55, "X"), (54, "1")])
    assert isinstance(parse_request(cancel), CancelRequest)
    status = Message.from_fields([(35, "H"), (11, "C-1"), (55, "X"), (54, "2")])
    assert isinstance(parse_request(status), StatusRequest)


@pytest.mark.parametrize(
    ("fields", "tag", "text"),
    [
        ({"t44": None}, None, "Price(44) is required"),
        ({"t54": "Z"}, 54, "tag 54"),
        ({"t38": "abc"}, 38, "tag 38"),
        ({"t38": "-5"}, None, "OrderQty(38) must be positive"),
        ({"t55": None}, 55, "Symbol(55)"),
    ],
)
def test_parse_request_names_what_is_wrong(
    fields: dict[str, object], tag: int | None, text: str
) -> None:
    with pytest.raises(BadRequest) as info:
        parse_request(order_message(**fields))
    assert info.value.tag == tag
    assert text in info.value.text
    assert info.value.cl_ord_id == "C-1"


def test_parse_request_refuses_other_message_types() -> None:
    with pytest.raises(BadRequest) as info:
        parse_request(Message("8"))
    assert info.value.tag == 35


def test_session_version_follows_begin_string_or_default_appl_ver_id() -> None:
    assert session_version("FIX.4.2") is FixVersion.FIX42
    assert session_version("FIXT.1.1", "9") is FixVersion.FIX50SP2
    assert session_version("FIXT.1.1", "FIX.5.0SP1") is FixVersion.FIX50SP1
    with pytest.raises(ConfigError, match=r"FIX\.4\.2 to FIX\.5\.0SP2"):
        session_version("FIX.4.1")
