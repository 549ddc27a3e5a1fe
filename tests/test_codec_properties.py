"""Property tests: round trips, twin equivalence, simplefix as an independent oracle,
and a framer that never crashes, hangs or loses a good message."""

from __future__ import annotations

import datetime as dt
import importlib
import itertools
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fixengine import _codec_py as pure
from fixengine.errors import GarbledMessage

simplefix = pytest.importorskip("simplefix")

SOH = b"\x01"
PROPS = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

_LENGTH_TAGS = set(pure.DATA_FIELDS)
_DATA_TAGS = set(pure.DATA_FIELDS.values())
_RESERVED = {8, 9, 10, 35} | _LENGTH_TAGS | _DATA_TAGS
# data-field pairs simplefix also knows (it is the oracle for those)
_SIMPLEFIX_DATA = [(95, 96), (212, 213), (354, 355), (358, 359), (90, 91)]


def _compiled() -> ModuleType:
    try:
        return importlib.import_module("fixengine._codec")
    except ImportError:
        pytest.skip("compiled codec fixengine._codec is not built")


# -- strategies ----------------------------------------------------------------------
# below 40000: simplefix also treats some FIX Latest tags above it as data fields
tags = st.integers(1, 39_999).filter(lambda t: t not in _RESERVED)
values = st.binary(max_size=24).map(lambda b: b.replace(SOH, b"\x02"))
nonempty_values = values.filter(bool)
msg_types = st.sampled_from([b"0", b"A", b"D", b"8", b"AE", b"U1"])
begin_strings = st.sampled_from([b"FIX.4.2", b"FIX.4.4", b"FIXT.1.1"])
data_payloads = st.binary(max_size=40)


@st.composite
def field_lists(
    draw: Any, nonempty: bool = False, data_pairs: Any = None
) -> list[tuple[int, bytes]]:
    """(tag, value) pairs, with length/data pairs kept adjacent."""
    value_st = nonempty_values if nonempty else values
    out: list[tuple[int, bytes]] = []
    for _ in range(draw(st.integers(0, 25))):
        if data_pairs is not None and draw(st.integers(0, 9)) == 0:
            length_tag, data_tag = draw(st.sampled_from(data_pairs))
            payload = draw(data_payloads.filter(bool) if nonempty else data_payloads)
            out += [(length_tag, b"%d" % len(payload)), (data_tag, payload)]
        else:
            out.append((draw(tags), draw(value_st)))
    return out


def expected_order(msg_type: bytes, fields: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    header = [f for f in fields if f[0] in pure.HEADER_TAGS]
    trailer = [f for f in fields if f[0] in pure.TRAILER_TAGS]
    body = [f for f in fields if f[0] not in pure.HEADER_TAGS and f[0] not in pure.TRAILER_TAGS]
    return [(35, msg_type), *header, *body, *trailer]


def build(codec: ModuleType, msg_type: bytes, fields: list[tuple[int, bytes]]) -> Any:
    msg = codec.Message(msg_type)
    for tag, value in fields:
        msg.append(tag, value)
    return msg


def summary(items: list[Any]) -> list[Any]:
    """Comparable form of Parser output (messages by raw bytes and fields)."""
    return [
        (g.reason, g.data, g.size) if isinstance(g, GarbledMessage) else ("msg", g.raw, g.fields())
        for g in items
    ]


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def feed(parser: Any, chunks: list[bytes]) -> list[Any]:
    out: list[Any] = []
    for chunk in chunks:
        out += parser.feed(chunk)
    return out


# -- round trip ----------------------------------------------------------------------
@PROPS
@given(
    msg_type=msg_types,
    begin=begin_strings,
    fields=field_lists(data_pairs=list(pure.DATA_FIELDS.items())),
)
def test_encode_then_decode_gives_back_every_field(
    codec: ModuleType, msg_type: bytes, begin: bytes, fields: list[tuple[int, bytes]]
) -> None:
    raw = codec.encode(build(codec, msg_type, fields), begin)
    msg = codec.decode(raw)
    got = msg.fields()
    assert got[0] == (8, begin)
    head_end = raw.index(SOH, raw.index(b"\x019=") + 1) + 1
    assert got[1] == (9, b"%d" % (len(raw) - head_end - 7))
    assert got[2:-1] == expected_order(msg_type, fields)
    assert got[-1] == (10, b"%03d" % (sum(raw[:-7]) % 256))
    assert msg.raw == raw


# -- the twins agree --------------------------------------------------------------------
operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), tags, values),
        st.tuples(st.just("set"), tags, values),
        st.tuples(st.just("remove"), tags, st.none()),
        st.tuples(st.just("set_data"), st.sampled_from(sorted(_DATA_TAGS)), data_payloads),
        st.tuples(
            st.just("typed"),
            tags,
            st.one_of(
                st.integers(),
                st.booleans(),
                st.decimals(allow_nan=False, allow_infinity=False),
                st.datetimes(min_value=dt.datetime(1, 1, 1)),
                st.datetimes(timezones=st.just(dt.timezone.utc)),
                st.datetimes(
                    min_value=dt.datetime(2, 1, 1),
                    max_value=dt.datetime(9998, 12, 31),
                    timezones=st.builds(
                        dt.timezone, st.timedeltas(dt.timedelta(hours=-23), dt.timedelta(hours=23))
                    ),
                ),
                st.times(),
                st.dates(),
                st.text(max_size=8).filter(lambda s: "\x01" not in s),
            ),
        ),
    ),
    max_size=40,
)


