"""Conversions between Python values and FIX field values (always bytes).

Theory of operation
-------------------
A FIX value is text on the wire; this module maps the FIX data types (FIX 4.4
Vol. 1 "Data Types"; FIX 5.0 SP2 adds finer timestamp precision) to Python:

* int, SeqNum, Length, NumInGroup: ``int`` (digits with an optional ``-``);
* float, Price, Qty, Amt, Percentage: :class:`decimal.Decimal`, exact both ways.
  Floats are refused because their binary representation would leak into the
  wire value; Decimals are written in plain notation (``1E+2`` becomes ``100``);
* Boolean: ``bool`` as ``Y``/``N``;
* UTCTimestamp ``YYYYMMDD-HH:MM:SS[.sss|.ssssss|.sssssssss]``: ``datetime``
  (naive means UTC) or integer epoch nanoseconds, since a ``datetime`` carries
  microseconds at most (:func:`format_utc_timestamp` /
  :func:`parse_utc_timestamp_ns`); a leap second (``:60``) is read as the next
  second's start;
* UTCDateOnly / LocalMktDate ``YYYYMMDD``: ``date``; UTCTimeOnly ``HH:MM:SS[.sss]``:
  ``time``.

:func:`to_bytes` is what :class:`fixengine.codec.Message` uses for every value
written; the compiled codec converts str, int, bool, Decimal and UTC datetimes
itself with exactly the same result.
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal, InvalidOperation

__all__ = [
    "FieldValue",
    "format_local_mkt_date",
    "format_utc_date_only",
    "format_utc_time_only",
    "format_utc_timestamp",
    "parse_bool",
    "parse_decimal",
    "parse_int",
    "parse_local_mkt_date",
    "parse_utc_date_only",
    "parse_utc_time_only",
    "parse_utc_timestamp",
    "parse_utc_timestamp_ns",
    "to_bytes",
    "utc_timestamp_millis",
]

FieldValue = bytes | str | int | Decimal | bool | _dt.datetime | _dt.date | _dt.time

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_PRECISIONS = (0, 3, 6, 9)
#: (epoch second, its ``YYYYMMDD-HH:MM:SS``) of the last integer timestamp formatted
_last_second: tuple[int, bytes] = (-(1 << 80), b"")
#: (epoch millisecond, its UTCTimestamp) of the last :func:`utc_timestamp_millis`
_last_milli: tuple[int, bytes] = (-(1 << 80), b"")


def to_bytes(value: FieldValue) -> bytes:
    """Render a Python value as a FIX field value.

    bytes pass through; str is UTF-8; bool is Y/N; int is decimal; Decimal is
    written in plain (non-exponent) notation, exactly; datetime is a UTCTimestamp
    with milliseconds (microseconds when it has them; naive means UTC); date is
    YYYYMMDD; time is HH:MM:SS.sss (or .ssssss). A float raises TypeError, a
    non-finite Decimal ValueError.
    """
    t = type(value)
    if t is bytes:
        return value  # type: ignore[return-value]
    if t is str:
        return value.encode()  # type: ignore[union-attr]
    if t is bool:
        return b"Y" if value else b"N"
    if t is int:
        return b"%d" % value  # type: ignore[str-format]
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot encode non-finite Decimal {value!r}")
        return format(value, "f").encode()
    if isinstance(value, _dt.datetime):
        return format_utc_timestamp(value, 6 if value.microsecond % 1000 else 3)
    if isinstance(value, _dt.date):
        return format_utc_date_only(value)
    if isinstance(value, _dt.time):
        return format_utc_time_only(value, 6 if value.microsecond % 1000 else 3)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, float):
        raise TypeError("float field values are refused (inexact); pass a Decimal or a str")
    if isinstance(value, int):  # IntEnum and friends
        return b"%d" % int(value)
    if isinstance(value, str):  # StrEnum and friends
        return str.encode(value)
    raise TypeError(f"cannot encode {t.__name__} as a FIX field value")


def _to_ns(value: _dt.datetime | int) -> int:
    if isinstance(value, int):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    delta = value - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _second_text(d: _dt.datetime) -> bytes:
    return b"%04d%02d%02d-%02d:%02d:%02d" % (d.year, d.month, d.day, d.hour, d.minute, d.second)


def format_utc_timestamp(value: _dt.datetime | int, precision: int = 3) -> bytes:
    """UTCTimestamp ``YYYYMMDD-HH:MM:SS[.s{precision}]``.

    ``value`` is a datetime (naive means UTC; an aware one is converted to UTC) or
    integer nanoseconds since the epoch; ``precision`` is 0, 3, 6 or 9 fractional
    digits (a datetime has no digits beyond microseconds: they are zeros).
    """
    if precision not in _PRECISIONS:
        raise ValueError(f"precision must be one of {_PRECISIONS}, not {precision}")
    if type(value) is int:
        # the common case (a clock in nanoseconds): the date and time of the second
        # are formatted once per second
        global _last_second
        secs, frac = divmod(value, 1_000_000_000)
        cached = _last_second  # one tuple, read once: safe against a concurrent update
        if cached[0] == secs:
            head = cached[1]
        else:
            head = _second_text(_EPOCH + _dt.timedelta(seconds=secs))
            _last_second = (secs, head)
        if precision == 3:
            return b"%b.%03d" % (head, frac // 1_000_000)
        if precision == 0:
            return head
        return b"%b.%b" % (head, (b"%09d" % frac)[:precision])
    if isinstance(value, _dt.datetime):
        d = value if value.tzinfo is None else value.astimezone(_dt.timezone.utc)
        frac = d.microsecond * 1000
    else:
        secs, frac = divmod(_to_ns(value), 1_000_000_000)
        d = _EPOCH + _dt.timedelta(seconds=secs)
    head = _second_text(d)
    if precision == 0:
        return head
    return b"%b.%b" % (head, (b"%09d" % frac)[:precision])


def utc_timestamp_millis(now: float) -> bytes:
    """UTCTimestamp with milliseconds for ``now`` in UTC epoch seconds (as ``time.time()``
    gives them): :func:`format_utc_timestamp` of the nearest millisecond, formatted
    once a millisecond, for callers that stamp every message they build."""
    global _last_milli
    ms = round(now * 1000)
    cached = _last_milli  # one tuple, read once: safe against a concurrent update
    if cached[0] == ms:
        return cached[1]
    stamp = format_utc_timestamp(ms * 1_000_000, 3)
    _last_milli = (ms, stamp)
    return stamp


def parse_utc_timestamp_ns(raw: bytes) -> int:
    """Parse a UTCTimestamp (0 to 9 fractional digits) into epoch nanoseconds."""
    s = raw.decode("ascii")
    if len(s) < 17 or s[8] != "-" or s[11] != ":" or s[14] != ":":
        raise ValueError(f"not a UTCTimestamp: {raw!r}")
    frac = 0
    if len(s) > 17:
        if s[17] != "." or not s[18:].isdigit() or len(s) > 27:
            raise ValueError(f"not a UTCTimestamp: {raw!r}")
        frac = int(s[18:].ljust(9, "0"))
    if not (s[0:8].isdigit() and s[9:11].isdigit() and s[12:14].isdigit() and s[15:17].isdigit()):
        raise ValueError(f"not a UTCTimestamp: {raw!r}")
    sec = int(s[15:17])
    leap = sec == 60  # a leap second is legal on the wire; fold it into :59
    d = _dt.datetime(
        int(s[0:4]),
        int(s[4:6]),
        int(s[6:8]),
        int(s[9:11]),
        int(s[12:14]),
        59 if leap else sec,
        tzinfo=_dt.timezone.utc,
    )
    delta = d - _EPOCH
    return (delta.days * 86400 + delta.seconds + (1 if leap else 0)) * 1_000_000_000 + frac


def parse_utc_timestamp(raw: bytes) -> _dt.datetime:
    """Parse a UTCTimestamp into an aware datetime (sub-microsecond digits dropped)."""
    ns = parse_utc_timestamp_ns(raw)
    return _EPOCH + _dt.timedelta(microseconds=ns // 1000)


def format_utc_date_only(value: _dt.date) -> bytes:
    """UTCDateOnly / LocalMktDate: ``YYYYMMDD``."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}".encode()


