"""Pure-Python codec: the readable reference for the compiled ``fixengine._codec``.

Both modules expose the same names with the same behaviour, byte for byte; the
test suite runs every codec test against each and property tests check that they
agree. :mod:`fixengine.codec` picks one.

Theory of operation
-------------------
A FIX message on the wire is ``8=BeginString|9=BodyLength|35=MsgType|...|10=CheckSum|``
(``|`` is SOH, 0x01). BodyLength counts the bytes from the field after 9 up to and
including the SOH before ``10=``; CheckSum is the sum of every byte before ``10=``
modulo 256, written as three digits (FIX 4.4 Vol. 2, "Message Format" and
"CheckSum Calculation").

The framer (:class:`Parser`) frames by BodyLength, never by searching for ``10=``,
so SOH inside length-prefixed data fields (RawData 96, XmlData 213, ...) is safe.
A frame is accepted when, at the offset BodyLength gives, it finds
``<SOH>10=`` followed by at most three characters and an SOH. The frame is then
checked in this order: MsgType(35) third, CheckSum three digits and right, every
field ``tag=value`` with an integer tag (data fields are taken by their length).

When a frame is bad it is reported as a :class:`~fixengine.errors.GarbledMessage`
value (not raised) and the framer resynchronises at the next ``8=FIX``. Two
recovery rules exist for a frame whose trailer is not where BodyLength says:

* ``"begin-string"`` (default): drop from the bad frame's start up to the next
  ``8=FIX``; no complete message that follows is lost. The same rule applies to a
  frame whose trailer is in place but which fails a later check (MsgType, CheckSum,
  fields): if it contains ``8=FIX`` past its start, only the bytes before that are
  dropped. (So a message embedded in a data field of a garbled frame may surface;
  the session's sequence checks still apply to it.)
* ``"trailer"``: drop up to the first ``<SOH>10=...<SOH>`` at or after the position
  BodyLength gives, as QuickFIX does (a message inside the bad frame's claimed
  extent goes with it; acceptance test 2m expects this). A complete frame that
  fails a later check is dropped whole.

Every byte fed ends up in exactly one place: a message's :attr:`Message.raw`, the
``size`` of a GarbledMessage, or :attr:`Parser.buffered`. Memory is bounded by
``max_message_size``: a frame that claims, or grows, beyond it is dropped as
OVERSIZE and the framer resynchronises at the next ``8=FIX``. The buffer is one
``bytearray`` trimmed from the front, so a message arriving one byte at a time
costs linear, not quadratic, time.

Decoded messages keep their values as ``bytes`` slices of the frame; the compiled
twin keeps offsets instead and makes the bytes only when a value is read.
"""

from __future__ import annotations

import datetime as _dt
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .errors import GarbledMessage, GarbleReason, LocalProtocolError
from .fields import FieldValue, parse_decimal, parse_int, to_bytes, utc_timestamp_millis

if TYPE_CHECKING:
    from .groups import Group

__all__ = [
    "DATA_FIELDS",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "HEADER_TAGS",
    "MAX_TAG",
    "RULES_TAG_LIMIT",
    "RULE_ANY",
    "RULE_CALL",
    "RULE_CHAR",
    "RULE_DECIMAL",
    "RULE_DIGITS",
    "RULE_ENUM",
    "RULE_GROUP",
    "RULE_INT",
    "RULE_TIMESTAMP",
    "SECRET_TAGS",
    "FieldRules",
    "HeaderTemplate",
    "Message",
    "Parser",
    "checksum",
    "decode",
    "encode",
    "format_sending_time",
    "utc_timestamp_millis",
]

SOH = b"\x01"
DEFAULT_MAX_MESSAGE_SIZE = 1 << 20
#: Largest tag number the wire grammar allows here (nine digits, as the framer).
MAX_TAG = 999_999_999

#: Fields a message's repr never shows: Password(554), NewPassword(925),
#: EncryptedPassword(1402), EncryptedNewPassword(1404).
SECRET_TAGS: frozenset[int] = frozenset({554, 925, 1402, 1404})
_MAX_FRAME_LIMIT = (1 << 31) - 1
_BEGIN = b"8=FIX"
_GARBLE_DATA = 256  # bytes of a dropped frame kept in GarbledMessage.data

#: Standard-header tags (any FIX version). The encoder writes them right after
#: 8, 9 and 35, in the order they were set; the body follows.
HEADER_TAGS: frozenset[int] = frozenset(
    {
        8, 9, 35, 34, 43, 49, 50, 52, 56, 57, 90, 91, 97, 115, 116, 122, 128, 129,
        142, 143, 144, 145, 212, 213, 347, 369, 370, 627, 628, 629, 630, 1128, 1129, 1156,
    }
)  # fmt: skip

#: Standard-trailer tags other than CheckSum: SignatureLength(93), Signature(89).
#: The encoder writes them after the body, right before CheckSum(10).
TRAILER_TAGS: frozenset[int] = frozenset({93, 89})

