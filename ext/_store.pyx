# cython: language_level=3
"""The file store's per-message work in C (twin: ``fixengine.session.store_file._PyFileStore``).

Theory of operation
-------------------
:class:`FileStoreCore` is the base of the compiled ``FileStore``: it holds the
state that ``save_sent``, ``set_next_target_seq`` and ``flush`` touch on every
message as C fields (the Python methods of the store read and write the same
fields as attributes), and implements those methods for the common case:

* ``save_sent`` of bytes with a MsgSeqNum below 2**63: the ``M`` record's head,
  CRC-32 included, is written in one pass and held with the data, as the Python
  method holds them;
* ``flush`` with the fsync policy ``"never"``, the log mapped and a batch of up to
  ``_MAP_PIECES`` pieces within the mapping: each piece is copied into the mapping in
  log order (what the Python method does by slice assignment), then the latest
  target MsgSeqNum is packed, CRC-32 included, into its slot in the mapped
  ``seqnums`` file.

Anything else - another fsync policy, a store not mapped, a batch that needs the
log to grow, odd arguments, a closed store - is handed to the pure-Python method of
the same name (set by :func:`set_fallback`), so errors and the rare paths are
written once. The bytes written are the same either way; the tests compare the
files both produce.
"""

from cpython.buffer cimport PyBUF_WRITABLE, PyBuffer_Release, PyObject_CheckBuffer, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy

cdef extern from *:
    """
    #include <stdint.h>
    /* CRC-32 (IEEE 802.3, reflected, as zlib.crc32), eight bytes a step */
    static uint32_t _fs_table[8][256];
    static void _fs_init(void) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            _fs_table[0][i] = c;
        }
        for (uint32_t i = 0; i < 256; i++)
            for (int t = 1; t < 8; t++)
                _fs_table[t][i] = (_fs_table[t - 1][i] >> 8) ^ _fs_table[0][_fs_table[t - 1][i] & 0xff];
    }
    static uint32_t _fs_crc32(uint32_t crc, const unsigned char *p, Py_ssize_t n) {
        crc = ~crc;
        while (n >= 8) {
            uint32_t a = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
            crc = _fs_table[7][a & 0xff] ^ _fs_table[6][(a >> 8) & 0xff]
                ^ _fs_table[5][(a >> 16) & 0xff] ^ _fs_table[4][a >> 24]
                ^ _fs_table[3][p[4]] ^ _fs_table[2][p[5]] ^ _fs_table[1][p[6]] ^ _fs_table[0][p[7]];
            p += 8;
            n -= 8;
        }
        while (n-- > 0) crc = _fs_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        return ~crc;
    }
    static void _fs_u32(unsigned char *p, uint32_t v) {
        p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
        p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
    }
    static void _fs_u64(unsigned char *p, uint64_t v) {
        _fs_u32(p, (uint32_t)v);
        _fs_u32(p + 4, (uint32_t)(v >> 32));
    }
    """
    void _fs_init()
    uint32_t _fs_crc32(uint32_t crc, const unsigned char *p, Py_ssize_t n)
    void _fs_u32(unsigned char *p, uint32_t v)
    void _fs_u64(unsigned char *p, uint64_t v)

_fs_init()

# the record and slot layouts and limits of fixengine.session.store_file
cdef enum:
    _REC_HEAD_SIZE = 10  # magic(2) length(4) crc32(4)
    _SEQ_BODY_SIZE = 9  # kind(1) seq(8)
    _SLOT_BODY_SIZE = 24  # counter, token, target seq: 3 x u64
    _HOLD_BYTES = 256 * 1024
    _MAP_PIECES = 32
    _SLOT_SECOND = 4096  # offset of the second slot

cdef object _fallback = None  # the pure-Python store class


def set_fallback(cls):
    """The class whose methods take every case the compiled ones leave."""
    global _fallback
    _fallback = cls


def crc32(data, unsigned int value=0):
    """``zlib.crc32(data, value)`` for bytes (what the records use; for the tests)."""
    cdef bytes b = bytes(data)
    return _fs_crc32(value, <const unsigned char *>PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))


cdef inline long long _small(object n):
    """``n`` if it is an int in [1, 2**63), else -1."""
    cdef int overflow = 0
    cdef long long v
    if type(n) is not int:
        return -1
    v = PyLong_AsLongLongAndOverflow(n, &overflow)
    return -1 if overflow or v < 1 else v


