"""HeaderTemplate and FieldRules: the codec's one-pass helpers for the session, on both twins.

HeaderTemplate must give the bytes of encoding a fresh message made of the header
fields and the message's own (what the session built before it existed); FieldRules
must accept only what its rules allow. Both twins must agree byte for byte.
"""

from __future__ import annotations

import calendar
import importlib
import time
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixengine import _codec_py as pure
from fixengine.errors import LocalProtocolError

PROPS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SKIP = {8, 9, 10, 34, 35, 43, 49, 52, 56, 122}
NOW = 1_750_000_000.1237  # 2025-06-15T15:06:40.1237Z


def _compiled() -> ModuleType:
    try:
        return importlib.import_module("fixengine._codec")
    except ImportError:
        pytest.skip("compiled codec fixengine._codec is not built")


def _reference(
    codec: ModuleType,
    msg: Any,
    mt: bytes,
    seq: int,
    stamp: bytes,
    orig: bytes | None,
    leading: list[tuple[int, bytes]],
    trailing: list[tuple[int, bytes]],
    skip: set[int],
) -> bytes:
    """The message the session used to build field by field, encoded."""
    out = codec.Message(mt)
    for tag, value in leading:
        out.append(tag, value)
    out.append(34, seq)
    if orig is not None:
        out.append(43, b"Y")
        out.append(52, stamp)
        out.append(122, orig or stamp)
    else:
        out.append(52, stamp)
    for tag, value in trailing:
        out.append(tag, value)
    for tag, value in msg.fields():
        if tag not in skip | {8, 9, 10, 35}:
            out.append(tag, value)
    data: bytes = out.encode(b"FIX.4.4")
    return data


# -- HeaderTemplate -----------------------------------------------------------------------------
def test_header_template_writes_the_standard_header_then_the_message(codec: ModuleType) -> None:
    tpl = codec.HeaderTemplate(b"FIX.4.4", [(49, b"TW"), (56, b"ISLD")], [(50, b"DESK")], SKIP, 3)
    msg = codec.Message("D")
    for tag, value in [(11, "A1"), (34, "99"), (115, "OBO"), (89, "sig"), (93, "3"), (55, "X")]:
        msg.append(tag, value)
    data = tpl.encode(msg, b"D", 7, NOW)
    assert data == (
        b"8=FIX.4.4\x019=88\x0135=D\x0149=TW\x0156=ISLD\x0134=7\x0152=20250615-15:06:40.123\x01"
        b"50=DESK\x01115=OBO\x0111=A1\x0155=X\x0189=sig\x0193=3\x0110=%03d\x01"
        % (sum(data[:-7]) & 0xFF)
    )
    assert data == _reference(
        codec, msg, b"D", 7, b"20250615-15:06:40.123", None, [(49, b"TW"), (56, b"ISLD")],
        [(50, b"DESK")], SKIP,
    )  # fmt: skip
    assert codec.decode(data).get(34) == b"7"  # a well-formed frame


@pytest.mark.parametrize("orig", [b"", b"20250615-15:00:00.000"])
def test_header_template_marks_possible_duplicates(codec: ModuleType, orig: bytes) -> None:
    tpl = codec.HeaderTemplate(b"FIX.4.2", [(49, b"A"), (56, b"B")], [], SKIP, 3)
    msg = codec.Message("8")
    msg.append(43, "N")  # the session's own: dropped
    msg.append(37, "O1")
    fields = codec.decode(tpl.encode(msg, b"8", 5, NOW, orig)).fields()
    stamp = b"20250615-15:06:40.123"
    assert fields[2:9] == [
        (35, b"8"), (49, b"A"), (56, b"B"), (34, b"5"), (43, b"Y"), (52, stamp),
        (122, orig or stamp),
    ]  # fmt: skip
    assert fields[9] == (37, b"O1")


@pytest.mark.parametrize("precision", [0, 3, 6, 9])
def test_sending_time_truncates_to_the_precision(codec: ModuleType, precision: int) -> None:
    tpl = codec.HeaderTemplate(b"FIX.4.4", [], [], (), precision)
    text = b"20250615-15:06:40"
    expected = text if precision == 0 else text + b"." + b"125000000"[:precision]
    assert tpl.sending_time(1_750_000_000.125) == expected
    if precision <= 3:  # truncated, never rounded up into the next second
        assert tpl.sending_time(1_750_000_000.9999) == text + (
            b"" if precision == 0 else b"." + b"9" * precision
        )
    assert tpl.sending_time(0) == b"19700101-00:00:00" + (
        b"" if precision == 0 else b"." + b"0" * precision
    )


