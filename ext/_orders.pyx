# cython: language_level=3
"""The quick path of the order state machine in C (fixengine.orders.state's common reports).

Theory of operation
-------------------
:class:`QuickApply` is ``fixengine.orders._quick_py.QuickApply`` compiled with C
types: the fields come from one ``Message.pick``, the table lookups are direct
dict reads, the byte checks C comparisons, and the ASCII decodes C calls. The
arithmetic stays on Decimals (exact, as the pure twin); a number read lately is
found by comparing its bytes in a small memo rather than hashing them for the
Decimal cache (the wire bytes come fresh with every report). The order's attributes are
read and written straight in their slots, as the interpreter's own slot access
does: at the offsets of the order's type, taken from its slot descriptors and used
while the type's version tag says nothing in it changed (a type whose attributes
are not all plain slots goes through getattr/setattr). Any report that is not a
common acknowledgement or fill agreeing with its order returns None with nothing
changed, for the general path to decide; tests/test_orders_quick_twins.py checks
that both twins return the same and leave the order the same.

:func:`set_slots` is what the ``__init__`` of the frozen requests and updates
(``fixengine.orders.model.frozen_init``) stores their fields with: each slot's own
descriptor, called from C rather than as one Python call per field.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_Contains, PyDict_GetItem
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_DecodeASCII, PyUnicode_GET_LENGTH

cdef extern from "Python.h":
    bint PyUnicode_IS_COMPACT_ASCII(object text)
    void *PyUnicode_DATA(object text)
from libc.string cimport memcmp

from decimal import Decimal

cdef extern from *:
    """
    #include <structmember.h>

    /* The offset of the writable object slot ``name`` of instances of ``tp`` (what
       __slots__ makes), or -1 if ``name`` is anything else there. */
    static Py_ssize_t fe_slot_offset(PyTypeObject *tp, PyObject *name) {
        PyObject *descr = _PyType_Lookup(tp, name);  /* borrowed; no error set */
        PyMemberDef *member;
        if (descr == NULL || Py_TYPE(descr) != &PyMemberDescr_Type) {
            return -1;
        }
        member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type != T_OBJECT_EX || (member->flags & READONLY)) {
            return -1;
        }
        return member->offset;
    }

    /* Whether ``tp`` has a valid version tag equal to ``tag``: then nothing in it or
       its bases changed since the tag was read (any change clears the tag). */
    static int fe_type_unchanged(PyTypeObject *tp, unsigned int tag) {
        return (tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) && tp->tp_version_tag == tag;
    }

    static unsigned int fe_type_tag(PyTypeObject *tp) {
        return (tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) ? tp->tp_version_tag : 0;
    }

    static int fe_generic_attributes(PyTypeObject *tp) {
        return tp->tp_getattro == PyObject_GenericGetAttr
            && tp->tp_setattro == PyObject_GenericSetAttr;
    }

    /* getattr(obj, name), read straight from the slot at ``offset`` when it is >= 0 and
       set (an empty slot raises the AttributeError getattr would). */
    static PyObject *fe_get(PyObject *obj, Py_ssize_t offset, PyObject *name) {
        if (offset >= 0) {
            PyObject *value = *(PyObject **)((char *)obj + offset);
            if (value != NULL) {
                Py_INCREF(value);
                return value;
            }
        }
        return PyObject_GetAttr(obj, name);
    }

    /* setattr(obj, name, value), stored straight in the slot at ``offset`` when >= 0. */
    static int fe_set(PyObject *obj, Py_ssize_t offset, PyObject *name, PyObject *value) {
        if (offset >= 0) {
            PyObject **slot = (PyObject **)((char *)obj + offset);
            PyObject *old = *slot;
            Py_INCREF(value);
            *slot = value;
            Py_XDECREF(old);
            return 0;
        }
        return PyObject_SetAttr(obj, name, value);
    }

    /* cls.__new__(cls) for a class whose __new__ is object's. */
    static PyObject *fe_new_plain(PyObject *cls, PyObject *empty) {
        return ((PyTypeObject *)cls)->tp_new((PyTypeObject *)cls, empty, NULL);
    }

    static int fe_new_is_plain(PyObject *cls) {
        return PyType_Check(cls) && ((PyTypeObject *)cls)->tp_new == PyBaseObject_Type.tp_new;
    }

    /* descr.__set__(obj, value). A writable object slot of obj's own type is stored
       straight at its offset, as the slot descriptor's __set__ does after its checks
       (the same ones: a slot member of exactly obj's type, and a value to store). */
    static int fe_descr_set(PyObject *descr, PyObject *obj, PyObject *value) {
        descrsetfunc set;
        if (Py_TYPE(descr) == &PyMemberDescr_Type && value != NULL
                && PyDescr_TYPE(descr) == Py_TYPE(obj)) {
            PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
            if (member->type == T_OBJECT_EX && !(member->flags & READONLY)) {
                PyObject **slot = (PyObject **)((char *)obj + member->offset);
                PyObject *old = *slot;
                Py_INCREF(value);
                *slot = value;
                Py_XDECREF(old);
                return 0;
            }
        }
        set = Py_TYPE(descr)->tp_descr_set;
        if (set == NULL) {
            PyErr_SetString(PyExc_TypeError, "set_slots: not a data descriptor");
            return -1;
        }
        return set(descr, obj, value);
    }
    """
    int fe_descr_set(object descr, object obj, object value) except -1
    ctypedef struct PyTypeObject
    Py_ssize_t fe_slot_offset(PyTypeObject *tp, object name)
    bint fe_type_unchanged(PyTypeObject *tp, unsigned int tag)
    unsigned int fe_type_tag(PyTypeObject *tp)
    bint fe_generic_attributes(PyTypeObject *tp)
    object fe_get(object obj, Py_ssize_t offset, object name)
    int fe_set(object obj, Py_ssize_t offset, object name, object value) except -1
    object fe_new_plain(object cls, tuple empty)
    bint fe_new_is_plain(object cls)


def set_slots(obj, tuple descriptors, tuple values):
    """``descriptors[i].__set__(obj, values[i])`` for each field, in order."""
    cdef Py_ssize_t i, n = len(descriptors)
    if len(values) != n:
        raise ValueError(f"set_slots: {len(values)} values for {n} descriptors")
    for i in range(n):
        fe_descr_set(descriptors[i], obj, values[i])


cdef tuple _QUICK_TAGS = (
    35, 150, 20, 41, 19, 99, 103, 378, 39, 17, 11, 54, 40, 59, 1, 55, 37, 58, 60, 38, 44, 32,
    31, 14, 151, 6, 43, 97,
)
QUICK_TAGS = _QUICK_TAGS
cdef object _ZERO = Decimal(0)
# ExecIDs an order keeps in a tuple before they become its set
cdef Py_ssize_t _TUPLE_EXEC_IDS = 8
cdef object _ONE = Decimal(1)
cdef tuple _EMPTY = ()

# The order's attributes apply() reads and writes, by index into QuickApply._offsets.
cdef tuple _ORDER_NAMES = (
    "_pending", "cl_ord_id", "_exec_ids", "base_status", "side", "symbol", "order_id",
    "quantity", "_totals", "fills", "last_reported_status", "text", "updated_at",
)
cdef enum:
    O_PENDING = 0
    O_CL_ORD_ID = 1
    O_EXEC_IDS = 2
    O_BASE_STATUS = 3
    O_SIDE = 4
    O_SYMBOL = 5
    O_ORDER_ID = 6
    O_QUANTITY = 7
    O_TOTALS = 8
    O_FILLS = 9
    O_LAST_REPORTED = 10
    O_TEXT = 11
    O_UPDATED_AT = 12
    N_ORDER_NAMES = 13

# numbers read lately, by a hash of their bytes (a power of two)
cdef enum:
    MEMO_SLOTS = 64


cdef inline bint _given(object raw):
    """A value is there and not empty (the pure twin's truth test of bytes or None)."""
    if raw is None:
        return False
    if type(raw) is bytes:
        return PyBytes_GET_SIZE(raw) > 0
    return bool(raw)


cdef inline object _ascii(object raw):
    if type(raw) is bytes:
        return PyUnicode_DecodeASCII(PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw), NULL)
    return raw.decode("ascii")