#: Length field -> data field it measures (facts of the FIX standard, 4.0-5.0SP2).
DATA_FIELDS: dict[int, int] = {
    90: 91, 93: 89, 95: 96, 212: 213, 348: 349, 350: 351, 352: 353, 354: 355,
    356: 357, 358: 359, 360: 361, 362: 363, 364: 365, 445: 446, 618: 619, 621: 622,
    1184: 1185, 1277: 1278, 1280: 1281, 1282: 1283, 1397: 1398, 1401: 1402,
    1403: 1404, 1468: 1469, 1525: 1527, 1578: 1579, 1620: 1621, 1664: 1665,
    1678: 1697, 1733: 1734, 1871: 1872, 1874: 1875, 2072: 2073, 2074: 2075,
    2111: 2112, 2179: 2180, 2287: 2288, 2351: 2352, 2372: 2371, 2481: 2482,
    2494: 2493, 2522: 2521, 2637: 2638, 2651: 2652, 2665: 2666, 2715: 2716,
    2718: 2719, 2721: 2722, 2797: 2798, 2802: 2801, 2809: 2808, 2815: 2814,
}  # fmt: skip
_DATA_TAGS: frozenset[int] = frozenset(DATA_FIELDS.values())
_LENGTH_OF: dict[int, int] = {data: length for length, data in DATA_FIELDS.items()}


#: Message.session_header(): MsgType, BeginString, MsgSeqNum, PossDupFlag, SenderCompID,
#: TargetCompID, SendingTime.
SessionHeader = tuple[
    bytes | None, bytes | None, int | None, bytes | None, bytes | None, bytes | None, float | None
]


def checksum(data: bytes) -> int:
    """FIX CheckSum of ``data``: the byte sum modulo 256."""
    return sum(memoryview(data).cast("B")) & 0xFF


def _resolve(msg: Message, tag: int | str) -> int:
    """Tag number of ``tag``: an int as is, a str through ``msg.dictionary``."""
    if type(tag) is int:
        return tag
    if isinstance(tag, str):
        if msg.dictionary is None:
            raise KeyError(f"field name {tag!r} needs a data dictionary on the message")
        return int(msg.dictionary.tag(tag))
    return int(tag)


def _writable(msg: Message, tag: int | str) -> int:
    """Resolve ``tag`` for writing: it must fit the wire grammar (at most nine digits)."""
    t = _resolve(msg, tag)
    if not -MAX_TAG <= t <= MAX_TAG:
        raise ValueError(f"tag {t} is out of range (at most nine digits)")
    return t


def _checked(msg: Message, tag: int, value: FieldValue) -> bytes:
    data = to_bytes(value)
    if SOH in data and tag not in _DATA_TAGS and not _dictionary_data_tag(msg, tag):
        raise ValueError(f"value of tag {tag} contains SOH and {tag} is not a data field")
    return data


def _dictionary_data_tag(msg: Message, tag: int) -> bool:
    """Whether the message's dictionary declares ``tag`` a data field (user-defined ones)."""
    data_fields = getattr(msg.dictionary, "data_fields", None)
    return data_fields is not None and tag in data_fields.values()


def _seq_num(value: bytes) -> int | None:
    """A non-negative int: digits only, at most 18 past the leading zeros; else None."""
    if not value.isdigit():
        return None
    digits = value.lstrip(b"0")
    return int(digits or b"0") if len(digits) <= 18 else None


def _utc_seconds(value: bytes) -> float | None:
    """UTCTimestamp ``YYYYMMDD-HH:MM:SS[.f{1,9}]`` -> epoch seconds, or None.

    The calendar ranges are those the session's own parser checks: month 1-12, day
    1-31 (counted on from the 1st, as calendar.timegm does), hour 0-23, minute 0-59,
    second 0-60, year 1-9999.
    """
    if len(value) < 17 or value[8:9] != b"-" or value[11:12] != b":" or value[14:15] != b":":
        return None
    date, hh, mm, ss = value[:8], value[9:11], value[12:14], value[15:17]
    if not (date.isdigit() and hh.isdigit() and mm.isdigit() and ss.isdigit()):
        return None
    year, month, day = int(date[:4]), int(date[4:6]), int(date[6:8])
    hour, minute, second = int(hh), int(mm), int(ss)
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59):
        return None
    if second > 60 or year == 0:
        return None
    days = _dt.date(year, month, 1).toordinal() - _EPOCH_ORDINAL + day - 1
    secs = ((days * 24 + hour) * 60 + minute) * 60 + second
    if len(value) == 17:
        return float(secs)
    frac = value[18:]
    if value[17:18] != b"." or not frac.isdigit() or len(frac) > 9:
        return None
    return secs + int(frac) / _POW10[len(frac)]


_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_POW10 = [float(10**i) for i in range(10)]


def _restore(fields: list[tuple[int, bytes]], raw: bytes | None, dictionary: Any) -> Message:
    msg = Message.from_fields(fields, dictionary)
    msg.raw = raw
    return msg