def test_sending_time_outside_the_fast_range_is_formatted_the_general_way(
    codec: ModuleType,
) -> None:
    tpl = codec.HeaderTemplate(b"FIX.4.4", [], [], (), 3)
    for now in (-0.0, 253402300799.5, 5e11):
        try:
            expected = pure.format_sending_time(now, 3)
        except (OverflowError, OSError, ValueError) as exc:
            with pytest.raises(type(exc)):
                tpl.sending_time(now)
        else:
            assert tpl.sending_time(now) == expected


def test_header_template_refuses_bad_setup(codec: ModuleType) -> None:
    with pytest.raises(LocalProtocolError):
        codec.HeaderTemplate(b"", [], [], ())
    with pytest.raises(ValueError):
        codec.HeaderTemplate(b"FIX.4.4", [(49, b"A\x01B")], [], ())
    with pytest.raises(ValueError):
        codec.HeaderTemplate(b"FIX.4.4", [], [], (), 4)
    with pytest.raises(TypeError):
        codec.HeaderTemplate(b"FIX.4.4", [], [], ()).encode([], b"D", 1, NOW)


_values = st.binary(min_size=1, max_size=12).filter(lambda v: b"\x01" not in v)
_fields = st.lists(
    st.tuples(
        st.sampled_from([1, 11, 34, 43, 52, 55, 89, 93, 97, 115, 122, 128, 5001, 20000]), _values
    ),
    max_size=12,
)


@PROPS
@given(
    fields=_fields,
    seq=st.integers(1, 10**12),
    now=st.one_of(st.floats(0, 4e9), st.integers(0, 4_000_000_000)),
    orig=st.one_of(st.none(), st.just(b""), _values),
    precision=st.sampled_from([0, 3, 6, 9]),
)
def test_twins_agree_and_match_building_the_message(
    fields: list[tuple[int, bytes]], seq: int, now: float, orig: bytes | None, precision: int
) -> None:
    compiled = _compiled()
    leading = [(49, b"SND"), (56, b"TGT")]
    trailing = [(57, b"SUB")]
    skip = SKIP | {57}
    out = []
    for codec in (pure, compiled):
        tpl = codec.HeaderTemplate(b"FIX.4.4", leading, trailing, skip, precision)
        msg = codec.Message("D")
        for tag, value in fields:
            msg.append(tag, value)
        data = tpl.encode(msg, b"D", seq, now, orig)
        stamp = pure.format_sending_time(now, precision)
        assert data == _reference(codec, msg, b"D", seq, stamp, orig, leading, trailing, skip)
        out.append(data)
    assert out[0] == out[1]


@PROPS
@given(now=st.floats(0, 253402300799.999), precision=st.sampled_from([0, 3, 6, 9]))
def test_sending_time_twins_agree_with_the_calendar(now: float, precision: int) -> None:
    compiled = _compiled()
    text = compiled.HeaderTemplate(b"FIX.4.4", [], [], (), precision).sending_time(now)
    assert text == pure.HeaderTemplate(b"FIX.4.4", [], [], (), precision).sending_time(now)
    second = calendar.timegm(time.strptime(text[:17].decode(), "%Y%m%d-%H:%M:%S"))
    assert second == int(now)


# -- FieldRules ---------------------------------------------------------------------------------
def _rules(codec: ModuleType, **kw: Any) -> Any:
    entries = {
        8: (0, pure.RULE_ANY, None),
        9: (0, pure.RULE_DIGITS, None),
        35: (0, pure.RULE_ANY, None),
        34: (0, pure.RULE_DIGITS, None),
        52: (0, pure.RULE_TIMESTAMP, None),
        11: (1, pure.RULE_ANY, None),
        38: (1, pure.RULE_DECIMAL, None),
        54: (1, pure.RULE_ENUM, frozenset({b"1", b"2"})),
        59: (1, pure.RULE_ENUM, frozenset({b"0", b"GTD"})),
        99: (1, pure.RULE_INT, None),
        40: (1, pure.RULE_CHAR, None),
        58: (1, pure.RULE_CALL, lambda v: v != b"bad"),
        78: (1, pure.RULE_GROUP, None),
        10: (2, pure.RULE_ANY, None),
    }
    return codec.FieldRules(entries, {8, 9, 35, 11, 54, 10}, **kw)