cdef inline bint _ne(object a, object b) except -1:
    """``a != b``; for two str, compared in C."""
    if type(a) is str and type(b) is str:
        return (<str>a) != (<str>b)
    return a != b


cdef inline int _ascii_equals(object raw, object text):
    """``raw.decode("ascii") == text`` without decoding, for bytes ``raw`` and a str
    ``text`` of ASCII characters only (1 or 0: bytes that are not ASCII differ from
    it, as the decode would fail); -1 for anything else (then decode and compare)."""
    cdef Py_ssize_t n
    if type(raw) is not bytes or type(text) is not str or not PyUnicode_IS_COMPACT_ASCII(text):
        return -1
    n = PyBytes_GET_SIZE(raw)
    if PyUnicode_GET_LENGTH(text) != n:
        return 0
    return memcmp(PyBytes_AS_STRING(raw), PyUnicode_DATA(text), n) == 0


cdef inline bint _is_y(object raw):
    return type(raw) is bytes and PyBytes_GET_SIZE(raw) == 1 and PyBytes_AS_STRING(raw)[0] == b"Y"


cdef inline object _lookup(dict table, object key):
    """``table.get(key)``, for keys that hash without error (bytes or None)."""
    cdef PyObject *found = PyDict_GetItem(table, key)
    if found is NULL:
        return None
    return <object>found


