"""The durable file store (the default ``StoreType``).

Theory of operation
-------------------
One directory per session: ``<FileStorePath>/<session_dir_name(session_id)>/`` with

``messages.log``
    An append-only log. It starts with the 8-byte magic ``FIXSTOR1`` and a
    *header* record (creation time, a random period token, initial sender and
    target MsgSeqNums). Then, one record per call:

    * ``M`` - a sent message: ``seq`` + the wire bytes. Replaying it both indexes
      the message and sets next sender seq to ``seq + 1``, so ``save_sent`` is
      one record: after a crash the record is either whole (both effects) or
      torn (neither).
    * ``S`` - ``set_next_sender_seq``.

    Every record is ``magic(2) length(4) crc32(4) body``; the CRC covers the length
    and the body.

``seqnums``
    Next target MsgSeqNum, updated for nearly every incoming message, so it is kept
    out of the log: two fixed 28-byte slots (4 KiB apart) written alternately, each
    ``counter, period token, target seq, crc32``. Opening takes the valid slot with
    the highest counter whose token matches the log header; a torn slot write
    leaves the other slot, which holds the previous value. The file never grows
    (8 KiB), so there is nothing to compact.

``lock``
    ``flock``-ed while the store is open: a second process (or a second store
    object) for the same session fails with :class:`StoreLockedError` instead of
    interleaving writes. The kernel drops the lock when the process dies.

Writes are held until :meth:`FileStore.flush`. ``save_sent`` and
``set_next_sender_seq`` encode their record (CRC included) into a list of records
held in memory, and ``set_next_target_seq`` only remembers the value. ``flush``
appends the held records to the log, then writes the latest target seq into the
next slot (log first: after a crash between the two, the target seq is behind,
which makes the peer resend messages - never ahead of messages we answered).

Where overwriting a written block needs no new one (ext2/3/4, XFS, tmpfs) both
files are mapped shared, and a flush copies the records (up to ``_MAP_PIECES``
pieces; a larger batch takes one ``pwritev``) and the slot into the mappings:
no system call, and in the page cache at once, as after a ``pwrite``. Records are
copied one after the other in log order, so a kill in the middle of a copy damages
only the record being copied, with nothing valid after it: a torn tail, as a cut
``pwrite`` leaves. Everything mapped has been written before (the seqnums file at
open, the log's zeros ahead of its end), so no page fault has to allocate a block
(on a full copy-on-write file system that would be a ``SIGBUS`` instead of an
error; there ``pwritev``/``pwrite`` are used).

The session calls ``flush`` at the start of
``data_to_send()``, before any byte it queued can reach the peer, so one flush
covers every message of a batch. ``get_sent``, ``reset``, ``refresh`` and
``close`` flush first; more than ``_HOLD_BYTES`` held are flushed at once.

What is on disk when: once ``flush`` returns, every call before it is in the OS
page cache (and survives a killed process); ``fsync`` decides what survives an
OS crash. A process killed before a ``flush`` loses the calls held since the
previous one; none of their bytes has reached the peer, and the store reopens
with the sequence numbers of the last flush (a ``flush`` cut short by the kill
leaves a whole prefix of its records and a torn tail, handled below). A ``flush``
that fails (e.g. disk full) truncates what it wrote, keeps the records held for
the next ``flush`` and raises :class:`StoreError`, so nothing unwritten is sent.

Opening replays the log into an in-memory index ``seq -> (offset, length)``;
``get_sent`` reads the records back with ``pread`` and checks their CRC.
A bad record at the tail (a crash in the middle of an append) is truncated
away. A bad record followed by any valid record cannot come from a crash, so it
raises :class:`StoreCorruptError` naming the file and offset rather than
silently dropping acknowledged messages.

``reset`` writes a fresh log (header only, new token) to ``messages.log.tmp``,
fsyncs it, renames it over ``messages.log`` and fsyncs the directory: the rename
is the atomic switch to the new session period. Old ``seqnums`` slots carry the
old token and are ignored from then on. Creation and reset are always fsynced,
whatever the policy.

``save_sent``, ``set_next_target_seq`` and ``flush`` run compiled
(:mod:`fixengine._store`, built from ``ext/_store.pyx``) for the common case - the
fsync policy ``"never"``, the files mapped - and as written here for every other;
both write the same bytes, which the tests compare.

fsync policy: ``"always"`` - ``flush`` calls ``fdatasync`` on each file it wrote
before it returns; ``"batch"`` - a background thread syncs at most every
``batch_interval_ms`` while there are unsynced writes (an OS crash or power loss
can lose the flushes of the last interval); ``"never"`` - left to the OS (an OS
crash can lose any unsynced write; a killed process loses only what it had not
flushed).
"""

