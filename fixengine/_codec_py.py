"""Pure-Python codec: the readable reference for the compiled ``fixengine._codec``.

Both modules expose the same names with the same behaviour, byte for byte; the
test suite runs every codec test against each and property tests check that they
agree. :mod:`fixengine.codec` picks one.

Theory of operation
-------------------
A FIX message on the wire is ``8=BeginString|9=BodyLength|35=MsgType|...|10=CheckSum|``
(``|`` is SOH, 0x01). BodyLength counts the bytes from the field after 9 up to and
including the SOH before ``10=``; CheckSum is the sum of every byte before ``10=``
modulo 256, written as three digits.

The framer (:class:`Parser`) frames by BodyLength, never by searching for ``10=``,
so SOH inside length-prefixed data fields (RawData 96, XmlData 213, ...) is safe.
When a frame is bad it is reported as a :class:`GarbledMessage` value (not raised)
and the framer resynchronises at the next ``8=FIX``. Two recovery rules exist for a
frame whose trailer is not where BodyLength says:

* ``"begin-string"`` (default): drop from the bad frame's start up to the next
  ``8=FIX``; no complete message that follows is lost.
* ``"trailer"``: drop up to the first ``<SOH>10=...<SOH>`` at or after the position
  BodyLength gives, as QuickFIX does (a message inside the bad frame's claimed
  extent goes with it).

Memory is bounded by ``max_message_size``: a frame that claims, or grows, beyond it
is dropped as OVERSIZE and its bytes are discarded as they arrive.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from .errors import GarbledMessage, GarbleReason, LocalProtocolError
from .fields import FieldValue, parse_decimal, parse_int, to_bytes

__all__ = [
    "DATA_FIELDS",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "HEADER_TAGS",
    "Message",
    "Parser",
    "checksum",
    "decode",
    "encode",
]

SOH = b"\x01"
DEFAULT_MAX_MESSAGE_SIZE = 1 << 20

#: Standard-header tags (any FIX version). The encoder writes them right after
#: 8, 9 and 35, in the order they were set; the body follows.
HEADER_TAGS: frozenset[int] = frozenset(
    {
        8, 9, 35, 34, 43, 49, 50, 52, 56, 57, 90, 91, 97, 115, 116, 122, 128, 129,
        142, 143, 144, 145, 212, 213, 347, 369, 627, 628, 629, 630, 1128, 1129, 1156,
    }
)

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
}
_DATA_TAGS: frozenset[int] = frozenset(DATA_FIELDS.values())
_LENGTH_OF: dict[int, int] = {data: length for length, data in DATA_FIELDS.items()}


def checksum(data: bytes) -> int:
    """FIX CheckSum of ``data``: the byte sum modulo 256."""
    return sum(data) & 0xFF


def _resolve(msg: Message, tag: int | str) -> int:
    if type(tag) is int:
        return tag
    if isinstance(tag, str):
        if msg.dictionary is None:
            raise KeyError(f"field name {tag!r} needs a data dictionary on the message")
        return int(msg.dictionary.tag(tag))
    return int(tag)


class Message:
    """A FIX message: an ordered list of (tag, value) fields, values kept as bytes.

    Decoded messages keep every field in wire order (8, 9 and 10 included) and the
    original frame in :attr:`raw`. Tags may be given as numbers or, when the message
    carries a data dictionary (:attr:`dictionary`), as field names.
    """

    __slots__ = ("_fields", "dictionary", "raw")

    def __init__(self, msg_type: bytes | str | None = None, dictionary: Any = None) -> None:
        self._fields: list[tuple[int, bytes]] = []
        self.raw: bytes | None = None
        self.dictionary = dictionary
        if msg_type is not None:
            self._fields.append((35, msg_type.encode() if isinstance(msg_type, str) else msg_type))

    @classmethod
    def from_fields(cls, fields: Any, dictionary: Any = None) -> Message:
        """Build a message from an iterable of (tag, value) pairs, in order."""
        msg = cls(None, dictionary)
        for tag, value in fields:
            msg.append(tag, value)
        return msg

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
        """First value of ``tag`` as an exact Decimal."""
        value = self.get(tag)
        return default if value is None else parse_decimal(value)

    def get_str(self, tag: int | str, default: str | None = None) -> str | None:
        """First value of ``tag`` decoded as UTF-8 text."""
        value = self.get(tag)
        return default if value is None else value.decode("utf-8", "replace")

    def fields(self) -> list[tuple[int, bytes]]:
        """Every field as (tag, value), in order."""
        return list(self._fields)

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        return iter(list(self._fields))

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message) and not hasattr(other, "fields"):
            return NotImplemented
        return self.fields() == other.fields()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        text = "|".join(f"{t}={v.decode('latin-1')}" for t, v in self._fields)
        return f"Message({text!r})"

    # -- writing --------------------------------------------------------------
    def _check_value(self, tag: int, value: bytes) -> None:
        if SOH in value and tag not in _DATA_TAGS:
            raise ValueError(f"value of tag {tag} contains SOH and {tag} is not a data field")

    def set(self, tag: int | str, value: FieldValue) -> None:
        """Replace the first field with ``tag`` (or append it when absent)."""
        t = _resolve(self, tag)
        data = to_bytes(value)
        self._check_value(t, data)
        for i, (ftag, _) in enumerate(self._fields):
            if ftag == t:
                self._fields[i] = (t, data)
                self.raw = None
                return
        self._fields.append((t, data))
        self.raw = None

    def append(self, tag: int | str, value: FieldValue) -> None:
        """Append a field, even if the tag is already present (groups repeat tags)."""
        t = _resolve(self, tag)
        data = to_bytes(value)
        self._check_value(t, data)
        self._fields.append((t, data))
        self.raw = None

    def set_data(self, data_tag: int, payload: bytes) -> None:
        """Set a length-prefixed data field (e.g. RawData 96) and its length field."""
        length_tag = _LENGTH_OF.get(data_tag)
        if length_tag is None:
            raise ValueError(f"tag {data_tag} is not a length-prefixed data field")
        self.set(length_tag, len(payload))
        self.remove(data_tag)
        # the data field goes right after its length field
        for i, (ftag, _) in enumerate(self._fields):
            if ftag == length_tag:
                self._fields.insert(i + 1, (data_tag, bytes(payload)))
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
    """Serialise ``msg``: 8, 9, 35, header fields, body fields, 10.

    BeginString comes from ``begin_string`` or else the message's own field 8.
    BodyLength and CheckSum are computed; any 9 or 10 in the message is ignored.
    """
    fields = msg._fields
    if begin_string is None:
        bs = msg.get(8)
        if bs is None:
            raise LocalProtocolError("no BeginString: pass begin_string or set field 8")
    else:
        bs = begin_string.encode() if isinstance(begin_string, str) else begin_string
    msg_type = None
    header: list[bytes] = []
    body: list[bytes] = []
    for tag, value in fields:
        if tag == 35:
            if msg_type is None:
                msg_type = value
            continue
        if tag == 8 or tag == 9 or tag == 10:
            continue
        part = b"%d=%b\x01" % (tag, value)
        (header if tag in HEADER_TAGS else body).append(part)
    if msg_type is None:
        raise LocalProtocolError("message has no MsgType(35)")
    content = b"35=" + msg_type + SOH + b"".join(header) + b"".join(body)
    head = b"8=" + bs + b"\x019=" + str(len(content)).encode() + SOH
    out = head + content
    return out + b"10=%03d\x01" % (checksum(out),)


def _split_fields(
    buf: bytes, start: int, end: int, data_fields: Mapping[int, int]
) -> list[tuple[int, bytes]] | None:
    """Split ``buf[start:end]`` (ending with SOH) into fields; None if malformed."""
    fields: list[tuple[int, bytes]] = []
    pos = start
    pending_data: int = -1
    pending_len: int = 0
    while pos < end:
        eq = buf.find(b"=", pos, end)
        if eq <= pos:
            return None
        tag_text = buf[pos:eq]
        digits = tag_text[1:] if tag_text[:1] == b"-" else tag_text
        if not digits.isdigit() or len(digits) > 9:
            return None
        tag = int(tag_text)
        vstart = eq + 1
        if tag == pending_data and pending_len >= 0:
            vend = vstart + pending_len
            if vend >= end or buf[vend] != 1:
                return None
        else:
            vend = buf.find(SOH, vstart, end)
            if vend < 0:
                return None
        value = buf[vstart:vend]
        fields.append((tag, value))
        pending_data = data_fields.get(tag, -1)
        if pending_data >= 0:
            pending_len = int(value) if value.isdigit() else -1
        pos = vend + 1
    return fields


class Parser:
    """Streaming framer: feed it TCP chunks, get messages and garbled-frame reports.

    ``feed`` returns, in stream order, :class:`Message` objects and
    :class:`~fixengine.errors.GarbledMessage` values for bytes it had to drop.
    """

    def __init__(
        self,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        resync: str = "begin-string",
        data_fields: Mapping[int, int] | None = None,
    ) -> None:
        if max_message_size < 64:
            raise ValueError("max_message_size must be at least 64 bytes")
        if resync not in ("begin-string", "trailer"):
            raise ValueError("resync must be 'begin-string' or 'trailer'")
        self.max_message_size = max_message_size
        self.resync = resync
        self.data_fields: Mapping[int, int] = (
            DATA_FIELDS if data_fields is None else {**DATA_FIELDS, **data_fields}
        )
        self._buf = b""
        self._discarding = 0  # bytes of an oversize frame still to drop

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Message | GarbledMessage]:
        """Add bytes from the stream; return every complete item, in order."""
        buf = self._buf + bytes(data) if self._buf else bytes(data)
        out: list[Message | GarbledMessage] = []
        pos = 0
        n = len(buf)
        if self._discarding:
            skip = min(self._discarding, n)
            self._discarding -= skip
            pos = skip
        while pos < n:
            if not buf.startswith(b"8=FIX", pos):
                nxt = buf.find(b"8=FIX", pos + 1)
                if nxt < 0:
                    # keep a possible partial "8=FIX" at the end
                    keep = max(pos, n - 4)
                    while keep < n and not b"8=FIX".startswith(buf[keep:n]):
                        keep += 1
                    if keep > pos:
                        out.append(GarbledMessage(GarbleReason.GARBAGE, buf[pos:keep]))
                    pos = keep
                    break
                out.append(GarbledMessage(GarbleReason.GARBAGE, buf[pos:nxt]))
                pos = nxt
                continue
            item, consumed = self._frame(buf, pos, n)
            if consumed == 0:
                break  # need more bytes
            if item is not None:
                out.append(item)
            pos += consumed
        self._buf = buf[pos:]
        return out

    def _frame(self, buf: bytes, start: int, n: int) -> tuple[Message | GarbledMessage | None, int]:
        """Try to take one frame at ``start``: (item, bytes consumed); 0 = need more."""
        limit = self.max_message_size
        # BeginString
        soh = buf.find(SOH, start + 2, min(n, start + 32))
        if soh < 0:
            if n - start >= 32:
                return self._drop(buf, start, n, GarbleReason.BAD_BEGIN_STRING)
            return None, 0
        # BodyLength
        if n < soh + 3:
            return None, 0
        if buf[soh + 1 : soh + 3] != b"9=":
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
        if trailer + 7 - start > limit:
            return self._oversize(buf, start, n, trailer + 7)
        if n < trailer + 7:
            return None, 0
        if buf[trailer - 1] != 1 or buf[trailer : trailer + 3] != b"10=" or buf[trailer + 6] != 1:
            return self._bad_length(buf, start, n, trailer)
        if not buf.startswith(b"35=", body_start):
            return GarbledMessage(GarbleReason.MSGTYPE_NOT_THIRD, buf[start : trailer + 7]), (
                trailer + 7 - start
            )
        end = trailer + 7
        cks = buf[trailer + 3 : trailer + 6]
        if not cks.isdigit() or int(cks) != (sum(buf[start:trailer]) & 0xFF):
            return GarbledMessage(GarbleReason.BAD_CHECKSUM, buf[start:end]), end - start
        fields = _split_fields(buf, start, end, self.data_fields)
        if fields is None:
            return GarbledMessage(GarbleReason.BAD_FIELD, buf[start:end]), end - start
        msg = Message()
        msg._fields = fields
        msg.raw = buf[start:end]
        return msg, end - start

    def _drop(
        self, buf: bytes, start: int, n: int, reason: GarbleReason
    ) -> tuple[GarbledMessage, int]:
        """Drop from ``start`` to the next ``8=FIX`` (or all but a possible prefix)."""
        nxt = buf.find(b"8=FIX", start + 1)
        end = nxt if nxt >= 0 else max(start + 1, n - 4)
        return GarbledMessage(reason, buf[start:end]), end - start

    def _bad_length(
        self, buf: bytes, start: int, n: int, trailer: int
    ) -> tuple[GarbledMessage | None, int]:
        if self.resync == "begin-string":
            return self._drop(buf, start, n, GarbleReason.BAD_BODY_LENGTH)
        # QuickFIX rule: the frame ends at the first <SOH>10=...<SOH> from trailer-1.
        found = buf.find(b"\x0110=", trailer - 1, start + self.max_message_size)
        if found < 0:
            if n - start >= self.max_message_size:
                return self._oversize(buf, start, n, n)
            return None, 0
        stop = buf.find(SOH, found + 4, start + self.max_message_size)
        if stop < 0:
            if n - start >= self.max_message_size:
                return self._oversize(buf, start, n, n)
            return None, 0
        return GarbledMessage(GarbleReason.BAD_BODY_LENGTH, buf[start : stop + 1]), stop + 1 - start

    def _oversize(
        self, buf: bytes, start: int, n: int, claimed_end: int
    ) -> tuple[GarbledMessage, int]:
        """Drop a frame larger than the limit; bytes not yet received are skipped later."""
        available = n - start
        total = claimed_end - start
        if total > available:
            self._discarding = total - available
        return GarbledMessage(GarbleReason.OVERSIZE, buf[start:n], size=total), available


def decode(data: bytes) -> Message:
    """Decode exactly one complete message; raise GarbledMessage if it is not one."""
    parser = Parser(max_message_size=max(len(data) + 1, 64))
    items = parser.feed(data)
    if len(items) == 1 and isinstance(items[0], Message) and parser.buffered == 0:
        return items[0]
    for item in items:
        if isinstance(item, GarbledMessage):
            raise item
    raise GarbledMessage(GarbleReason.BAD_BODY_LENGTH, data)
