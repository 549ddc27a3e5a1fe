# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False
"""Compiled codec core: the twin of :mod:`fixengine._codec_py`, built as ``fixengine._codec``.

Same names, same behaviour, byte for byte; the pure module is the readable
reference and its docstring states the framing rules. The test suite runs every
codec test against both and property tests check they agree.

Theory of operation
-------------------
Zero-copy, lazy decode. A decoded :class:`Message` keeps a reference to its frame
(one ``bytes`` object, also its :attr:`Message.raw`) and a C array of fields, each
``(tag, buffer, offset, length)``; a value becomes a Python ``bytes`` only when it
is read. Values written through the API are copied into a second buffer owned by
the message (buffer 1), so a decoded message that is changed mixes both: fields
still pointing into the frame and fields pointing into its own buffer. Typical
messages fit the 24 fields stored inside the object; more go to the heap.

The framer keeps one growing C buffer with start/end offsets. When nothing is
pending, a chunk is framed in place (no copy) and only an incomplete tail is
kept; a frame that is the whole chunk becomes the message's frame as is.
Framing, tag parsing, the data-field length table (a per-parser array indexed by
tag), BodyLength and CheckSum are all C. The decision sequence mirrors
``_codec_py.Parser`` step for step so both report the same GarbledMessage values
for any chunking.

``encode`` sizes the output first, writes into one ``bytes`` object, then sums it
for CheckSum. ``set``/``append`` convert bytes, ASCII str, int, bool, Decimal and
UTC datetimes in C; other values go through :func:`fixengine.fields.to_bytes`.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.datetime cimport (
    datetime_day,
    datetime_hour,
    datetime_microsecond,
    datetime_minute,
    datetime_month,
    datetime_second,
    datetime_tzinfo,
    datetime_year,
    import_datetime,
    PyDateTime_CheckExact,
)
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.math cimport fabs, round as c_round
from libc.string cimport memchr, memcmp, memcpy, memmove, memset

import datetime as _dt
from decimal import Decimal as _Decimal

from fixengine import fields as _fields
from fixengine._codec_py import (
    _LAST_SECOND,
    _LENGTH_OF,
    _MAX_FRAME_LIMIT,
    _RULES,
    DATA_FIELDS,
    DEFAULT_MAX_MESSAGE_SIZE,
    HEADER_TAGS,
    RULE_ANY,
    RULE_CALL,
    RULE_CHAR,
    RULE_DECIMAL,
    RULE_DIGITS,
    RULE_ENUM,
    RULE_GROUP,
    RULE_INT,
    RULE_TIMESTAMP,
    RULES_TAG_LIMIT,
    SECRET_TAGS,
    MAX_TAG,
    TRAILER_TAGS,
    _header_bytes,
    format_sending_time,
)
from fixengine.errors import GarbledMessage, GarbleReason, LocalProtocolError

cdef extern from "Python.h":
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)

import_datetime()

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

cdef enum:
    INLINE_FIELDS = 24      # fields stored inside a Message before going to the heap
    TAG_TABLE = 4096        # tags below this are looked up in C tables
    PICK_MAX = 64           # tags Message.pick reads in one pass (more: one get each)
    PICK_TABLE = 1024       # tags below this found by Message.pick through a table
    GARBLE_DATA = 256       # bytes of a dropped frame kept in GarbledMessage.data
    SRC_FRAME = 0
    SRC_OWN = 1

cdef int64_t C_MAX_TAG = MAX_TAG
cdef Py_ssize_t C_FRAME_LIMIT = _MAX_FRAME_LIMIT
cdef int64_t HUGE_LENGTH = (<int64_t>1) << 40

cdef struct Fld:
    int32_t tag
    int32_t src     # SRC_FRAME: offset into the frame; SRC_OWN: into the owned buffer
    int32_t off
    int32_t len

# tag tables built from the pure module's constants (one source of facts)
cdef uint8_t _header_bit[TAG_TABLE]
cdef uint8_t _trailer_bit[TAG_TABLE]
cdef uint8_t _data_bit[TAG_TABLE]       # tags of data fields (may contain SOH)
cdef int32_t _default_lmap[TAG_TABLE]   # length tag -> data tag, or -1

memset(_header_bit, 0, sizeof(_header_bit))
memset(_trailer_bit, 0, sizeof(_trailer_bit))
memset(_data_bit, 0, sizeof(_data_bit))
for _i in range(TAG_TABLE):
    _default_lmap[_i] = -1
for _t in HEADER_TAGS:
    _header_bit[_t] = 1
for _t in TRAILER_TAGS:
    _trailer_bit[_t] = 1
for _t, _d in DATA_FIELDS.items():
    _data_bit[_d] = 1
    _default_lmap[_t] = _d

cdef object _UTC = _dt.timezone.utc
cdef object _to_bytes = _fields.to_bytes
cdef object _parse_int = _fields.parse_int
cdef object _parse_decimal = _fields.parse_decimal
cdef object R_GARBAGE = GarbleReason.GARBAGE
cdef object R_BAD_BEGIN_STRING = GarbleReason.BAD_BEGIN_STRING
cdef object R_BAD_BODY_LENGTH = GarbleReason.BAD_BODY_LENGTH
cdef object R_BAD_CHECKSUM = GarbleReason.BAD_CHECKSUM
cdef object R_MSGTYPE_NOT_THIRD = GarbleReason.MSGTYPE_NOT_THIRD
cdef object R_BAD_FIELD = GarbleReason.BAD_FIELD
cdef object R_OVERSIZE = GarbleReason.OVERSIZE


# -- small C helpers -----------------------------------------------------------
cdef inline bint _is_data_tag(int32_t tag) noexcept:
    return 0 <= tag < TAG_TABLE and _data_bit[tag] != 0


cdef inline Py_ssize_t _find_byte(const char* buf, char c, Py_ssize_t frm, Py_ssize_t to) noexcept:
    """Index of ``c`` in buf[frm:to], or -1 (bytes.find semantics)."""
    if frm >= to:
        return -1
    cdef const char* hit = <const char*>memchr(buf + frm, c, <size_t>(to - frm))
    return -1 if hit == NULL else hit - buf


cdef inline Py_ssize_t _find(const char* buf, const char* needle, Py_ssize_t k,
                             Py_ssize_t frm, Py_ssize_t to) noexcept:
    """Index of needle[:k] wholly inside buf[frm:to], or -1."""
    cdef Py_ssize_t i = frm
    cdef const char* hit
    while to - i >= k:
        hit = <const char*>memchr(buf + i, needle[0], <size_t>(to - k + 1 - i))
        if hit == NULL:
            return -1
        i = hit - buf
        if memcmp(hit, needle, <size_t>k) == 0:
            return i
        i += 1
    return -1


cdef inline Py_ssize_t _prefix_start(const char* buf, Py_ssize_t pos, Py_ssize_t n) noexcept:
    """First index >= pos of a tail of ``buf`` that may begin a ``8=FIX`` (n if none)."""
    cdef Py_ssize_t keep = pos if pos > n - 4 else n - 4
    while keep < n and memcmp(buf + keep, b"8=FIX", <size_t>(n - keep)) != 0:
        keep += 1
    return keep


cdef inline int _ndigits(uint64_t v) noexcept:
    cdef int d = 1
    while v >= 10:
        v //= 10
        d += 1
    return d


cdef inline int _int_len(int64_t v) noexcept:
    if v < 0:
        return 1 + _ndigits(<uint64_t>(-v))
    return _ndigits(<uint64_t>v)


cdef inline char* _put_uint(char* w, uint64_t v, int d) noexcept:
    """Write ``v`` as exactly ``d`` decimal digits (zero padded); return the end."""
    cdef char* p = w + d
    while p > w:
        p -= 1
        p[0] = <char>(48 + v % 10)
        v //= 10
    return w + d


cdef inline char* _put_int(char* w, int64_t v) noexcept:
    if v < 0:
        w[0] = b'-'
        return _put_uint(w + 1, <uint64_t>(-v), _ndigits(<uint64_t>(-v)))
    return _put_uint(w, <uint64_t>v, _ndigits(<uint64_t>v))


cdef inline unsigned int _sum(const char* p, Py_ssize_t n) noexcept:
    cdef const uint8_t* u = <const uint8_t*>p
    cdef unsigned int s = 0
    cdef Py_ssize_t i
    for i in range(n):
        s += u[i]
    return s


cdef inline int64_t _length_value(const char* p, Py_ssize_t n) noexcept:
    """Value of a data-length field: -1 if not digits, huge if more than nine digits."""
    cdef Py_ssize_t i
    cdef int64_t v = 0
    if n == 0:
        return -1
    for i in range(n):
        if not (48 <= p[i] <= 57):
            return -1
    i = 0
    while i < n and p[i] == b'0':
        i += 1
    if n - i > 9:
        return HUGE_LENGTH
    while i < n:
        v = v * 10 + (p[i] - 48)
        i += 1
    return v


cdef inline object _garbled(object reason, const char* buf, Py_ssize_t start, Py_ssize_t end):
    cdef Py_ssize_t k = end - start
    if k > GARBLE_DATA:
        k = GARBLE_DATA
    return GarbledMessage(reason, PyBytes_FromStringAndSize(buf + start, k), end - start)


# -- tags ----------------------------------------------------------------------
cdef object _resolve(Message msg, object tag):
    """Tag number of ``tag`` as a Python int: an int as is, a str through the dictionary."""
    if type(tag) is int:
        return tag
    if isinstance(tag, str):
        if msg.dictionary is None:
            raise KeyError(f"field name {tag!r} needs a data dictionary on the message")
        return int(msg.dictionary.tag(tag))
    return int(tag)


cdef inline bint _lookup_tag(Message msg, object tag, int32_t* out) except -1:
    """Resolve ``tag`` for reading; False when no field can have it (out of range)."""
    cdef int overflow = 0
    cdef long long v
    if type(tag) is not int:
        tag = _resolve(msg, tag)
    v = PyLong_AsLongLongAndOverflow(tag, &overflow)
    if overflow or v < -C_MAX_TAG or v > C_MAX_TAG:
        return False
    out[0] = <int32_t>v
    return True


cdef inline int32_t _write_tag(Message msg, object tag) except? -1:
    """Resolve ``tag`` for writing: it must fit the wire grammar (at most nine digits)."""
    cdef int overflow = 0
    cdef long long v
    if type(tag) is not int:
        tag = _resolve(msg, tag)
    v = PyLong_AsLongLongAndOverflow(tag, &overflow)
    if overflow or v < -C_MAX_TAG or v > C_MAX_TAG:
        raise ValueError(f"tag {tag} is out of range (at most nine digits)")
    return <int32_t>v


cdef bint _dictionary_data_tag(Message msg, int32_t tag) except -1:
    """Whether the message's dictionary declares ``tag`` a data field (user-defined ones)."""
    data_fields = getattr(msg.dictionary, "data_fields", None)
    return data_fields is not None and tag in data_fields.values()