def _apply(codec: ModuleType, ops: list[tuple[str, int, Any]]) -> Any:
    msg = codec.Message("D")
    for op, tag, arg in ops:
        if op == "append" or op == "typed":
            msg.append(tag, arg)
        elif op == "set":
            msg.set(tag, arg)
        elif op == "remove":
            msg.remove(tag)
        else:
            msg.set_data(tag, arg)
    return msg


@PROPS
@given(ops=operations, begin=begin_strings)
def test_compiled_and_pure_build_the_same_message_and_bytes(ops: Any, begin: bytes) -> None:
    compiled = _compiled()
    a, b = _apply(pure, ops), _apply(compiled, ops)
    assert a.fields() == b.fields()
    assert pure.encode(a, begin) == compiled.encode(b, begin)
    assert (
        compiled.decode(compiled.encode(b, begin)).fields()[2:-1]
        == pure.decode(pure.encode(a, begin)).fields()[2:-1]
    )


@PROPS
@given(value=st.decimals(allow_nan=False, allow_infinity=False))
def test_compiled_and_pure_write_every_decimal_alike(value: Decimal) -> None:
    compiled = _compiled()
    a, b = pure.Message("D"), compiled.Message("D")
    a.append(44, value)
    b.append(44, value)
    assert a.get(44) == b.get(44)
    assert Decimal(a.get(44).decode()) == value


TOKENS = [
    b"8=FIX.4.4\x01", b"8=FIX", b"9=", b"\x019=", b"10=", b"\x0110=", b"\x01", b"35=", b"=",
    b"0", b"5", b"12", b"123", b"-1", b"95=", b"96=", b"34=", b"a", b"\xff",
]  # fmt: skip
fix_noise = st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=6)), max_size=60).map(
    b"".join
)


@st.composite
def streams(draw: Any) -> bytes:
    """Valid messages mixed with garbage, truncations, bad lengths and bad checksums."""
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        raw = pure.encode(
            build(
                pure, draw(msg_types), draw(field_lists(data_pairs=list(pure.DATA_FIELDS.items())))
            ),
            draw(begin_strings),
        )
        kind = draw(
            st.sampled_from(["ok", "ok", "noise", "truncate", "length", "checksum", "flip"])
        )
        if kind == "noise":
            raw = draw(fix_noise)
        elif kind == "truncate":
            raw = raw[: draw(st.integers(0, len(raw) - 1))]
        elif kind == "length":
            start = raw.index(b"\x019=") + 3
            stop = raw.index(SOH, start)
            raw = raw[:start] + b"%d" % draw(st.integers(0, 400)) + raw[stop:]
        elif kind == "checksum":
            raw = raw[:-4] + b"%03d\x01" % draw(st.integers(0, 999))
        elif kind == "flip":
            i = draw(st.integers(0, len(raw) - 1))
            raw = raw[:i] + bytes([draw(st.integers(0, 255))]) + raw[i + 1 :]
        parts.append(raw)
    return b"".join(parts)


parser_settings = st.tuples(
    st.sampled_from(["begin-string", "trailer"]), st.sampled_from([64, 200, 1 << 20])
)


@PROPS
@given(
    data=st.one_of(streams(), fix_noise, st.binary(max_size=300)),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
    config=parser_settings,
)
def test_compiled_and_pure_frame_any_bytes_alike(data: bytes, cuts: list[int], config: Any) -> None:
    compiled = _compiled()
    mode, limit = config
    chunks = chunked(data, cuts)
    p1, p2 = pure.Parser(limit, mode), compiled.Parser(limit, mode)
    assert summary(feed(p1, chunks)) == summary(feed(p2, chunks))
    assert p1.buffered == p2.buffered


@PROPS
@given(
    data=st.one_of(streams(), fix_noise),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
    config=parser_settings,
)
def test_every_byte_is_accounted_for_and_messages_do_not_depend_on_chunking(
    codec: ModuleType, data: bytes, cuts: list[int], config: Any
) -> None:
    mode, limit = config
    parser = codec.Parser(limit, mode)
    items = feed(parser, chunked(data, cuts))
    used = sum(len(i.raw) if not isinstance(i, GarbledMessage) else i.size for i in items)
    assert used + parser.buffered == len(data)
    assert parser.buffered <= max(limit, 64) + 8
    whole = codec.Parser(limit, mode)
    at_once = [i.raw for i in whole.feed(data) if not isinstance(i, GarbledMessage)]
    assert [i.raw for i in items if not isinstance(i, GarbledMessage)] == at_once
    assert whole.buffered == parser.buffered


