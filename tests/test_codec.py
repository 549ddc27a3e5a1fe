"""Message building, encoding and decoding, run against both codec twins."""

from __future__ import annotations

import copy
import datetime as dt
import enum
import pickle
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest

from fixengine.errors import GarbledMessage, GarbleReason, LocalProtocolError

SOH = b"\x01"


def frame(body: bytes, begin: bytes = b"FIX.4.4") -> bytes:
    """A frame around ``body`` built by the spec's formulas, independently of the codec."""
    head = b"8=" + begin + b"\x019=" + str(len(body)).encode() + SOH
    total = sum(head + body) % 256
    return head + body + b"10=%03d\x01" % total


def wire(*fields: tuple[int, bytes], begin: bytes = b"FIX.4.4") -> bytes:
    """A frame holding ``fields``, built independently of the codec under test."""
    return frame(b"".join(b"%d=%b\x01" % (t, v) for t, v in fields), begin)


def split(raw: bytes) -> list[tuple[int, bytes]]:
    """Naive field split (no data fields) for checking encoder output."""
    out = []
    for part in raw.split(SOH)[:-1]:
        tag, _, value = part.partition(b"=")
        out.append((int(tag), value))
    return out


class FakeDictionary:
    """The one method Message needs of a data dictionary."""

    names = {"MsgType": 35, "ClOrdID": 11, "Price": 44, "OrderQty": 38, "RawData": 96}

    def tag(self, name: str) -> int:
        return self.names[name]


# -- encoding order and framing fields ------------------------------------------
def test_encode_writes_begin_string_body_length_msg_type_first(codec: ModuleType) -> None:
    msg = codec.Message("D")
    msg.append(11, "ID1")
    raw = codec.encode(msg, "FIX.4.4")
    assert [t for t, _ in split(raw)][:3] == [8, 9, 35]
    assert raw.startswith(b"8=FIX.4.4\x019=")


def test_encode_puts_header_fields_after_msg_type_in_set_order(codec: ModuleType) -> None:
    msg = codec.Message()
    msg.append(11, "ID1")
    msg.append(56, "TARGET")
    msg.append(55, "IBM")
    msg.append(35, "D")
    msg.append(49, "SENDER")
    msg.append(34, 7)
    msg.append(52, "20240102-10:11:12.123")
    tags = [t for t, _ in split(codec.encode(msg, "FIX.4.2"))]
    assert tags == [8, 9, 35, 56, 49, 34, 52, 11, 55, 10]


def test_encode_puts_signature_fields_after_body_before_checksum(codec: ModuleType) -> None:
    msg = codec.Message("D")
    msg.append(93, 3)
    msg.append(89, b"sig")
    msg.append(11, "ID1")
    tags = [t for t, _ in split(codec.encode(msg, "FIX.4.4"))]
    assert tags == [8, 9, 35, 11, 93, 89, 10]


def test_encode_matches_spec_body_length_and_checksum(codec: ModuleType) -> None:
    fields = [(35, b"D"), (49, b"S"), (56, b"T"), (34, b"2"), (11, b"ORDER-1"), (44, b"10.25")]
    msg = codec.Message.from_fields(fields)
    assert codec.encode(msg, b"FIX.4.4") == wire(*fields)


def test_encode_reproduces_quickfix_body_length(codec: ModuleType) -> None:
    # expected message from QuickFIX's acceptance script fix44/2d_GarbledMessage.def (9=101)
    fields = [
        (35, b"D"), (34, b"3"), (49, b"ISLD"), (52, b"00000000-00:00:00.000"), (56, b"TW44"),
        (11, b"ID"), (21, b"3"), (40, b"1"), (54, b"1"), (55, b"INTC"), (60, b"00000000-00:00:00"),
    ]  # fmt: skip
    raw = codec.encode(codec.Message.from_fields(fields), "FIX.4.4")
    assert split(raw)[1] == (9, b"101")


def test_checksum_is_byte_sum_modulo_256(codec: ModuleType) -> None:
    assert codec.checksum(b"") == 0
    assert codec.checksum(b"\x01" * 300) == 300 % 256
    assert codec.checksum(bytes(range(256))) == sum(range(256)) % 256
    assert codec.checksum(bytearray(b"\xff\xff")) == (255 * 2) % 256