def _restore(fields, raw, dictionary):
    msg = Message.from_fields(fields, dictionary)
    msg.raw = raw
    return msg


# -- the session's header fields ---------------------------------------------------
cdef inline int _header_slot(int32_t tag) noexcept:
    """Position of ``tag`` in Message.session_header()'s tuple, or -1."""
    if tag == 35:
        return 0
    if tag == 8:
        return 1
    if tag == 34:
        return 2
    if tag == 43:
        return 3
    if tag == 49:
        return 4
    if tag == 56:
        return 5
    if tag == 52:
        return 6
    return -1


cdef inline int _num(const char* p, Py_ssize_t n) noexcept:
    """Value of ``n`` ASCII digits (checked by the caller)."""
    cdef int v = 0
    cdef Py_ssize_t i
    for i in range(n):
        v = v * 10 + (p[i] - 48)
    return v


cdef object _seq_num(const char* p, Py_ssize_t n):
    """A non-negative int: digits only, at most 18 past the leading zeros; else None.

    (_digits, _POW10_D: the ASCII-digit check and powers of ten of FieldRules, below.)
    """
    cdef Py_ssize_t i = 0
    cdef int64_t v = 0
    if n == 0 or not _digits(p, n):
        return None
    while i < n and p[i] == b'0':
        i += 1
    if n - i > 18:
        return None
    while i < n:
        v = v * 10 + (p[i] - 48)
        i += 1
    return v


cdef object _utc_seconds(const char* p, Py_ssize_t n):
    """UTCTimestamp ``YYYYMMDD-HH:MM:SS[.f{1,9}]`` -> epoch seconds (float), or None.

    The calendar ranges are those the session's own parser checks: month 1-12, day
    1-31 (counted on from the 1st, as calendar.timegm does), hour 0-23, minute 0-59,
    second 0-60, year 1-9999.
    """
    cdef int year, month, day, hour, minute, second
    cdef int64_t y, era, yoe, doy, doe, days, secs
    cdef Py_ssize_t k
    if n < 17:
        return None
    if not (_digits(p, 8) and _digits(p + 9, 2) and _digits(p + 12, 2) and _digits(p + 15, 2)):
        return None
    if p[8] != b'-' or p[11] != b':' or p[14] != b':':
        return None
    year = _num(p, 4)
    month = _num(p + 4, 2)
    day = _num(p + 6, 2)
    hour = _num(p + 9, 2)
    minute = _num(p + 12, 2)
    second = _num(p + 15, 2)
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59):
        return None
    if second > 60 or year == 0:
        return None
    # days from 1970-01-01 to the 1st of the month (proleptic Gregorian), then on by day
    y = year - (1 if month <= 2 else 0)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month - 3 if month > 2 else month + 9) + 2) // 5
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468 + day - 1
    secs = ((days * 24 + hour) * 60 + minute) * 60 + second
    if n == 17:
        return <double>secs
    k = n - 18
    if p[17] != b'.' or k < 1 or k > 9 or not _digits(p + 18, k):
        return None
    return <double>secs + <double>_num(p + 18, k) / _POW10_D[k]