@PROPS
@given(data=streams(), cuts=st.lists(st.integers(0, 10_000), max_size=8))
def test_decode_agrees_with_the_framer(codec: ModuleType, data: bytes, cuts: list[int]) -> None:
    for item in codec.Parser().feed(data):
        if not isinstance(item, GarbledMessage):
            assert codec.decode(item.raw) == item


# -- robustness ------------------------------------------------------------------------
LIMIT = 512
FILLER = pure.encode(pure.Message.from_fields([(35, b"0"), (34, b"9"), (58, b"f" * 40)]), "FIX.4.4")


@PROPS
@given(
    junk=st.one_of(streams(), fix_noise, st.binary(max_size=200)),
    fields=field_lists(True),
    cuts=st.lists(st.integers(0, 10_000), max_size=10),
)
def test_begin_string_mode_never_loses_a_message_after_bad_bytes(
    codec: ModuleType, junk: bytes, fields: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    good = codec.encode(build(codec, b"D", [(11, b"THE-ONE"), *fields]), "FIX.4.4")
    filler = FILLER * (LIMIT // len(FILLER) + 2)  # more than any pending BodyLength can claim
    parser = codec.Parser(LIMIT, "begin-string")
    items = feed(parser, chunked(junk + good + filler, cuts))
    raws = [i.raw for i in items if not isinstance(i, GarbledMessage)]
    assert good in raws
    assert raws[raws.index(good) + 1 :] == [FILLER] * (LIMIT // len(FILLER) + 2)


@PROPS
@given(
    body_fields=field_lists(True),
    delta=st.integers(-200, 300),
    followers=st.lists(field_lists(True), min_size=1, max_size=4),
    cuts=st.lists(st.integers(0, 10_000), max_size=10),
)
def test_trailer_mode_drops_up_to_the_first_trailer_after_the_claimed_end(
    codec: ModuleType, body_fields: Any, delta: int, followers: Any, cuts: list[int]
) -> None:
    bad = pure.encode(build(pure, b"D", body_fields), "FIX.4.4")
    start = bad.index(b"\x019=") + 3
    stop = bad.index(SOH, start)
    claimed = int(bad[start:stop]) + delta
    assume(claimed >= 0 and claimed != int(bad[start:stop]))
    bad = bad[:start] + b"%d" % claimed + bad[stop:]
    goods = [
        pure.encode(build(pure, b"8", [(11, b"F%d" % i), *f]), "FIX.4.4")
        for i, f in enumerate(followers)
    ]
    stream = bad + b"".join(goods) + FILLER * 4
    # the rule, computed independently over the whole stream
    trailer = bad.index(SOH, start) + 1 + claimed
    hit = stream.find(b"\x0110=", trailer - 1)
    drop_end = stream.index(SOH, hit + 4) + 1
    expected, pos = [], len(bad)
    for raw in [*goods, FILLER, FILLER, FILLER, FILLER]:
        if pos >= drop_end:
            expected.append(raw)
        pos += len(raw)
    items = feed(codec.Parser(1 << 20, "trailer"), chunked(stream, cuts))
    raws = [i.raw for i in items if not isinstance(i, GarbledMessage)]
    assert [r for r in raws if r in expected] == expected
    assert len(raws) - len(expected) <= 1  # a frame that happens to check out as a whole


# -- simplefix as the oracle --------------------------------------------------------------
def _simplefix_parse(raw: bytes) -> list[tuple[int, bytes]]:
    parser = simplefix.FixParser()
    parser.append_buffer(raw)
    msg = parser.get_message()
    assert msg is not None
    return [(int(t), v) for t, v in msg.pairs]


@PROPS
@given(msg_type=msg_types, begin=begin_strings, fields=field_lists(True, _SIMPLEFIX_DATA))
def test_simplefix_parses_what_we_encode(
    codec: ModuleType, msg_type: bytes, begin: bytes, fields: list[tuple[int, bytes]]
) -> None:
    raw = codec.encode(build(codec, msg_type, fields), begin)
    assert _simplefix_parse(raw) == codec.decode(raw).fields()


@PROPS
@given(msg_type=msg_types, begin=begin_strings, fields=field_lists(True, _SIMPLEFIX_DATA))
def test_we_parse_what_simplefix_encodes(
    codec: ModuleType, msg_type: bytes, begin: bytes, fields: list[tuple[int, bytes]]
) -> None:
    sf = simplefix.FixMessage()
    sf.append_pair(8, begin, header=True)
    sf.append_pair(35, msg_type, header=True)
    for tag, value in fields:
        sf.append_pair(tag, value)
    raw = sf.encode()
    msg = codec.decode(raw)
    assert msg.fields() == _simplefix_parse(raw)
    assert msg.fields()[2:-1] == [(35, msg_type), *fields]
    # and re-encoding gives simplefix's bytes when no header field needs moving
    if not any(t in pure.HEADER_TAGS or t in pure.TRAILER_TAGS for t, _ in fields):
        assert codec.encode(msg) == raw
