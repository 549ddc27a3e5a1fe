"""Validation: the reason and tag for each kind of bad message, which check wins, options.

Messages are written as the counterparty would send them (``|`` for SOH, fields in
the order given) and go through the real framer, so header/body order problems
reach the validator as they would on the wire. Case names cite the FIX session
test cases (14a ... 14i, 2q, 2r, 15, 21).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixengine.codec import Message, decode
from fixengine.dictionary import from_bytes, load
from fixengine.errors import LocalProtocolError
from fixengine.session.config import SessionConfig
from fixengine.validation import (
    REASON_TEXTS,
    Rejection,
    RejectReason,
    ValidationOptions,
    Validator,
    validate,
)

FIX40, FIX42, FIX44 = load("FIX40"), load("FIX42"), load("FIX44")
FIXT11, FIX50SP2 = load("FIXT11"), load("FIX50SP2")
NOW = "20240102-03:04:05.678"
HDR = f"34=2|49=TW|52={NOW}|56=ISLD|"


def raw(begin: str, body: str) -> bytes:
    """A framed message: BodyLength and CheckSum computed, fields in the order given."""
    content = body.replace("|", "\x01").encode()
    data = f"8={begin}\x019={len(content)}\x01".encode() + content
    return data + b"10=%03d\x01" % (sum(data) % 256)


def check(body: str, version: str = "FIX.4.4", **kwargs: object) -> tuple[int, int | None] | None:
    """(reason, tag) of validating ``body`` under ``version``, or None if valid."""
    dd = {"FIX.4.0": FIX40, "FIX.4.2": FIX42, "FIX.4.4": FIX44, "FIXT.1.1": FIXT11}[version]
    if version == "FIXT.1.1":
        kwargs.setdefault("app_dictionary", FIX50SP2)
    result = validate(decode(raw(version, body)), dd, **kwargs)  # type: ignore[arg-type]
    if result is None:
        return None
    assert result.text == REASON_TEXTS[result.reason]
    return (result.reason, result.tag)


VERSIONS = ["FIX.4.2", "FIX.4.4", "FIXT.1.1"]
NOS = "11=ID|21=1|40=1|54=1|38=002000.00|55=INTC|60=20240102-03:04:05|"


# -- each reason (acceptance scripts 14a-14i, 2q, 2r) ------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("tag", ["999", "0", "-1", "5000"])
def test_undefined_tag_is_invalid_tag_number(version, tag):  # 14a
    assert check(f"35=0|{HDR}{tag}=HI|", version) == (0, int(tag))


@pytest.mark.parametrize("version", VERSIONS)
def test_missing_header_field_is_required_tag_missing(version):  # 14b
    assert check(f"35=0|34=2|49=TW|52={NOW}|", version) == (1, 56)


@pytest.mark.parametrize(
    ("version", "body", "missing"),
    [
        ("FIX.4.4", f"40=1|60={NOW}|54=1|21=3|", 11),
        ("FIX.4.2", f"40=1|60={NOW}|54=1|21=3|11=id|", 55),
        ("FIXT.1.1", f"40=1|60={NOW}|11=id|21=3|", 54),
        ("FIX.4.0", f"40=1|60={NOW}|54=1|38=100|21=3|11=id|", 55),
    ],
)
def test_missing_body_field_is_required_tag_missing(version, body, missing):  # 14b
    assert check(f"35=D|{HDR}{body}", version) == (1, missing)


def test_tag_of_another_message_is_not_defined_for_this_message_type():  # 14c
    assert check(f"35=0|{HDR}55=MSFT|") == (2, 55)
    assert check(f"35=0|{HDR}58=Text|", "FIXT.1.1") == (2, 58)


@pytest.mark.parametrize("version", VERSIONS)
def test_empty_value_is_tag_specified_without_a_value(version):  # 14d
    assert check("35=0|34=2|49=TW|52=20240102-03:04:05|56=|", version) == (4, 56)


@pytest.mark.parametrize("version", VERSIONS)
def test_value_outside_the_enumeration_is_incorrect(version):  # 14e
    assert check(f"35=D|{HDR}{NOS.replace('21=1', '21=4')}", version) == (5, 21)
    assert check(f"35=D|{HDR}{NOS}167=BOO|", version) == (5, 167)
    assert check(f"35=D|{HDR}{NOS}167=FUT|", version) is None


@pytest.mark.parametrize("version", VERSIONS)
def test_malformed_value_is_incorrect_data_format(version):  # 14f
    assert check(f"35=D|{HDR}{NOS.replace('38=002000.00', '38=+200.00')}", version) == (6, 38)


@pytest.mark.parametrize("version", VERSIONS)
def test_header_fields_after_body_are_out_of_required_order(version):  # 14g
    assert check(f"35=D|11=id|21=3|40=1|54=1|55=MSFT|60={NOW}|{HDR}", version) == (14, 34)
    assert check(f"35=D|55=MSFT|{HDR}11=id|21=3|40=1|54=1|60={NOW}|", version) == (14, 34)


@pytest.mark.parametrize("version", VERSIONS)
def test_repeated_field_outside_a_group_appears_more_than_once(version):  # 14h
    assert check(f"35=D|{HDR}{NOS.replace('40=1|', '40=1|40=2|')}", version) == (13, 40)


@pytest.mark.parametrize("version", VERSIONS)
def test_num_in_group_differing_from_instances_is_incorrect_count(version):  # 14i
    body = f"{NOS}386=3|336=PRE-OPEN|336=AFTER-HOURS|"
    assert check(f"35=D|{HDR}{body}", version) == (16, 386)
    # (TradingSessionID is enumerated in FIX 5.0 SP2: "1" and "2" are valid everywhere)
    assert check(f"35=D|{HDR}{NOS}386=2|336=1|336=2|", version) is None


@pytest.mark.parametrize("version", ["FIX.4.0", *VERSIONS])
def test_unknown_msg_type_is_invalid_msg_type_without_tag(version):  # 2q
    assert check(f"35=*|{HDR}", version) == (11, None)
    assert validate(decode(raw("FIX.4.4", f"35=*|{HDR}")), FIX44) == Rejection(
        11, None, "Invalid MsgType"
    )


def test_known_but_unsupported_msg_type_is_left_to_the_application():  # 2r
    body = "37=id|17=id|150=0|39=0|55=WLRI|54=1|151=100|14=0|6=0.0|"
    assert check(f"35=8|{HDR}{body}") is None
    assert check(f"35=8|{HDR}{body}", "FIXT.1.1") is None


def test_fields_in_any_order_within_header_and_body_are_accepted():  # 15
    assert check(f"35=D|49=TW|34=3|56=ISLD|52={NOW}|40=1|55=MSFT|60={NOW}|54=1|21=3|11=id|") is None


def test_num_in_group_of_zero_without_instances_is_valid():  # 21
    body = "320=JCD1|322=1034356488676|323=6|55=TBS|22=8|167=CS|336=ONE_MAIN|58=None|454=0|"
    assert check(f"35=d|{HDR}{body}") is None


def test_empty_value_accepted_when_fields_need_not_have_values():  # validate/CheckFieldsHaveValues
    body = f"35=1|{HDR}112=|"
    assert check(body) == (4, 112)
    assert check(body, options=ValidationOptions(validate_fields_have_values=False)) is None


def test_header_tag_unknown_to_an_old_version_is_an_invalid_header_tag():  # ReverseRoute, 4.0
    # 144 is a standard header tag that FIX 4.0 lacks: it is checked with the header,
    # before the (also wrong) body enum 40=w
    body = f"35=D|{HDR}115=JCD|116=CS|144=CHI|11=ID|21=3|38=100|40=w|54=1|55=INTC|"
    assert check(body, "FIX.4.0") == (0, 144)


# -- groups -----------------------------------------------------------------------------------
PARTIES = "453=2|448=BRK|447=D|452=1|802=1|523=desk|803=9|448=CLI|447=D|452=3|"


def test_message_with_nested_groups_is_valid():
    assert check(f"35=D|{HDR}{PARTIES}{NOS}") is None


def test_group_fields_out_of_dictionary_order_are_out_of_order():
    body = PARTIES.replace("448=BRK|447=D|452=1|", "448=BRK|452=1|447=D|")
    assert check(f"35=D|{HDR}{body}{NOS}") == (15, 447)
    relaxed = ValidationOptions(validate_unordered_group_fields=False)
    assert check(f"35=D|{HDR}{body}{NOS}", options=relaxed) is None


def test_instance_not_opened_by_delimiter_is_out_of_order_even_when_relaxed():
    body = "453=1|447=D|452=1|"
    relaxed = ValidationOptions(validate_unordered_group_fields=False)
    assert check(f"35=D|{HDR}{body}{NOS}") == (15, 447)
    assert check(f"35=D|{HDR}{body}{NOS}", options=relaxed) == (15, 447)


def test_too_many_instances_is_incorrect_count():
    assert check(f"35=D|{HDR}{PARTIES.replace('453=2', '453=1')}{NOS}") == (16, 453)
    assert check(f"35=D|{HDR}{PARTIES.replace('802=1', '802=2')}{NOS}") == (16, 802)


def test_non_numeric_count_is_incorrect_data_format():
    assert check(f"35=D|{HDR}{PARTIES.replace('453=2', '453=two')}{NOS}") == (6, 453)


def test_required_field_missing_in_a_group_instance():
    # NoRelatedSym(146) in a FIX 4.2 MarketDataRequest: Symbol(55) is its required delimiter
    body = "262=R1|263=0|264=1|267=1|269=0|146=2|55=IBM|55=MSFT|"
    assert check(f"35=V|{HDR}{body}", "FIX.4.2") is None
    body2 = "262=R1|263=0|264=1|267=1|269=0|146=1|65=WI|"
    assert check(f"35=V|{HDR}{body2}", "FIX.4.2") == (15, 65)


def test_group_member_outside_its_group_is_not_defined_for_the_message():
    assert check(f"35=D|{HDR}{NOS}448=ORPHAN|") == (2, 448)


def test_header_group_count_is_checked():
    hops = "627=2|628=HUB1|629=20240102-03:04:04|628=HUB2|"
    assert check(f"35=0|{HDR}{hops}") is None
    assert check(f"35=0|{HDR}{hops.replace('627=2', '627=3')}") == (16, 627)


# -- which check wins -------------------------------------------------------------------------
def test_structure_problem_wins_over_missing_required_field():
    assert check(f"35=D|21=3|40=1|54=1|55=MSFT|60={NOW}|{HDR}") == (14, 34)


def test_invalid_msg_type_wins_over_missing_header_field():
    assert check("35=*|34=2|49=TW|52=20240102-03:04:05|") == (11, None)


def test_missing_required_field_wins_over_bad_values():
    assert check(f"35=D|{HDR}21=4|40=1|54=1|60={NOW}|999=X|") == (1, 11)


def test_header_checked_before_body():
    assert check(f"35=D|34=2|49=TW|52=yesterday|56=ISLD|{NOS.replace('21=1', '21=4')}") == (6, 52)


def test_lowest_tag_wins_within_the_body_whatever_the_wire_order():
    assert check(f"35=0|{HDR}999=HI|55=MSFT|") == (2, 55)
    assert check(f"35=0|{HDR}55=MSFT|999=HI|") == (2, 55)


def test_top_level_fields_are_checked_before_group_fields():
    body = PARTIES.replace("452=1", "452=x") + NOS.replace("21=1", "21=4")
    assert check(f"35=D|{HDR}{body}") == (5, 21)
    assert check(f"35=D|{HDR}{PARTIES.replace('452=1', '452=x')}{NOS}") == (6, 452)


def test_empty_value_wins_over_format():
    assert check(f"35=D|{HDR}{NOS.replace('38=002000.00', '38=')}") == (4, 38)


def test_repeat_is_seen_after_the_first_occurrence_is_checked():
    assert check(f"35=D|{HDR}{NOS.replace('40=1|', '40=1|40=Z|')}") == (13, 40)
    assert check(f"35=D|{HDR}{NOS.replace('40=1|', '40=Z|40=1|')}") == (5, 40)


# -- options -------------------------------------------------------------------------------------
def test_allow_unknown_msg_fields_accepts_tags_below_5000_only():
    opts = ValidationOptions(allow_unknown_msg_fields=True)
    assert check(f"35=0|{HDR}55=MSFT|", options=opts) is None
    assert check(f"35=0|{HDR}999=HI|", options=opts) is None
    assert check(f"35=0|{HDR}5000=HI|", options=opts) == (0, 5000)
    assert check(f"35=0|{HDR}-1=HI|", options=opts) == (0, -1)
    assert check(f"35=0|{HDR}0=HI|", options=opts) == (0, 0)
    # the value of a known tag is still checked
    assert check(f"35=0|{HDR}54=Q|", options=opts) == (5, 54)


def test_user_defined_fields_can_go_unchecked():
    opts = ValidationOptions(validate_user_defined_fields=False)
    assert check(f"35=0|{HDR}5000=HI|", options=opts) is None
    assert check(f"35=0|{HDR}999=HI|", options=opts) == (0, 999)


def test_fields_out_of_order_can_be_tolerated():
    opts = ValidationOptions(validate_fields_out_of_order=False)
    assert check(f"35=D|11=id|21=3|40=1|54=1|55=MSFT|60={NOW}|{HDR}", options=opts) is None


def test_enum_and_format_checks_can_be_switched_off():
    bad_enum = f"35=D|{HDR}{NOS.replace('21=1', '21=4')}"
    bad_format = f"35=D|{HDR}{NOS.replace('38=002000.00', '38=+200.00')}"
    assert check(bad_enum, options=ValidationOptions(check_enums=False)) is None
    assert check(bad_format, options=ValidationOptions(check_enums=False)) == (6, 38)
    assert check(bad_format, options=ValidationOptions(check_formats=False)) is None
    assert check(bad_enum, options=ValidationOptions(check_formats=False)) == (5, 21)


def test_options_from_session_config():
    config = SessionConfig(
        "FIX.4.4",
        "ISLD",
        "TW",
        validate_user_defined_fields=False,
        validate_fields_out_of_order=False,
        validate_fields_have_values=False,
        validate_unordered_group_fields=False,
        allow_unknown_msg_fields=True,
    )
    assert ValidationOptions.from_config(config) == ValidationOptions(
        validate_user_defined_fields=False,
        validate_fields_out_of_order=False,
        validate_fields_have_values=False,
        allow_unknown_msg_fields=True,
        validate_unordered_group_fields=False,
    )
    assert ValidationOptions.from_config(SessionConfig("FIX.4.4", "A", "B")) == ValidationOptions()


# -- FIXT.1.1 ------------------------------------------------------------------------------------
def test_fixt_application_message_needs_the_application_dictionary():
    msg = decode(raw("FIXT.1.1", f"35=D|{HDR}{NOS}"))
    with pytest.raises(LocalProtocolError, match="no application dictionary"):
        validate(msg, FIXT11)
    assert validate(msg, FIXT11, app_dictionary=FIX50SP2) is None


def test_fixt_session_messages_use_the_transport_dictionary():
    logon = f"35=A|{HDR}98=0|108=30|1137=9|"
    assert check(logon, "FIXT.1.1") is None
    assert validate(decode(raw("FIXT.1.1", logon)), FIXT11) is None
    # a Logon without DefaultApplVerID: the transport dictionary requires it
    assert check(f"35=A|{HDR}98=0|108=30|", "FIXT.1.1") == (1, 1137)


def test_fixt_header_fields_come_from_the_transport_dictionary():
    body = f"35=D|{HDR}1128=9|{NOS}"
    assert check(body, "FIXT.1.1") is None
    assert check(body.replace("1128=9", "1128=Q"), "FIXT.1.1") == (5, 1128)


# -- data fields ----------------------------------------------------------------------------------
def test_length_prefixed_data_may_contain_soh():
    assert check(f"35=A|{HDR}98=0|108=30|95=5|96=a|b|c|") is None


def test_soh_in_a_value_the_dictionary_does_not_type_as_data_is_rejected():
    xml = b"""<fix type='FIX' major='4' minor='4'><header>
      <field name='BeginString' required='Y'/><field name='BodyLength' required='Y'/>
      <field name='MsgType' required='Y'/></header>
      <trailer><field name='CheckSum' required='Y'/></trailer>
      <messages><message name='M' msgtype='U9'>
        <field name='RawDataLength' required='N'/><field name='RawData' required='N'/>
      </message></messages><components/><fields>
      <field number='8' name='BeginString' type='STRING'/>
      <field number='9' name='BodyLength' type='LENGTH'/>
      <field number='10' name='CheckSum' type='STRING'/>
      <field number='35' name='MsgType' type='STRING'/>
      <field number='95' name='RawDataLength' type='LENGTH'/>
      <field number='96' name='RawData' type='STRING'/>
    </fields></fix>"""
    dd = from_bytes(xml)
    msg = decode(raw("FIX.4.4", "35=U9|95=3|96=a|b|"))  # the framer reads 96 by its length
    assert validate(msg, dd) == Rejection(
        17, 96, "Non Data value includes field delimiter (SOH character)"
    )
    assert validate(decode(raw("FIX.4.4", "35=U9|95=3|96=abc|")), dd) is None


# -- API ------------------------------------------------------------------------------------------
def test_rejection_texts_are_quickfix_wording():
    assert Rejection.of(RejectReason.REQUIRED_TAG_MISSING, 56) == Rejection(
        1, 56, "Required tag missing"
    )
    wording = {
        0: "Invalid tag number",
        1: "Required tag missing",
        2: "Tag not defined for this message type",
        4: "Tag specified without a value",
        5: "Value is incorrect (out of range) for this tag",
        6: "Incorrect data format for value",
        9: "CompID problem",
        10: "SendingTime accuracy problem",
        11: "Invalid MsgType",
        13: "Tag appears more than once",
        14: "Tag specified out of required order",
        16: "Incorrect NumInGroup count for repeating group",
    }
    assert {k: REASON_TEXTS[k] for k in wording} == wording
    assert {int(r) for r in RejectReason} == set(REASON_TEXTS)


def test_validator_works_with_both_codec_twins(codec):
    validator = Validator(FIX44)
    msg = codec.decode(raw("FIX.4.4", f"35=D|{HDR}{PARTIES}{NOS}"))
    assert validator.validate(msg) is None
    assert validator(codec.decode(raw("FIX.4.4", f"35=0|{HDR}999=HI|"))) == Rejection.of(0, 999)


def test_message_built_without_msg_type_is_missing_it():
    msg = Message()
    msg.append(49, "A")
    assert validate(msg, FIX44) == Rejection.of(1, 35)


def test_validate_reuses_validators_per_dictionary_and_options():
    heartbeat = decode(raw("FIX.4.4", f"35=0|{HDR}55=X|"))
    relaxed = ValidationOptions(allow_unknown_msg_fields=True)
    for _ in range(3):
        assert validate(heartbeat, FIX44) == Rejection.of(2, 55)
        assert validate(heartbeat, FIX44, options=relaxed) is None


# -- the fast pass agrees with the exact pass ---------------------------------------------------
BASES = [
    (FIX44, None, "FIX.4.4", f"35=D|{HDR}{PARTIES}{NOS}"),
    (FIX44, None, "FIX.4.4", f"35=0|{HDR}627=2|628=H1|629={NOW}|628=H2|112=T|"),
    (FIX44, None, "FIX.4.4", f"35=W|{HDR}55=EUR|268=2|269=0|270=1.1|271=5|269=1|270=1.2|"),
    (FIX42, None, "FIX.4.2", f"35=D|{HDR}{NOS}386=2|336=A|336=B|"),
    (FIXT11, FIX50SP2, "FIXT.1.1", f"35=D|{HDR}1128=9|{PARTIES}{NOS}"),
    (FIXT11, FIX50SP2, "FIXT.1.1", f"35=A|{HDR}98=0|108=30|1137=9|"),
]
TAG_POOL = [0, -1, 11, 21, 34, 38, 40, 52, 55, 56, 58, 112, 268, 269, 336, 386, 447, 448, 452,
            453, 523, 627, 628, 802, 803, 999, 5000, 9999]  # fmt: skip
VALUE_POOL = [b"", b"1", b"2", b"0", b"-1", b"x", b"D", b"Y", b"1.5", NOW.encode(), b"FIX.4.4"]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Validator, list[tuple[int, bytes]], Message]:
    dd, app, version, body = draw(st.sampled_from(BASES))
    options = ValidationOptions(*draw(st.tuples(*[st.booleans()] * 7)))
    fields = decode(raw(version, body)).fields()
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["drop", "dup", "move", "value", "insert"]))
        i = draw(st.integers(3, len(fields) - 1))  # keep 8, 9, 35 in front
        if kind == "drop" and len(fields) > 4:
            del fields[i]
        elif kind == "dup":
            fields.insert(draw(st.integers(3, len(fields))), fields[i])
        elif kind == "move":
            field = fields.pop(i)
            fields.insert(draw(st.integers(3, len(fields))), field)
        elif kind == "value":
            fields[i] = (fields[i][0], draw(st.sampled_from(VALUE_POOL)))
        else:
            tag = draw(st.sampled_from(TAG_POOL))
            fields.insert(
                draw(st.integers(3, len(fields))), (tag, draw(st.sampled_from(VALUE_POOL)))
            )
    return Validator(dd, app, options), fields, Message.from_fields(fields)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated())
def test_fast_pass_never_accepts_what_the_exact_pass_rejects(case):
    validator, fields, msg = case
    msg_type = msg.get(35)
    plan = validator._plan(msg_type) if msg_type is not None else None
    exact = validator._exact(fields, msg_type, plan)
    assert validator.validate(msg) == exact
    if exact is not None:
        assert exact.reason in REASON_TEXTS and exact.text == REASON_TEXTS[exact.reason]


@settings(max_examples=200, deadline=None)
@given(
    fields=st.lists(
        st.tuples(st.sampled_from([*TAG_POOL, 35, 8, 10]), st.sampled_from([*VALUE_POOL, b"D"])),
        max_size=12,
    ),
    msg_type=st.sampled_from([b"D", b"0", b"W", b"*", b""]),
)
def test_arbitrary_field_lists_never_crash_the_validator(fields, msg_type):
    msg = Message.from_fields([(35, msg_type), *fields])
    result = validate(msg, FIX44)
    assert result is None or result.reason in REASON_TEXTS