class Message:
    """A FIX message: an ordered list of (tag, value) fields, values kept as bytes.

    Decoded messages keep every field in wire order (8, 9 and 10 included) and the
    original frame in :attr:`raw` (set to None by any change). Tags may be given as
    numbers or, when the message carries a data dictionary (:attr:`dictionary`,
    anything with a ``tag(name) -> int`` method), as field names.

    Values written are converted by :func:`fixengine.fields.to_bytes`: bytes, str
    (UTF-8), int, Decimal (exact, plain notation), bool (Y/N), datetime
    (UTCTimestamp), date, time. Floats are refused. Only data fields (RawData 96,
    XmlData 213, ...) may contain SOH.
    """

    __slots__ = ("_fields", "dictionary", "raw")

    def __init__(self, msg_type: bytes | str | None = None, dictionary: Any = None) -> None:
        self._fields: list[tuple[int, bytes]] = []
        self.raw: bytes | None = None
        self.dictionary = dictionary
        if msg_type is not None:
            self._fields.append((35, _checked(self, 35, msg_type)))

    @classmethod
    def from_fields(
        cls, fields: Iterable[tuple[int | str, FieldValue]], dictionary: Any = None
    ) -> Message:
        """Build a message from an iterable of (tag, value) pairs, in order."""
        msg = cls(None, dictionary)
        for tag, value in fields:
            msg.append(tag, value)
        return msg

    @classmethod
    def from_pairs(
        cls,
        msg_type: bytes | str,
        pairs: Iterable[tuple[int | str, FieldValue]],
        dictionary: Any = None,
    ) -> Message:
        """A message of type ``msg_type`` followed by the (tag, value) ``pairs``, in order.

        The same as ``Message(msg_type)`` then ``append(tag, value)`` for each pair,
        in one call (values converted as append converts them).
        """
        msg = cls(msg_type, dictionary)
        for tag, value in pairs:
            Message.append(msg, tag, value)
        return msg

    def session_header(self) -> SessionHeader:
        """The header fields a session checks on every message, in one pass.

        ``(msg_type, begin_string, msg_seq_num, poss_dup_flag, sender_comp_id,
        target_comp_id, sending_time)``: MsgType(35), BeginString(8), PossDupFlag(43),
        SenderCompID(49) and TargetCompID(56) as bytes; MsgSeqNum(34) as an int (None
        unless ASCII digits with at most 18 past the leading zeros); SendingTime(52) as
        UTC epoch seconds (None unless a valid ``YYYYMMDD-HH:MM:SS[.f{1,9}]``). Each is
        the first field with its tag, None when absent.
        """
        seq = self.get(34)
        sending_time = self.get(52)
        return (
            self.get(35),
            self.get(8),
            None if seq is None else _seq_num(seq),
            self.get(43),
            self.get(49),
            self.get(56),
            None if sending_time is None else _utc_seconds(sending_time),
        )

    def pick(self, tags: Iterable[int | str]) -> tuple[bytes | None, ...]:
        """The first value of each tag of ``tags``, in one pass over the fields.

        A tuple as long as ``tags``, each item what ``get(tag)`` returns: the value as
        bytes, or None when no field has the tag. For reading many fields of the same
        message (a report's twenty-odd) at the cost of one call.
        """
        positions: dict[int, list[int]] = {}  # tag -> the positions asking for it
        out: list[bytes | None] = []
        for j, tag in enumerate(tags):
            positions.setdefault(_resolve(self, tag), []).append(j)
            out.append(None)
        for ftag, value in self._fields:
            if not positions:
                break
            found = positions.pop(ftag, None)  # the first field with the tag only
            if found is not None:
                for j in found:
                    out[j] = value
        return tuple(out)

    # -- reading --------------------------------------------------------------
    @property
    def msg_type(self) -> bytes | None:
        """MsgType(35), or None."""
        return self.get(35)

    @property
    def begin_string(self) -> bytes | None:
        """BeginString(8), or None (messages being built usually have none)."""
        return self.get(8)

    def get(self, tag: int | str, default: bytes | None = None) -> bytes | None:
        """Value of the first field with ``tag``, or ``default``."""
        t = _resolve(self, tag)
        for ftag, value in self._fields:
            if ftag == t:
                return value
        return default

    def __getitem__(self, tag: int | str) -> bytes:
        value = self.get(tag)
        if value is None:
            raise KeyError(tag)
        return value

    def __contains__(self, tag: object) -> bool:
        if not isinstance(tag, (int, str)):
            return False
        return self.get(tag) is not None

    def get_all(self, tag: int | str) -> list[bytes]:
        """Values of every field with ``tag``, in order."""
        t = _resolve(self, tag)
        return [value for ftag, value in self._fields if ftag == t]

    def get_int(self, tag: int | str, default: int | None = None) -> int | None:
        """First value of ``tag`` as an int (ValueError if it is not one)."""
        value = self.get(tag)
        return default if value is None else parse_int(value)

    def get_decimal(self, tag: int | str, default: Decimal | None = None) -> Decimal | None:
        """First value of ``tag`` as an exact Decimal (ValueError if it is not one)."""
        value = self.get(tag)
        return default if value is None else parse_decimal(value)

    def get_str(self, tag: int | str, default: str | None = None) -> str | None:
        """First value of ``tag`` decoded as UTF-8 text (bad bytes replaced)."""
        value = self.get(tag)
        return default if value is None else value.decode("utf-8", "replace")

    def fields(self) -> list[tuple[int, bytes]]:
        """Every field as (tag, value), in order."""
        return list(self._fields)

    def group(self, count_tag: int | str, dictionary: Any = None) -> list[Group]:
        """Instances of the repeating group ``count_tag`` (see :mod:`fixengine.groups`).

        The group layout comes from ``dictionary``, or else the message's own.
        """
        from .groups import parse_groups

        return parse_groups(self, count_tag, dictionary)

    def add_group(self, count_tag: int | str, instances: Any) -> None:
        """Append the NumInGroup field ``count_tag`` and the instances' fields, in order."""
        from .groups import append_group

        append_group(self, count_tag, instances)

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        return iter(list(self._fields))

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message) and not hasattr(other, "fields"):
            return NotImplemented
        return bool(self.fields() == other.fields())  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        text = "|".join(
            f"{t}={'***' if t in SECRET_TAGS else v.decode('latin-1')}" for t, v in self._fields
        )
        return f"Message({text!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self.fields(), self.raw, self.dictionary))

    def __copy__(self) -> Message:
        return self.copy()

    # -- writing --------------------------------------------------------------
    def set(self, tag: int | str, value: FieldValue) -> None:
        """Replace the first field with ``tag`` (or append it when absent)."""
        t = _writable(self, tag)
        data = _checked(self, t, value)
        fields = self._fields
        for i in range(len(fields)):
            if fields[i][0] == t:
                fields[i] = (t, data)
                self.raw = None
                return
        fields.append((t, data))
        self.raw = None

    def append(self, tag: int | str, value: FieldValue) -> None:
        """Append a field, even if the tag is already present (groups repeat tags)."""
        t = _writable(self, tag)
        data = _checked(self, t, value)
        self._fields.append((t, data))
        self.raw = None

    def set_data(self, data_tag: int | str, payload: bytes) -> None:
        """Set a length-prefixed data field (e.g. RawData 96) and its length field.

        The data field is placed right after its length field, as FIX requires.
        """
        t = _resolve(self, data_tag)
        length_tag = _LENGTH_OF.get(t)
        if length_tag is None:
            raise ValueError(f"tag {t} is not a length-prefixed data field")
        data = bytes(payload)
        self.set(length_tag, len(data))
        self.remove(t)
        fields = self._fields
        for i in range(len(fields)):
            if fields[i][0] == length_tag:
                fields.insert(i + 1, (t, data))
                break

    def remove(self, tag: int | str) -> int:
        """Remove every field with ``tag``; return how many were removed."""
        t = _resolve(self, tag)
        before = len(self._fields)
        self._fields = [f for f in self._fields if f[0] != t]
        removed = before - len(self._fields)
        if removed:
            self.raw = None
        return removed

    def copy(self) -> Message:
        """A shallow copy (values are immutable bytes)."""
        msg = Message(None, self.dictionary)
        msg._fields = list(self._fields)
        msg.raw = self.raw
        return msg

    def encode(self, begin_string: bytes | str | None = None) -> bytes:
        """Wire bytes of this message; see :func:`encode`."""
        return encode(self, begin_string)


