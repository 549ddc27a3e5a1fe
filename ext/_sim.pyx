# cython: language_level=3
"""The simulator's fast path in C (fixengine.sim._fast_py: orders filled on arrival).

Theory of operation
-------------------
:class:`FastPath` is ``fixengine.sim._fast_py.FastPath`` compiled with C types: the
same checks in the same order, on the same objects (the exchange, its matching engine
and report builder, the cached order shapes), so that both twins leave everything the
same and send the same reports. The engine's containers are C fields, the ClOrdID is
checked byte by byte and decoded in C, and TransactTime is cached by the millisecond
in C variables.
Anything that is not the common order filled whole on arrival returns False with
nothing changed. tests/test_sim_fast_orders.py runs both twins against the general
path and against each other.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.string cimport memcpy

cdef extern from "Python.h":
    void PyObject_GC_UnTrack(PyObject* op)
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    long long PyLong_AsLongLongAndOverflow(object o, int* overflow) except? -1

from decimal import Decimal

from fixengine.errors import FixError
from fixengine.codec import utc_timestamp_millis
from fixengine.sim.faults import FaultInjected
from fixengine.sim.reports import FAST_TAGS as _FAST_TAGS_PY
from fixengine.sim.reports import _fast_shapes as _FAST_SHAPES_PY
from fixengine.sim.reports import fast_shape

cdef tuple _FAST_TAGS = _FAST_TAGS_PY
FAST_TAGS = _FAST_TAGS
cdef dict _fast_shapes = _FAST_SHAPES_PY
cdef object _ZERO = Decimal(0)

def twin():
    """This module (the compiled twin)."""
    import sys

    return sys.modules[__name__]


# TransactTime with milliseconds, formatted in C by the codec
stamp = utc_timestamp_millis


def on_event(exchange, session, event):
    """``Exchange.on_event``, called after every event of every session: a fault injected
    on purpose is told (the exchange's ``notify``), anything else ignored."""
    if isinstance(event, FaultInjected):
        exchange._say(f"fault on {session.session_id}: {event.detail}")


def on_message(exchange, session, message):
    """``Exchange.on_message``: the exchange's fast path first (when on), else its
    general path."""
    if exchange.fast_orders:
        fast_path = exchange._fast_path
        if type(fast_path) is FastPath:
            if (<FastPath>fast_path)._fill(session, message):
                return
        elif fast_path.fill(session, message):
            return
    exchange._request(session, message)


cdef str _numbered(str head, object n):
    """``f"{head}{n}"`` for the next number of a counter, written in one buffer."""
    cdef char buf[160]
    cdef char digits[24]
    cdef Py_ssize_t hn, i, k = 0
    cdef int overflow = 0
    cdef long long v
    if type(n) is not int or not PyUnicode_IS_COMPACT_ASCII(head):
        return f"{head}{n}"
    hn = PyUnicode_GET_LENGTH(head)
    v = PyLong_AsLongLongAndOverflow(n, &overflow)
    if overflow or v < 0 or hn > 128:
        return f"{head}{n}"
    while True:
        digits[k] = <char>(48 + v % 10)
        k += 1
        v //= 10
        if v == 0:
            break
    memcpy(buf, PyUnicode_DATA(head), <size_t>hn)
    for i in range(k):
        buf[hn + i] = digits[k - 1 - i]
    return PyUnicode_DecodeASCII(buf, hn + k, NULL)


cdef object _report(laid, order_id, raw_cl, exec_id, transact_time):
    """A copy of a report laid for the order's shape, with this order's IDs and time."""
    report = laid.copy()
    put = report.set
    put(37, order_id)
    put(11, raw_cl)
    put(17, exec_id)
    put(60, transact_time)
    return report


cdef inline bint _plain_id(bytes raw):
    """A ClOrdID of printable ASCII but the space (0x21 to 0x7e), not empty."""
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(raw)
    cdef Py_ssize_t i, n = PyBytes_GET_SIZE(raw)
    if n == 0:
        return False
    for i in range(n):
        if p[i] < 0x21 or p[i] > 0x7E:
            return False
    return True


cdef class FastPath:
    """The fast path of one exchange, ``fixengine.sim._fast_py.FastPath`` in C."""

    cdef readonly object exchange
    cdef readonly dict fast
    cdef readonly object opened
    cdef readonly object engine
    cdef dict by_client
    cdef object immediate
    cdef dict books
    cdef dict filled
    cdef object done
    cdef object order_ids
    cdef object seqs
    cdef object match_ids
    cdef object _id_prefix  # the IdSource prefix _exec_head was made of
    cdef str _exec_head  # "E-<prefix>-"

    def __init__(self, exchange):
        self.exchange = exchange
        self.fast = exchange._fast
        self.opened = exchange._opened
        self._bind(exchange.engine)

    cdef int _bind(self, engine) except -1:
        self.engine = engine
        self.by_client = engine._by_client
        self.immediate = engine._immediate
        self.books = engine._books
        self.filled = engine._filled
        self.done = engine._done
        self.order_ids = engine._ids
        self.seqs = engine._seq
        self.match_ids = engine._match_ids
        return 0

    def fill(self, session, message):
        """Fill ``message`` whole on arrival and send its two reports, if it is the common
        NewOrderSingle that can end no other way; else False, nothing changed."""
        return self._fill(session, message) == 1

    cdef int _fill(self, session, message) except -1:
        cdef PyObject* found
        cdef tuple values = message.pick(_FAST_TAGS)
        cdef tuple plan, entry, sums, laid
        cdef bint buy
        found = PyDict_GetItem(_fast_shapes, values)
        if found != NULL:
            shape = <object>found
        else:
            shape = fast_shape(values)
            if shape is None:
                return 0
        exchange = self.exchange
        found = PyDict_GetItem(self.fast, session)
        if found != NULL:
            fast = <object>found
        else:
            fast = exchange._fast_entry(session)
            if fast is None:
                return 0
        raw_cl = message.get(11)
        if type(raw_cl) is not bytes or not _plain_id(<bytes>raw_cl):
            return 0
        cl_ord_id = PyUnicode_DecodeASCII(
            PyBytes_AS_STRING(raw_cl), PyBytes_GET_SIZE(raw_cl), NULL
        )
        plan = shape.plan
        symbol = plan[0]
        if symbol not in self.opened:
            return 0
        entry = fast
        owner = entry[0]
        reports = entry[1]
        send = entry[2]
        engine = exchange.engine
        if engine is not self.engine:
            self._bind(engine)
        key = (owner, cl_ord_id)
        PyObject_GC_UnTrack(<PyObject*>key)  # str and str: never part of a cycle
        if key in self.by_client or owner not in self.immediate:
            return 0
        found = PyDict_GetItem(self.books, symbol)
        if found == NULL:
            return 0
        book = <object>found
        if book._stops:
            return 0
        allowed = engine.symbols
        if allowed is not None and symbol not in allowed:
            return 0
        # the best price on the other side, if any
        buy = plan[1]
        if buy:
            opposite = book._prices[False]
            best = opposite[0] if opposite else None
        else:
            opposite = book._prices[True]
            best = opposite[len(opposite) - 1] if opposite else None
        if plan[2]:  # a market order
            if best is not None:
                return 0
            fill_px = engine.reference_prices.get(symbol)
            if fill_px is None:
                fill_px = book.last_price
                if fill_px is None:
                    return 0
        else:
            fill_px = plan[3]
            if best is not None and (best <= fill_px if buy else best >= fill_px):
                return 0
            if engine.tick_size is not None and engine._off_tick(symbol, fill_px) is not None:
                return 0
        now = exchange.clock()
        # what submit() works out, step for step: leaves = qty - 0, then cum and notional
        # grow from 0 (the same Decimal operations, so the same digits and exponents)
        quantity = plan[4]
        sums = engine._fill_sums
        if quantity is sums[0] and fill_px is sums[1]:
            cum = sums[2]
            notional = sums[3]
            avg = sums[4]
        else:
            qty = quantity - _ZERO
            cum = _ZERO + qty
            notional = _ZERO + qty * fill_px
            avg = notional / cum
            engine._fill_sums = (quantity, fill_px, cum, notional, avg)
        head = engine.order_id_prefix
        if type(head) is str:
            order_id = _numbered(<str>head, next(self.order_ids))
        else:
            order_id = f"{head}{next(self.order_ids)}"
        record = (
            owner, cl_ord_id, symbol, plan[5], quantity, plan[3], plan[6], next(self.seqs), cum,
            notional,
        )
        PyObject_GC_UnTrack(<PyObject*>record)  # str, int, Decimal and None only
        self.filled[order_id] = record
        self.by_client[key] = order_id
        done = self.done
        done.append(order_id)
        if len(done) > engine.max_done:
            engine._forget()
        next(self.match_ids)
        book.last_price = fill_px
        stats = exchange.stats
        stats.orders += 1
        stats.trades += 1
        stats.executions += 1
        # the reports: copies of the pair last laid for the shape, one timestamp for both
        found = PyDict_GetItem(entry[3], shape)
        if found != NULL:
            laid = <tuple>found
        if found == NULL or laid[0] is not fill_px or laid[1] is not avg:
            laid = reports._relay(shape, fill_px, avg)
        transact_time = stamp(now)
        ids = reports.ids
        prefix = ids.prefix
        execs = ids._execs
        if prefix is not self._id_prefix or self._exec_head is None:
            self._exec_head = f"E-{prefix}-"
            self._id_prefix = prefix
        head = self._exec_head
        new = _report(laid[4], order_id, raw_cl, _numbered(head, next(execs)), transact_time)
        fill = _report(laid[5], order_id, raw_cl, _numbered(head, next(execs)), transact_time)
        for report in (new, fill):
            try:
                send(report)
            except FixError as exc:
                exchange._not_sent(owner, exc)
        return 1