def test_checksum_is_written_as_three_digits(codec: ModuleType) -> None:
    for text in ("", "a", "abc", "x" * 57):
        msg = codec.Message("0")
        if text:
            msg.append(58, text)
        raw = codec.encode(msg, "FIX.4.4")
        tail = raw[-7:]
        assert tail[:3] == b"10=" and tail[3:6].isdigit() and tail[6:] == SOH
        assert int(tail[3:6]) == sum(raw[:-7]) % 256


def test_encode_ignores_body_length_and_checksum_fields_in_the_message(codec: ModuleType) -> None:
    msg = codec.Message.from_fields([(8, "FIX.4.4"), (9, 999), (35, "0"), (10, "000")])
    assert codec.encode(msg) == wire((35, b"0"))


def test_encode_uses_only_the_first_msg_type(codec: ModuleType) -> None:
    msg = codec.Message("0")
    msg.append(35, "1")
    assert codec.encode(msg, "FIX.4.4") == wire((35, b"0"))


def test_encode_takes_begin_string_from_field_8_unless_given(codec: ModuleType) -> None:
    msg = codec.Message.from_fields([(8, "FIX.4.2"), (35, "0")])
    assert codec.encode(msg).startswith(b"8=FIX.4.2\x01")
    assert codec.encode(msg, "FIXT.1.1").startswith(b"8=FIXT.1.1\x01")
    assert msg.encode(b"FIX.4.4").startswith(b"8=FIX.4.4\x01")


def test_encode_without_begin_string_is_a_local_protocol_error(codec: ModuleType) -> None:
    with pytest.raises(LocalProtocolError):
        codec.encode(codec.Message("0"))


def test_encode_without_msg_type_is_a_local_protocol_error(codec: ModuleType) -> None:
    msg = codec.Message()
    msg.append(58, "hello")
    with pytest.raises(LocalProtocolError):
        codec.encode(msg, "FIX.4.4")


@pytest.mark.parametrize("bad", [b"", b"FIX.4.4\x01", "FIX\x01.4.4"])
def test_encode_refuses_empty_begin_string_or_one_with_soh(codec: ModuleType, bad: Any) -> None:
    with pytest.raises(LocalProtocolError):
        codec.encode(codec.Message("0"), bad)


def test_encode_refuses_what_is_not_a_message(codec: ModuleType) -> None:
    with pytest.raises(TypeError):
        codec.encode([(35, b"0")], "FIX.4.4")
    with pytest.raises(TypeError):
        codec.encode(codec.Message("0"), 44)


# -- value types -----------------------------------------------------------------
class Side(enum.IntEnum):
    BUY = 1


class Kind(str, enum.Enum):
    LIMIT = "2"


VALUES = [
    ("text", b"text"),
    ("prix \u00e0 d\u00e9battre", "prix \u00e0 d\u00e9battre".encode()),
    (b"raw", b"raw"),
    (bytearray(b"ba"), b"ba"),
    (memoryview(b"mv"), b"mv"),
    (0, b"0"),
    (42, b"42"),
    (-17, b"-17"),
    (10**30, b"1" + b"0" * 30),
    (True, b"Y"),
    (False, b"N"),
    (Side.BUY, b"1"),
    (Kind.LIMIT, b"2"),
    (Decimal("0.1"), b"0.1"),
    (Decimal("1E+2"), b"100"),
    (Decimal("1.50"), b"1.50"),
    (Decimal("-0.000001"), b"-0.000001"),
    (Decimal("1E-7"), b"0.0000001"),
    (Decimal("123456789012345678901234567.125"), b"123456789012345678901234567.125"),
    (Decimal("-0"), b"-0"),
    (dt.datetime(2024, 1, 2, 3, 4, 5), b"20240102-03:04:05.000"),
    (dt.datetime(2024, 1, 2, 3, 4, 5, 123000), b"20240102-03:04:05.123"),
    (dt.datetime(2024, 1, 2, 3, 4, 5, 123456), b"20240102-03:04:05.123456"),
    (dt.datetime(999, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), b"09990102-03:04:05.000"),
    (
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        b"20240102-08:04:05.000",
    ),
    (dt.date(2024, 2, 29), b"20240229"),
    (dt.time(23, 59, 58, 250000), b"23:59:58.250"),
]