def encode(msg: Message, begin_string: bytes | str | None = None) -> bytes:
    """Serialise ``msg``: 8, 9, 35, header fields, body fields, trailer fields, 10.

    BeginString comes from ``begin_string`` or else the message's own field 8.
    BodyLength and CheckSum are computed; any 9 or 10 in the message is ignored,
    and only the first 35. Within the header, body and trailer, fields keep the
    order they were set in.
    """
    if not isinstance(msg, Message):
        raise TypeError(f"encode() needs a Message, not {type(msg).__name__}")
    if begin_string is None:
        bs = msg.get(8)
        if bs is None:
            raise LocalProtocolError("no BeginString: pass begin_string or set field 8")
    elif isinstance(begin_string, str):
        bs = begin_string.encode()
    elif isinstance(begin_string, (bytes, bytearray, memoryview)):
        bs = bytes(begin_string)
    else:
        raise TypeError(f"begin_string must be bytes or str, not {type(begin_string).__name__}")
    if not bs or SOH in bs:
        raise LocalProtocolError(f"BeginString {bs!r} is empty or contains SOH")
    msg_type = None
    header: list[bytes] = []
    body: list[bytes] = []
    trailer: list[bytes] = []
    for tag, value in msg._fields:
        if tag == 35:
            if msg_type is None:
                msg_type = value
            continue
        if tag == 8 or tag == 9 or tag == 10:
            continue
        part = b"%d=%b\x01" % (tag, value)
        if tag in HEADER_TAGS:
            header.append(part)
        elif tag in TRAILER_TAGS:
            trailer.append(part)
        else:
            body.append(part)
    if msg_type is None:
        raise LocalProtocolError("message has no MsgType(35)")
    content = b"35=" + msg_type + SOH + b"".join(header) + b"".join(body) + b"".join(trailer)
    out = b"8=" + bs + b"\x019=%d\x01" % len(content) + content
    return out + b"10=%03d\x01" % (sum(out) & 0xFF)


def _length_value(value: bytes) -> int:
    """Value of a data-length field: -1 if not digits, huge if more than nine digits."""
    if not value.isdigit():
        return -1
    if len(value.lstrip(b"0")) > 9:
        return 1 << 40
    return int(value)