from __future__ import annotations

import fcntl
import mmap
import os
import secrets
import struct
import threading
import time
import zlib
from typing import TYPE_CHECKING

from ..extensions import compiled_subclass
from .store import (
    DEFAULT_BATCH_INTERVAL_MS,
    FSYNC_POLICIES,
    FsyncPolicy,
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    _check_seq,
    session_dir_name,
)

if TYPE_CHECKING:
    from .config import SessionID

__all__ = ["FileStore"]

FILE_MAGIC = b"FIXSTOR1"
REC_MAGIC = b"\xf1\x58"
_REC_HEAD = struct.Struct("<2sII")  # magic, body length, crc32(length + body)
_LEN = struct.Struct("<I")
_HEADER_BODY = struct.Struct("<cdQQQ")  # b"H", creation time, token, sender, target
_SEQ_BODY = struct.Struct("<cQ")  # b"M" + seq (+ data) / b"S" + seq
_CRC_HEAD = struct.Struct("<IcQ")  # what the CRC of an M/S record starts with: length, kind, seq
_SEQ_REC_HEAD = struct.Struct("<2sIIcQ")  # magic, length, crc, kind, seq: all but the data
_SEQ_BODY_SIZE = _SEQ_BODY.size
_REC_HEAD_SIZE = _REC_HEAD.size
_SLOT = struct.Struct("<QQQ")  # counter, token, target seq
_SLOT_CRC = struct.Struct("<I")
_SLOT_SIZE = _SLOT.size + _SLOT_CRC.size
_SLOT_WHOLE = struct.Struct("<QQQI")  # a slot with its crc32
_SLOT_OFFSETS = (0, 4096)
_SEQNUMS_SIZE = 8192
#: File systems on which overwriting a written block never allocates one, so a write
#: through a shared mapping cannot fail (SIGBUS) when the disk is full; on others
#: (copy-on-write: btrfs, ZFS, ...) the target slots are written with ``pwrite``.
_MAP_SAFE_FILESYSTEMS = frozenset({"ext2", "ext3", "ext4", "xfs", "tmpfs"})
_MAX_BODY = 1 << 31
_PREALLOC = 1 << 20  # zero-filled space written ahead of the log's end
_HOLD_BYTES = 256 * 1024  # records held beyond this are written without waiting for flush()
_IOV_MAX = 1024  # buffers per pwritev (Linux's IOV_MAX)
_MAP_PIECES = 32  # record pieces a flush copies into the log's mapping; more: one pwritev

LOG_NAME = "messages.log"
SEQNUMS_NAME = "seqnums"
LOCK_NAME = "lock"


def _record(body: bytes) -> bytes:
    n = len(body)
    crc = zlib.crc32(body, zlib.crc32(_LEN.pack(n)))
    return _REC_HEAD.pack(REC_MAGIC, n, crc) + body


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _filesystem_type(path: str) -> str | None:
    """Type of the file system holding ``path`` (from ``/proc/self/mountinfo``), or None."""
    try:
        dev = os.stat(path).st_dev
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    want = f"{os.major(dev)}:{os.minor(dev)}"
    for line in lines:
        fields = line.split(" ", 3)
        if len(fields) > 2 and fields[2] == want and " - " in line:
            return line.split(" - ", 1)[1].split(" ", 1)[0]
    return None


def _seq_record(kind: bytes, seq: int, data: bytes) -> tuple[bytes, bytes]:
    """An ``M`` or ``S`` record as (everything but ``data``, ``data``)."""
    n = _SEQ_BODY_SIZE + len(data)
    crc = zlib.crc32(data, zlib.crc32(_CRC_HEAD.pack(n, kind, seq)))
    return _SEQ_REC_HEAD.pack(REC_MAGIC, n, crc, kind, seq), data


def _write_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        if n <= 0:  # pragma: no cover - a regular file does not do this
            raise OSError("short write")
        view = view[n:]
        offset += n


def _write_records(fd: int, pieces: list[bytes], offset: int, size: int) -> None:
    """Write the concatenation of ``pieces`` (``size`` bytes) at ``offset``: one ``pwritev``."""
    n = os.pwritev(fd, pieces, offset) if len(pieces) <= _IOV_MAX else 0
    if n != size:  # too many pieces for one call, or a short write
        _write_all(fd, memoryview(b"".join(pieces))[n:], offset + n)