@pytest.mark.parametrize(("value", "expected"), VALUES, ids=[repr(v) for v, _ in VALUES])
def test_values_are_written_as_fix_text(codec: ModuleType, value: Any, expected: bytes) -> None:
    msg = codec.Message("D")
    msg.append(58, value)
    assert msg.get(58) == expected
    assert split(codec.encode(msg, "FIX.4.4"))[3] == (58, expected)


@pytest.mark.parametrize("value", [1.5, 0.1, float("nan")])
def test_float_values_are_refused(codec: ModuleType, value: float) -> None:
    msg = codec.Message("D")
    with pytest.raises(TypeError, match="float"):
        msg.append(44, value)
    with pytest.raises(TypeError):
        msg.set(44, value)
    assert len(msg) == 1


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-sNaN")])
def test_non_finite_decimals_are_refused(codec: ModuleType, value: Decimal) -> None:
    with pytest.raises(ValueError):
        codec.Message("D").append(44, value)


def test_unknown_value_types_are_refused(codec: ModuleType) -> None:
    with pytest.raises(TypeError):
        codec.Message("D").append(58, object())
    with pytest.raises(TypeError):
        codec.Message("D").append(58, None)


def test_soh_in_an_ordinary_field_is_refused(codec: ModuleType) -> None:
    msg = codec.Message("D")
    with pytest.raises(ValueError, match="SOH"):
        msg.append(58, "a\x01b")
    with pytest.raises(ValueError, match="SOH"):
        msg.set(58, b"a\x01b")
    with pytest.raises(ValueError, match="SOH"):
        codec.Message("D\x01")
    assert msg.fields() == [(35, b"D")]


def test_soh_is_allowed_in_a_dictionary_defined_data_field(codec: ModuleType) -> None:
    class DD(FakeDictionary):
        data_fields = {5000: 5001}

    msg = codec.Message("D", dictionary=DD())
    msg.append(5000, 3)
    msg.append(5001, b"a\x01b")
    assert msg.get(5001) == b"a\x01b"


@pytest.mark.parametrize("tag", [10**9, -(10**9), 2**40])
def test_tags_beyond_nine_digits_are_refused_when_writing(codec: ModuleType, tag: int) -> None:
    msg = codec.Message("D")
    with pytest.raises(ValueError, match="out of range"):
        msg.append(tag, "x")
    with pytest.raises(ValueError, match="out of range"):
        msg.set(tag, "x")
    assert msg.get(tag) is None
    assert msg.get_all(tag) == []
    assert msg.remove(tag) == 0


def test_zero_and_negative_tags_can_be_written_and_read_back(codec: ModuleType) -> None:
    msg = codec.Message("D")
    msg.append(0, "zero")
    msg.append(-1, "HI")
    decoded = codec.decode(codec.encode(msg, "FIX.4.4"))
    assert decoded.get(0) == b"zero"
    assert decoded.get(-1) == b"HI"


# -- data fields -------------------------------------------------------------------
@pytest.mark.parametrize(("length_tag", "data_tag"), [(95, 96), (212, 213), (354, 355)])
def test_data_fields_with_soh_round_trip(codec: ModuleType, length_tag: int, data_tag: int) -> None:
    payload = b"\x01a=b\x0110=123\x018=FIX.4.4\x01\x00\xff"
    msg = codec.Message("B")
    msg.append(148, "headline")
    msg.set_data(data_tag, payload)
    msg.append(58, "after")
    raw = codec.encode(msg, "FIX.4.4")
    decoded = codec.decode(raw)
    assert decoded.get(data_tag) == payload
    assert decoded.get_int(length_tag) == len(payload)
    assert decoded.get(58) == b"after"
    tags = [t for t, _ in decoded.fields()]
    assert tags.index(data_tag) == tags.index(length_tag) + 1


def test_set_data_replaces_value_and_length(codec: ModuleType) -> None:
    msg = codec.Message("B")
    msg.set_data(96, b"first\x01")
    msg.append(58, "x")
    msg.set_data(96, b"second!")
    assert msg.fields() == [(35, b"B"), (95, b"7"), (96, b"second!"), (58, b"x")]


def test_set_data_refuses_a_tag_that_is_not_a_data_field(codec: ModuleType) -> None:
    with pytest.raises(ValueError, match="not a length-prefixed"):
        codec.Message("B").set_data(58, b"x")


def test_set_data_accepts_a_field_name(codec: ModuleType) -> None:
    msg = codec.Message("B", dictionary=FakeDictionary())
    msg.set_data("RawData", b"\x01\x02")
    assert msg.get(96) == b"\x01\x02"
    assert msg.get(95) == b"2"