format_local_mkt_date = format_utc_date_only
"""LocalMktDate is written like UTCDateOnly: ``YYYYMMDD``."""


def parse_local_mkt_date(raw: bytes) -> _dt.date:
    """Parse a LocalMktDate or UTCDateOnly (``YYYYMMDD``)."""
    if len(raw) != 8 or not raw.isdigit():
        raise ValueError(f"not a date: {raw!r}")
    return _dt.date(int(raw[0:4]), int(raw[4:6]), int(raw[6:8]))


parse_utc_date_only = parse_local_mkt_date
"""UTCDateOnly is read like LocalMktDate: ``YYYYMMDD``."""


def format_utc_time_only(value: _dt.time, precision: int = 3) -> bytes:
    """UTCTimeOnly: ``HH:MM:SS[.sss|.ssssss]``."""
    head = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if precision == 0:
        return head.encode()
    if precision not in (3, 6):
        raise ValueError("precision must be 0, 3 or 6 for a time")
    return f"{head}.{value.microsecond:06d}"[: 9 + precision].encode()


def parse_utc_time_only(raw: bytes) -> _dt.time:
    """Parse a UTCTimeOnly (``HH:MM:SS`` with up to 9 fractional digits)."""
    s = raw.decode("ascii")
    if len(s) < 8 or s[2] != ":" or s[5] != ":":
        raise ValueError(f"not a UTCTimeOnly: {raw!r}")
    if not (s[0:2].isdigit() and s[3:5].isdigit() and s[6:8].isdigit()):
        raise ValueError(f"not a UTCTimeOnly: {raw!r}")
    micro = 0
    if len(s) > 8:
        if s[8] != "." or not s[9:].isdigit():
            raise ValueError(f"not a UTCTimeOnly: {raw!r}")
        micro = int(s[9:15].ljust(6, "0"))
    return _dt.time(int(s[0:2]), int(s[3:5]), min(int(s[6:8]), 59), micro)


def parse_int(raw: bytes) -> int:
    """Parse an int field: digits with an optional leading ``-`` (FIX "int")."""
    body = raw[1:] if raw[:1] == b"-" else raw
    if not body or not body.isdigit():
        raise ValueError(f"not an int: {raw!r}")
    return int(raw)


def parse_decimal(raw: bytes) -> Decimal:
    """Parse a float/price/qty field exactly (no exponent notation on the wire)."""
    body = raw[1:] if raw[:1] == b"-" else raw
    if not body or body.count(b".") > 1 or not body.replace(b".", b"").isdigit():
        raise ValueError(f"not a decimal: {raw!r}")
    try:
        return Decimal(raw.decode("ascii"))
    except InvalidOperation as exc:  # pragma: no cover - guarded above
        raise ValueError(f"not a decimal: {raw!r}") from exc


def parse_bool(raw: bytes) -> bool:
    """Parse a Boolean field (Y/N)."""
    if raw == b"Y":
        return True
    if raw == b"N":
        return False
    raise ValueError(f"not a boolean: {raw!r}")
