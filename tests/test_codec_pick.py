"""Message.pick: many fields read in one pass, in both codec twins."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixengine import _codec_py as pure

SOH = b"\x01"
PROPS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

REPORT = (
    b"8=FIX.4.4\x019=0\x0135=8\x0134=7\x0149=V\x0156=C\x0152=20260101-00:00:00.000\x01"
    b"37=O1\x0111=c.1\x0117=E1\x01150=F\x0139=2\x0155=ACME\x0154=1\x0138=100\x01"
    b"32=100\x0131=10.5\x01151=0\x0114=100\x016=10.5\x01"
)


class Dictionary:
    """The one method Message needs to read fields by name."""

    def tag(self, name: str) -> int:
        return {"ClOrdID": 11, "Symbol": 55}[name]


def _decoded(codec: ModuleType) -> Any:
    msg = codec.Message.from_fields(
        (int(tag), value)
        for tag, _, value in (f.partition(b"=") for f in REPORT.split(SOH) if f)
        if tag not in (b"8", b"9")
    )
    frame = codec.encode(msg, "FIX.4.4")
    (parsed,) = codec.Parser().feed(frame)
    return parsed


def test_reads_first_value_of_each_tag_in_order(codec: ModuleType) -> None:
    msg = _decoded(codec)
    assert msg.pick((11, 150, 14, 6, 58)) == (b"c.1", b"F", b"100", b"10.5", None)
    assert msg.pick((35, 8, 10)) == (b"8", b"FIX.4.4", msg.get(10))


def test_repeated_tags_first_field_wins(codec: ModuleType) -> None:
    msg = codec.Message.from_fields(
        [(35, b"8"), (11, b"a"), (5000, b"x"), (11, b"b"), (5000, b"y")]
    )
    assert msg.pick((11, 5000, 11, 5000, 12)) == (b"a", b"x", b"a", b"x", None)


def test_empty_unknown_and_out_of_range_tags(codec: ModuleType) -> None:
    msg = codec.Message.from_fields([(35, b"8"), (55, b"S")])
    assert msg.pick(()) == ()
    assert msg.pick((0, -1, 2**40, -(2**40), 10**9, 4095, 4096)) == (None,) * 7
    assert codec.Message().pick((35, 55)) == (None, None)


def test_any_iterable_of_tags_and_names(codec: ModuleType) -> None:
    msg = codec.Message.from_fields([(35, b"D"), (11, b"c"), (55, b"S")], Dictionary())
    assert msg.pick([55, 11]) == (b"S", b"c")
    assert msg.pick(iter((55,))) == (b"S",)
    assert msg.pick(("ClOrdID", "Symbol", 11)) == (b"c", b"S", b"c")
    with pytest.raises(KeyError):
        codec.Message.from_fields([(11, b"c")]).pick(("ClOrdID",))


def test_many_tags_past_one_pass_limit(codec: ModuleType) -> None:
    fields = [(tag, str(tag).encode()) for tag in range(1, 150)]
    msg = codec.Message.from_fields(fields)
    tags = tuple(range(200, 0, -1))
    assert msg.pick(tags) == tuple(msg.get(t) for t in tags)


def test_sees_changes_to_the_message(codec: ModuleType) -> None:
    msg = _decoded(codec)
    msg.set(11, b"other")
    msg.remove(14)
    msg.append(5001, b"late")
    assert msg.pick((11, 14, 5001)) == (b"other", None, b"late")


_TAGS = st.one_of(
    st.integers(1, 60),
    st.sampled_from([150, 151, 378, 1023, 1024, 4095, 4096, 5000, 9999]),
    st.integers(-5, 2**33),
)


@PROPS
@given(
    fields=st.lists(
        st.tuples(_TAGS.filter(lambda t: 0 < t < 10**9), st.binary(max_size=4)), max_size=40
    ),
    tags=st.lists(_TAGS, max_size=80),
)
def test_pick_is_get_of_each_tag_and_twins_agree(
    compiled_codec: ModuleType, fields: list[tuple[int, bytes]], tags: list[int]
) -> None:
    clean = [(t, v.replace(SOH, b"")) for t, v in fields]
    compiled = compiled_codec.Message.from_fields(clean)
    reference = pure.Message.from_fields(clean)
    expected = tuple(reference.get(t) for t in tags)
    assert reference.pick(tags) == expected
    assert compiled.pick(tags) == expected
    assert compiled.pick(tuple(tags)) == expected