# -- reading -----------------------------------------------------------------------
def test_get_returns_first_value_and_get_all_every_value(codec: ModuleType) -> None:
    msg = codec.Message.from_fields([(35, "D"), (448, "A"), (448, "B"), (58, "t")])
    assert msg.get(448) == b"A"
    assert msg[448] == b"A"
    assert msg.get_all(448) == [b"A", b"B"]
    assert msg.get(999) is None
    assert msg.get(999, b"dflt") == b"dflt"
    assert msg.get_all(999) == []
    with pytest.raises(KeyError):
        msg[999]


def test_contains_checks_for_a_tag(codec: ModuleType) -> None:
    msg = codec.Message.from_fields([(35, "D"), (58, "")])
    assert 35 in msg
    assert 58 in msg  # present with an empty value
    assert 11 not in msg
    assert 3.5 not in msg
    assert None not in msg


def test_typed_getters(codec: ModuleType) -> None:
    msg = codec.Message.from_fields(
        [(35, "8"), (34, "0042"), (38, "-5"), (44, "187.250"), (58, "caf\u00e9"), (59, "x")]
    )
    assert msg.get_int(34) == 42
    assert msg.get_int(38) == -5
    assert msg.get_decimal(44) == Decimal("187.250")
    assert str(msg.get_decimal(44)) == "187.250"
    assert msg.get_str(58) == "caf\u00e9"
    assert msg.get_int(999) is None
    assert msg.get_int(999, 7) == 7
    assert msg.get_decimal(999, Decimal(1)) == Decimal(1)
    assert msg.get_str(999, "d") == "d"
    with pytest.raises(ValueError):
        msg.get_int(59)
    with pytest.raises(ValueError):
        msg.get_decimal(59)


@pytest.mark.parametrize(
    "text", [b"+5", b"-", b"", b"1.0", b" 1", b"1e3", b"12345678901234567890x"]
)
def test_get_int_refuses_what_is_not_a_fix_int(codec: ModuleType, text: bytes) -> None:
    msg = codec.Message("8")
    msg.append(34, text)
    with pytest.raises(ValueError):
        msg.get_int(34)


def test_get_int_reads_long_values(codec: ModuleType) -> None:
    msg = codec.Message("8")
    msg.append(34, b"123456789012345678901234567890")
    msg.append(35, b"-999999999999999999")
    assert msg.get_int(34) == 123456789012345678901234567890
    assert msg.get_all(35)[1] == b"-999999999999999999"


def test_get_str_replaces_undecodable_bytes(codec: ModuleType) -> None:
    msg = codec.Message("8")
    msg.append(58, b"ok\xff")
    assert msg.get_str(58) == "ok\ufffd"


def test_msg_type_and_begin_string_properties(codec: ModuleType) -> None:
    built = codec.Message("D")
    assert built.msg_type == b"D"
    assert built.begin_string is None
    decoded = codec.decode(codec.encode(built, "FIX.4.4"))
    assert decoded.begin_string == b"FIX.4.4"
    assert codec.Message().msg_type is None


def test_field_names_resolve_through_the_dictionary(codec: ModuleType) -> None:
    msg = codec.Message("D", dictionary=FakeDictionary())
    msg.set("ClOrdID", "ABC")
    msg.append("Price", Decimal("1.5"))
    assert msg.get("ClOrdID") == b"ABC"
    assert msg["Price"] == b"1.5"
    assert msg.get(44) == b"1.5"
    assert msg.get_decimal("Price") == Decimal("1.5")
    assert "Price" in msg
    assert "OrderQty" not in msg
    assert msg.get_all("Price") == [b"1.5"]
    assert msg.remove("Price") == 1
    with pytest.raises(KeyError):
        msg.get("NoSuchField")


def test_field_names_without_a_dictionary_raise_key_error(codec: ModuleType) -> None:
    msg = codec.Message("D")
    with pytest.raises(KeyError, match="dictionary"):
        msg.get("ClOrdID")
    with pytest.raises(KeyError):
        msg.set("ClOrdID", "x")