# -- Message -------------------------------------------------------------------
cdef class Message:
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

    cdef Fld _small[INLINE_FIELDS]
    cdef Fld* _heap
    cdef Py_ssize_t _n
    cdef Py_ssize_t _cap
    cdef bytes _frame
    cdef char* _own
    cdef Py_ssize_t _own_len
    cdef Py_ssize_t _own_cap
    cdef Py_ssize_t _own_dead
    cdef public object raw
    cdef public object dictionary

    def __init__(self, msg_type=None, dictionary=None):
        cdef Fld f
        # (also when __init__ is called again: start over, as the pure twin does)
        self._n = 0
        self._own_len = self._own_dead = 0
        self._frame = None
        self.raw = None
        self.dictionary = dictionary
        if msg_type is not None:
            self._put(35, msg_type, &f)
            self._push(&f)

    def __dealloc__(self):
        if self._heap != NULL:
            PyMem_Free(self._heap)
        if self._own != NULL:
            PyMem_Free(self._own)

    # -- storage ---------------------------------------------------------------
    cdef inline Fld* _flds(self) noexcept:
        return self._heap if self._heap != NULL else self._small

    cdef inline const char* _ptr(self, Fld* f) noexcept:
        if f.src == SRC_FRAME:
            return PyBytes_AS_STRING(self._frame) + f.off
        return self._own + f.off

    cdef inline bytes _value(self, Fld* f):
        return PyBytes_FromStringAndSize(self._ptr(f), f.len)

    cdef int _reserve(self, Py_ssize_t need) except -1:
        cdef Py_ssize_t cap = self._cap if self._heap != NULL else INLINE_FIELDS
        cdef Fld* p
        if need <= cap:
            return 0
        cap = cap * 2 if cap * 2 > need else need
        if self._heap == NULL:
            p = <Fld*>PyMem_Malloc(cap * sizeof(Fld))
            if p == NULL:
                raise MemoryError()
            memcpy(p, self._small, self._n * sizeof(Fld))
        else:
            p = <Fld*>PyMem_Realloc(self._heap, cap * sizeof(Fld))
            if p == NULL:
                raise MemoryError()
        self._heap = p
        self._cap = cap
        return 0

    cdef inline int _push(self, Fld* f) except -1:
        if self._n >= INLINE_FIELDS:
            self._reserve(self._n + 1)
        self._flds()[self._n] = f[0]
        self._n += 1
        return 0

    cdef int32_t _own_alloc(self, Py_ssize_t n) except -1:
        """Room for ``n`` more bytes in the owned buffer; return their offset."""
        cdef Py_ssize_t need = self._own_len + n
        cdef Py_ssize_t cap
        cdef char* p
        cdef int32_t off
        if need > self._own_cap:
            if need > C_FRAME_LIMIT:
                raise OverflowError("message values exceed 2 GiB")
            cap = self._own_cap * 2
            if cap < need:
                cap = need
            if cap < 256:
                cap = 256
            if cap > C_FRAME_LIMIT:
                cap = C_FRAME_LIMIT
            p = <char*>PyMem_Realloc(self._own, cap)
            if p == NULL:
                raise MemoryError()
            self._own = p
            self._own_cap = cap
        off = <int32_t>self._own_len
        self._own_len = need
        return off

    cdef int _release(self, Fld* f) except -1:
        """Account for a value about to be dropped; compact the owned buffer when mostly dead."""
        if f.src == SRC_OWN:
            self._own_dead += f.len
        return 0

    cdef int _compact(self) except -1:
        """Rewrite the owned buffer with only the values still referenced, when mostly dead."""
        cdef Py_ssize_t live = 0
        cdef char* p
        cdef Py_ssize_t i, w = 0
        cdef Fld* f = self._flds()
        if self._own_dead < 4096 or self._own_dead * 2 < self._own_len:
            return 0
        for i in range(self._n):
            if f[i].src == SRC_OWN:
                live += f[i].len
        p = <char*>PyMem_Malloc(live if live > 0 else 1)
        if p == NULL:
            raise MemoryError()
        for i in range(self._n):
            if f[i].src == SRC_OWN:
                memcpy(p + w, self._own + f[i].off, f[i].len)
                f[i].off = <int32_t>w
                w += f[i].len
        PyMem_Free(self._own)
        self._own = p
        self._own_len = w
        self._own_cap = live if live > 0 else 1
        self._own_dead = 0
        return 0

    cdef int _put(self, int32_t tag, object value, Fld* out) except -1:
        """Convert ``value`` as fields.to_bytes does, check SOH, copy it into the owned buffer."""
        cdef const char* p = NULL
        cdef Py_ssize_t n = 0
        cdef char tmp[40]
        cdef object conv = None
        cdef object tz
        cdef long long v
        cdef int overflow = 0
        cdef int micro
        cdef char* w
        cdef Py_ssize_t i
        cdef int32_t off
        t = type(value)
        if t is bytes:
            p = PyBytes_AS_STRING(value)
            n = PyBytes_GET_SIZE(value)
        elif t is str:
            if PyUnicode_IS_COMPACT_ASCII(value):
                p = <const char*>PyUnicode_DATA(value)
                n = PyUnicode_GET_LENGTH(value)
            else:
                conv = (<str>value).encode()
        elif t is bool:
            tmp[0] = b'Y' if value is True else b'N'
            p = tmp
            n = 1
        elif t is int:
            v = PyLong_AsLongLongAndOverflow(value, &overflow)
            if overflow:
                conv = _to_bytes(value)
            else:
                p = tmp
                n = _put_int(tmp, v) - tmp
        elif t is _Decimal:
            # str() gives plain notation exactly when format(value, "f") would give the
            # same text; anything with an exponent or a NaN/Infinity goes the long way
            conv = str(value)
            if PyUnicode_IS_COMPACT_ASCII(conv):
                p = <const char*>PyUnicode_DATA(conv)
                n = PyUnicode_GET_LENGTH(conv)
                for i in range(n):
                    if not (48 <= p[i] <= 57 or p[i] == b'.' or p[i] == b'-'):
                        p = NULL
                        break
            else:
                p = NULL
            if p == NULL:
                conv = _to_bytes(value)
        elif PyDateTime_CheckExact(value):
            tz = datetime_tzinfo(value)
            if tz is None or tz is _UTC:
                w = tmp
                w = _put_uint(w, datetime_year(value), 4)
                w = _put_uint(w, datetime_month(value), 2)
                w = _put_uint(w, datetime_day(value), 2)
                w[0] = b'-'
                w = _put_uint(w + 1, datetime_hour(value), 2)
                w[0] = b':'
                w = _put_uint(w + 1, datetime_minute(value), 2)
                w[0] = b':'
                w = _put_uint(w + 1, datetime_second(value), 2)
                w[0] = b'.'
                micro = datetime_microsecond(value)
                if micro % 1000:
                    w = _put_uint(w + 1, micro, 6)
                else:
                    w = _put_uint(w + 1, micro // 1000, 3)
                p = tmp
                n = w - tmp
            else:
                conv = _to_bytes(value)
        else:
            conv = _to_bytes(value)
        if p == NULL:
            if type(conv) is not bytes:
                conv = bytes(conv)
            p = PyBytes_AS_STRING(conv)
            n = PyBytes_GET_SIZE(conv)
        if (n and memchr(p, 1, <size_t>n) != NULL and not _is_data_tag(tag)
                and not _dictionary_data_tag(self, tag)):
            raise ValueError(f"value of tag {tag} contains SOH and {tag} is not a data field")
        off = self._own_alloc(n)
        memcpy(self._own + off, p, <size_t>n)
        out.tag = tag
        out.src = SRC_OWN
        out.off = off
        out.len = <int32_t>n
        return 0

    cdef Fld* _first(self, int32_t tag) noexcept:
        cdef Fld* f = self._flds()
        cdef Py_ssize_t i
        for i in range(self._n):
            if f[i].tag == tag:
                return &f[i]
        return NULL

    @classmethod
    def from_fields(cls, fields, dictionary=None):
        """Build a message from an iterable of (tag, value) pairs, in order."""
        msg = cls(None, dictionary)
        for tag, value in fields:
            msg.append(tag, value)
        return msg

    def session_header(self):
        """The header fields a session checks on every message, in one pass.

        ``(msg_type, begin_string, msg_seq_num, poss_dup_flag, sender_comp_id,
        target_comp_id, sending_time)``: MsgType(35), BeginString(8), PossDupFlag(43),
        SenderCompID(49) and TargetCompID(56) as bytes; MsgSeqNum(34) as an int (None
        unless ASCII digits with at most 18 past the leading zeros); SendingTime(52) as
        UTC epoch seconds (None unless a valid ``YYYYMMDD-HH:MM:SS[.f{1,9}]``). Each is
        the first field with its tag, None when absent.
        """
        cdef Fld* f = self._flds()
        cdef Fld* hit[7]
        cdef Py_ssize_t i
        cdef int k, found = 0
        for k in range(7):
            hit[k] = NULL
        for i in range(self._n):
            k = _header_slot(f[i].tag)
            if k >= 0 and hit[k] == NULL:
                hit[k] = &f[i]
                found += 1
                if found == 7:
                    break
        return (
            None if hit[0] == NULL else self._value(hit[0]),
            None if hit[1] == NULL else self._value(hit[1]),
            None if hit[2] == NULL else _seq_num(self._ptr(hit[2]), hit[2].len),
            None if hit[3] == NULL else self._value(hit[3]),
            None if hit[4] == NULL else self._value(hit[4]),
            None if hit[5] == NULL else self._value(hit[5]),
            None if hit[6] == NULL else _utc_seconds(self._ptr(hit[6]), hit[6].len),
        )

    def pick(self, tags):
        """The first value of each tag of ``tags``, in one pass over the fields.

        A tuple as long as ``tags``, each item what ``get(tag)`` returns: the value as
        bytes, or None when no field has the tag. For reading many fields of the same
        message (a report's twenty-odd) at the cost of one call.
        """
        cdef tuple want = tags if type(tags) is tuple else tuple(tags)
        cdef Py_ssize_t k = len(want)
        cdef Py_ssize_t i, j, left = 0, nbig = 0
        cdef int32_t t
        cdef int32_t big_tag[PICK_MAX]   # tags outside the table, compared one by one
        cdef Py_ssize_t big_pos[PICK_MAX]
        cdef Py_ssize_t first[PICK_MAX]  # where each position's value is found, or -1
        cdef Fld* hit[PICK_MAX]
        cdef uint8_t slot[PICK_TABLE]    # tag -> 1 + the first position asking for it
        cdef Fld* f = self._flds()
        cdef Fld* h
        if k > PICK_MAX:
            return tuple([self.get(tag) for tag in want])
        memset(slot, 0, sizeof(slot))
        for j in range(k):
            hit[j] = NULL
            first[j] = j
            if not _lookup_tag(self, want[j], &t):
                first[j] = -1  # out of range: no field has it
            elif 0 <= t < PICK_TABLE:
                if slot[t]:
                    first[j] = slot[t] - 1  # a repeated tag: the same value
                else:
                    slot[t] = <uint8_t>(j + 1)
                    left += 1
            else:
                big_tag[nbig] = t
                big_pos[nbig] = j
                nbig += 1
                left += 1
        if left:
            for i in range(self._n):
                t = f[i].tag
                if 0 <= t < PICK_TABLE:
                    j = slot[t]
                    if j:
                        slot[t] = 0  # the first field with the tag only
                        hit[j - 1] = &f[i]
                        left -= 1
                        if left == 0:
                            break
                elif nbig:
                    for j in range(nbig):
                        if big_tag[j] == t and hit[big_pos[j]] == NULL:
                            hit[big_pos[j]] = &f[i]
                            left -= 1
                    if left == 0:
                        break
        out = PyTuple_New(k)
        for j in range(k):
            h = NULL if first[j] < 0 else hit[first[j]]
            value = None if h == NULL else self._value(h)
            Py_INCREF(value)
            PyTuple_SET_ITEM(out, j, value)
        return out

    @classmethod
    def from_pairs(cls, msg_type, pairs, dictionary=None):
        """A message of type ``msg_type`` followed by the (tag, value) ``pairs``, in order.

        The same as ``Message(msg_type)`` then ``append(tag, value)`` for each pair,
        in one call (values converted as append converts them).
        """
        cdef Message msg = cls(msg_type, dictionary)
        cdef Fld nf
        cdef int32_t t
        for tag, value in pairs:
            t = _write_tag(msg, tag)
            msg._put(t, value, &nf)
            msg._push(&nf)
        return msg

    # -- reading ---------------------------------------------------------------
    @property
    def msg_type(self):
        """MsgType(35), or None."""
        cdef Fld* f = self._first(35)
        return None if f == NULL else self._value(f)

    @property
    def begin_string(self):
        """BeginString(8), or None (messages being built usually have none)."""
        cdef Fld* f = self._first(8)
        return None if f == NULL else self._value(f)

    def get(self, tag, default=None):
        """Value of the first field with ``tag``, or ``default``."""
        cdef int32_t t
        cdef Fld* f
        if not _lookup_tag(self, tag, &t):
            return default
        f = self._first(t)
        return default if f == NULL else self._value(f)

    def __getitem__(self, tag):
        value = self.get(tag)
        if value is None:
            raise KeyError(tag)
        return value

    def __contains__(self, tag):
        if not isinstance(tag, (int, str)):
            return False
        return self.get(tag) is not None

    def get_all(self, tag):
        """Values of every field with ``tag``, in order."""
        cdef int32_t t
        cdef Fld* f = self._flds()
        cdef Py_ssize_t i
        out = []
        if not _lookup_tag(self, tag, &t):
            return out
        for i in range(self._n):
            if f[i].tag == t:
                out.append(self._value(&f[i]))
        return out

    def get_int(self, tag, default=None):
        """First value of ``tag`` as an int (ValueError if it is not one)."""
        cdef int32_t t
        cdef Fld* f
        cdef const char* p
        cdef Py_ssize_t i = 0, n
        cdef long long v = 0
        if not _lookup_tag(self, tag, &t):
            return default
        f = self._first(t)
        if f == NULL:
            return default
        p = self._ptr(f)
        n = f.len
        if n and p[0] == b'-':
            i = 1
        if 0 < n - i <= 18:
            while i < n and 48 <= p[i] <= 57:
                v = v * 10 + (p[i] - 48)
                i += 1
            if i == n:
                return -v if p[0] == b'-' else v
        return _parse_int(self._value(f))

    def get_decimal(self, tag, default=None):
        """First value of ``tag`` as an exact Decimal (ValueError if it is not one)."""
        value = self.get(tag)
        return default if value is None else _parse_decimal(value)

    def get_str(self, tag, default=None):
        """First value of ``tag`` decoded as UTF-8 text (bad bytes replaced)."""
        cdef int32_t t
        cdef Fld* f
        if not _lookup_tag(self, tag, &t):
            return default
        f = self._first(t)
        if f == NULL:
            return default
        return PyUnicode_DecodeUTF8(self._ptr(f), f.len, "replace")

    def fields(self):
        """Every field as (tag, value), in order."""
        cdef Fld* f = self._flds()
        cdef Py_ssize_t i
        return [(f[i].tag, self._value(&f[i])) for i in range(self._n)]

    def group(self, count_tag, dictionary=None):
        """Instances of the repeating group ``count_tag`` (see :mod:`fixengine.groups`).

        The group layout comes from ``dictionary``, or else the message's own.
        """
        from fixengine.groups import parse_groups

        return parse_groups(self, count_tag, dictionary)

    def add_group(self, count_tag, instances):
        """Append the NumInGroup field ``count_tag`` and the instances' fields, in order."""
        from fixengine.groups import append_group

        append_group(self, count_tag, instances)

    def __iter__(self):
        return iter(self.fields())

    def __len__(self):
        return self._n

    def __eq__(self, other):
        if not isinstance(other, Message) and not hasattr(other, "fields"):
            return NotImplemented
        return self.fields() == other.fields()

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None

    def __repr__(self):
        text = "|".join([
            f"{t}={'***' if t in SECRET_TAGS else v.decode('latin-1')}" for t, v in self.fields()
        ])
        return f"Message({text!r})"

    def __reduce__(self):
        return (_restore, (self.fields(), self.raw, self.dictionary))

    def __copy__(self):
        return self.copy()

    # -- writing ---------------------------------------------------------------
    def set(self, tag, value):
        """Replace the first field with ``tag`` (or append it when absent)."""
        cdef int32_t t = _write_tag(self, tag)
        cdef Fld nf
        cdef Fld* f
        self._put(t, value, &nf)
        f = self._first(t)
        if f != NULL:
            self._release(f)
            f[0] = nf
            self.raw = None
            self._compact()
            return
        self._push(&nf)
        self.raw = None

    def append(self, tag, value):
        """Append a field, even if the tag is already present (groups repeat tags)."""
        cdef int32_t t = _write_tag(self, tag)
        cdef Fld nf
        self._put(t, value, &nf)
        self._push(&nf)
        self.raw = None

    def set_data(self, data_tag, payload):
        """Set a length-prefixed data field (e.g. RawData 96) and its length field.

        The data field is placed right after its length field, as FIX requires.
        """
        cdef Fld nf
        cdef Fld* f
        cdef Py_ssize_t i
        t = _resolve(self, data_tag)
        length_tag = _LENGTH_OF.get(t)
        if length_tag is None:
            raise ValueError(f"tag {t} is not a length-prefixed data field")
        data = bytes(payload)
        self.set(length_tag, len(data))
        self.remove(t)
        f = self._flds()
        for i in range(self._n):
            if f[i].tag == length_tag:
                self._put(<int32_t>t, data, &nf)
                self._reserve(self._n + 1)
                f = self._flds()
                memmove(&f[i + 2], &f[i + 1], (self._n - i - 1) * sizeof(Fld))
                f[i + 1] = nf
                self._n += 1
                break

    def remove(self, tag):
        """Remove every field with ``tag``; return how many were removed."""
        cdef int32_t t
        cdef Fld* f = self._flds()
        cdef Py_ssize_t i, w = 0
        if not _lookup_tag(self, tag, &t):
            return 0
        for i in range(self._n):
            if f[i].tag == t:
                self._release(&f[i])
            else:
                if w != i:
                    f[w] = f[i]
                w += 1
        removed = self._n - w
        self._n = w
        if removed:
            self.raw = None
            self._compact()
        return removed

    def copy(self):
        """A shallow copy (values are immutable bytes)."""
        cdef Message msg = Message.__new__(Message)
        msg.dictionary = self.dictionary
        msg._frame = self._frame
        msg._reserve(self._n)
        memcpy(msg._flds(), self._flds(), self._n * sizeof(Fld))
        msg._n = self._n
        if self._own_len:
            msg._own_alloc(self._own_len)
            memcpy(msg._own, self._own, <size_t>self._own_len)
            msg._own_dead = self._own_dead
        msg.raw = self.raw
        return msg

    def encode(self, begin_string=None):
        """Wire bytes of this message; see :func:`encode`."""
        return encode(self, begin_string)


# -- encode --------------------------------------------------------------------
cdef inline char* _put_field(char* w, Message msg, Fld* f) noexcept:
    w = _put_int(w, f.tag)
    w[0] = b'='
    memcpy(w + 1, msg._ptr(f), <size_t>f.len)
    w += 1 + f.len
    w[0] = 1
    return w + 1


cdef uint8_t _frame_bit[TAG_TABLE]  # 8, 9, 10, 35: written by the encoder itself
memset(_frame_bit, 0, sizeof(_frame_bit))
for _t in (8, 9, 10, 35):
    _frame_bit[_t] = 1


cdef char* _put_sections(char* w, Message msg, const uint8_t* skip_bit, frozenset skip) except NULL:
    """``msg``'s fields not skipped: header ones, then body, then trailer, each in the
    order they were set. ``skip_bit`` marks skipped tags below TAG_TABLE, ``skip``
    (or None) those above."""
    cdef Fld* f = msg._flds()
    cdef Py_ssize_t i
    cdef int32_t tag
    cdef int kind, section
    for kind in range(3):
        for i in range(msg._n):
            tag = f[i].tag
            if 0 <= tag < TAG_TABLE:
                if skip_bit[tag]:
                    continue
                section = 0 if _header_bit[tag] else 2 if _trailer_bit[tag] else 1
            elif skip is not None and tag in skip:
                continue
            else:
                section = 1
            if section == kind:
                w = _put_field(w, msg, &f[i])
    return w


cdef inline void _put_checksum(char* start, char* w) noexcept:
    """The CheckSum field after the ``w - start`` bytes written from ``start``."""
    cdef unsigned int cks = _sum(start, w - start) & 0xFF
    memcpy(w, b"10=", 3)
    w = _put_uint(w + 3, cks, 3)
    w[0] = 1


def encode(Message msg not None, begin_string=None):
    """Serialise ``msg``: 8, 9, 35, header fields, body fields, trailer fields, 10.

    BeginString comes from ``begin_string`` or else the message's own field 8.
    BodyLength and CheckSum are computed; any 9 or 10 in the message is ignored,
    and only the first 35. Within the header, body and trailer, fields keep the
    order they were set in.
    """
    cdef object bs
    cdef const char* bsp
    cdef Fld* f
    cdef Fld* mt = NULL
    cdef Py_ssize_t i, content, total, bsn
    cdef int32_t tag
    cdef char* w
    cdef char* start
    if begin_string is None:
        bs = msg.get(8)
        if bs is None:
            raise LocalProtocolError("no BeginString: pass begin_string or set field 8")
    elif type(begin_string) is bytes:
        bs = begin_string
    elif type(begin_string) is str and PyUnicode_IS_COMPACT_ASCII(begin_string):
        bs = begin_string  # its ASCII characters are its UTF-8 bytes
    elif isinstance(begin_string, str):
        bs = (<str>begin_string).encode()
    elif isinstance(begin_string, (bytes, bytearray, memoryview)):
        bs = bytes(begin_string)
    else:
        raise TypeError(f"begin_string must be bytes or str, not {type(begin_string).__name__}")
    if type(bs) is str:
        bsp = <const char*>PyUnicode_DATA(bs)
        bsn = PyUnicode_GET_LENGTH(bs)
    else:
        bsp = PyBytes_AS_STRING(bs)
        bsn = PyBytes_GET_SIZE(bs)
    if bsn == 0 or memchr(bsp, 1, <size_t>bsn) != NULL:
        if type(bs) is str:
            bs = (<str>bs).encode()
        raise LocalProtocolError(f"BeginString {bs!r} is empty or contains SOH")
    f = msg._flds()
    content = 0
    for i in range(msg._n):
        tag = f[i].tag
        if tag == 35:
            if mt == NULL:
                mt = &f[i]
            continue
        if tag == 8 or tag == 9 or tag == 10:
            continue
        content += _int_len(tag) + 2 + f[i].len
    if mt == NULL:
        raise LocalProtocolError("message has no MsgType(35)")
    content += 4 + mt.len
    total = 6 + bsn + _ndigits(content) + content + 7
    out = PyBytes_FromStringAndSize(NULL, total)
    start = PyBytes_AS_STRING(out)
    w = start
    w[0] = b'8'
    w[1] = b'='
    memcpy(w + 2, bsp, <size_t>bsn)
    w += 2 + bsn
    memcpy(w, b"\x019=", 3)
    w = _put_uint(w + 3, <uint64_t>content, _ndigits(content))
    memcpy(w, b"\x0135=", 4)
    memcpy(w + 4, msg._ptr(mt), <size_t>mt.len)
    w += 4 + mt.len
    w[0] = 1
    w += 1
    w = _put_sections(w, msg, _frame_bit, None)
    _put_checksum(start, w)
    return out


def checksum(data):
    """FIX CheckSum of ``data``: the byte sum modulo 256."""
    cdef Py_buffer view
    cdef unsigned int s
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        s = _sum(<const char*>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)
    return s & 0xFF


# -- framing -------------------------------------------------------------------
cdef int _split(Message msg, const char* fr, Py_ssize_t end, Parser parser) except -2:
    """Split a whole frame (ending with SOH) into msg's fields; -1 if one is malformed.

    Mirrors ``_codec_py._split_fields``: a tag is an optional ``-`` and one to
    nine digits; a data field right after its length field is taken by length.
    """
    cdef Py_ssize_t pos = 0, p, digits, vstart, vend
    cdef int32_t tag, pending_data = -1
    cdef int64_t pending_len = -1
    cdef int64_t v
    cdef bint neg
    cdef Fld fl
    cdef const char* hit
    while pos < end:
        p = pos
        neg = fr[p] == b'-'
        if neg:
            p += 1
        v = 0
        digits = 0
        while p < end and 48 <= fr[p] <= 57:
            if digits == 9:
                return -1
            v = v * 10 + (fr[p] - 48)
            digits += 1
            p += 1
        if digits == 0 or p >= end or fr[p] != b'=':
            return -1
        tag = <int32_t>(-v if neg else v)
        vstart = p + 1
        if tag == pending_data and pending_len >= 0:
            if vstart + pending_len >= end:
                return -1
            vend = vstart + <Py_ssize_t>pending_len
            if fr[vend] != 1:
                return -1
        else:
            if vstart >= end:
                return -1
            hit = <const char*>memchr(fr + vstart, 1, <size_t>(end - vstart))
            if hit == NULL:
                return -1
            vend = hit - fr
        fl.tag = tag
        fl.src = SRC_FRAME
        fl.off = <int32_t>vstart
        fl.len = <int32_t>(vend - vstart)
        msg._push(&fl)
        pending_data = parser._data_for(tag)
        pending_len = _length_value(fr + vstart, vend - vstart) if pending_data >= 0 else -1
        pos = vend + 1
    return 0


cdef class Parser:
    """Streaming framer: feed it TCP chunks, get messages and garbled-frame reports.

    ``feed`` returns, in stream order, :class:`Message` objects and
    :class:`~fixengine.errors.GarbledMessage` values for bytes it had to drop.
    ``data_fields`` adds length -> data tag pairs (e.g. user-defined data
    fields) to the standard ones.
    """

    cdef Py_ssize_t _max
    cdef object _resync
    cdef bint _trailer_mode
    cdef dict _data_fields
    cdef int32_t* _lmap         # length tag -> data tag for tags < TAG_TABLE
    cdef bint _own_lmap
    cdef bint _lmap_big         # some length tag >= TAG_TABLE (looked up in the dict)
    cdef char* _buf
    cdef Py_ssize_t _cap
    cdef Py_ssize_t _start
    cdef Py_ssize_t _end
    cdef Py_ssize_t _found      # trailer-mode search state, as in the pure twin
    cdef Py_ssize_t _scan
    cdef bint _busy             # inside feed (a second thread must not share the buffer)

    def __cinit__(self):
        self._lmap = _default_lmap
        self._found = -1
        self._scan = -1

    def __init__(self, max_message_size=DEFAULT_MAX_MESSAGE_SIZE, resync="begin-string",
                 data_fields=None):
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
        self._start = self._end = 0
        self._found = self._scan = -1
        if data_fields:
            if not self._own_lmap:
                self._lmap = <int32_t*>PyMem_Malloc(TAG_TABLE * sizeof(int32_t))
                if self._lmap == NULL:
                    self._lmap = _default_lmap
                    raise MemoryError()
                self._own_lmap = True
            for i in range(TAG_TABLE):
                self._lmap[i] = -1
            self._lmap_big = False
            for length_tag, data_tag in merged.items():
                if length_tag < TAG_TABLE:
                    self._lmap[length_tag] = data_tag
                else:
                    self._lmap_big = True
        elif self._own_lmap:  # __init__ called again without extra data fields
            PyMem_Free(self._lmap)
            self._lmap = _default_lmap
            self._own_lmap = False
            self._lmap_big = False

    def __dealloc__(self):
        if self._own_lmap:
            PyMem_Free(self._lmap)
        if self._buf != NULL:
            PyMem_Free(self._buf)

    @property
    def max_message_size(self):
        """Largest frame accepted, in bytes."""
        return self._max

    @property
    def resync(self):
        """Recovery rule for a bad BodyLength: ``"begin-string"`` or ``"trailer"``."""
        return self._resync

    @property
    def data_fields(self):
        """Length tag -> data tag of every length-prefixed field the framer knows."""
        return dict(self._data_fields)

    @property
    def buffered(self):
        """Bytes held while waiting for the rest of a frame."""
        return self._end - self._start

    cdef inline int32_t _data_for(self, int32_t tag) except? -2:
        if 0 <= tag < TAG_TABLE:
            return self._lmap[tag]
        if self._lmap_big and tag > 0:
            return self._data_fields.get(tag, -1)
        return -1

    cdef int _append(self, const char* p, Py_ssize_t n) except -1:
        cdef Py_ssize_t held = self._end - self._start
        cdef Py_ssize_t cap
        cdef char* nb
        if self._cap - self._end < n:
            if self._start and held:
                memmove(self._buf, self._buf + self._start, <size_t>held)
            self._start = 0
            self._end = held
            if self._cap - held < n:
                cap = self._cap * 2
                if cap < held + n:
                    cap = held + n
                if cap < 4096:
                    cap = 4096
                nb = <char*>PyMem_Realloc(self._buf, <size_t>cap)
                if nb == NULL:
                    raise MemoryError()
                self._buf = nb
                self._cap = cap
        memcpy(self._buf + self._end, p, <size_t>n)
        self._end += n
        return 0

    def feed(self, data):
        """Add bytes from the stream; return every complete item, in order."""
        cdef Py_buffer view
        cdef bint have_view = False
        cdef const char* p
        cdef Py_ssize_t n, pos
        out = []
        if self._busy:
            raise RuntimeError("Parser.feed called while it is running (share a Parser by one thread)")
        if PyBytes_CheckExact(data):
            p = PyBytes_AS_STRING(data)
            n = PyBytes_GET_SIZE(data)
            whole = data
        else:
            PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
            have_view = True
            p = <const char*>view.buf
            n = view.len
            whole = None
        self._busy = True
        try:
            if self._end == self._start:
                # nothing pending: frame the caller's bytes in place, keep only the tail
                self._start = self._end = 0
                pos = self._run(p, n, out, whole)
                if pos < n:
                    self._append(p + pos, n - pos)
            else:
                self._append(p, n)
                pos = self._run(self._buf + self._start, self._end - self._start, out, None)
                self._start += pos
            if self._start == self._end:
                self._start = self._end = 0
                if self._cap > 262144:
                    PyMem_Free(self._buf)
                    self._buf = NULL
                    self._cap = 0
        finally:
            self._busy = False
            if have_view:
                PyBuffer_Release(&view)
        return out

    cdef Py_ssize_t _run(self, const char* buf, Py_ssize_t n, list out, object whole) except -1:
        """The pure twin's ``feed`` loop over buf[:n]; return the bytes consumed."""
        cdef Py_ssize_t pos = 0, used, nxt, keep
        cdef Py_ssize_t found = self._found, scan = self._scan
        self._found = self._scan = -1
        while pos < n:
            if n - pos >= 5 and memcmp(buf + pos, b"8=FIX", 5) == 0:
                if pos:
                    found = scan = -1
                item = self._frame(buf, pos, n, found, scan, whole, &used)
                if used == 0:
                    break
                if item is not None:
                    out.append(item)
                pos += used
                continue
            nxt = _find(buf, b"8=FIX", 5, pos + 1, n)
            if nxt < 0:
                keep = _prefix_start(buf, pos, n)
                if keep > pos:
                    out.append(_garbled(R_GARBAGE, buf, pos, keep))
                pos = keep
                break
            out.append(_garbled(R_GARBAGE, buf, pos, nxt))
            pos = nxt
        return pos

    cdef object _frame(self, const char* buf, Py_ssize_t start, Py_ssize_t n, Py_ssize_t found,
                       Py_ssize_t scan, object whole, Py_ssize_t* used):
        """Try to take one frame at ``start``; ``used[0]`` = bytes consumed, 0 = need more."""
        cdef Py_ssize_t soh, lsoh, i, body_start, trailer, avail, cend, end
        cdef int64_t length = 0
        cdef unsigned int cks
        cdef const char* c
        cdef Message msg
        used[0] = 0
        # BeginString(8): its SOH within the first 32 bytes
        soh = _find_byte(buf, 1, start + 5, n if n < start + 32 else start + 32)
        if soh < 0:
            if n - start >= 32:
                return self._drop(buf, start, n, R_BAD_BEGIN_STRING, used)
            return None
        if _find_byte(buf, 61, start + 2, soh) >= 0:
            # "8=FIX" inside garbage run into a real frame ("8=FIX34=8=FIX.4.4|...")
            return self._drop(buf, start, n, R_BAD_BEGIN_STRING, used)
        # BodyLength(9): second field, one to nine digits
        if n < soh + 3:
            return None
        if buf[soh + 1] != b'9' or buf[soh + 2] != b'=':
            return self._drop(buf, start, n, R_BAD_BODY_LENGTH, used)
        lsoh = _find_byte(buf, 1, soh + 3, n if n < soh + 13 else soh + 13)
        if lsoh < 0:
            if n - soh >= 13:
                return self._drop(buf, start, n, R_BAD_BODY_LENGTH, used)
            return None
        if lsoh == soh + 3:
            return self._drop(buf, start, n, R_BAD_BODY_LENGTH, used)
        for i in range(soh + 3, lsoh):
            if not (48 <= buf[i] <= 57):
                return self._drop(buf, start, n, R_BAD_BODY_LENGTH, used)
            length = length * 10 + (buf[i] - 48)
        body_start = lsoh + 1
        trailer = body_start + <Py_ssize_t>length
        if trailer + 7 - start > self._max:
            return self._drop(buf, start, n, R_OVERSIZE, used)
        # the trailer: <SOH>10=<at most 3 chars><SOH>, judged as soon as bytes arrive
        if n < trailer:
            return None
        if buf[trailer - 1] != 1:
            return self._bad_length(buf, start, n, trailer, found, scan, used)
        avail = n if n < trailer + 3 else trailer + 3
        if memcmp(buf + trailer, b"10=", <size_t>(avail - trailer)) != 0:
            return self._bad_length(buf, start, n, trailer, found, scan, used)
        if avail < trailer + 3:
            return None
        cend = _find_byte(buf, 1, trailer + 3, n if n < trailer + 7 else trailer + 7)
        if cend < 0:
            if n >= trailer + 7:
                return self._bad_length(buf, start, n, trailer, found, scan, used)
            return None
        end = cend + 1
        if end - body_start < 3 or memcmp(buf + body_start, b"35=", 3) != 0:
            return self._reject(buf, start, end, R_MSGTYPE_NOT_THIRD, used)
        c = buf + trailer + 3
        if cend - trailer != 6 or not (48 <= c[0] <= 57 and 48 <= c[1] <= 57 and 48 <= c[2] <= 57):
            return self._reject(buf, start, end, R_BAD_CHECKSUM, used)
        cks = (c[0] - 48) * 100 + (c[1] - 48) * 10 + (c[2] - 48)
        if cks != (_sum(buf + start, trailer - start) & 0xFF):
            return self._reject(buf, start, end, R_BAD_CHECKSUM, used)
        msg = Message.__new__(Message)
        if _split(msg, buf + start, end - start, self) < 0:
            return self._reject(buf, start, end, R_BAD_FIELD, used)
        if whole is not None and start == 0 and end == n:
            msg._frame = <bytes>whole
        else:
            msg._frame = PyBytes_FromStringAndSize(buf + start, end - start)
        msg.raw = msg._frame
        used[0] = end - start
        return msg

    cdef object _reject(self, const char* buf, Py_ssize_t start, Py_ssize_t end, object reason,
                        Py_ssize_t* used):
        """Drop a complete but bad frame (in "begin-string" mode only up to an inner ``8=FIX``)."""
        cdef Py_ssize_t nxt
        if not self._trailer_mode:
            nxt = _find(buf, b"8=FIX", 5, start + 1, end)
            if nxt >= 0:
                end = nxt
        used[0] = end - start
        return _garbled(reason, buf, start, end)

    cdef object _drop(self, const char* buf, Py_ssize_t start, Py_ssize_t n, object reason,
                      Py_ssize_t* used):
        """Drop from ``start`` to the next ``8=FIX`` (or all but a possible prefix)."""
        cdef Py_ssize_t nxt = _find(buf, b"8=FIX", 5, start + 1, n)
        cdef Py_ssize_t end
        if nxt >= 0:
            end = nxt
        else:
            end = n - 4 if n - 4 > start + 1 else start + 1
        used[0] = end - start
        return _garbled(reason, buf, start, end)

    cdef object _bad_length(self, const char* buf, Py_ssize_t start, Py_ssize_t n,
                            Py_ssize_t trailer, Py_ssize_t found, Py_ssize_t scan,
                            Py_ssize_t* used):
        """The trailer is not where BodyLength says: apply the resync rule."""
        cdef Py_ssize_t stop_at, frm, hit, stop
        if not self._trailer_mode:
            return self._drop(buf, start, n, R_BAD_BODY_LENGTH, used)
        # QuickFIX rule: the frame ends at the first <SOH>10=...<SOH> from trailer-1.
        stop_at = start + self._max
        if stop_at > n:
            stop_at = n
        if found < 0:
            frm = trailer - 1
            if scan >= 0 and start + scan > frm:
                frm = start + scan
            hit = _find(buf, b"\x0110=", 4, frm, stop_at)
            if hit < 0:
                if n - start >= self._max:
                    return self._drop(buf, start, n, R_OVERSIZE, used)
                self._scan = (trailer - 1 if trailer - 1 > n - 3 else n - 3) - start
                return None
            found = hit - start
            scan = -1
        frm = start + found + 4
        if scan >= 0 and start + scan > frm:
            frm = start + scan
        stop = _find_byte(buf, 1, frm, stop_at)
        if stop < 0:
            if n - start >= self._max:
                return self._drop(buf, start, n, R_OVERSIZE, used)
            self._found = found
            self._scan = found + 4 if found + 4 > n - start else n - start
            return None
        used[0] = stop + 1 - start
        return _garbled(R_BAD_BODY_LENGTH, buf, start, stop + 1)


cdef Parser _DECODER = Parser(_MAX_FRAME_LIMIT)


def decode(data):
    """Decode exactly one complete message; raise GarbledMessage if it is not one."""
    cdef Py_ssize_t used = 0, n
    cdef const char* p
    if PyBytes_CheckExact(data):
        p = PyBytes_AS_STRING(data)
        n = PyBytes_GET_SIZE(data)
        if n >= 5 and memcmp(p, b"8=FIX", 5) == 0:
            item = _DECODER._frame(p, 0, n, -1, -1, data, &used)
            if used == n and type(item) is Message:
                return item
    parser = Parser(max_message_size=min(max(len(data) + 1, 64), _MAX_FRAME_LIMIT))
    items = parser.feed(data)
    if len(items) == 1 and isinstance(items[0], Message) and parser.buffered == 0:
        return items[0]
    for item in items:
        if isinstance(item, GarbledMessage):
            raise item
    raise GarbledMessage(R_BAD_BODY_LENGTH, bytes(data))


# -- validation in one pass ----------------------------------------------------------
cdef enum:
    C_RULE_ANY = 1
    C_RULE_DIGITS = 2
    C_RULE_INT = 3
    C_RULE_DECIMAL = 4
    C_RULE_CHAR = 5
    C_RULE_TIMESTAMP = 6
    C_RULE_ENUM = 7
    C_RULE_CALL = 8
    C_RULE_GROUP = 9
    C_RULE_BYTE_ENUM = 10   # RULE_ENUM whose values are all one byte: a bitmap
    C_RULES_TAG_LIMIT = 65536
    C_SEEN_WORDS = 1024     # C_RULES_TAG_LIMIT bits

assert (RULE_ANY, RULE_DIGITS, RULE_INT, RULE_DECIMAL, RULE_CHAR, RULE_TIMESTAMP, RULE_ENUM,
        RULE_CALL, RULE_GROUP, RULES_TAG_LIMIT) == (1, 2, 3, 4, 5, 6, 7, 8, 9, 65536)


cdef inline bint _digits(const char* p, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i
    for i in range(n):
        if not (48 <= p[i] <= 57):
            return False
    return n > 0


cdef inline bint _two(const char* p, int lo, int hi) noexcept:
    """Two ASCII digits forming a number from lo to hi."""
    if not (48 <= p[0] <= 57 and 48 <= p[1] <= 57):
        return False
    cdef int v = (p[0] - 48) * 10 + (p[1] - 48)
    return lo <= v <= hi


cdef bint _rule_int(const char* p, Py_ssize_t n) noexcept:
    if n and p[0] == b'-':
        return _digits(p + 1, n - 1)
    return _digits(p, n)


cdef bint _rule_decimal(const char* p, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i = 0, whole = 0, frac = 0
    if n and p[0] == b'-':
        i = 1
    while i < n and 48 <= p[i] <= 57:
        i += 1
        whole += 1
    if i < n and p[i] == b'.':
        i += 1
        while i < n and 48 <= p[i] <= 57:
            i += 1
            frac += 1
    return i == n and (whole > 0 or frac > 0)


cdef bint _rule_timestamp(const char* p, Py_ssize_t n) noexcept:
    if n != 17 and not (19 <= n <= 27 and p[17] == b'.' and _digits(p + 18, n - 18)):
        return False
    return (_digits(p, 4) and _two(p + 4, 1, 12) and _two(p + 6, 1, 31) and p[8] == b'-'
            and _two(p + 9, 0, 23) and p[11] == b':' and _two(p + 12, 0, 59)
            and p[14] == b':' and _two(p + 15, 0, 60))


cdef class FieldRules:
    """The fields a message of one type may carry, checked in one pass over the message.

    See the pure twin (``fixengine._codec_py.FieldRules``) for the contract. Here the
    per-tag rules are C tables indexed by tag and the values are read in place.
    """

    cdef Py_ssize_t _size           # tags 1.._size-1 have table entries
    cdef uint8_t* _rule             # per tag: 0 (not allowed) or a C_RULE_*
    cdef uint8_t* _section
    cdef int32_t* _arg              # per tag: index into _args, or into _bits (byte enums)
    cdef list _args
    cdef uint64_t* _bits            # 4 words per one-byte enumeration
    cdef int32_t* _required
    cdef Py_ssize_t _nreq
    cdef bint _have_values
    cdef bint _strict

    def __dealloc__(self):
        PyMem_Free(self._rule)
        PyMem_Free(self._section)
        PyMem_Free(self._arg)
        PyMem_Free(self._bits)
        PyMem_Free(self._required)

    def __init__(self, entries, required, have_values=True, strict_order=True):
        cdef Py_ssize_t size = 1, nbits = 0, i
        cdef int rule
        cdef uint64_t* words
        items = list(entries.items())
        for tag, (section, rule_value, arg) in items:
            if rule_value not in _RULES:
                raise ValueError(f"unknown rule {rule_value!r} for tag {tag}")
            if not 0 <= section <= 2:
                raise ValueError(f"section of tag {tag} must be 0, 1 or 2, not {section!r}")
            if rule_value == RULE_CALL and not callable(arg):
                raise ValueError(f"RULE_CALL of tag {tag} needs a callable")
            if 0 < tag < C_RULES_TAG_LIMIT and tag >= size:
                size = tag + 1
        req = [t for t in frozenset(required)]
        PyMem_Free(self._rule)
        PyMem_Free(self._section)
        PyMem_Free(self._arg)
        PyMem_Free(self._bits)
        PyMem_Free(self._required)
        self._bits = NULL
        self._rule = <uint8_t*>PyMem_Malloc(size)
        self._section = <uint8_t*>PyMem_Malloc(size)
        self._arg = <int32_t*>PyMem_Malloc(size * sizeof(int32_t))
        self._required = <int32_t*>PyMem_Malloc((len(req) + 1) * sizeof(int32_t))
        if self._rule == NULL or self._section == NULL or self._arg == NULL or self._required == NULL:
            raise MemoryError()
        memset(self._rule, 0, size)
        self._size = size
        self._args = []
        enums = []
        for tag, (section, rule_value, arg) in items:
            if not 0 < tag < C_RULES_TAG_LIMIT:
                continue
            rule = rule_value
            self._arg[tag] = -1
            if rule == C_RULE_ENUM:
                values = frozenset(arg)
                if values and all(type(v) is bytes and len(v) == 1 for v in values):
                    rule = C_RULE_BYTE_ENUM
                    self._arg[tag] = len(enums)
                    enums.append(values)
                else:
                    self._arg[tag] = len(self._args)
                    self._args.append(values)
            elif rule == C_RULE_CALL:
                self._arg[tag] = len(self._args)
                self._args.append(arg)
            self._rule[tag] = <uint8_t>rule
            self._section[tag] = <uint8_t>section
        if enums:
            self._bits = <uint64_t*>PyMem_Malloc(len(enums) * 4 * sizeof(uint64_t))
            if self._bits == NULL:
                raise MemoryError()
            memset(self._bits, 0, len(enums) * 4 * sizeof(uint64_t))
            for i in range(len(enums)):
                words = self._bits + 4 * i
                for v in enums[i]:
                    rule = (<bytes>v)[0]
                    words[rule >> 6] |= (<uint64_t>1) << (rule & 63)
        self._nreq = 0
        for t in req:
            if type(t) is not int or not 0 < t < C_RULES_TAG_LIMIT:
                self._required[self._nreq] = 0  # can never be present: never certain
            else:
                self._required[self._nreq] = <int32_t>t
            self._nreq += 1
        self._have_values = bool(have_values)
        self._strict = bool(strict_order)

    def check(self, msg):
        """True when ``msg`` certainly passes (see the pure twin)."""
        cdef Message m
        cdef uint64_t seen[C_SEEN_WORDS]
        cdef Fld* f
        cdef Py_ssize_t i, n
        cdef int32_t tag
        cdef int section = 0, sec, rule
        cdef uint64_t bit
        cdef const char* p
        cdef uint64_t* words
        if type(msg) is not Message or self._rule == NULL:
            return False
        m = <Message>msg
        memset(seen, 0, ((self._size + 63) >> 6) * sizeof(uint64_t))
        f = m._flds()
        for i in range(m._n):
            tag = f[i].tag
            if tag <= 0 or tag >= self._size:
                return False
            rule = self._rule[tag]
            if rule == 0 or rule == C_RULE_GROUP:
                return False
            sec = self._section[tag]
            if sec < section:
                if self._strict:
                    return False
            else:
                section = sec
            bit = (<uint64_t>1) << (tag & 63)
            if seen[tag >> 6] & bit:
                return False
            seen[tag >> 6] |= bit
            n = f[i].len
            if n == 0:
                if self._have_values:
                    return False
                continue
            p = m._ptr(&f[i])
            if rule == C_RULE_ANY:
                continue
            elif rule == C_RULE_BYTE_ENUM:
                if n != 1:
                    return False
                words = self._bits + 4 * self._arg[tag]
                if not (words[(<uint8_t>p[0]) >> 6] >> ((<uint8_t>p[0]) & 63)) & 1:
                    return False
            elif rule == C_RULE_DIGITS:
                if not _digits(p, n):
                    return False
            elif rule == C_RULE_DECIMAL:
                if not _rule_decimal(p, n):
                    return False
            elif rule == C_RULE_INT:
                if not _rule_int(p, n):
                    return False
            elif rule == C_RULE_CHAR:
                if n != 1 or p[0] == 1:
                    return False
            elif rule == C_RULE_TIMESTAMP:
                if not _rule_timestamp(p, n):
                    return False
            elif rule == C_RULE_ENUM:
                if PyBytes_FromStringAndSize(p, n) not in <frozenset>self._args[self._arg[tag]]:
                    return False
            else:  # C_RULE_CALL
                if not self._args[self._arg[tag]](PyBytes_FromStringAndSize(p, n)):
                    return False
        for i in range(self._nreq):
            tag = self._required[i]
            if tag <= 0 or tag >= self._size or not (seen[tag >> 6] >> (tag & 63)) & 1:
                return False
        return True


# -- the session's header --------------------------------------------------------------
cdef int64_t C_LAST_SECOND = _LAST_SECOND
cdef double[10] _POW10_D = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]


cdef char* _put_second(char* w, int64_t secs) noexcept:
    """``YYYYMMDD-HH:MM:SS`` of epoch second ``secs`` (0 <= secs < year 10000)."""
    cdef int64_t days = secs // 86400, rem = secs % 86400
    cdef int64_t z = days + 719468
    cdef int64_t era = z // 146097
    cdef int64_t doe = z - era * 146097
    cdef int64_t yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    cdef int64_t year = yoe + era * 400
    cdef int64_t doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    cdef int64_t mp = (5 * doy + 2) // 153
    cdef int64_t day = doy - (153 * mp + 2) // 5 + 1
    cdef int64_t month = mp + 3 if mp < 10 else mp - 9
    if month <= 2:
        year += 1
    w = _put_uint(w, <uint64_t>year, 4)
    w = _put_uint(w, <uint64_t>month, 2)
    w = _put_uint(w, <uint64_t>day, 2)
    w[0] = b'-'
    w = _put_uint(w + 1, <uint64_t>(rem // 3600), 2)
    w[0] = b':'
    w = _put_uint(w + 1, <uint64_t>(rem % 3600 // 60), 2)
    w[0] = b':'
    return _put_uint(w + 1, <uint64_t>(rem % 60), 2)


# the last millisecond utc_timestamp_millis stamped and its text; the text of its second
cdef int64_t _millis_last = -1
cdef object _millis_text = None
cdef int64_t _millis_second = -1
cdef char _millis_head[17]


def utc_timestamp_millis(now):
    """``fixengine.fields.utc_timestamp_millis``: the UTCTimestamp of the millisecond
    nearest ``now`` (epoch seconds), in C for a float from 1970 to 9999 (the second's
    text kept, as SendingTime's); any other value goes to that function."""
    global _millis_last, _millis_text, _millis_second
    cdef double scaled, rounded
    cdef int64_t milli, second
    cdef char* w
    if type(now) is not float:
        return _fields.utc_timestamp_millis(now)
    scaled = <double>now * 1000.0
    # round(scaled) as Python rounds a float: to the nearest, ties to even
    rounded = c_round(scaled)
    if fabs(scaled - rounded) == 0.5:
        rounded = 2.0 * c_round(scaled / 2.0)
    if not (0.0 <= rounded < <double>C_LAST_SECOND * 1000.0):  # NaN fails too
        return _fields.utc_timestamp_millis(now)
    milli = <int64_t>rounded
    if milli == _millis_last:
        return _millis_text
    second = milli // 1000
    if second != _millis_second:
        _put_second(_millis_head, second)
        _millis_second = second
    out = PyBytes_FromStringAndSize(NULL, 21)
    w = PyBytes_AS_STRING(out)
    memcpy(w, _millis_head, 17)
    w[17] = b'.'
    _put_uint(w + 18, <uint64_t>(milli % 1000), 3)
    _millis_last = milli
    _millis_text = out
    return out


cdef class HeaderTemplate:
    """Writes whole messages with a session's standard header, in one call.

    See the pure twin (``fixengine._codec_py.HeaderTemplate``) for the contract. The
    output is sized first and written into one ``bytes`` object; the second of
    SendingTime is formatted once.
    """

    cdef bytes _begin
    cdef bytes _leading
    cdef bytes _trailing
    cdef frozenset _skip
    cdef uint8_t _skip_bit[TAG_TABLE]
    cdef int _precision
    cdef int64_t _second
    cdef char _second_text[17]

    def __init__(self, begin_string, leading, trailing, skip, precision=3):
        begin = bytes(begin_string)
        if not begin or b"\x01" in begin:
            raise LocalProtocolError(f"BeginString {begin!r} is empty or contains SOH")
        if precision not in (0, 3, 6, 9):
            raise ValueError(f"precision must be 0, 3, 6 or 9, not {precision!r}")
        self._begin = begin
        self._leading = _header_bytes(leading)
        self._trailing = _header_bytes(trailing)
        self._skip = frozenset(skip) | {8, 9, 10, 35}
        memset(self._skip_bit, 0, sizeof(self._skip_bit))
        for t in self._skip:
            if type(t) is int and 0 <= t < TAG_TABLE:
                self._skip_bit[<int>t] = 1
        self._precision = precision
        self._second = -1

    cdef object _stamp(self, object now, char* out, Py_ssize_t* length):
        """Write SendingTime into ``out`` (room for 32), its length into ``length[0]``
        and return None; or return it as bytes made the general way."""
        cdef double t
        cdef int64_t second, frac, top
        cdef int p = self._precision
        cdef char* w
        if type(now) is float or type(now) is int:
            t = now
            if 0.0 <= t < <double>C_LAST_SECOND:
                second = <int64_t>t
                if second != self._second:
                    _put_second(self._second_text, second)
                    self._second = second
                memcpy(out, self._second_text, 17)
                if p == 0:
                    length[0] = 17
                    return None
                top = <int64_t>_POW10_D[p]
                frac = <int64_t>((t - <double>second) * _POW10_D[p])
                if frac > top - 1:
                    frac = top - 1
                out[17] = b'.'
                w = _put_uint(out + 18, <uint64_t>frac, p)
                length[0] = w - out
                return None
        return format_sending_time(now, p)

    def sending_time(self, now):
        """SendingTime for ``now``: ``format_sending_time`` with this precision."""
        cdef char buf[32]
        cdef Py_ssize_t n = 0
        slow = self._stamp(now, buf, &n)
        if slow is not None:
            return slow
        return PyBytes_FromStringAndSize(buf, n)

    cdef inline bint _skipped(self, int32_t tag) except -1:
        if 0 <= tag < TAG_TABLE:
            return self._skip_bit[tag] != 0
        return tag in self._skip

    def encode(self, msg, msg_type, seq, now, orig_sending_time=None):
        """Wire bytes of ``msg`` as message ``seq`` of type ``msg_type`` sent at ``now``."""
        cdef Message m
        cdef char stamp_buf[32]
        cdef char seq_buf[24]
        cdef const char* stamp
        cdef Py_ssize_t stamp_n = 0, seq_n = 0, orig_n, content, total, i, mt_n
        cdef const char* seqp
        cdef const char* origp = NULL
        cdef long long v
        cdef int overflow = 0
        cdef Fld* f
        cdef char* w
        cdef char* start
        if type(msg) is not Message:
            raise TypeError(f"encode() needs a Message, not {type(msg).__name__}")
        m = <Message>msg
        if type(msg_type) is not bytes:
            msg_type = b"%b" % (msg_type,)
        mt_n = PyBytes_GET_SIZE(msg_type)
        seq_text = None
        if type(seq) is int:
            v = PyLong_AsLongLongAndOverflow(seq, &overflow)
            if not overflow:
                seq_n = _put_int(seq_buf, v) - seq_buf
                seqp = seq_buf
        if type(seq) is not int or overflow:
            seq_text = b"%d" % (seq,)
            seqp = PyBytes_AS_STRING(seq_text)
            seq_n = PyBytes_GET_SIZE(seq_text)
        slow = self._stamp(now, stamp_buf, &stamp_n)
        if slow is not None:
            stamp = PyBytes_AS_STRING(slow)
            stamp_n = PyBytes_GET_SIZE(slow)
        else:
            stamp = stamp_buf
        orig_n = -1
        if orig_sending_time is not None:
            if type(orig_sending_time) is not bytes:
                orig_sending_time = b"%b" % (orig_sending_time,)
            orig_n = PyBytes_GET_SIZE(orig_sending_time)
            origp = PyBytes_AS_STRING(orig_sending_time)
            if orig_n == 0:
                origp = stamp
                orig_n = stamp_n
        f = m._flds()
        content = (4 + mt_n + PyBytes_GET_SIZE(self._leading) + 4 + seq_n + 4 + stamp_n
                   + PyBytes_GET_SIZE(self._trailing))
        if orig_n >= 0:
            content += 5 + 5 + orig_n
        for i in range(m._n):
            if not self._skipped(f[i].tag):
                content += _int_len(f[i].tag) + 2 + f[i].len
        total = 2 + PyBytes_GET_SIZE(self._begin) + 3 + _ndigits(content) + 1 + content + 7
        out = PyBytes_FromStringAndSize(NULL, total)
        start = PyBytes_AS_STRING(out)
        w = start
        memcpy(w, b"8=", 2)
        memcpy(w + 2, PyBytes_AS_STRING(self._begin), PyBytes_GET_SIZE(self._begin))
        w += 2 + PyBytes_GET_SIZE(self._begin)
        memcpy(w, b"\x019=", 3)
        w = _put_uint(w + 3, <uint64_t>content, _ndigits(content))
        memcpy(w, b"\x0135=", 4)
        memcpy(w + 4, PyBytes_AS_STRING(msg_type), mt_n)
        w += 4 + mt_n
        w[0] = 1
        w += 1
        memcpy(w, PyBytes_AS_STRING(self._leading), PyBytes_GET_SIZE(self._leading))
        w += PyBytes_GET_SIZE(self._leading)
        memcpy(w, b"34=", 3)
        memcpy(w + 3, seqp, seq_n)
        w += 3 + seq_n
        w[0] = 1
        w += 1
        if orig_n >= 0:
            memcpy(w, b"43=Y\x01", 5)
            w += 5
        memcpy(w, b"52=", 3)
        memcpy(w + 3, stamp, stamp_n)
        w += 3 + stamp_n
        w[0] = 1
        w += 1
        if orig_n >= 0:
            memcpy(w, b"122=", 4)
            memcpy(w + 4, origp, orig_n)
            w += 4 + orig_n
            w[0] = 1
            w += 1
        memcpy(w, PyBytes_AS_STRING(self._trailing), PyBytes_GET_SIZE(self._trailing))
        w += PyBytes_GET_SIZE(self._trailing)
        w = _put_sections(w, m, self._skip_bit, self._skip)
        _put_checksum(start, w)
        return out