class _PyFileStore:
    """Durable message store in one directory per session (see module docstring).

    The pure-Python store; :data:`FileStore` is it with the per-message methods
    compiled when the extension is built (twins, compared by the tests).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        session_id: SessionID,
        *,
        fsync: FsyncPolicy = "always",
        batch_interval_ms: int = DEFAULT_BATCH_INTERVAL_MS,
        now: float | None = None,
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync policy must be one of {FSYNC_POLICIES}, got {fsync!r}")
        if batch_interval_ms <= 0:
            raise ValueError("batch_interval_ms must be positive")
        self.session_id = session_id
        self.fsync_policy: FsyncPolicy = fsync
        self.directory = os.path.join(os.fspath(path), session_dir_name(session_id))
        self._log_path = os.path.join(self.directory, LOG_NAME)
        self._seq_path = os.path.join(self.directory, SEQNUMS_NAME)
        self._log_fd = -1
        self._seq_fd = -1
        self._slots: mmap.mmap | None = None  # the seqnums file, mapped shared (or None)
        self._log_map: mmap.mmap | None = None  # messages.log up to _alloc_end (or None)
        self._map_files = False  # write through shared mappings (see _MAP_SAFE_FILESYSTEMS)
        self._lock_fd = -1
        self._index: dict[int, tuple[int, int]] = {}
        self._end = 0  # end of the log including the records held in memory
        self._held: list[bytes] = []  # records not written yet, in call order
        self._held_at = 0  # log offset of the first held record (end of what is written)
        self._target_held = False  # self._target not written to a slot yet
        self._alloc_end = 0
        self._created = 0.0
        self._token = 0
        self._sender = 1
        self._target = 1
        self._slot_counter = 0
        self._closed = False
        self._dirty = False
        self._sync_lock = threading.Lock()
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None
        try:
            os.makedirs(self.directory, exist_ok=True)
            self._map_files = _filesystem_type(self.directory) in _MAP_SAFE_FILESYSTEMS
            self._lock()
            self._open(now)
        except OSError as exc:
            self._release()
            raise StoreError(f"{self.directory}: cannot open store: {exc}") from exc
        except BaseException:
            self._release()
            raise
        if fsync == "batch":
            self._interval = batch_interval_ms / 1000.0
            self._syncer = threading.Thread(
                target=self._sync_loop, name=f"fixengine-store-sync {session_id}", daemon=True
            )
            self._syncer.start()

    # -- opening -------------------------------------------------------------

    def _lock(self) -> None:
        fd = os.open(os.path.join(self.directory, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLockedError(
                f"{self.directory}: store of session {self.session_id} is already open "
                "(another process or store object holds its lock)"
            ) from None
        self._lock_fd = fd

    def _open(self, now: float | None) -> None:
        tmp = self._log_path + ".tmp"
        if os.path.exists(tmp):
            os.unlink(tmp)  # a reset that crashed before its rename: the old log stands
        if not os.path.exists(self._log_path):
            self._write_new_log(time.time() if now is None else now)
        self._log_fd = os.open(self._log_path, os.O_RDWR)
        self._open_slots()
        self._replay()
        self._read_slots()

    def _open_slots(self) -> None:
        """Open the seqnums file and map it (where that is safe), its blocks written first."""
        fd = self._seq_fd = os.open(self._seq_path, os.O_RDWR | os.O_CREAT, 0o644)
        if not self._map_files:
            return
        # Write the file's own bytes back, zero-padded to its full size: the mapping then
        # never writes to a hole (no block to allocate in a page fault; ENOSPC shows here).
        # A torn rewrite leaves the same bytes.
        _write_all(fd, os.pread(fd, _SEQNUMS_SIZE, 0).ljust(_SEQNUMS_SIZE, b"\0"), 0)
        self._slots = mmap.mmap(fd, _SEQNUMS_SIZE)

    def _write_new_log(self, created: float) -> None:
        """Atomically replace messages.log with a header-only log (always fsynced)."""
        token = secrets.randbits(63) or 1
        tmp = self._log_path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, FILE_MAGIC + _record(_HEADER_BODY.pack(b"H", created, token, 1, 1)), 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self._log_path)
        _fsync_dir(self.directory)

    def _replay(self) -> None:
        fd = self._log_fd
        size = os.fstat(fd).st_size
        where = self._log_path
        if size < len(FILE_MAGIC):
            raise StoreCorruptError(f"{where}: file is {size} bytes, too short for a store log")
        with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as mm:
            if mm[:8] != FILE_MAGIC:
                raise StoreCorruptError(f"{where}: not a fixengine store log (bad magic)")
            body, pos = self._parse_at(mm, 8, size)
            if body is None or len(body) != _HEADER_BODY.size or body[:1] != b"H":
                raise StoreCorruptError(f"{where}: header record missing or damaged")
            _, created, token, sender, target = _HEADER_BODY.unpack(body)
            index: dict[int, tuple[int, int]] = {}
            while pos < size:
                start = pos
                body, pos = self._parse_at(mm, start, size)
                if body is None:
                    if self._valid_record_after(mm, start + 1, size):
                        raise StoreCorruptError(
                            f"{where}: damaged record at offset {start} followed by valid "
                            "records (not a torn write): refusing to drop data; move the "
                            "session directory aside to start afresh"
                        )
                    pos = start
                    break
                kind = body[:1]
                if kind == b"M" and len(body) >= _SEQ_BODY.size:
                    seq = _SEQ_BODY.unpack_from(body)[1]
                    index[seq] = (start, pos - start)
                    sender = seq + 1
                elif kind == b"S" and len(body) == _SEQ_BODY.size:
                    sender = _SEQ_BODY.unpack(body)[1]
                else:
                    raise StoreCorruptError(
                        f"{where}: unknown record type {kind!r} at offset {start}"
                    )
        alloc_end = size
        if pos < size and not self._zeros(fd, pos, size):
            os.ftruncate(fd, pos)  # torn tail from a crash in the middle of an append
            os.fsync(fd)
            alloc_end = pos
        self._end = self._held_at = pos
        self._held.clear()
        self._alloc_end = alloc_end
        self._index = index
        self._created = created
        self._token = token
        self._sender = sender
        self._target = target

    @staticmethod
    def _zeros(fd: int, start: int, end: int) -> bool:
        """True if the bytes in [start, end) are all zero (space written ahead)."""
        while start < end:
            chunk = os.pread(fd, min(end - start, 1 << 20), start)
            if not chunk or chunk.count(0) != len(chunk):
                return False
            start += len(chunk)
        return True

    @staticmethod
    def _parse_at(buf: bytes | mmap.mmap, pos: int, size: int) -> tuple[bytes | None, int]:
        """The body of a valid record at ``pos`` and the offset after it, or (None, pos)."""
        head = _REC_HEAD.size
        if size - pos < head:
            return None, pos
        magic, n, crc = _REC_HEAD.unpack_from(buf, pos)
        if magic != REC_MAGIC or n == 0 or n > _MAX_BODY or pos + head + n > size:
            return None, pos
        body = buf[pos + head : pos + head + n]
        if zlib.crc32(body, zlib.crc32(_LEN.pack(n))) != crc:
            return None, pos
        return body, pos + head + n

    def _valid_record_after(self, buf: mmap.mmap, start: int, size: int) -> bool:
        pos = buf.find(REC_MAGIC, start)
        while pos != -1:
            if self._parse_at(buf, pos, size)[0] is not None:
                return True
            pos = buf.find(REC_MAGIC, pos + 1)
        return False

    def _read_slots(self) -> None:
        best: tuple[int, int] | None = None
        for off in _SLOT_OFFSETS:
            raw = os.pread(self._seq_fd, _SLOT_SIZE, off)
            if len(raw) != _SLOT_SIZE:
                continue
            (crc,) = _SLOT_CRC.unpack_from(raw, _SLOT.size)
            if zlib.crc32(raw[: _SLOT.size]) != crc:
                continue
            counter, token, target = _SLOT.unpack_from(raw)
            if token == self._token and (best is None or counter > best[0]):
                best = (counter, target)
        if best is not None:
            self._slot_counter, self._target = best
        else:
            self._slot_counter = 0
        self._target_held = False

    # -- the MessageStore protocol ---------------------------------------------

    @property
    def creation_time(self) -> float:
        return self._created

    def next_sender_seq(self) -> int:
        return self._sender

    def next_target_seq(self) -> int:
        return self._target

    def set_next_sender_seq(self, seq: int) -> None:
        """Hold an ``S`` record (written by the next :meth:`flush`)."""
        _check_seq(seq)
        self._ensure_open()
        self._hold(*_seq_record(b"S", seq, b""))
        self._sender = seq

    def save_sent(self, seq: int, data: bytes) -> None:
        """Hold an ``M`` record (written by the next :meth:`flush`) and index it."""
        if type(seq) is not int or seq < 1:
            _check_seq(seq)  # raises, unless seq is an int subclass (bool) >= 1
        if self._log_fd < 0:
            self._ensure_open()
        if type(data) is not bytes:
            data = bytes(data)  # held until flush: never keep a buffer the caller may change
        n = len(data) + _SEQ_BODY_SIZE
        head = _SEQ_REC_HEAD.pack(
            REC_MAGIC, n, zlib.crc32(data, zlib.crc32(_CRC_HEAD.pack(n, b"M", seq))), b"M", seq
        )
        held = self._held
        held.append(head)
        held.append(data)
        start = self._end
        size = n + _REC_HEAD_SIZE
        self._end = end = start + size
        self._index[seq] = (start, size)
        self._sender = seq + 1
        if end - self._held_at > _HOLD_BYTES:
            self._flush_log()

    def set_next_target_seq(self, seq: int) -> None:
        """Remember the value; the next :meth:`flush` writes the latest one to a slot."""
        if type(seq) is not int or seq < 1:
            _check_seq(seq)
        if self._log_fd < 0:
            self._ensure_open()
        self._target = seq
        self._target_held = True

    def flush(self) -> None:
        """Write what is held: the records with one ``pwritev``, then the target slot.

        Applies the fsync policy (``"always"``: ``fdatasync`` of each file written
        before returning). On failure the held writes stay held and
        :class:`StoreError` is raised: nothing of them may be sent yet.
        """
        if self._held:
            self._flush_log()
        if self._target_held:
            self._flush_target()

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        self._ensure_open()
        self.flush()
        index = self._index
        if end - begin < len(index):
            seqs = [s for s in range(max(begin, 1), end + 1) if s in index]
        else:
            seqs = sorted(s for s in index if begin <= s <= end)
        out = []
        head = _REC_HEAD.size
        for seq in seqs:
            off, n = index[seq]
            raw = os.pread(self._log_fd, n, off)
            if len(raw) != n or self._parse_at(raw, 0, n)[0] is None:
                raise StoreCorruptError(
                    f"{self._log_path}: record of MsgSeqNum {seq} at offset {off} is damaged"
                )
            out.append((seq, raw[head + _SEQ_BODY.size :]))
        return out

    def reset(self, now: float) -> None:
        self._ensure_open()
        self.flush()  # a reset that fails leaves the old period whole
        with self._sync_lock:
            self._write_new_log(now)
            self._unmap_log()
            os.close(self._log_fd)
            self._log_fd = os.open(self._log_path, os.O_RDWR)
            self._dirty = False
        self._replay()
        self.set_next_target_seq(1)
        self._flush_target()
        if self.fsync_policy != "always":
            os.fsync(self._seq_fd)

    def refresh(self) -> None:
        self._ensure_open()
        self.flush()
        with self._sync_lock:
            self._release_files()
            self._log_fd = os.open(self._log_path, os.O_RDWR)
            self._open_slots()
        self._replay()
        self._read_slots()

    def close(self) -> None:
        """Flush, sync (policy ``"batch"``) and release the files and the lock."""
        if self._closed:
            return
        try:
            if self._log_fd >= 0:
                self.flush()
        finally:
            self._closed = True
            self._stop.set()
            if self._syncer is not None:
                self._syncer.join()
            try:
                if self.fsync_policy == "batch":
                    self._sync_now()
            finally:
                self._release()

    def __enter__(self) -> _PyFileStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FileStore({self.directory!r}, fsync={self.fsync_policy!r})"

    # -- internals ---------------------------------------------------------------

    @property
    def size(self) -> int:
        """Bytes in the message log, records held for the next flush included (monitoring)."""
        return self._end

    def _ensure_open(self) -> None:
        if self._closed or self._log_fd < 0:
            raise StoreError(f"{self.directory}: store is closed")

    def _hold(self, head: bytes, data: bytes) -> None:
        self._held += (head, data)
        self._end += len(head) + len(data)
        if self._end - self._held_at > _HOLD_BYTES:
            self._flush_log()

    def _flush_log(self) -> None:
        """Append the held records to the log, then sync.

        Where the log is mapped and the batch is small, each record piece is copied
        into the mapping, in log order: no system call. Otherwise one ``pwritev``.
        Either way a kill in the middle leaves whole records and then one torn
        record (a copy cut short, in whatever order ``memcpy`` stores its bytes,
        only damages the record it copies; later records are not written yet), so
        the log reopens with a prefix of the batch.
        """
        fd = self._log_fd
        held = self._held
        start = self._held_at
        end = self._end
        try:
            if end > self._alloc_end:
                # Write zeros ahead so that later appends overwrite allocated blocks:
                # their fdatasync then flushes data only, not the file's size and extents.
                new_end = (end + _PREALLOC + 4095) & ~4095
                _write_all(fd, bytes(new_end - self._alloc_end), self._alloc_end)
                self._alloc_end = new_end
            if self._map_files and len(held) <= _MAP_PIECES:
                log_map = self._log_map
                if log_map is None or len(log_map) < end:
                    log_map = self._remap_log()
                pos = start
                for piece in held:
                    after = pos + len(piece)
                    log_map[pos:after] = piece
                    pos = after
            else:
                _write_records(fd, held, start, end - start)
            if self.fsync_policy != "never":
                self._synced(fd)  # fdatasync writes pages dirtied through the mapping too
        except OSError as exc:
            try:  # leave no partial record behind (e.g. disk full); retried by the next flush
                self._unmap_log()  # no mapping may reach past the end of the file
                os.ftruncate(fd, start)
                self._alloc_end = start
            except OSError:
                pass
            raise StoreError(f"{self._log_path}: cannot append: {exc}") from exc
        held.clear()
        self._held_at = end

    def _remap_log(self) -> mmap.mmap:
        """Map the log up to ``_alloc_end`` (all written: zeros ahead of the records)."""
        self._unmap_log()
        log_map = self._log_map = mmap.mmap(self._log_fd, self._alloc_end)
        return log_map

    def _unmap_log(self) -> None:
        if self._log_map is not None:
            self._log_map.close()
            self._log_map = None

    def _flush_target(self) -> None:
        """Write the latest target seq into the older slot, then sync.

        Where the file is mapped the slot is a memory copy into the page cache: no
        system call, and it survives a killed process like a ``pwrite``. A write cut
        short by a kill leaves a slot whose CRC fails; the other slot holds the
        previous value.
        """
        if self._log_fd < 0:
            self._ensure_open()
        counter = self._slot_counter + 1
        token = self._token
        target = self._target
        crc = zlib.crc32(_SLOT.pack(counter, token, target))
        off = _SLOT_OFFSETS[counter & 1]
        slots = self._slots
        try:
            if slots is not None:
                _SLOT_WHOLE.pack_into(slots, off, counter, token, target, crc)
            else:
                os.pwrite(self._seq_fd, _SLOT_WHOLE.pack(counter, token, target, crc), off)
            if self.fsync_policy != "never":
                self._synced(self._seq_fd)  # fdatasync writes pages dirtied through the mapping
        except OSError as exc:
            raise StoreError(f"{self._seq_path}: cannot write target seq: {exc}") from exc
        self._slot_counter = counter
        self._target_held = False

    def _synced(self, fd: int) -> None:
        policy = self.fsync_policy
        if policy == "always":
            os.fdatasync(fd)
        elif policy == "batch":
            self._dirty = True

    def _sync_now(self) -> None:
        with self._sync_lock:
            if not self._dirty or self._log_fd < 0:
                return
            self._dirty = False
            os.fdatasync(self._log_fd)
            os.fdatasync(self._seq_fd)

    def _sync_loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._sync_now()
            except OSError:  # pragma: no cover - reported by the next foreground write
                self._dirty = True

    def _release(self) -> None:
        with self._sync_lock:
            self._release_files()
            if self._lock_fd >= 0:
                os.close(self._lock_fd)  # closing the lock file releases the flock
                self._lock_fd = -1

    def _release_files(self) -> None:
        self._unmap_log()
        if self._slots is not None:
            self._slots.close()
            self._slots = None
        for name in ("_log_fd", "_seq_fd"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)


if TYPE_CHECKING:
    FileStore = _PyFileStore
else:
    # save_sent, set_next_target_seq and flush compiled (the common case in C, the rest
    # handed back to _PyFileStore), unless not built or turned off
    FileStore = compiled_subclass(
        _PyFileStore,
        "_store",
        "FileStoreCore",
        "FileStore",
        lambda core: core.set_fallback(_PyFileStore),
    )