# -- changing ---------------------------------------------------------------------
def test_set_replaces_the_first_field_or_appends(codec: ModuleType) -> None:
    msg = codec.Message.from_fields([(35, "D"), (448, "A"), (448, "B")])
    msg.set(448, "Z")
    msg.set(11, "new")
    assert msg.fields() == [(35, b"D"), (448, b"Z"), (448, b"B"), (11, b"new")]


def test_append_repeats_tags(codec: ModuleType) -> None:
    msg = codec.Message("D")
    msg.append(448, "A")
    msg.append(448, "A")
    assert msg.get_all(448) == [b"A", b"A"]
    assert len(msg) == 3


def test_remove_drops_every_instance_and_counts_them(codec: ModuleType) -> None:
    msg = codec.Message.from_fields([(35, "D"), (448, "A"), (58, "x"), (448, "B")])
    assert msg.remove(448) == 2
    assert msg.remove(448) == 0
    assert msg.fields() == [(35, b"D"), (58, b"x")]


def test_changing_a_decoded_message_drops_raw_and_keeps_other_values(codec: ModuleType) -> None:
    raw = wire((35, b"D"), (34, b"5"), (11, b"ORIG"), (58, b"text"))
    msg = codec.decode(raw)
    assert msg.raw == raw
    msg.set(11, "CHANGED")
    assert msg.raw is None
    msg.append(43, True)
    assert msg.get(11) == b"CHANGED"
    assert msg.get(58) == b"text"
    out = split(codec.encode(msg))
    assert (11, b"CHANGED") in out
    assert out.index((43, b"Y")) < out.index((11, b"CHANGED"))  # header field moved up


def test_repeated_replacement_of_large_values_keeps_every_value_right(codec: ModuleType) -> None:
    msg = codec.Message("D")
    for i in range(40):
        msg.append(1000 + i, str(i))
    for round_ in range(30):
        msg.set(1005, "v" * 5000 + str(round_))
        msg.set(1020, str(round_))
        if round_ % 7 == 0:
            msg.remove(1030 + round_ % 5)
    assert msg.get(1005) == b"v" * 5000 + b"29"
    assert msg.get(1020) == b"29"
    assert msg.get(1039) == b"39"
    assert len(msg) == 41 - 5


def test_copy_is_independent(codec: ModuleType) -> None:
    msg = codec.decode(wire((35, b"D"), (11, b"A")))
    dup = msg.copy()
    assert dup == msg and dup.raw == msg.raw
    dup.set(11, "B")
    dup.append(58, "more")
    assert msg.get(11) == b"A" and 58 not in msg
    assert copy.copy(msg) == msg


def test_messages_pickle(codec: ModuleType) -> None:
    msg = codec.decode(wire((35, b"D"), (11, b"A"), (58, b"x")))
    back = pickle.loads(pickle.dumps(msg))
    assert type(back) is codec.Message
    assert back == msg and back.raw == msg.raw


def test_equality_compares_fields_in_order(codec: ModuleType) -> None:
    a = codec.Message.from_fields([(35, "D"), (11, "A")])
    b = codec.Message.from_fields([(35, "D"), (11, "A")])
    c = codec.Message.from_fields([(11, "A"), (35, "D")])
    assert a == b
    assert (a != b) is False
    assert a != c
    assert a != "not a message"
    with pytest.raises(TypeError):
        hash(a)


def test_iteration_len_and_repr(codec: ModuleType) -> None:
    msg = codec.Message.from_fields([(35, "D"), (11, "A\u00e9")])
    assert list(msg) == [(35, b"D"), (11, "A\u00e9".encode())]
    assert len(msg) == 2
    assert repr(msg) == "Message('35=D|11=A\u00c3\u00a9')"


def test_messages_with_many_fields(codec: ModuleType) -> None:
    fields = [(35, b"W")] + [(269 + i % 3, b"%d" % i) for i in range(500)]
    raw = codec.encode(codec.Message.from_fields(fields), "FIX.4.4")
    decoded = codec.decode(raw)
    assert decoded.fields()[2:-1] == fields
    assert len(decoded) == len(fields) + 3


