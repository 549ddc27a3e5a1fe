"""Order messages: requests built per FIX version (checked against the data dictionaries),
reports parsed and built, and request validation."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest

from fixengine.codec import Message, decode, encode
from fixengine.errors import LocalProtocolError
from fixengine.orders.messages import (
    _NEW_ORDER_TEMPLATES,
    _TEMPLATE_LIMIT,
    CancelReject,
    ExecutionReport,
    FixVersion,
    MessageError,
    _timestamp,
    _usual_new_order,
    build_request,
    cancel_reject_message,
    execution_report_message,
    new_order_single,
    new_order_single_as,
    order_cancel_replace_request,
    order_cancel_request,
    order_mass_cancel_request,
    order_status_request,
    parse_cancel_reject,
    parse_cancel_request,
    parse_execution_report,
    parse_mass_cancel_request,
    parse_new_order_single,
    parse_replace_request,
    parse_status_request,
)
from fixengine.orders.model import (
    CancelRequest,
    CxlRejResponseTo,
    ExecTransType,
    ExecType,
    HandlInst,
    InvalidOrder,
    MassCancelRequest,
    MassCancelRequestType,
    NewOrderRequest,
    OrdStatus,
    OrdType,
    ReplaceRequest,
    Side,
    StatusRequest,
    TimeInForce,
)

NOW = 1_700_000_000.25
VERSIONS = ["FIX.4.2", "FIX.4.4", "FIX.5.0SP2"]
_DICTS = {
    "FIX.4.2": ("FIX42", None),
    "FIX.4.4": ("FIX44", None),
    "FIX.5.0SP2": ("FIXT11", "FIX50SP2"),
    "FIX.4.3": ("FIX43", None),
}


def rejection(msg: Message, version: str) -> Any:
    """What the data dictionary of ``version`` says about ``msg`` (None = valid)."""
    validation = pytest.importorskip("fixengine.validation")
    dictionary = pytest.importorskip("fixengine.dictionary")
    v = FixVersion.parse(version)
    full = msg.copy()
    for tag, value in [(49, "BUY"), (56, "SELL"), (34, 1), (52, "20240102-03:04:05.678")]:
        full.set(tag, value)
    wire = decode(encode(full, v.begin_string))
    session, app = _DICTS[version]
    return validation.validate(
        wire,
        dictionary.load(session),
        app_dictionary=None if app is None else dictionary.load(app),
    )


def limit(**kw: Any) -> NewOrderRequest:
    kw.setdefault("cl_ord_id", "C1")
    return NewOrderRequest("IBM", Side.BUY, D(100), price=D("10.25"), **kw)


# -- NewOrderSingle ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "request_",
    [
        limit(),
        NewOrderRequest("IBM", Side.SELL, D(5), OrdType.MARKET, cl_ord_id="M"),
        NewOrderRequest("IBM", Side.SELL_SHORT, D(5), OrdType.STOP, stop_px=D(9), cl_ord_id="S"),
        NewOrderRequest(
            "IBM",
            Side.BUY,
            D(5),
            OrdType.STOP_LIMIT,
            price=D(11),
            stop_px=D("10.5"),
            cl_ord_id="SL",
        ),
        limit(time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL, min_qty=D(10)),
        limit(time_in_force=TimeInForce.FILL_OR_KILL, account="ACC-1", exec_inst="G"),
        limit(time_in_force=TimeInForce.GOOD_TILL_DATE, expire_time=NOW + 3600, max_floor=D(10)),
        limit(time_in_force=TimeInForce.GOOD_TILL_DATE, expire_date=dt.date(2024, 3, 1)),
        limit(
            time_in_force=TimeInForce.GOOD_TILL_CANCEL,
            handl_inst=HandlInst.MANUAL,
            currency="USD",
            text="hello",
        ),
        NewOrderRequest("IBM", Side.SELL_SHORT_EXEMPT, D("0.5"), price=D("-1.25"), cl_ord_id="N"),
    ],
    ids=[
        "limit",
        "market",
        "stop",
        "stop-limit",
        "ioc-minqty",
        "fok",
        "gtd-time",
        "gtd-date",
        "gtc",
        "negative-price",
    ],
)
def test_new_order_single_is_valid_for_the_version(version: str, request_: NewOrderRequest) -> None:
    msg = new_order_single(request_, version, now=NOW)
    assert msg.msg_type == b"D"
    assert rejection(msg, version) is None
    assert msg.get_str(11) == request_.cl_ord_id
    assert msg.get_decimal(38) == request_.quantity
    assert msg.get_decimal(44) == request_.price
    assert msg.get_decimal(99) == request_.stop_px
    assert msg.get(60) == b"20231114-22:13:20.250"
    expected = request_
    if version == "FIX.4.2" and request_.handl_inst is None:
        expected = dataclasses.replace(request_, handl_inst=HandlInst.AUTOMATED_PRIVATE)
    assert parse_new_order_single(msg) == expected


def test_fix42_new_order_defaults_handl_inst_and_fix44_leaves_it_out() -> None:
    assert new_order_single(limit(), "FIX.4.2", now=NOW).get(21) == b"1"
    assert new_order_single(limit(), "FIX.4.3", now=NOW).get(21) == b"1"
    assert new_order_single(limit(), "FIX.4.4", now=NOW).get(21) is None
    assert new_order_single(limit(handl_inst=HandlInst.MANUAL), "FIX.4.4", now=NOW).get(21) == b"3"


def test_fix42_new_order_without_handl_inst_would_be_rejected_by_the_dictionary() -> None:
    msg = new_order_single(limit(), "FIX.4.2", now=NOW)
    msg.remove(21)
    assert rejection(msg, "FIX.4.2") is not None  # the test above can fail


def test_gtd_expiry_is_written_as_expire_time_or_expire_date() -> None:
    by_time = new_order_single(
        limit(time_in_force=TimeInForce.GOOD_TILL_DATE, expire_time=NOW), "FIX.4.4", now=NOW
    )
    assert by_time.get(126) == b"20231114-22:13:20.250" and by_time.get(432) is None
    by_date = new_order_single(
        limit(time_in_force=TimeInForce.GOOD_TILL_DATE, expire_date=dt.date(2024, 3, 1)),
        "FIX.4.4",
        now=NOW,
    )
    assert by_date.get(432) == b"20240301" and by_date.get(126) is None


def test_extra_fields_are_appended_in_order() -> None:
    msg = new_order_single(limit(extra_fields=((5000, "x"), (5001, D("1.5")))), "FIX.4.4", now=NOW)
    assert msg.fields()[-2:] == [(5000, b"x"), (5001, b"1.5")]


def test_new_order_needs_an_assigned_cl_ord_id() -> None:
    with pytest.raises(LocalProtocolError, match="ClOrdID"):
        new_order_single(NewOrderRequest("IBM", Side.BUY, D(1), price=D(1)), "FIX.4.4", now=NOW)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ord_type": OrdType.LIMIT, "price": None}, "Price"),
        ({"ord_type": OrdType.MARKET, "price": D(1)}, "Price"),
        ({"ord_type": OrdType.STOP, "price": None}, "StopPx"),
        ({"ord_type": OrdType.STOP_LIMIT, "price": D(1)}, "StopPx"),
        ({"stop_px": D(1)}, "StopPx"),
        ({"quantity": 1.5}, "float"),
        ({"quantity": D(0)}, "positive"),
        ({"quantity": D("-3")}, "positive"),
        ({"quantity": D("NaN")}, "finite"),
        ({"price": 10.25}, "float"),
        ({"time_in_force": TimeInForce.GOOD_TILL_DATE}, "GTD"),
        ({"expire_time": NOW}, "GTD"),
        (
            {
                "time_in_force": TimeInForce.GOOD_TILL_DATE,
                "expire_time": NOW,
                "expire_date": dt.date(2024, 1, 1),
            },
            "not both",
        ),
        ({"min_qty": D(101)}, "MinQty"),
        ({"max_floor": D(101)}, "MaxFloor"),
        ({"symbol": ""}, "Symbol"),
        ({"symbol": "IB\x01M"}, "SOH"),
        ({"cl_ord_id": "has space"}, "ClOrdID"),
        ({"side": "Z"}, "Side"),
        ({"extra_fields": ((44, "1"),)}, "set by the builder"),
        ({"extra_fields": ((5000, 1.5),)}, "float"),
    ],
)
def test_invalid_new_order_is_refused_naming_the_field(kwargs: dict[str, Any], match: str) -> None:
    base: dict[str, Any] = {
        "symbol": "IBM",
        "side": Side.BUY,
        "quantity": D(100),
        "ord_type": OrdType.LIMIT,
        "price": D(10),
    }
    base.update(kwargs)
    with pytest.raises(InvalidOrder, match=match):
        NewOrderRequest(**base)


def test_int_quantity_is_accepted_as_exact_decimal() -> None:
    req = NewOrderRequest("IBM", Side.BUY, 100, price=D(1))  # type: ignore[arg-type]
    assert req.quantity == D(100) and isinstance(req.quantity, D)


# -- cancel, replace, status, mass cancel -------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_cancel_request_is_valid_and_round_trips(version: str) -> None:
    req = CancelRequest("C2", "C1", "IBM", Side.BUY, quantity=D(100), order_id="O1", account="A")
    msg = order_cancel_request(req, version, now=NOW)
    assert msg.msg_type == b"F" and rejection(msg, version) is None
    assert (msg.get(41), msg.get(11), msg.get(37)) == (b"C1", b"C2", b"O1")
    assert parse_cancel_request(msg) == req


@pytest.mark.parametrize("version", VERSIONS)
def test_replace_request_is_valid_and_round_trips(version: str) -> None:
    req = ReplaceRequest(
        "C3",
        "C2",
        "IBM",
        Side.BUY,
        D(150),
        price=D("10.5"),
        order_id="O1",
        time_in_force=TimeInForce.GOOD_TILL_CANCEL,
        max_floor=D(50),
    )
    msg = order_cancel_replace_request(req, version, now=NOW)
    assert msg.msg_type == b"G" and rejection(msg, version) is None
    assert msg.get(21) == (b"1" if version == "FIX.4.2" else None)
    parsed = parse_replace_request(msg)
    expected_handl = HandlInst.AUTOMATED_PRIVATE if version == "FIX.4.2" else None
    assert parsed == ReplaceRequest(**{**_fields(req), "handl_inst": expected_handl})


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


@pytest.mark.parametrize("version", VERSIONS)
def test_status_request_is_valid_and_round_trips(version: str) -> None:
    req = StatusRequest("C1", "IBM", Side.SELL, order_id="O9")
    msg = order_status_request(req, version)
    assert msg.msg_type == b"H" and rejection(msg, version) is None
    assert parse_status_request(msg) == req


@pytest.mark.parametrize("version", ["FIX.4.3", "FIX.4.4", "FIX.5.0SP2"])
def test_mass_cancel_request_is_valid_from_fix43(version: str) -> None:
    for req in (
        MassCancelRequest("MC1"),
        MassCancelRequest("MC2", MassCancelRequestType.SECURITY, symbol="IBM", side=Side.BUY),
    ):
        msg = order_mass_cancel_request(req, version, now=NOW)
        assert msg.msg_type == b"q" and rejection(msg, version) is None
        assert parse_mass_cancel_request(msg) == req


def test_mass_cancel_is_refused_clearly_for_fix42() -> None:
    with pytest.raises(LocalProtocolError, match=r"does not exist in FIX\.4\.2"):
        order_mass_cancel_request(MassCancelRequest("MC1"), "FIX.4.2", now=NOW)


def test_mass_cancel_request_needs_the_fields_its_type_needs() -> None:
    with pytest.raises(InvalidOrder, match="Symbol"):
        MassCancelRequest("M", MassCancelRequestType.SECURITY)
    with pytest.raises(InvalidOrder, match="ALL_ORDERS"):
        MassCancelRequest("M", symbol="IBM")


def test_cancel_must_use_a_new_cl_ord_id() -> None:
    with pytest.raises(InvalidOrder, match="differ"):
        CancelRequest("C1", "C1", "IBM", Side.BUY)


def test_build_request_dispatches_on_the_request_type() -> None:
    assert build_request(limit(), "FIX.4.4", now=NOW).msg_type == b"D"
    assert build_request(StatusRequest("C", "IBM", Side.BUY), "FIX.4.4", now=NOW).msg_type == b"H"
    with pytest.raises(TypeError):
        build_request("D", "FIX.4.4", now=NOW)  # type: ignore[arg-type]


# -- versions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("FIX.4.2", FixVersion.FIX42),
        ("fix44", FixVersion.FIX44),
        ("4.4", FixVersion.FIX44),
        ("FIX.5.0SP2", FixVersion.FIX50SP2),
        ("FIX50SP2", FixVersion.FIX50SP2),
        ("9", FixVersion.FIX50SP2),
        ("FIX.5.0", FixVersion.FIX50),
    ],
)
def test_fix_version_accepts_the_usual_spellings(text: str, version: FixVersion) -> None:
    assert FixVersion.parse(text) is version


def test_transport_version_alone_is_refused() -> None:
    with pytest.raises(LocalProtocolError, match="application version"):
        FixVersion.parse("FIXT.1.1")
    with pytest.raises(LocalProtocolError, match="unsupported"):
        FixVersion.parse("FIX.4.0")


# -- ExecutionReport and OrderCancelReject ---------------------------------------------------


def fill_report(**kw: Any) -> ExecutionReport:
    base: dict[str, Any] = dict(
        exec_id="E1",
        exec_type=ExecType.TRADE,
        ord_status=OrdStatus.PARTIALLY_FILLED,
        order_id="O1",
        cl_ord_id="C1",
        symbol="IBM",
        side=Side.BUY,
        order_qty=D(100),
        ord_type=OrdType.LIMIT,
        price=D("10.25"),
        last_qty=D(30),
        last_px=D("10.2"),
        cum_qty=D(30),
        leaves_qty=D(70),
        avg_px=D("10.2"),
        transact_time="20240102-03:04:05.678",
    )
    base.update(kw)
    return ExecutionReport(**base)


@pytest.mark.parametrize("version", VERSIONS)
def test_execution_report_is_valid_for_the_version(version: str) -> None:
    msg = execution_report_message(fill_report(), version)
    assert rejection(msg, version) is None
    if version == "FIX.4.2":
        assert (msg.get(20), msg.get(150)) == (b"0", b"1")
    else:
        assert (msg.get(20), msg.get(150)) == (None, b"F")


def test_fix42_final_fill_is_exec_type_2() -> None:
    report = fill_report(ord_status=OrdStatus.FILLED, leaves_qty=D(0))
    assert execution_report_message(report, "FIX.4.2").get(150) == b"2"


@pytest.mark.parametrize("version", ["FIX.4.2", "FIX.4.4"])
def test_trade_bust_is_written_per_version(version: str) -> None:
    report = fill_report(exec_type=ExecType.TRADE_CANCEL, exec_ref_id="E0", exec_id="E9")
    msg = execution_report_message(report, version)
    assert rejection(msg, version) is None
    if version == "FIX.4.2":
        assert (msg.get(20), msg.get(19)) == (b"1", b"E0")
    else:
        assert (msg.get(20), msg.get(150), msg.get(19)) == (None, b"H", b"E0")
    assert parse_execution_report(msg).exec_ref_id == "E0"


def test_fix44_replace_report_never_carries_ord_status_replaced() -> None:
    report = fill_report(
        exec_type=ExecType.REPLACED, ord_status=OrdStatus.REPLACED, last_qty=None, last_px=None
    )
    msg = execution_report_message(report, "FIX.4.4")
    assert msg.get(39) == b"1" and rejection(msg, "FIX.4.4") is None
    assert execution_report_message(report, "FIX.4.2").get(39) == b"5"


@pytest.mark.parametrize("version", VERSIONS)
def test_execution_report_round_trips_through_the_wire(version: str) -> None:
    report = fill_report()
    v = FixVersion.parse(version)
    parsed = parse_execution_report(
        decode(encode(execution_report_message(report, v), v.begin_string))
    )
    expected = report
    if version == "FIX.4.2":
        expected = fill_report(exec_type=ExecType.PARTIAL_FILL, exec_trans_type=ExecTransType.NEW)
    assert parsed == expected
    assert parsed.is_fill


def test_poss_dup_and_poss_resend_flags_are_read_from_the_header() -> None:
    msg = execution_report_message(fill_report(), "FIX.4.4")
    msg.set(43, "Y")
    msg.set(97, "Y")
    report = parse_execution_report(msg)
    assert report.poss_dup and report.poss_resend


@pytest.mark.parametrize(
    ("tag", "value", "missing"),
    [
        (17, None, 17),
        (150, None, 150),
        (39, None, 39),
        (150, b"?", 150),
        (14, b"1e3", 14),
        (31, b"ten", 31),
        (32, None, 32),
        (54, b"Q", 54),
    ],
)
def test_malformed_execution_report_raises_message_error_naming_the_tag(
    tag: int, value: bytes | None, missing: int
) -> None:
    msg = execution_report_message(fill_report(), "FIX.4.4")
    if value is None:
        msg.remove(tag)
    else:
        msg.set(tag, value)
    with pytest.raises(MessageError) as info:
        parse_execution_report(msg)
    assert info.value.tag == missing


def test_parse_execution_report_refuses_other_message_types() -> None:
    with pytest.raises(MessageError, match="ExecutionReport"):
        parse_execution_report(Message("D"))


@pytest.mark.parametrize("version", VERSIONS)
def test_cancel_reject_is_valid_and_round_trips(version: str) -> None:
    reject = CancelReject(
        "C2",
        OrdStatus.NEW,
        CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST,
        order_id="O1",
        orig_cl_ord_id="C1",
        reason=0,
        text="too late",
    )
    msg = cancel_reject_message(reject, version)
    assert rejection(msg, version) is None
    assert parse_cancel_reject(msg) == reject


def test_cancel_reject_without_response_to_is_malformed() -> None:
    msg = cancel_reject_message(
        CancelReject("C2", OrdStatus.NEW, CxlRejResponseTo.ORDER_CANCEL_REQUEST), "FIX.4.4"
    )
    msg.remove(434)
    with pytest.raises(MessageError) as info:
        parse_cancel_reject(msg)
    assert info.value.tag == 434


def test_parse_new_order_single_reports_bad_terms_as_invalid_order() -> None:
    msg = new_order_single(limit(), "FIX.4.4", now=NOW)
    msg.remove(44)
    with pytest.raises(InvalidOrder, match="Price"):
        parse_new_order_single(msg)
    msg.remove(54)
    with pytest.raises(MessageError) as info:
        parse_new_order_single(msg)
    assert info.value.tag == 54


@pytest.mark.parametrize("version", ["FIX.4.2", "FIX.4.3", "FIX.4.4", "FIX.5.0SP2"])
def test_usual_new_order_copied_from_template_is_built_field_by_field(version: str) -> None:
    v = FixVersion.parse(version)
    qty_a, qty_b, qty_c, px = D(100), D("100.0"), D(100), D("10.50")
    ioc = TimeInForce.IMMEDIATE_OR_CANCEL
    requests = [
        NewOrderRequest("IBM", Side.BUY, qty_a, OrdType.MARKET),
        NewOrderRequest("IBM", Side.BUY, qty_a, OrdType.MARKET),  # the template again
        NewOrderRequest("IBM", Side.BUY, qty_b, OrdType.MARKET),  # equal, written differently
        NewOrderRequest("IBM", Side.BUY, qty_c, OrdType.MARKET),  # equal, another object
        NewOrderRequest("IBM", Side.SELL, qty_a, OrdType.LIMIT, price=px),
        NewOrderRequest("IBM", Side.SELL, qty_a, OrdType.LIMIT, price=D("10.5")),
        NewOrderRequest("IBM", Side.SELL, qty_a, OrdType.LIMIT, price=px, time_in_force=ioc),
        NewOrderRequest("MSFT", Side.SELL, qty_a, OrdType.LIMIT, price=px),
    ]
    for i, request_ in enumerate(requests * 2):
        now = NOW + i * 1.001
        msg = new_order_single_as(request_, f"C{i}", v, now)
        expected = _usual_new_order(request_, f"C{i}", v, _timestamp(now))
        assert msg.fields() == expected.fields()
        assert encode(msg, version) == encode(expected, version)
        assert msg.raw is None


def test_new_order_templates_stay_bounded() -> None:
    for i in range(_TEMPLATE_LIMIT + 10):
        request_ = NewOrderRequest(f"S{i}", Side.BUY, D(1), OrdType.MARKET)
        assert new_order_single_as(request_, "C", FixVersion.FIX44, NOW).get(55) == f"S{i}".encode()
    assert len(_NEW_ORDER_TEMPLATES) <= _TEMPLATE_LIMIT