cdef class FileStoreCore:
    """Fields and per-message methods of the compiled ``FileStore`` (see the module doc)."""

    cdef public int _log_fd
    cdef public int _seq_fd
    cdef public list _held
    cdef public dict _index
    cdef public long long _end
    cdef public long long _held_at
    cdef public long long _alloc_end
    cdef public object _sender
    cdef public object _target
    cdef public object _slot_counter
    cdef public object _token
    cdef public bint _target_held
    cdef public bint _map_files
    cdef public object _log_map
    cdef public object _slots
    cdef public object fsync_policy

    def __cinit__(self, *args, **kwargs):
        self._log_fd = -1
        self._seq_fd = -1
        self._held = []
        self._index = {}

    def save_sent(self, seq, data):
        """Hold an ``M`` record (written by the next ``flush``) and index it."""
        cdef long long s = _small(seq)
        if s < 0 or type(data) is not bytes or self._log_fd < 0:
            return _fallback.save_sent(self, seq, data)
        cdef Py_ssize_t size = PyBytes_GET_SIZE(data)
        cdef long long n = size + _SEQ_BODY_SIZE
        if n > 0xFFFFFFFF:
            return _fallback.save_sent(self, seq, data)
        cdef bytes head = PyBytes_FromStringAndSize(NULL, _REC_HEAD_SIZE + _SEQ_BODY_SIZE)
        cdef unsigned char *h = <unsigned char *>PyBytes_AS_STRING(head)
        h[0] = 0xF1
        h[1] = 0x58
        _fs_u32(h + 2, <uint32_t>n)
        h[10] = 77  # b"M"
        _fs_u64(h + 11, <uint64_t>s)
        # the CRC covers the length and the body: h[2:6], then h[10:19], then the data
        cdef uint32_t crc = _fs_crc32(0, h + 2, 4)
        crc = _fs_crc32(crc, h + 10, _SEQ_BODY_SIZE)
        crc = _fs_crc32(crc, <const unsigned char *>PyBytes_AS_STRING(data), size)
        _fs_u32(h + 6, crc)
        self._held.append(head)
        self._held.append(data)
        cdef long long start = self._end
        cdef long long whole = n + _REC_HEAD_SIZE
        self._end = start + whole
        self._index[seq] = (start, whole)
        self._sender = seq + 1
        if self._end - self._held_at > _HOLD_BYTES:
            self._flush_log()

    def set_next_target_seq(self, seq):
        """Remember the value; the next ``flush`` writes the latest one to a slot."""
        if _small(seq) < 0 or self._log_fd < 0:
            return _fallback.set_next_target_seq(self, seq)
        self._target = seq
        self._target_held = True

    def flush(self):
        """Write what is held: the records, then the target slot (see the module doc)."""
        cdef bint never = self.fsync_policy == "never"
        if self._held:
            if not (never and self._map_held()):
                self._flush_log()
        if self._target_held:
            if not (never and self._slot_target()):
                self._flush_target()

    cdef bint _map_held(self) except -1:
        """Copy the held records into the log's mapping; False: the Python path must."""
        cdef list held = self._held
        cdef Py_ssize_t pieces = len(held)
        cdef long long start = self._held_at
        cdef long long end = self._end
        if not self._map_files or self._log_map is None or pieces > _MAP_PIECES:
            return False
        if not PyObject_CheckBuffer(self._log_map):
            return False  # not an mmap: the Python path copies by slice assignment
        if end > self._alloc_end or len(self._log_map) < end:
            return False
        cdef Py_buffer view
        PyObject_GetBuffer(self._log_map, &view, PyBUF_WRITABLE)
        cdef char *base = <char *>view.buf
        cdef long long pos = start
        cdef Py_ssize_t i, n
        cdef object piece
        try:
            for i in range(pieces):
                piece = held[i]
                if type(piece) is not bytes:
                    return False  # nothing copied can be wrong: the Python path redoes it
                n = PyBytes_GET_SIZE(piece)
                if pos + n > end:
                    return False
                memcpy(base + pos, PyBytes_AS_STRING(piece), n)
                pos += n
        finally:
            PyBuffer_Release(&view)
        if pos != end:
            return False
        held.clear()
        self._held_at = end
        return True

    cdef bint _slot_target(self) except -1:
        """Pack the latest target seq into the next slot of the mapped ``seqnums``."""
        if self._log_fd < 0 or self._slots is None or not PyObject_CheckBuffer(self._slots):
            return False
        cdef long long counter = _small(self._slot_counter + 1)
        cdef long long token = _small(self._token)
        cdef long long target = _small(self._target)
        if counter < 0 or token < 0 or target < 0:
            return False
        cdef unsigned char slot[_SLOT_BODY_SIZE + 4]
        _fs_u64(slot, <uint64_t>counter)
        _fs_u64(slot + 8, <uint64_t>token)
        _fs_u64(slot + 16, <uint64_t>target)
        _fs_u32(slot + _SLOT_BODY_SIZE, _fs_crc32(0, slot, _SLOT_BODY_SIZE))
        cdef Py_buffer view
        PyObject_GetBuffer(self._slots, &view, PyBUF_WRITABLE)
        try:
            if view.len < _SLOT_SECOND + _SLOT_BODY_SIZE + 4:
                return False
            memcpy(<char *>view.buf + (_SLOT_SECOND if counter & 1 else 0), slot, _SLOT_BODY_SIZE + 4)
        finally:
            PyBuffer_Release(&view)
        self._slot_counter = counter
        self._target_held = False
        return True