def test_group_and_add_group_delegate_to_the_groups_module(
    codec: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fixengine.groups as groups

    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(groups, "parse_groups", lambda *a: calls.append(a) or ["g"])
    monkeypatch.setattr(groups, "append_group", lambda *a: calls.append(a))
    msg = codec.Message("D")
    dd = FakeDictionary()
    assert msg.group(453, dd) == ["g"]
    msg.add_group(453, [[(448, "P")]])
    assert calls == [(msg, 453, dd), (msg, 453, [[(448, "P")]])]


# -- decoding ----------------------------------------------------------------------
def test_decode_keeps_every_field_in_wire_order(codec: ModuleType) -> None:
    raw = wire((35, b"8"), (49, b"S"), (11, b"X"), (11, b"Y"), (58, b""))
    msg = codec.decode(raw)
    assert msg.fields() == split(raw)
    assert msg.raw == raw
    assert msg.dictionary is None


def test_decode_accepts_bytearray_and_memoryview(codec: ModuleType) -> None:
    raw = wire((35, b"0"))
    assert codec.decode(bytearray(raw)).fields() == split(raw)
    assert codec.decode(memoryview(raw)).raw == raw


def test_decode_parses_negative_and_zero_tags_as_ints(codec: ModuleType) -> None:
    msg = codec.decode(wire((35, b"0"), (-1, b"HI"), (0, b"Z")))
    assert msg.get(-1) == b"HI"
    assert msg.get(0) == b"Z"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"junk", GarbleReason.GARBAGE),
        (wire((35, b"0"))[:-2] + b"9\x01", GarbleReason.BAD_CHECKSUM),
        (wire((49, b"S"), (35, b"0")), GarbleReason.MSGTYPE_NOT_THIRD),
        (frame(b"35=0\x014garbled9=TW\x01"), GarbleReason.BAD_FIELD),
        (b"8=FIX.4.4\x019=A\x0135=0\x0110=000\x01", GarbleReason.BAD_BODY_LENGTH),
    ],
)
def test_decode_raises_garbled_message_with_the_reason(
    codec: ModuleType, raw: bytes, reason: GarbleReason
) -> None:
    with pytest.raises(GarbledMessage) as info:
        codec.decode(raw)
    assert info.value.reason is reason


def test_decode_refuses_two_messages_or_a_partial_one(codec: ModuleType) -> None:
    raw = wire((35, b"0"))
    with pytest.raises(GarbledMessage):
        codec.decode(raw + raw)
    with pytest.raises(GarbledMessage):
        codec.decode(raw[:-1])
    with pytest.raises(GarbledMessage):
        codec.decode(raw + b"x")


# -- which twin is in use ----------------------------------------------------------------
def _selection(env_value: str | None) -> str:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "FIXENGINE_NO_EXTENSIONS"}
    if env_value is not None:
        env["FIXENGINE_NO_EXTENSIONS"] = env_value
    code = "import fixengine.codec as c; print(c.ACCELERATED, c.Message.__module__)"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_no_extensions_environment_variable_forces_the_pure_twin() -> None:
    assert _selection("1") == "False fixengine._codec_py"


def test_the_compiled_core_is_used_when_built(compiled_codec: ModuleType) -> None:
    assert _selection(None) == "True fixengine._codec"
    assert _selection("0") == "True fixengine._codec"


def test_no_memory_is_leaked_by_building_decoding_and_framing(codec: ModuleType) -> None:
    import gc
    import tracemalloc

    big = codec.encode(
        codec.Message.from_fields([(35, "W")] + [(270, i) for i in range(60)]), "FIX.4.4"
    )
    stream = (big + wire((35, b"0"))) * 3 + b"junk8=FIX.4.4\x019=5\x01xx"

    def work() -> None:
        for i in range(100):
            msg = codec.decode(big)
            msg.set(270, "x" * (i % 50))
            msg.append(58, "more")
            msg.set_data(96, b"\x01" * 10)
            msg.remove(270)
            dup = msg.copy()
            codec.encode(dup)
            parser = codec.Parser(resync="trailer" if i % 2 else "begin-string")
            for j in range(0, len(stream), 97):
                parser.feed(stream[j : j + 97])

    work()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            work()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024


def test_repr_never_shows_passwords(codec: Any) -> None:
    msg = codec.Message("A")
    msg.set(553, "alice")
    msg.set(554, "s3cret-pw")
    msg.set(925, "n3w-pw")
    text = repr(msg)
    assert "s3cret-pw" not in text and "n3w-pw" not in text
    assert "554=***" in text and "925=***" in text and "553=alice" in text
    decoded = codec.decode(msg.encode("FIX.4.4"))
    assert "s3cret-pw" not in repr(decoded) and decoded[554] == b"s3cret-pw"
