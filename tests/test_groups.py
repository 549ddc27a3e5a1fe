"""Repeating groups: reading instances out of messages and appending them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixengine.codec import Message, decode
from fixengine.dictionary import DataDictionary, from_bytes, load
from fixengine.groups import Group, append_group, parse_groups, parse_structure

FIX44 = load("FIX44")
FIXT11 = load("FIXT11")
FIX50SP2 = load("FIX50SP2")


def nos_with_parties() -> Message:
    msg = Message("D")
    for tag, value in [(49, "A"), (56, "B"), (34, "2"), (52, "20240102-03:04:05.678"), (11, "C1")]:
        msg.append(tag, value)
    append_group(
        msg,
        453,
        [
            {448: "BROKER1", 447: "D", 452: 1, 802: [{523: "desk-7", 803: 9}, {523: "x", 803: 4}]},
            [(448, "CLIENT9"), (447, "D"), (452, 3)],
        ],
    )
    for tag, value in [(21, "1"), (55, "IBM"), (54, "1"), (60, "20240102-03:04:05"), (40, "1")]:
        msg.append(tag, value)
    return decode(msg.encode("FIX.4.4"))


def test_parse_groups_reads_parties_with_nested_sub_ids():
    msg = nos_with_parties()
    parties = parse_groups(msg, 453, FIX44)
    assert len(parties) == 2
    first, second = parties
    assert first[448] == b"BROKER1"
    assert first.get(447) == b"D"
    assert first.get_int(452) == 1
    assert first.get(802) == b"2"
    subs = first.group(802)
    assert [s[523] for s in subs] == [b"desk-7", b"x"]
    assert [s.get_int(803) for s in subs] == [9, 4]
    assert second.fields() == [(448, b"CLIENT9"), (447, b"D"), (452, b"3")]
    assert second.group(802) == []


def test_group_get_does_not_look_inside_nested_groups():
    first = parse_groups(nos_with_parties(), 453, FIX44)[0]
    assert first.get(523) is None
    assert 523 not in first
    assert first.get_all(448) == [b"BROKER1"]
    assert [t for t, _ in first.own_fields()] == [448, 447, 452, 802]
    # but fields() is the whole instance in wire order
    assert [t for t, _ in first.fields()] == [448, 447, 452, 802, 523, 803, 523, 803]
    assert len(first) == 8


def test_group_accepts_field_names_through_the_dictionary():
    party = parse_groups(nos_with_parties(), "NoPartyIDs", FIX44)[0]
    assert party["PartyID"] == b"BROKER1"
    assert party.get_str("PartyIDSource") == "D"
    assert [s["PartySubID"] for s in party.group("NoPartySubIDs")] == [b"desk-7", b"x"]


def test_message_fields_after_a_group_stay_top_level():
    msg = nos_with_parties()
    structure = parse_structure(msg.fields(), FIX44.header, FIX44.trailer, FIX44.message("D"))
    body_tags = [tag for tag, _ in structure.body.own_fields()]
    assert body_tags == [11, 453, 21, 55, 54, 60, 40]
    assert [tag for tag, _ in structure.header.own_fields()] == [8, 9, 35, 49, 56, 34, 52]
    assert [tag for tag, _ in structure.trailer.own_fields()] == [10]
    assert structure.issue is None


def test_parse_groups_returns_empty_list_when_group_absent():
    msg = Message("D")
    msg.append(11, "X")
    assert parse_groups(msg, 453, FIX44) == []


def test_parse_groups_reads_market_data_entries():
    msg = Message("W")
    msg.append(55, "EUR/USD")
    append_group(
        msg,
        268,
        [
            {269: "0", 270: Decimal("1.0841"), 271: 1000000},
            {269: "1", 270: Decimal("1.0843"), 271: 2000000},
            {269: "2", 270: Decimal("1.0842"), 271: 500},
        ],
    )
    entries = parse_groups(msg, 268, FIX44)
    assert [e[269] for e in entries] == [b"0", b"1", b"2"]
    assert [e.get_decimal(270) for e in entries] == [
        Decimal("1.0841"),
        Decimal("1.0843"),
        Decimal("1.0842"),
    ]
    assert entries[1].get_int(271) == 2000000


def test_parse_groups_reads_hops_in_the_header():
    msg = Message("0")
    for tag, value in [(49, "A"), (56, "B"), (34, "5"), (52, "20240102-03:04:05")]:
        msg.append(tag, value)
    append_group(msg, 627, [{628: "HUB1", 629: "20240102-03:04:04", 630: 17}, {628: "HUB2"}])
    msg.append(112, "PING")
    decoded = decode(msg.encode("FIX.4.4"))
    hops = parse_groups(decoded, 627, FIX44)
    assert [h[628] for h in hops] == [b"HUB1", b"HUB2"]
    assert hops[0].get_int(630) == 17
    # under FIXT.1.1 the header group comes from the transport dictionary
    assert [h[628] for h in parse_groups(decoded, 627, FIXT11)] == [b"HUB1", b"HUB2"]


def test_parse_groups_uses_message_dictionary_by_default():
    msg = Message("D", dictionary=FIX44)
    append_group(msg, "NoPartyIDs", [{"PartyID": "P1", "PartyRole": 1}])
    assert msg.fields() == [(35, b"D"), (453, b"1"), (448, b"P1"), (452, b"1")]
    assert parse_groups(msg, 453)[0]["PartyID"] == b"P1"


def test_parse_groups_without_dictionary_is_an_error():
    msg = Message("D")
    with pytest.raises(ValueError, match="needs a data dictionary"):
        parse_groups(msg, 453)


def test_parse_groups_refuses_a_tag_that_is_not_a_group_of_the_message():
    msg = Message("0")
    with pytest.raises(ValueError, match="not a repeating group of message type"):
        parse_groups(msg, 453, FIX44)


def test_parse_groups_points_nested_groups_to_group_method():
    msg = Message("D")
    with pytest.raises(ValueError, match=r"Group.group\(802\)"):
        parse_groups(msg, 802, FIX44)


def test_parse_groups_names_unknown_message_type():
    msg = Message("ZZ")
    with pytest.raises(ValueError, match=r"not defined in FIX\.4\.4"):
        parse_groups(msg, 453, FIX44)


def test_instance_without_delimiter_still_parses_and_is_reported():
    fields = [(35, b"D"), (453, b"1"), (447, b"D"), (448, b"P"), (11, b"X")]
    structure = parse_structure(fields, FIX44.header, FIX44.trailer, FIX44.message("D"))
    instances = structure.body._groups[453]
    assert [i.fields() for i in instances] == [[(447, b"D")], [(448, b"P")]]
    assert structure.issue == (15, 447)


def test_repeated_member_opens_a_new_instance():
    fields = [(35, b"D"), (453, b"2"), (448, b"A"), (452, b"1"), (452, b"3")]
    structure = parse_structure(fields, FIX44.header, FIX44.trailer, FIX44.message("D"))
    assert [i.fields() for i in structure.body._groups[453]] == [
        [(448, b"A"), (452, b"1")],
        [(452, b"3")],
    ]
    assert structure.issue == (15, 452)


def test_out_of_order_member_reported_only_when_order_is_checked():
    fields = [(35, b"D"), (453, b"1"), (448, b"A"), (452, b"1"), (447, b"D")]
    args = (fields, FIX44.header, FIX44.trailer, FIX44.message("D"))
    assert parse_structure(*args).issue == (15, 447)
    relaxed = parse_structure(*args, check_order=False)
    assert relaxed.issue is None
    assert relaxed.body._groups[453][0].fields() == [(448, b"A"), (452, b"1"), (447, b"D")]


def test_append_group_accepts_group_objects_from_another_message():
    source = nos_with_parties()
    parties = parse_groups(source, 453, FIX44)
    target = Message("D")
    append_group(target, 453, parties)
    assert parse_groups(target, 453, FIX44) == parties
    assert target.get(453) == b"2"


def test_append_group_is_all_or_nothing():
    msg = Message("D")
    with pytest.raises(TypeError, match="float"):
        append_group(msg, 453, [{448: "A"}, {448: "B", 452: 1.5}])
    with pytest.raises(ValueError, match="contains SOH"):
        append_group(msg, 453, [{448: "A\x01B"}])
    with pytest.raises(ValueError, match="at least its delimiter"):
        append_group(msg, 453, [{}])
    with pytest.raises(TypeError, match=r"\(tag, value\) pair"):
        append_group(msg, 453, [[448]])
    assert msg.fields() == [(35, b"D")]


def test_append_group_with_no_instances_writes_zero_count():
    msg = Message("d")
    append_group(msg, 146, [])
    assert msg.fields() == [(35, b"d"), (146, b"0")]


def test_message_group_methods_delegate_to_this_module_in_both_codecs(codec):
    msg = codec.Message("D", FIX44)
    msg.append(11, "C1")
    msg.add_group(453, [{448: "P1", 452: 1, 802: [{523: "S", 803: 2}]}])
    msg.append(55, "IBM")
    assert msg.fields() == [
        (35, b"D"), (11, b"C1"), (453, b"1"), (448, b"P1"), (452, b"1"),
        (802, b"1"), (523, b"S"), (803, b"2"), (55, b"IBM"),
    ]  # fmt: skip
    decoded = codec.decode(msg.encode("FIX.4.4"))
    parties = decoded.group(453, FIX44)
    assert [p[448] for p in parties] == [b"P1"]
    assert parties[0].group(802)[0][523] == b"S"
    assert parse_groups(decoded, 453, FIX44) == parties


# -- random nestings ------------------------------------------------------------------------
# A synthetic dictionary with a chain of nested groups: level k has count tag 100+k,
# delimiter 200+k and two optional members 300+k, 400+k; level k+1 hangs off level k.
_DEPTH = 3


def _synthetic_dictionary() -> DataDictionary:
    def level(k: int) -> str:
        inner = level(k + 1) if k + 1 < _DEPTH else ""
        return (
            f"<group name='NoL{k}' required='N'><field name='D{k}' required='Y'/>"
            f"<field name='A{k}' required='N'/><field name='B{k}' required='N'/>{inner}</group>"
        )

    fields = "".join(
        f"<field number='{100 + k}' name='NoL{k}' type='NUMINGROUP'/>"
        f"<field number='{200 + k}' name='D{k}' type='STRING'/>"
        f"<field number='{300 + k}' name='A{k}' type='STRING'/>"
        f"<field number='{400 + k}' name='B{k}' type='INT'/>"
        for k in range(_DEPTH)
    )
    xml = (
        "<fix type='FIX' major='4' minor='4' servicepack='0'><header>"
        "<field name='MsgType' required='Y'/></header><trailer/>"
        "<messages><message name='Test' msgtype='U1' msgcat='app'>"
        f"<field name='Text' required='N'/>{level(0)}<field name='Tail' required='N'/>"
        "</message></messages><components/><fields>"
        "<field number='35' name='MsgType' type='STRING'/>"
        "<field number='58' name='Text' type='STRING'/>"
        f"<field number='59' name='Tail' type='STRING'/>{fields}</fields></fix>"
    )
    return from_bytes(xml.encode(), "synthetic")


SYNTHETIC = _synthetic_dictionary()

_text = st.text(alphabet="abcXYZ019-", min_size=1, max_size=6)


def _instances(k: int) -> st.SearchStrategy[list[dict[int, object]]]:
    def one(draw_fields: tuple[str, str | None, int | None, list[object] | None]) -> dict:
        d, a, b, inner = draw_fields
        inst: dict[int, object] = {200 + k: d}
        if a is not None:
            inst[300 + k] = a
        if b is not None:
            inst[400 + k] = b
        if inner is not None:
            inst[100 + k + 1] = inner
        return inst

    inner = _instances(k + 1) if k + 1 < _DEPTH else st.none()
    return st.lists(
        st.tuples(_text, st.none() | _text, st.none() | st.integers(0, 999), st.none() | inner).map(
            one
        ),
        max_size=3,
    )


def _expected(instances: list[dict[int, object]], k: int) -> list[dict[str, object]]:
    out = []
    for inst in instances:
        item: dict[str, object] = {
            "fields": {t: str(v).encode() for t, v in inst.items() if not isinstance(v, list)},
        }
        nested = inst.get(100 + k + 1)
        item["nested"] = _expected(nested, k + 1) if isinstance(nested, list) else []
        out.append(item)
    return out


def _actual(groups: list[Group], k: int) -> list[dict[str, object]]:
    out = []
    for g in groups:
        own = {t: v for t, v in g.own_fields() if t != 100 + k + 1}
        out.append({"fields": own, "nested": _actual(g.group(100 + k + 1), k + 1)})
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances=_instances(0), text=st.none() | _text, tail=st.none() | _text)
def test_random_nested_groups_round_trip(instances, text, tail):
    msg = Message("U1")
    if text is not None:
        msg.append(58, text)
    append_group(msg, 100, instances)
    if tail is not None:
        msg.append(59, tail)
    decoded = decode(msg.encode("FIX.4.4"))
    groups = parse_groups(decoded, 100, SYNTHETIC)
    assert _actual(groups, 0) == _expected(instances, 0)
    # fields after the group are not swallowed by it
    assert decoded.get(59) == (None if tail is None else tail.encode())
    # and re-appending the parsed instances reproduces the same wire fields
    again = Message("U1")
    if text is not None:
        again.append(58, text)
    append_group(again, 100, groups)
    if tail is not None:
        again.append(59, tail)
    assert again.fields() == [(t, v) for t, v in decoded.fields() if t not in (8, 9, 10)]


def test_fixt_application_groups_come_from_the_application_dictionary():
    msg = Message("D")
    append_group(msg, 453, [{448: "P", 447: "D", 452: 1}])
    assert parse_groups(msg, 453, FIX50SP2)[0][448] == b"P"
    with pytest.raises(ValueError):
        parse_groups(msg, 453, FIXT11)
