# cython: language_level=3
"""Message-log hooks in C: log lines (fixengine.log) and message counts (fixengine.metrics).

Theory of operation
-------------------
:class:`LineFormat` formats the common message of a message log: only printable
ASCII without quote or backslash, plus SOH, and no field whose tag is masked. One
loop over the bytes checks that, finds the first ``<SOH>34=`` and ``<SOH>35=``
and notes each ``tag=`` (a maximal digit run followed by ``=``, as the masking
regex of :class:`fixengine.log._Masker` reads it); a second copies the message
into the line with SOH as ``|``. Any other message (a secret to mask, a byte JSON
escapes, a year outside 1000-9999) goes to ``general`` - the pure-Python
:class:`fixengine.log._LineFormat` - so both paths write the same bytes.

:func:`count_type` is the hot half of ``SessionMetrics.message_in/out``: it finds
MsgType as :func:`fixengine.metrics._msg_type` does and adds one to its count when
the type was seen before; a new type (labels are capped) is left to Python.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.object cimport PyObject
from libc.stdlib cimport free, malloc
from libc.string cimport memchr, memcpy
from libc.time cimport gmtime_r, time_t, tm
from posix.time cimport CLOCK_REALTIME, clock_gettime, timespec

cdef extern from *:
    """
    /* 1 when a byte of s needs JSON escaping: a control other than SOH, DEL,
       non-ASCII, quote or backslash (written to vectorize) */
    static int _fe_escaped(const unsigned char *s, Py_ssize_t n) {
        unsigned char bad = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            unsigned char c = s[i];
            bad |= (unsigned char)((unsigned char)(c - 32) >= 95 && c != 1);
            bad |= (unsigned char)(c == 34 || c == 92);
        }
        return bad != 0;
    }
    /* s with SOH written as '|' */
    static void _fe_copy(char *dst, const unsigned char *s, Py_ssize_t n) {
        for (Py_ssize_t i = 0; i < n; i++) {
            unsigned char c = s[i];
            dst[i] = (char)(c == 1 ? 124 : c);
        }
    }
    /* the value of n (<= 9) ASCII digits */
    static long long _fe_number(const unsigned char *s, Py_ssize_t n) {
        long long v = 0;
        for (Py_ssize_t i = 0; i < n; i++) v = v * 10 + (s[i] - 48);
        return v;
    }
    """
    bint _fe_escaped(const unsigned char *s, Py_ssize_t n) noexcept nogil
    void _fe_copy(char *dst, const unsigned char *s, Py_ssize_t n) noexcept nogil
    long long _fe_number(const unsigned char *s, Py_ssize_t n) noexcept nogil


cdef const char *_TIME = b'{"time": "'
cdef const char *_TYPE = b', "type": '
cdef const char *_MSG = b', "msg": "'


cdef inline char *_put(char *p, const char *src, Py_ssize_t n) noexcept:
    memcpy(p, src, n)
    return p + n


cdef inline char *_two(char *p, int v) noexcept:
    p[0] = <char>(48 + v // 10)
    p[1] = <char>(48 + v % 10)
    return p + 2


cdef class LineFormat:
    """The message lines of one log; ``general`` formats what this one does not."""

    cdef bytes _head_in
    cdef bytes _head_out
    cdef long long *_tags
    cdef Py_ssize_t _ntags
    cdef long long _lo, _hi  # the least and greatest masked tag (none: _lo > _hi)
    cdef object _general
    cdef long long _sec
    cdef char _stamp[20]  # "YYYY-MM-DDTHH:MM:SS"

    def __cinit__(self, bytes head_in, bytes head_out, tuple tags, object general):
        cdef Py_ssize_t i
        self._tags = <long long *>malloc(max(len(tags), 1) * sizeof(long long))
        if self._tags == NULL:
            raise MemoryError()
        for i in range(len(tags)):
            if not 0 < tags[i] < 1_000_000_000:
                raise ValueError(f"masked tag out of range: {tags[i]!r}")
            self._tags[i] = tags[i]
        self._ntags = len(tags)
        self._lo, self._hi = (min(tags), max(tags)) if tags else (1, 0)
        self._head_in = head_in
        self._head_out = head_out
        self._general = general
        self._sec = -1

    def __dealloc__(self):
        free(self._tags)

    def incoming(self, raw, ns):
        """The line (bytes, no newline) of a message received at ``ns`` (ns since the epoch)."""
        line = self._line_at(raw, ns, self._head_in)
        return line if line is not None else self._general.incoming(raw, ns)

    def outgoing(self, raw, ns):
        """The line of a message sent at ``ns``."""
        line = self._line_at(raw, ns, self._head_out)
        return line if line is not None else self._general.outgoing(raw, ns)

    cdef object _line_at(self, object raw, object ns, bytes head):
        # the compiled line when ``ns`` is an int that fits; None: the general format
        cdef int overflow = 0
        cdef long long when
        if type(ns) is not int:
            return None
        when = PyLong_AsLongLongAndOverflow(ns, &overflow)
        return None if overflow else self._line(raw, when, head)

    cdef bint _masked(self, long long tag) noexcept:
        cdef Py_ssize_t k
        for k in range(self._ntags):
            if self._tags[k] == tag:
                return True
        return False

    cdef bint _set_stamp(self, long long sec) noexcept:
        cdef time_t t = <time_t>sec
        cdef tm parts
        cdef int year
        if gmtime_r(&t, &parts) == NULL:
            return False
        year = parts.tm_year + 1900
        if not 1000 <= year <= 9999:
            return False
        cdef char *p = self._stamp
        p = _two(p, year // 100)
        p = _two(p, year % 100)
        p[0] = b'-'
        p = _two(p + 1, parts.tm_mon + 1)
        p[0] = b'-'
        p = _two(p + 1, parts.tm_mday)
        p[0] = b'T'
        p = _two(p + 1, parts.tm_hour)
        p[0] = b':'
        p = _two(p + 1, parts.tm_min)
        p[0] = b':'
        _two(p + 1, parts.tm_sec)
        self._sec = sec
        return True

    cdef object _line(self, object raw, long long ns, bytes head):
        """The line, or None when the message needs the general path."""
        if type(raw) is not bytes or ns < 0:
            return None
        cdef const unsigned char *s = <const unsigned char *>PyBytes_AS_STRING(raw)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(raw)
        if _fe_escaped(s, n):
            return None
        cdef Py_ssize_t i, j, seq_at = -1, seq_end = -1, typ_at = -1, typ_end = -1
        cdef long long tag
        cdef const unsigned char *q = <const unsigned char *>memchr(s, 61, n)
        # every tag: a maximal digit run before '=' (anywhere, as the masking regex
        # reads it); the first <SOH>34= and <SOH>35= give MsgSeqNum and MsgType
        while q != NULL:
            i = q - s
            j = i
            while j > 0 and 48 <= s[j - 1] <= 57:
                j -= 1
            if j < i:
                if i - j <= 9 and s[j] != 48:
                    tag = _fe_number(s + j, i - j)
                    if self._lo <= tag <= self._hi and self._masked(tag):
                        return None
                if i - j == 2 and j > 0 and s[j - 1] == 1 and s[j] == 51:
                    if s[j + 1] == 52 and seq_at < 0:
                        seq_at = i + 1
                    elif s[j + 1] == 53 and typ_at < 0:
                        typ_at = i + 1
            q = <const unsigned char *>memchr(q + 1, 61, n - i - 1)
        if seq_at >= 0:
            q = <const unsigned char *>memchr(s + seq_at, 1, n - seq_at)
            seq_end = n if q == NULL else q - s
        if typ_at >= 0:
            q = <const unsigned char *>memchr(s + typ_at, 1, n - typ_at)
            typ_end = n if q == NULL else q - s
        # MsgSeqNum as a JSON int (leading zeros dropped), or null when not all digits
        cdef bint seq_ok = seq_at >= 0 and 0 < seq_end - seq_at <= 4300  # log._MAX_SEQ_DIGITS
        if seq_ok:
            for i in range(seq_at, seq_end):
                if not 48 <= s[i] <= 57:
                    seq_ok = False
                    break
            if seq_ok:
                while seq_at < seq_end - 1 and s[seq_at] == 48:
                    seq_at += 1
        cdef long long sec = ns // 1_000_000_000
        if sec != self._sec and not self._set_stamp(sec):
            return None
        cdef long long us = ns // 1000 % 1_000_000
        cdef Py_ssize_t head_n = PyBytes_GET_SIZE(head)
        cdef Py_ssize_t size = (
            10 + 19 + 7 + head_n
            + (seq_end - seq_at if seq_ok else 4)
            + 10 + (typ_end - typ_at + 2 if typ_at >= 0 else 4)
            + 10 + n + 2
        )
        cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
        cdef char *p = PyBytes_AS_STRING(out)
        p = _put(p, _TIME, 10)
        p = _put(p, self._stamp, 19)
        p[0] = b'.'
        p = _two(p + 1, <int>(us // 10000))
        p = _two(p, <int>(us // 100 % 100))
        p = _two(p, <int>(us % 100))
        p = _put(p, PyBytes_AS_STRING(head), head_n)
        if seq_ok:
            p = _put(p, <const char *>s + seq_at, seq_end - seq_at)
        else:
            p = _put(p, b"null", 4)
        p = _put(p, _TYPE, 10)
        if typ_at >= 0:
            p[0] = b'"'
            p = _put(p + 1, <const char *>s + typ_at, typ_end - typ_at)
            p[0] = b'"'
            p += 1
        else:
            p = _put(p, b"null", 4)
        p = _put(p, _MSG, 10)
        _fe_copy(p, s, n)  # SOH as '|'
        p += n
        p[0] = b'"'
        p[1] = b'}'
        return out



cdef inline long long _now_ns() noexcept:
    """time.time_ns(): the same clock."""
    cdef timespec t
    clock_gettime(CLOCK_REALTIME, &t)
    return <long long>t.tv_sec * 1_000_000_000 + t.tv_nsec


cdef class Pending:
    """The message lines of a file log not written yet (twin of ``fixengine.log._Pending``).

    ``incoming(raw)`` / ``outgoing(raw)`` read the clock, format the line with
    ``line_format`` and keep it; once ``limit`` bytes are pending, or a line comes
    ``interval_ns`` or more after the last :meth:`take` (or the clock went back),
    they call ``write()``, which is to :meth:`take` the lines. After
    :meth:`close` lines are dropped.
    """

    cdef object _format
    cdef LineFormat _fast
    cdef list _lines
    cdef Py_ssize_t _size
    cdef long long _flushed_ns
    cdef public Py_ssize_t limit
    cdef public long long interval_ns
    cdef object _write
    cdef bint _closed

    def __cinit__(self, object line_format, Py_ssize_t limit, long long interval_ns, object write):
        self.line_format = line_format
        self._lines = []
        self._size = 0
        self._flushed_ns = _now_ns()
        self.limit = limit
        self.interval_ns = interval_ns
        self._write = write
        self._closed = False

    @property
    def line_format(self):
        """What formats the lines (``incoming/outgoing(raw, ns)``)."""
        return self._format

    @line_format.setter
    def line_format(self, value):
        self._format = value
        self._fast = value if type(value) is LineFormat else None

    def incoming(self, raw):
        """Keep the line of a message received now."""
        self._message(raw, True)

    def outgoing(self, raw):
        """Keep the line of a message sent now."""
        self._message(raw, False)

    cdef int _message(self, raw, bint incoming) except -1:
        if self._closed:
            return 0
        cdef long long ns = _now_ns()
        cdef object line = None
        if self._fast is not None:
            line = self._fast._line(
                raw, ns, self._fast._head_in if incoming else self._fast._head_out
            )
        if line is None:
            fmt = self._format
            line = fmt.incoming(raw, ns) if incoming else fmt.outgoing(raw, ns)
        self._keep(line, ns)
        return 0

    cdef int _keep(self, bytes line, long long ns) except -1:
        self._lines.append(line)
        self._size += PyBytes_GET_SIZE(line) + 1
        cdef long long since = ns - self._flushed_ns
        if self._size >= self.limit or not 0 <= since < self.interval_ns:
            self._write()
        return 0

    def take(self):
        """The pending lines (without newlines), in order; none are pending after."""
        cdef list lines = self._lines
        self._lines = []
        self._size = 0
        self._flushed_ns = _now_ns()
        return lines

    def close(self):
        """Drop the lines of later messages."""
        self._closed = True


cdef object _count(dict counts, object raw):
    """count_type() without the call."""
    if type(raw) is not bytes:
        return None
    cdef const unsigned char *s = <const unsigned char *>PyBytes_AS_STRING(raw)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(raw)
    cdef Py_ssize_t i, start = -1, end = -1, limit = min(n, 64)
    # raw.find(b"\x0135=", 0, 64)
    for i in range(limit - 3):
        if s[i] == 1 and s[i + 1] == 51 and s[i + 2] == 53 and s[i + 3] == 61:
            start = i + 4
            break
    cdef bytes key
    if start < 0:
        key = b"invalid"
    else:
        # raw[start : raw.find(b"\x01", start, start + 8)]: to the end but one if no SOH
        for i in range(start, min(start + 8, n)):
            if s[i] == 1:
                end = i
                break
        if end < 0:
            end = n - 1
        key = PyBytes_FromStringAndSize(<const char *>s + start, max(end - start, 0))
    cdef PyObject *count = PyDict_GetItem(counts, key)
    if count == NULL:
        return None
    counts[key] = <object>count + 1
    return key


def count_type(dict counts, raw):
    """Add one to ``counts[MsgType]`` and return the MsgType, if ``raw`` is bytes and
    its MsgType is already a key; else None (``counts`` unchanged)."""
    return _count(counts, raw)


cdef inline bint _admin(object key) noexcept:
    """MsgType 2, 3, 4 or j (they have families of their own)."""
    if PyBytes_GET_SIZE(key) != 1:
        return False
    cdef char c = PyBytes_AS_STRING(key)[0]
    return c == b'2' or c == b'3' or c == b'4' or c == b'j'


cdef Pending _bound_to_pending(object method, str name):
    """The Pending of which ``method`` is the method ``name`` (bound), else None: such a
    method is called without a Python call."""
    owner = getattr(method, "__self__", None)
    if type(owner) is Pending and getattr(method, "__name__", None) == name:
        return <Pending>owner
    return None


cdef class Counting:
    """``on_incoming/on_outgoing`` of a MetricsLog (twin of ``fixengine.metrics._Counting``).

    Counts the message by MsgType in ``counts_in``/``counts_out``; a MsgType not
    seen before, or one with a family of its own, also goes to
    ``rest(counts, direction, raw, msg_type or None)``; then the message goes to
    ``inner_in``/``inner_out`` (when not None).
    """

    cdef dict _in
    cdef dict _out
    cdef object _rest
    cdef object _inner_in
    cdef object _inner_out
    cdef Pending _pending_in  # the Pending whose incoming() _inner_in is, if it is one
    cdef Pending _pending_out

    def __cinit__(
        self, dict counts_in, dict counts_out, object rest, object inner_in, object inner_out
    ):
        self._in = counts_in
        self._out = counts_out
        self._rest = rest
        self._inner_in = inner_in
        self._inner_out = inner_out
        self._pending_in = _bound_to_pending(inner_in, "incoming")
        self._pending_out = _bound_to_pending(inner_out, "outgoing")

    def incoming(self, raw):
        """Count a message received, then pass it on."""
        cdef object key = _count(self._in, raw)
        if key is None or _admin(key):
            self._rest(self._in, "received", raw, key)
        if self._pending_in is not None:
            self._pending_in._message(raw, True)
        elif self._inner_in is not None:
            self._inner_in(raw)

    def outgoing(self, raw):
        """Count a message sent, then pass it on."""
        cdef object key = _count(self._out, raw)
        if key is None or _admin(key):
            self._rest(self._out, "sent", raw, key)
        if self._pending_out is not None:
            self._pending_out._message(raw, False)
        elif self._inner_out is not None:
            self._inner_out(raw)
