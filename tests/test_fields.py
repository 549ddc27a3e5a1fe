"""fixengine.fields: Python values <-> FIX field values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixengine import _codec_py
from fixengine import fields as f

UTC = dt.timezone.utc


# -- to_bytes ----------------------------------------------------------------------------
def test_to_bytes_passes_bytes_and_encodes_text_as_utf8() -> None:
    assert f.to_bytes(b"\x00abc") == b"\x00abc"
    assert f.to_bytes("d\u00e9j\u00e0") == "d\u00e9j\u00e0".encode()
    assert f.to_bytes(bytearray(b"x")) == b"x"


def test_to_bytes_writes_bool_as_y_or_n() -> None:
    assert (f.to_bytes(True), f.to_bytes(False)) == (b"Y", b"N")


def test_to_bytes_writes_ints_in_decimal() -> None:
    assert f.to_bytes(0) == b"0"
    assert f.to_bytes(-12) == b"-12"
    assert f.to_bytes(2**70) == str(2**70).encode()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0.1", b"0.1"),
        ("1E+2", b"100"),
        ("1.000", b"1.000"),
        ("-2.5E-3", b"-0.0025"),
        ("0E-9", b"0.000000000"),
        ("12345678901234567890.123456789", b"12345678901234567890.123456789"),
    ],
)
def test_to_bytes_writes_decimals_exactly_without_exponent(value: str, text: bytes) -> None:
    assert f.to_bytes(Decimal(value)) == text


@given(st.decimals(allow_nan=False, allow_infinity=False))
@settings(max_examples=200, deadline=None)
def test_decimals_survive_the_wire_exactly(value: Decimal) -> None:
    assert f.parse_decimal(f.to_bytes(value)) == value


def test_to_bytes_refuses_floats_and_non_finite_decimals() -> None:
    with pytest.raises(TypeError, match="float"):
        f.to_bytes(0.1)  # type: ignore[arg-type]
    for bad in ("NaN", "-Infinity", "sNaN"):
        with pytest.raises(ValueError):
            f.to_bytes(Decimal(bad))


def test_to_bytes_refuses_unknown_types() -> None:
    with pytest.raises(TypeError):
        f.to_bytes([1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        f.to_bytes(None)  # type: ignore[arg-type]


def test_to_bytes_writes_datetimes_as_utc_timestamps() -> None:
    assert f.to_bytes(dt.datetime(2024, 3, 4, 5, 6, 7)) == b"20240304-05:06:07.000"
    assert f.to_bytes(dt.datetime(2024, 3, 4, 5, 6, 7, 8000)) == b"20240304-05:06:07.008"
    assert f.to_bytes(dt.datetime(2024, 3, 4, 5, 6, 7, 8)) == b"20240304-05:06:07.000008"
    paris = dt.timezone(dt.timedelta(hours=1))
    assert f.to_bytes(dt.datetime(2024, 3, 4, 0, 30, tzinfo=paris)) == b"20240303-23:30:00.000"


def test_to_bytes_writes_dates_and_times() -> None:
    assert f.to_bytes(dt.date(2024, 12, 31)) == b"20241231"
    assert f.to_bytes(dt.time(9, 30)) == b"09:30:00.000"
    assert f.to_bytes(dt.time(9, 30, 1, 5)) == b"09:30:01.000005"


# -- timestamps ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("precision", "text"),
    [
        (0, b"20240102-03:04:05"),
        (3, b"20240102-03:04:05.123"),
        (6, b"20240102-03:04:05.123456"),
        (9, b"20240102-03:04:05.123456789"),
    ],
)
def test_utc_timestamp_precisions(precision: int, text: bytes) -> None:
    ns = int(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()) * 10**9 + 123_456_789
    assert f.format_utc_timestamp(ns, precision) == text
    assert f.parse_utc_timestamp_ns(text) == ns - ns % 10 ** (9 - precision)


def test_utc_timestamp_from_a_datetime_pads_sub_microsecond_digits_with_zeros() -> None:
    value = dt.datetime(2024, 1, 2, 3, 4, 5, 123456)
    assert f.format_utc_timestamp(value, 9) == b"20240102-03:04:05.123456000"
    assert f.format_utc_timestamp(value, 0) == b"20240102-03:04:05"


def test_utc_timestamp_refuses_other_precisions() -> None:
    with pytest.raises(ValueError):
        f.format_utc_timestamp(0, 2)


def test_utc_timestamp_before_the_epoch() -> None:
    assert f.format_utc_timestamp(-1, 9) == b"19691231-23:59:59.999999999"
    assert f.parse_utc_timestamp_ns(b"19691231-23:59:59.999999999") == -1


def test_parse_utc_timestamp_gives_an_aware_datetime() -> None:
    value = f.parse_utc_timestamp(b"20240102-03:04:05.123456789")
    assert value == dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def test_parse_utc_timestamp_folds_a_leap_second() -> None:
    assert f.parse_utc_timestamp_ns(b"20161231-23:59:60") == f.parse_utc_timestamp_ns(
        b"20170101-00:00:00"
    )


@pytest.mark.parametrize(
    "text",
    [
        b"20240102 03:04:05",
        b"2024010-03:04:05",
        b"20240102-03:04:05.",
        b"20240102-03:04:05.1234567890",
        b"20241302-03:04:05",
        b"20240102-24:04:05",
        b"2024O102-03:04:05",
        b"20240102-03:04:05.12a",
        "20240102-03:04:05.\u00b9".encode(),
    ],
)
def test_parse_utc_timestamp_refuses_malformed_values(text: bytes) -> None:
    with pytest.raises(ValueError):
        f.parse_utc_timestamp_ns(text)


@given(st.integers(-(10**18), 10**18 * 5), st.sampled_from([0, 3, 6, 9]))
@settings(max_examples=200, deadline=None)
def test_utc_timestamps_round_trip_at_their_precision(ns: int, precision: int) -> None:
    text = f.format_utc_timestamp(ns, precision)
    assert f.parse_utc_timestamp_ns(text) == ns - ns % 10 ** (9 - precision)


# -- dates and times ----------------------------------------------------------------------
def test_dates_round_trip() -> None:
    day = dt.date(2024, 2, 29)
    assert f.format_utc_date_only(day) == f.format_local_mkt_date(day) == b"20240229"
    assert f.parse_local_mkt_date(b"20240229") == f.parse_utc_date_only(b"20240229") == day


@pytest.mark.parametrize("text", [b"2024022", b"2024-02-2", b"20240230", b"2024022a"])
def test_malformed_dates_are_refused(text: bytes) -> None:
    with pytest.raises(ValueError):
        f.parse_local_mkt_date(text)


def test_utc_time_only_round_trips() -> None:
    value = dt.time(23, 59, 58, 123000)
    assert f.format_utc_time_only(value) == b"23:59:58.123"
    assert f.format_utc_time_only(value, 0) == b"23:59:58"
    assert f.format_utc_time_only(value, 6) == b"23:59:58.123000"
    assert f.parse_utc_time_only(b"23:59:58.123") == value
    assert f.parse_utc_time_only(b"23:59:58.123456789") == dt.time(23, 59, 58, 123456)
    assert f.parse_utc_time_only(b"23:59:60") == dt.time(23, 59, 59)
    with pytest.raises(ValueError):
        f.format_utc_time_only(value, 9)


@pytest.mark.parametrize("text", [b"+1:00:00", b" 1:00:00", b"01:00", b"01:00:00.", b"25:00:00"])
def test_malformed_times_are_refused(text: bytes) -> None:
    with pytest.raises(ValueError):
        f.parse_utc_time_only(text)


# -- numbers and booleans -------------------------------------------------------------------
def test_parse_int_takes_digits_with_an_optional_minus() -> None:
    assert f.parse_int(b"0042") == 42
    assert f.parse_int(b"-7") == -7


@pytest.mark.parametrize("text", [b"", b"-", b"+1", b"1.0", b" 1", b"1_000", b"\xd9\xa1"])
def test_parse_int_refuses_other_text(text: bytes) -> None:
    with pytest.raises(ValueError):
        f.parse_int(text)


def test_parse_decimal_is_exact() -> None:
    assert f.parse_decimal(b"0.1") == Decimal("0.1")
    assert str(f.parse_decimal(b"00023.2300")) == "23.2300"
    assert f.parse_decimal(b"-5") == Decimal(-5)
    assert f.parse_decimal(b".5") == Decimal("0.5")


@pytest.mark.parametrize("text", [b"", b"-", b".", b"1e5", b"1.2.3", b"NaN", b"Infinity", b"+1"])
def test_parse_decimal_refuses_other_text(text: bytes) -> None:
    with pytest.raises(ValueError):
        f.parse_decimal(text)


def test_parse_bool() -> None:
    assert f.parse_bool(b"Y") is True
    assert f.parse_bool(b"N") is False
    with pytest.raises(ValueError):
        f.parse_bool(b"y")


@given(
    ms=st.integers(min_value=0, max_value=4_102_444_800_000),  # 1970 .. 2100
    off=st.floats(min_value=-0.45, max_value=0.45),
)
def test_utc_timestamp_millis_is_the_nearest_millisecond(ms: int, off: float) -> None:
    now = (ms + off) / 1000.0
    nearest = round(now * 1000)  # within a float's rounding of ms
    expected = (dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=nearest)).strftime(
        "%Y%m%d-%H:%M:%S.%f"
    )[:-3]
    assert f.utc_timestamp_millis(now) == expected.encode()
    assert f.utc_timestamp_millis(now) == f.utc_timestamp_millis(now)  # the cached answer


# -- the codec's compiled twin of utc_timestamp_millis ----------------------------------------
_EDGES = [0.0, -0.0, -0.0004, 0.0005, 0.0625, 1.0005, 86399.9995, 951782400.0, 4102444799.9996]
_EDGES += [253402300799.9994, 253402300799.9996, 253402300800.0, -1.0, 1e300]
_EDGES += [float("nan"), float("inf"), float("-inf")]


@given(
    st.one_of(
        st.floats(min_value=0.0, max_value=2.6e11),
        st.floats(min_value=1.6e9, max_value=1.9e9),
        st.floats(),
        st.integers(-(10**12), 10**12),
        st.sampled_from(_EDGES),
    )
)
def test_the_compiled_codec_stamps_as_utc_timestamp_millis(now: Any) -> None:
    compiled = pytest.importorskip("fixengine._codec", reason="not built").utc_timestamp_millis
    assert _codec_py.utc_timestamp_millis is f.utc_timestamp_millis

    def same(value: Any) -> None:
        try:
            expected = f.utc_timestamp_millis(value)
        except Exception as exc:  # the compiled twin hands such values to it: the same error
            with pytest.raises(type(exc)):
                compiled(value)
            return
        assert compiled(value) == expected

    same(now)
    same(now + 0.25)  # another millisecond, maybe another second
    same(now)