def _msg(codec: ModuleType, fields: list[tuple[int, str]]) -> Any:
    base = [(8, "FIX.4.4"), (9, "10"), (35, "D"), (34, "2"), (52, "20250615-15:06:40.123")]
    msg = codec.Message()
    for tag, value in [*base, (11, "A"), (54, "1"), *fields, (10, "000")]:
        msg.append(tag, value)
    return msg


@pytest.mark.parametrize(
    ("fields", "ok"),
    [
        ([], True),
        ([(38, "100.5"), (99, "-7"), (40, "1"), (59, "GTD"), (58, "fine")], True),
        ([(38, ".5")], True),
        ([(38, "5.")], True),
        ([(38, "1e5")], False),
        ([(38, "-")], False),
        ([(99, "1.0")], False),
        ([(40, "12")], False),
        ([(59, "1")], False),
        ([(58, "bad")], False),
        ([(78, "1")], False),  # groups are left to the caller
        ([(12, "x")], False),  # not an allowed tag
        ([(11, "B")], False),  # twice
        ([(38, "")], False),  # empty
        ([(8, "FIX.4.4")], False),  # header after body (and twice)
    ],
)
def test_field_rules_accept_only_what_they_allow(
    codec: ModuleType, fields: list[tuple[int, str]], ok: bool
) -> None:
    assert _rules(codec).check(_msg(codec, fields)) is ok


def test_field_rules_options_and_required_tags(codec: ModuleType) -> None:
    msg = codec.Message()
    for tag, value in [(8, "FIX.4.4"), (9, "5"), (35, "D"), (11, "A"), (54, "1"), (38, "")]:
        msg.append(tag, value)
    msg.append(10, "000")
    assert not _rules(codec).check(msg)
    assert _rules(codec, have_values=False).check(msg)
    msg.remove(54)
    assert not _rules(codec, have_values=False).check(msg)  # 54 is required
    late = _msg(codec, [])
    late.append(34, "3")  # a header field after the trailer... and 34 twice
    assert not _rules(codec, strict_order=False).check(late)
    late.remove(34)
    late.append(34, "3")
    assert not _rules(codec).check(late)
    assert _rules(codec, strict_order=False).check(late)


def test_field_rules_leave_the_other_twins_messages_to_the_caller() -> None:
    compiled = _compiled()
    assert not _rules(compiled).check(_msg(pure, []))
    assert not _rules(pure).check(_msg(compiled, []))
    assert _rules(compiled).check(_msg(compiled, []))


def test_field_rules_refuse_unknown_rules(codec: ModuleType) -> None:
    with pytest.raises(ValueError):
        codec.FieldRules({11: (1, 99, None)}, ())
    with pytest.raises(ValueError):
        codec.FieldRules({11: (3, pure.RULE_ANY, None)}, ())
    with pytest.raises(ValueError):
        codec.FieldRules({11: (1, pure.RULE_CALL, None)}, ())


_rule_values = st.one_of(
    st.binary(max_size=30),
    st.from_regex(rb"\A-?[0-9]{0,4}(\.[0-9]{0,3})?\Z"),
    st.from_regex(
        rb"\A[0-9]{4}[0-1][0-9][0-3][0-9]-[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\.[0-9]{0,10})?\Z"
    ),
).map(lambda v: v.replace(b"\x01", b""))


@PROPS
@given(
    rule=st.sampled_from(
        [pure.RULE_DIGITS, pure.RULE_INT, pure.RULE_DECIMAL, pure.RULE_CHAR, pure.RULE_TIMESTAMP]
    ),
    value=_rule_values,
)
def test_value_rules_twins_agree(rule: int, value: bytes) -> None:
    compiled = _compiled()
    results = []
    for codec in (pure, compiled):
        rules = codec.FieldRules({35: (0, pure.RULE_ANY, None), 58: (1, rule, None)}, ())
        msg = codec.Message("D")
        msg.append(58, value)
        results.append(rules.check(msg))
    assert results[0] == results[1]