def _split_fields(frame: bytes, data_fields: Mapping[int, int]) -> list[tuple[int, bytes]] | None:
    """Split a whole frame (ending with SOH) into fields; None if one is malformed.

    A tag is an optional ``-`` and one to nine digits (so the session can reject
    tag 0 or -1 as "Invalid tag number" rather than lose the message). A data
    field that directly follows its length field is taken by that length, so it
    may contain SOH.
    """
    fields: list[tuple[int, bytes]] = []
    end = len(frame)
    pos = 0
    pending_data = -1
    pending_len = -1
    while pos < end:
        eq = frame.find(b"=", pos)
        if eq <= pos:
            return None
        tag_text = frame[pos:eq]
        digits = tag_text[1:] if tag_text[0] == 0x2D else tag_text
        if not 0 < len(digits) <= 9 or not digits.isdigit():
            return None
        tag = int(tag_text)
        vstart = eq + 1
        if tag == pending_data and pending_len >= 0:
            vend = vstart + pending_len
            if vend >= end or frame[vend] != 1:
                return None
        else:
            vend = frame.find(SOH, vstart)
            if vend < 0:
                return None
        value = frame[vstart:vend]
        fields.append((tag, value))
        pending_data = data_fields.get(tag, -1)
        pending_len = _length_value(value) if pending_data >= 0 else -1
        pos = vend + 1
    return fields


def _prefix_start(buf: bytearray, pos: int, n: int) -> int:
    """First index >= pos of a tail of ``buf`` that may begin a ``8=FIX`` (n if none)."""
    keep = max(pos, n - 4)
    while keep < n and not _BEGIN.startswith(buf[keep:n]):
        keep += 1
    return keep


def _garbled(reason: GarbleReason, buf: bytearray, start: int, end: int) -> GarbledMessage:
    return GarbledMessage(reason, bytes(buf[start : min(end, start + _GARBLE_DATA)]), end - start)