cdef object _ulp(object value):
    """One unit in the last digit ``value`` is written with."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return _ONE.scaleb(exponent)


cdef tuple _constructor_slots(cls):
    """The slot descriptors of the dataclass ``cls`` when its ``__init__`` does nothing but
    store (exec_id, quantity, price, time, transact_time, corrected_by=None) in them;
    else None (then ``cls(...)`` is called)."""
    import dataclasses

    names = ("exec_id", "quantity", "price", "time", "transact_time", "corrected_by")
    if not isinstance(cls, type) or not dataclasses.is_dataclass(cls):
        return None
    fields = dataclasses.fields(cls)
    if tuple(f.name for f in fields) != names or hasattr(cls, "__post_init__"):
        return None
    if fields[5].default is not None:
        return None
    descriptors = tuple(cls.__dict__.get(name) for name in names)
    if any(type(d).__name__ != "member_descriptor" for d in descriptors):
        return None
    return descriptors


cdef class QuickApply:
    """See ``fixengine.orders._quick_py.QuickApply``: same constructor, same :meth:`apply`."""

    cdef dict _events, _statuses, _sides, _ord_types, _time_in_forces, _decimals
    cdef object _pending_new, _new, _partially_filled, _filled, _wire_decimal, _fill
    cdef object _trade, _new_event
    cdef readonly tuple _fill_slots  # Fill's slot descriptors, in its constructor's order; or None
    cdef bint _fill_plain  # Fill's __new__ is object's
    # where the attributes of _ORDER_NAMES are in an order of type _layout_type (-1: read
    # and written through getattr/setattr), valid while the type's version tag is _layout_tag
    cdef Py_ssize_t _offsets[N_ORDER_NAMES]
    cdef object _layout_type
    cdef unsigned int _layout_tag
    # the last number each slot saw (bytes of two or more characters, whose hash the
    # cache lookup would compute anew for every report) and its Decimal
    cdef list _memo_raw, _memo_value

    def __init__(
        self,
        dict events,
        dict statuses,
        dict sides,
        dict ord_types,
        dict time_in_forces,
        pending_new,
        new,
        partially_filled,
        filled,
        dict decimals,
        wire_decimal,
        fill,
    ):
        self._events = events
        self._statuses = statuses
        self._sides = sides
        self._ord_types = ord_types
        self._time_in_forces = time_in_forces
        self._pending_new = pending_new
        self._new = new
        self._partially_filled = partially_filled
        self._filled = filled
        self._decimals = decimals
        self._wire_decimal = wire_decimal
        self._fill = fill
        # a slotted Fill whose constructor only stores its fields is made from C
        self._fill_slots = _constructor_slots(fill)
        self._fill_plain = self._fill_slots is not None and fe_new_is_plain(fill)
        self._layout_type = None
        self._layout_tag = 0
        self._memo_raw = [None] * MEMO_SLOTS
        self._memo_value = [None] * MEMO_SLOTS
        cdef Py_ssize_t i
        for i in range(N_ORDER_NAMES):
            self._offsets[i] = -1
        self._new_event = events[b"0"]
        self._trade = next(e for e in events.values() if e is not self._new_event)

    cdef void _layout(self, object order) except *:
        """Make ``_offsets`` those of ``type(order)``: the slots' offsets when every name is
        a plain slot of a type with the usual attribute access and an unchanged version
        tag, else -1 (getattr/setattr, as the pure twin)."""
        cdef object cls = type(order)
        cdef PyTypeObject *tp = <PyTypeObject *>cls
        cdef Py_ssize_t i
        if cls is self._layout_type and fe_type_unchanged(tp, self._layout_tag):
            return
        cdef bint plain = fe_generic_attributes(tp)
        for i in range(N_ORDER_NAMES):
            self._offsets[i] = fe_slot_offset(tp, _ORDER_NAMES[i]) if plain else -1
            if self._offsets[i] < 0:
                plain = False
        cdef unsigned int tag = fe_type_tag(tp)  # the lookups above gave it one, if it can have one
        if not plain or tag == 0:
            for i in range(N_ORDER_NAMES):
                self._offsets[i] = -1
            self._layout_type = None
            return
        self._layout_type = cls
        self._layout_tag = tag

    cdef inline object _get(self, object order, int i):
        return fe_get(order, self._offsets[i], <object>_ORDER_NAMES[i])

    cdef inline int _set(self, object order, int i, object value) except -1:
        return fe_set(order, self._offsets[i], <object>_ORDER_NAMES[i], value)

    cdef inline object _decimal(self, object raw):
        """The cached Decimal of ``raw``, else ``wire_decimal(raw)`` (ValueError if bad).

        A number of two or more characters seen lately comes from the memo: the bytes
        compared, not hashed (a Decimal is immutable: the one read before is as good)."""
        cdef Py_ssize_t n, slot
        cdef const unsigned char *text
        cdef object seen, value
        cdef PyObject *found
        if type(raw) is bytes:
            n = PyBytes_GET_SIZE(raw)
            if n > 1:
                text = <const unsigned char *>PyBytes_AS_STRING(raw)
                slot = (n * 31 + text[0] * 7 + text[n - 1]) & (MEMO_SLOTS - 1)
                seen = self._memo_raw[slot]
                if (
                    seen is not None
                    and PyBytes_GET_SIZE(seen) == n
                    and memcmp(PyBytes_AS_STRING(seen), text, n) == 0
                ):
                    return self._memo_value[slot]
                found = PyDict_GetItem(self._decimals, raw)
                value = <object>found if found is not NULL else self._wire_decimal(raw)
                self._memo_raw[slot] = raw
                self._memo_value[slot] = value
                return value
        found = PyDict_GetItem(self._decimals, raw)
        if found is not NULL:
            return <object>found
        return self._wire_decimal(raw)

    cdef inline void _check(self, object raw) except *:
        """Parse ``raw`` as the general path would, unless already cached (ValueError if bad)."""
        if _given(raw):
            self._decimal(raw)

    def apply(self, by_cl_ord_id, by_order_id, msg, now):
        """Apply ``msg`` to its order if it is a common report that fits; see the pure twin."""
        cdef tuple fields = msg.pick(_QUICK_TAGS)
        if len(fields) != 28:
            raise ValueError("Message.pick returned the wrong number of fields")
        cdef object msg_type = fields[0]
        cdef object event = _lookup(self._events, fields[1])
        if event is None:
            return None
        if not (type(msg_type) is bytes and PyBytes_GET_SIZE(msg_type) == 1
                and PyBytes_AS_STRING(msg_type)[0] == b"8"):
            if msg_type != b"8":
                return None
        cdef Py_ssize_t i
        for i in range(2, 8):
            if _given(fields[i]):
                return None
        cdef object reported = _lookup(self._statuses, fields[8])
        cdef object raw_exec_id = fields[9]
        cdef object raw_cl = fields[10]
        if reported is None or not _given(raw_exec_id) or not _given(raw_cl):
            return None
        cdef object raw_side = fields[11]
        cdef object raw_ord_type = fields[12]
        cdef object raw_tif = fields[13]
        cdef object raw_account = fields[14]
        cdef object raw_symbol = fields[15]
        cdef object raw_order_id = fields[16]
        cdef object raw_text = fields[17]
        cdef object raw_transact_time = fields[18]
        cdef object raw_qty = fields[19]
        cdef object raw_px = fields[20]
        cdef object raw_last_qty = fields[21]
        cdef object raw_last_px = fields[22]
        cdef object raw_cum = fields[23]
        cdef object raw_leaves = fields[24]
        cdef object raw_avg_px = fields[25]
        cdef object pending_new = self._pending_new
        cdef object new = self._new
        cdef object filled = self._filled
        cdef object cl, order, exec_id, base, order_id, text, transact_time, quantity
        cdef object cum, notional, totals, last_qty = None, last_px = None, status
        cdef object avg_px, exact, symbol, known
        cdef int same
        cdef tuple values
        cdef bint by_qty
        try:
            cl = _ascii(raw_cl)
            if type(by_cl_ord_id) is dict:
                order = _lookup(<dict>by_cl_ord_id, cl)
            else:
                order = by_cl_ord_id.get(cl)
            if order is None:
                return None
            self._layout(order)
            if self._get(order, O_PENDING) or _ne(self._get(order, O_CL_ORD_ID), cl):
                return None
            exec_id = _ascii(raw_exec_id)
            if exec_id in self._get(order, O_EXEC_IDS):
                return None  # a duplicate: the general path says so
            base = self._get(order, O_BASE_STATUS)
            if event is self._new_event:
                if base is pending_new:
                    by_qty = True
                elif base is new:
                    by_qty = False
                else:
                    return None
            elif base is pending_new or base is new or base is self._partially_filled:
                by_qty = True
            else:
                return None
            if _given(raw_side) and _lookup(self._sides, raw_side) is not self._get(order, O_SIDE):
                return None
            if _given(raw_ord_type) and not PyDict_Contains(self._ord_types, raw_ord_type):
                return None
            if _given(raw_tif) and not PyDict_Contains(self._time_in_forces, raw_tif):
                return None
            if _given(raw_account) and not raw_account.isascii():
                return None
            if _given(raw_symbol):
                symbol = self._get(order, O_SYMBOL)
                same = _ascii_equals(raw_symbol, symbol)
                if same == 0 or (same < 0 and _ne(_ascii(raw_symbol), symbol)):
                    return None
            order_id = None
            if _given(raw_order_id):
                known = self._get(order, O_ORDER_ID)
                if known is not None and _ascii_equals(raw_order_id, known) == 1:
                    order_id = known  # the same text: the order keeps its str
                else:
                    order_id = _ascii(raw_order_id)
                    if order_id != "NONE" and known is not None and _ne(order_id, known):
                        return None
            text = _ascii(raw_text) if _given(raw_text) else None
            transact_time = _ascii(raw_transact_time) if _given(raw_transact_time) else None
            quantity = self._get(order, O_QUANTITY)
            if _given(raw_qty) and self._decimal(raw_qty) != quantity:
                return None
            self._check(raw_px)
            totals = self._get(order, O_TOTALS)
            if not totals:
                totals = order._sums()
            cum, notional = totals
            if event is self._trade:
                if not _given(raw_last_qty):
                    return None
                last_qty = self._decimal(raw_last_qty)
                if not _given(raw_last_px):
                    return None
                last_px = self._decimal(raw_last_px)
                if last_qty <= _ZERO:  # a Decimal: no int to convert
                    return None
                cum = cum + last_qty
                notional = notional + last_qty * last_px
                if cum > quantity:
                    return None
            else:
                self._check(raw_last_qty)
                self._check(raw_last_px)
            if by_qty:
                if cum >= quantity:
                    status = filled
                elif cum > _ZERO:
                    status = self._partially_filled
                else:
                    status = new
            else:
                status = filled if cum >= quantity else base
            if reported is not status:
                return None
            if _given(raw_cum) and self._decimal(raw_cum) != cum:
                return None
            if _given(raw_leaves) and self._decimal(raw_leaves) != (
                _ZERO if status is filled else quantity - cum
            ):
                return None
            if _given(raw_avg_px):
                avg_px = self._decimal(raw_avg_px)
                if cum > _ZERO:
                    exact = notional / cum
                    if avg_px != exact and abs(avg_px - exact) >= _ulp(avg_px):
                        return None
        except ValueError:
            return None
        # the report fits: apply it as apply_execution_report does
        # a few ExecIDs stay a tuple, which the garbage collector stops tracking
        ids = self._get(order, O_EXEC_IDS)
        if type(ids) is tuple and len(<tuple>ids) < _TUPLE_EXEC_IDS:
            self._set(order, O_EXEC_IDS, <tuple>ids + (exec_id,))
        else:
            order.exec_ids.add(exec_id)
        self._set(order, O_LAST_REPORTED, reported)
        if order_id is not None and order_id != "NONE":
            self._set(order, O_ORDER_ID, order_id)
        cdef object fill = None
        cdef object fills
        if last_qty is not None:
            if self._fill_slots is not None:
                values = (exec_id, last_qty, last_px, now, transact_time, None)
                if self._fill_plain:
                    fill = fe_new_plain(self._fill, _EMPTY)
                else:
                    fill = self._fill.__new__(self._fill)
                for i in range(6):
                    fe_descr_set(self._fill_slots[i], fill, values[i])
            else:
                fill = self._fill(exec_id, last_qty, last_px, now, transact_time)
            fills = self._get(order, O_FILLS)
            fills.append(fill)
            self._set(order, O_TOTALS, (cum, notional))  # what add_fill adds up, done above
        self._set(order, O_BASE_STATUS, status)
        if text is not None:
            self._set(order, O_TEXT, text)
        self._set(order, O_UPDATED_AT, now)
        if by_order_id is not None:
            order_id = self._get(order, O_ORDER_ID)
            if order_id is not None:
                by_order_id[order_id] = order
        return order, event, base, fill, text, _is_y(fields[26]) or _is_y(fields[27])