# -- Message.session_header -------------------------------------------------------------
def _session_int(value: bytes | None) -> int | None:
    from fixengine.session.session import _int

    return _int(value)


def _session_time(value: bytes | None) -> float | None:
    from fixengine.session.session import _parse_time

    return _parse_time(value)


def test_session_header_reads_the_first_of_each_field(codec: ModuleType) -> None:
    msg = codec.Message.from_fields(
        [(8, b"FIX.4.4"), (9, b"99"), (35, b"8"), (49, b"TW"), (56, b"ISLD"), (34, b"0042"),
         (43, b"Y"), (52, b"20250615-15:06:40.125"), (11, b"X"), (34, b"7"), (49, b"Z")]
    )  # fmt: skip
    assert msg.session_header() == (
        b"8", b"FIX.4.4", 42, b"Y", b"TW", b"ISLD", 1_750_000_000.125
    )  # fmt: skip
    assert codec.Message().session_header() == (None,) * 7
    bad = codec.Message.from_fields([(35, b"0"), (34, b"-1"), (52, b"20251315-15:06:40")])
    assert bad.session_header() == (b"0", None, None, None, None, None, None)


_STAMPS = st.one_of(
    st.builds(
        lambda t, p: (
            time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(t)) + ("." + "7" * p if p else "")
        ).encode(),
        st.integers(0, 253402300799),
        st.integers(0, 10),
    ),
    st.from_regex(rb"\A[0-9]{8}-[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{0,10})?\Z"),
    st.binary(max_size=24),
)
_SEQS = st.one_of(
    st.integers(0, 10**20).map(lambda n: str(n).encode()),
    st.from_regex(rb"\A0{0,4}[0-9]{1,20}\Z"),
    st.binary(max_size=6),
)


@PROPS
@given(seq=_SEQS, stamp=_STAMPS)
def test_session_header_twins_agree_with_the_session_parsers(seq: bytes, stamp: bytes) -> None:
    fields = [(35, b"D"), (34, seq), (52, stamp)]
    try:
        p = pure.Message.from_fields(fields)
    except ValueError:  # SOH in a value
        return
    c = _compiled().Message.from_fields(fields)
    expected = (b"D", None, _session_int(seq), None, None, None, _session_time(stamp))
    assert p.session_header() == expected
    assert c.session_header() == expected


# -- Message.from_pairs --------------------------------------------------------------
_VALUES = st.one_of(
    st.binary(max_size=8).filter(lambda b: b"\x01" not in b),
    st.text(max_size=6).filter(lambda t: "\x01" not in t),
    st.integers(-(10**20), 10**20),
    st.booleans(),
)


@PROPS
@given(
    msg_type=st.sampled_from([b"D", "8", b"AE"]),
    pairs=st.lists(st.tuples(st.integers(1, 999_999_999), _VALUES), max_size=20),
)
def test_from_pairs_is_the_message_then_appends_on_both_twins(
    msg_type: bytes | str, pairs: list[tuple[int, Any]]
) -> None:
    built = []
    for codec in (pure, _compiled()):
        expected = codec.Message(msg_type)
        for tag, value in pairs:
            expected.append(tag, value)
        msg = codec.Message.from_pairs(msg_type, pairs)
        assert msg.fields() == expected.fields()
        assert msg.raw is None
        built.append(msg.encode(b"FIX.4.4"))
    assert built[0] == built[1]


def test_from_pairs_refuses_what_append_refuses(codec: ModuleType) -> None:
    with pytest.raises(ValueError, match="SOH"):
        codec.Message.from_pairs(b"D", [(11, b"a\x01b")])
    with pytest.raises(ValueError, match="range"):
        codec.Message.from_pairs(b"D", [(10**10, b"x")])
    with pytest.raises(KeyError):
        codec.Message.from_pairs(b"D", [("ClOrdID", b"x")])
    dd = type("DD", (), {"tag": staticmethod(lambda name: {"ClOrdID": 11}[name])})()
    msg = codec.Message.from_pairs("D", [("ClOrdID", "X1"), (38, 100)], dd)
    assert msg.fields() == [(35, b"D"), (11, b"X1"), (38, b"100")]
    assert msg.dictionary is dd