class Parser:
    """Streaming framer: feed it TCP chunks, get messages and garbled-frame reports.

    ``feed`` returns, in stream order, :class:`Message` objects and
    :class:`~fixengine.errors.GarbledMessage` values for bytes it had to drop.
    ``data_fields`` adds length -> data tag pairs (e.g. user-defined data
    fields) to the standard ones.
    """

    def __init__(
        self,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        resync: str = "begin-string",
        data_fields: Mapping[int, int] | None = None,
    ) -> None:
        if not isinstance(max_message_size, int) or not 64 <= max_message_size <= _MAX_FRAME_LIMIT:
            raise ValueError(f"max_message_size must be an int from 64 to {_MAX_FRAME_LIMIT}")
        if resync not in ("begin-string", "trailer"):
            raise ValueError("resync must be 'begin-string' or 'trailer'")
        merged = dict(DATA_FIELDS)
        if data_fields is not None:
            for length_tag, data_tag in data_fields.items():
                if type(length_tag) is not int or type(data_tag) is not int:
                    raise ValueError("data_fields must map int tags to int tags")
                if not (0 < length_tag <= MAX_TAG and 0 < data_tag <= MAX_TAG):
                    raise ValueError(f"data field tags out of range: {length_tag}, {data_tag}")
                merged[length_tag] = data_tag
        self._max = max_message_size
        self._resync = resync
        self._trailer_mode = resync == "trailer"
        self._data_fields = merged
        self._buf = bytearray()
        # trailer-mode search state for the frame waiting at the buffer's start,
        # kept so a frame arriving byte by byte is scanned once, not once per byte
        self._found = -1  # offset of "<SOH>10=" found after the claimed end, or -1
        self._scan = -1  # offset to resume searching from, or -1

    @property
    def max_message_size(self) -> int:
        """Largest frame accepted, in bytes."""
        return self._max

    @property
    def resync(self) -> str:
        """Recovery rule for a bad BodyLength: ``"begin-string"`` or ``"trailer"``."""
        return self._resync

    @property
    def data_fields(self) -> Mapping[int, int]:
        """Length tag -> data tag of every length-prefixed field the framer knows."""
        return dict(self._data_fields)

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Message | GarbledMessage]:
        """Add bytes from the stream; return every complete item, in order."""
        buf = self._buf
        buf += data
        n = len(buf)
        out: list[Message | GarbledMessage] = []
        pos = 0
        found, scan = self._found, self._scan
        self._found = self._scan = -1
        while pos < n:
            if buf.startswith(_BEGIN, pos):
                if pos:
                    found = scan = -1  # the saved search belonged to the first frame
                item, used = self._frame(buf, pos, n, found, scan)
                if not used:
                    break  # need more bytes
                if item is not None:
                    out.append(item)
                pos += used
                continue
            nxt = buf.find(_BEGIN, pos + 1)
            if nxt < 0:
                keep = _prefix_start(buf, pos, n)
                if keep > pos:
                    out.append(_garbled(GarbleReason.GARBAGE, buf, pos, keep))
                pos = keep
                break
            out.append(_garbled(GarbleReason.GARBAGE, buf, pos, nxt))
            pos = nxt
        del buf[:pos]
        return out

    def _frame(
        self, buf: bytearray, start: int, n: int, found: int, scan: int
    ) -> tuple[Message | GarbledMessage | None, int]:
        """Try to take one frame at ``start``: (item, bytes consumed); 0 = need more."""
        # BeginString(8): its SOH within the first 32 bytes
        soh = buf.find(SOH, start + 5, min(n, start + 32))
        if soh < 0:
            if n - start >= 32:
                return self._drop(buf, start, n, GarbleReason.BAD_BEGIN_STRING)
            return None, 0
        if buf.find(b"=", start + 2, soh) >= 0:
            # "8=FIX" inside garbage run into a real frame ("8=FIX34=8=FIX.4.4|...")
            return self._drop(buf, start, n, GarbleReason.BAD_BEGIN_STRING)
        # BodyLength(9): second field, one to nine digits
        if n < soh + 3:
            return None, 0
        if buf[soh + 1] != 0x39 or buf[soh + 2] != 0x3D:
            return self._drop(buf, start, n, GarbleReason.BAD_BODY_LENGTH)
        lsoh = buf.find(SOH, soh + 3, min(n, soh + 13))
        if lsoh < 0:
            if n - soh >= 13:
                return self._drop(buf, start, n, GarbleReason.BAD_BODY_LENGTH)
            return None, 0
        length_text = buf[soh + 3 : lsoh]
        if not length_text.isdigit():
            return self._drop(buf, start, n, GarbleReason.BAD_BODY_LENGTH)
        body_start = lsoh + 1
        trailer = body_start + int(length_text)  # where "10=" must begin
        if trailer + 7 - start > self._max:
            return self._drop(buf, start, n, GarbleReason.OVERSIZE)
        # the trailer: <SOH>10=<at most 3 chars><SOH>, judged as soon as bytes arrive
        if n < trailer:
            return None, 0
        if buf[trailer - 1] != 1:
            return self._bad_length(buf, start, n, trailer, found, scan)
        avail = min(n, trailer + 3)
        if buf[trailer:avail] != b"10="[: avail - trailer]:
            return self._bad_length(buf, start, n, trailer, found, scan)
        if avail < trailer + 3:
            return None, 0
        cend = buf.find(SOH, trailer + 3, min(n, trailer + 7))
        if cend < 0:
            if n >= trailer + 7:
                return self._bad_length(buf, start, n, trailer, found, scan)
            return None, 0
        end = cend + 1
        frame = bytes(buf[start:end])
        tr = trailer - start
        if not frame.startswith(b"35=", body_start - start):
            return self._reject(buf, start, end, GarbleReason.MSGTYPE_NOT_THIRD)
        cks = frame[tr + 3 : cend - start]
        if len(cks) != 3 or not cks.isdigit() or int(cks) != sum(frame[:tr]) & 0xFF:
            return self._reject(buf, start, end, GarbleReason.BAD_CHECKSUM)
        fields = _split_fields(frame, self._data_fields)
        if fields is None:
            return self._reject(buf, start, end, GarbleReason.BAD_FIELD)
        msg = Message.__new__(Message)
        msg._fields = fields
        msg.raw = frame
        msg.dictionary = None
        return msg, end - start

    def _reject(
        self, buf: bytearray, start: int, end: int, reason: GarbleReason
    ) -> tuple[GarbledMessage, int]:
        """Drop a complete but bad frame.

        In "begin-string" mode only up to the next ``8=FIX`` inside it, if any: the
        frame's extent may be wrong and a message may start there.
        """
        if not self._trailer_mode:
            nxt = buf.find(_BEGIN, start + 1, end)
            if nxt >= 0:
                end = nxt
        return _garbled(reason, buf, start, end), end - start

    def _drop(
        self, buf: bytearray, start: int, n: int, reason: GarbleReason
    ) -> tuple[GarbledMessage, int]:
        """Drop from ``start`` to the next ``8=FIX`` (or all but a possible prefix)."""
        nxt = buf.find(_BEGIN, start + 1)
        end = nxt if nxt >= 0 else max(start + 1, n - 4)
        return _garbled(reason, buf, start, end), end - start

    def _bad_length(
        self, buf: bytearray, start: int, n: int, trailer: int, found: int, scan: int
    ) -> tuple[GarbledMessage | None, int]:
        """The trailer is not where BodyLength says: apply the resync rule."""
        if not self._trailer_mode:
            return self._drop(buf, start, n, GarbleReason.BAD_BODY_LENGTH)
        # QuickFIX rule: the frame ends at the first <SOH>10=...<SOH> from trailer-1.
        stop_at = start + self._max
        if found < 0:
            frm = trailer - 1 if scan < 0 else max(trailer - 1, start + scan)
            hit = buf.find(b"\x0110=", frm, stop_at)
            if hit < 0:
                if n - start >= self._max:
                    return self._drop(buf, start, n, GarbleReason.OVERSIZE)
                self._scan = max(trailer - 1, n - 3) - start
                return None, 0
            found = hit - start
            scan = -1
        frm = start + found + 4 if scan < 0 else max(start + found + 4, start + scan)
        stop = buf.find(SOH, frm, stop_at)
        if stop < 0:
            if n - start >= self._max:
                return self._drop(buf, start, n, GarbleReason.OVERSIZE)
            self._found = found
            self._scan = max(found + 4, n - start)
            return None, 0
        return _garbled(GarbleReason.BAD_BODY_LENGTH, buf, start, stop + 1), stop + 1 - start


def decode(data: bytes) -> Message:
    """Decode exactly one complete message; raise GarbledMessage if it is not one."""
    parser = Parser(max_message_size=min(max(len(data) + 1, 64), _MAX_FRAME_LIMIT))
    items = parser.feed(data)
    if len(items) == 1 and isinstance(items[0], Message) and parser.buffered == 0:
        return items[0]
    for item in items:
        if isinstance(item, GarbledMessage):
            raise item
    raise GarbledMessage(GarbleReason.BAD_BODY_LENGTH, bytes(data))


# -- validation in one pass ------------------------------------------------------------------
#: Value rules of :class:`FieldRules` (what a field's value must look like).
RULE_ANY = 1  # anything
RULE_DIGITS = 2  # ASCII digits (FIX Length, SeqNum, NumInGroup, TagNum)
RULE_INT = 3  # -?digits
RULE_DECIMAL = 4  # -?(digits[.digits*] | .digits)
RULE_CHAR = 5  # one byte, not SOH
RULE_TIMESTAMP = 6  # UTCTimestamp: YYYYMMDD-HH:MM:SS[.s{1,9}] with calendar ranges
RULE_ENUM = 7  # one of the values of a frozenset of bytes (the rule's argument)
RULE_CALL = 8  # the argument, a callable, returns something true
RULE_GROUP = 9  # a NumInGroup: the message is left to the caller
_RULES = range(RULE_ANY, RULE_GROUP + 1)
#: Tags :class:`FieldRules` tables cover: a field outside is left to the caller.
RULES_TAG_LIMIT = 65536

_INT_VALUE = re.compile(rb"-?[0-9]+").fullmatch
_DECIMAL_VALUE = re.compile(rb"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)").fullmatch
_TIMESTAMP_VALUE = re.compile(
    rb"[0-9]{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    rb"-(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]{1,9})?"
).fullmatch


def _is_char(value: bytes) -> bool:
    return len(value) == 1 and value != SOH


class _Group:
    """Marker of a NumInGroup in a :class:`FieldRules` table."""


_GROUP_TEST = _Group()


class FieldRules:
    """The fields a message of one type may carry, checked in one pass over the message.

    ``entries`` maps each allowed tag to (section, rule, argument): section 0
    (header), 1 (body) or 2 (trailer), a ``RULE_*`` value and its argument (a frozenset
    for RULE_ENUM, a callable for RULE_CALL, else None). ``required`` are the tags that
    must be present.

    :meth:`check` is True when every field of the message has an allowed tag that is
    not a NumInGroup, appears once, comes in section order (when ``strict_order``),
    has a value (when ``have_values``) that passes its rule, and every required tag is
    there. False means "not certainly valid": the caller decides (a data dictionary
    validator then runs its exact checks). Tags from ``RULES_TAG_LIMIT`` up and
    messages of the other codec twin are always left to the caller.
    """

    __slots__ = ("_entries", "_have_values", "_required", "_strict")

    def __init__(
        self,
        entries: Mapping[int, tuple[int, int, Any]],
        required: Iterable[int],
        have_values: bool = True,
        strict_order: bool = True,
    ) -> None:
        table: dict[int, tuple[int, Any]] = {}
        for tag, (section, rule, arg) in entries.items():
            if rule not in _RULES:
                raise ValueError(f"unknown rule {rule!r} for tag {tag}")
            if not 0 <= section <= 2:
                raise ValueError(f"section of tag {tag} must be 0, 1 or 2, not {section!r}")
            if not 0 < tag < RULES_TAG_LIMIT:
                continue
            test: Any
            if rule == RULE_ANY:
                test = None
            elif rule == RULE_DIGITS:
                test = bytes.isdigit
            elif rule == RULE_INT:
                test = _INT_VALUE
            elif rule == RULE_DECIMAL:
                test = _DECIMAL_VALUE
            elif rule == RULE_CHAR:
                test = _is_char
            elif rule == RULE_TIMESTAMP:
                test = _TIMESTAMP_VALUE
            elif rule == RULE_ENUM:
                test = frozenset(arg).__contains__
            elif rule == RULE_CALL:
                if not callable(arg):
                    raise ValueError(f"RULE_CALL of tag {tag} needs a callable")
                test = arg
            else:
                test = _GROUP_TEST
            table[tag] = (section, test)
        self._entries = table
        self._required = frozenset(required)
        self._have_values = bool(have_values)
        self._strict = bool(strict_order)

    def check(self, msg: Message) -> bool:
        """True when ``msg`` certainly passes (see the class docstring)."""
        if type(msg) is not Message:
            return False
        table = self._entries
        strict = self._strict
        have_values = self._have_values
        seen: set[int] = set()
        section = 0
        for tag, value in msg._fields:
            entry = table.get(tag)
            if entry is None:
                return False
            sec, test = entry
            if test is _GROUP_TEST:
                return False
            if sec < section:
                if strict:
                    return False
            else:
                section = sec
            if tag in seen:
                return False
            seen.add(tag)
            if value:
                if test is not None and not test(value):
                    return False
            elif have_values:
                return False
        return self._required <= seen


# -- the session's header ----------------------------------------------------------------------
def format_sending_time(now: float, precision: int) -> bytes:
    """UTCTimestamp of epoch seconds ``now`` with 0, 3, 6 or 9 fractional digits (truncated)."""
    second = int(now)
    head = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(second)).encode()
    if precision == 0:
        return head
    frac = min(int((now - second) * 10**precision), 10**precision - 1)
    return b"%b.%0*d" % (head, precision, frac)


class HeaderTemplate:
    """Writes whole messages with a session's standard header, in one call.

    The wire order is 8, 9, 35, the ``leading`` fields (SenderCompID, TargetCompID),
    34, [43=Y], 52, [122], the ``trailing`` fields (sub and location IDs), then the
    message's own fields as :func:`encode` orders them (header, body, trailer), less
    8, 9, 10, 35 and the ``skip`` tags. It is what encoding a new message built from
    those fields gives, byte for byte. SendingTime(52) is ``now`` (UTC epoch seconds)
    with ``precision`` digits; the text of the current second is kept.
    """

    __slots__ = (
        "_begin",
        "_leading",
        "_precision",
        "_second",
        "_second_text",
        "_skip",
        "_trailing",
    )

    def __init__(
        self,
        begin_string: bytes,
        leading: Iterable[tuple[int, bytes]],
        trailing: Iterable[tuple[int, bytes]],
        skip: Iterable[int],
        precision: int = 3,
    ) -> None:
        begin = bytes(begin_string)
        if not begin or SOH in begin:
            raise LocalProtocolError(f"BeginString {begin!r} is empty or contains SOH")
        if precision not in (0, 3, 6, 9):
            raise ValueError(f"precision must be 0, 3, 6 or 9, not {precision!r}")
        self._begin = begin
        self._leading = _header_bytes(leading)
        self._trailing = _header_bytes(trailing)
        self._skip = frozenset(skip) | {8, 9, 10, 35}
        self._precision = precision
        self._second = -1
        self._second_text = b""

    def sending_time(self, now: float) -> bytes:
        """SendingTime for ``now``: :func:`format_sending_time` with this precision."""
        if not 0.0 <= now < _LAST_SECOND:
            return format_sending_time(now, self._precision)
        second = int(now)
        if second != self._second:
            self._second_text = format_sending_time(second, 0)
            self._second = second
        p = self._precision
        if p == 0:
            return self._second_text
        frac = min(int((now - second) * 10**p), 10**p - 1)
        return b"%b.%0*d" % (self._second_text, p, frac)

    def encode(
        self,
        msg: Message,
        msg_type: bytes,
        seq: int,
        now: float,
        orig_sending_time: bytes | None = None,
    ) -> bytes:
        """Wire bytes of ``msg`` as message ``seq`` of type ``msg_type`` sent at ``now``.

        ``orig_sending_time`` not None marks a possible duplicate: 43=Y, and 122 with
        that value, or with the SendingTime when it is empty.
        """
        if type(msg) is not Message:
            raise TypeError(f"encode() needs a Message, not {type(msg).__name__}")
        stamp = self.sending_time(now)
        if orig_sending_time is None:
            head = b"35=%b\x01%b34=%d\x0152=%b\x01%b" % (
                msg_type,
                self._leading,
                seq,
                stamp,
                self._trailing,
            )
        else:
            head = b"35=%b\x01%b34=%d\x0143=Y\x0152=%b\x01122=%b\x01%b" % (
                msg_type,
                self._leading,
                seq,
                stamp,
                orig_sending_time or stamp,
                self._trailing,
            )
        skip = self._skip
        header: list[bytes] = []
        body: list[bytes] = []
        trailer: list[bytes] = []
        for tag, value in msg._fields:
            if tag in skip:
                continue
            part = b"%d=%b\x01" % (tag, value)
            if tag in HEADER_TAGS:
                header.append(part)
            elif tag in TRAILER_TAGS:
                trailer.append(part)
            else:
                body.append(part)
        content = head + b"".join(header) + b"".join(body) + b"".join(trailer)
        out = b"8=" + self._begin + b"\x019=%d\x01" % len(content) + content
        return out + b"10=%03d\x01" % (sum(out) & 0xFF)


#: First epoch second of the year 10000: later times do not fit a UTCTimestamp's year.
_LAST_SECOND = 253402300800


def _header_bytes(fields: Iterable[tuple[int, bytes]]) -> bytes:
    out = []
    for tag, value in fields:
        if type(tag) is not int or not 0 < tag <= MAX_TAG:
            raise ValueError(f"header tag {tag!r} is not a tag number")
        data = bytes(value)
        if SOH in data:
            raise ValueError(f"value of tag {tag} contains SOH")
        out.append(b"%d=%b\x01" % (tag, data))
    return b"".join(out)
