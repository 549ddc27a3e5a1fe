"""Message stores: where a session keeps its sequence numbers and sent messages.

Theory of operation
-------------------
Every store implements :class:`MessageStore`. The session calls it synchronously
(it is the one dependency handed to the sans-IO state machine). ``save_sent`` runs
*before* the bytes are handed to the transport, so a crash can never leave a sent
message the store does not know: a ResendRequest (FIX session test case 8) can
always be answered with the original messages (PossDupFlag=Y) or a gap fill.

``save_sent`` stores the message and advances the next sender MsgSeqNum as one
step; ``set_next_target_seq`` persists the expected incoming MsgSeqNum. ``reset``
starts a new session period (both numbers back to 1, messages dropped, a new
``creation_time`` kept for the session schedule).

A store may hold its writes back until ``flush()``: the session calls it at the
start of ``data_to_send()``, before any byte it queued can leave, so a batch of
messages costs one write (and one sync) instead of one per call. Until then the
calls are visible to this store object (reads flush first) but not on the medium;
a process that dies before the flush loses only messages no peer has seen.
``flush`` is optional for stores written before it existed: the session calls it
only when the store has it.

Stores:

* :class:`MemoryStore` - everything in memory; for tests and throw-away sessions.
* :class:`~fixengine.session.store_file.FileStore` - the default: an append-only
  record log per session with a CRC per record (see that module).
* :class:`~fixengine.session.store_sqlite.SqliteStore` - one SQLite transaction
  per flush.

:func:`open_store` builds any of them from the settings a session has
(``StoreType``, ``FileStorePath``, ``FsyncPolicy``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from ..errors import ConfigError, FixError

if TYPE_CHECKING:
    from .config import SessionID

__all__ = [
    "FSYNC_POLICIES",
    "STORE_TYPES",
    "FsyncPolicy",
    "MemoryStore",
    "MessageStore",
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "StoreType",
    "open_store",
    "session_dir_name",
]

StoreType = Literal["memory", "file", "sqlite"]
FsyncPolicy = Literal["always", "batch", "never"]
STORE_TYPES: tuple[StoreType, ...] = ("memory", "file", "sqlite")
FSYNC_POLICIES: tuple[FsyncPolicy, ...] = ("always", "batch", "never")

#: Default period of the ``"batch"`` fsync policy, milliseconds.
DEFAULT_BATCH_INTERVAL_MS = 50


class StoreError(FixError):
    """A message store could not be opened, read or written."""


class StoreCorruptError(StoreError):
    """The backing medium holds data that is not a valid store (names file and offset)."""


class StoreLockedError(StoreError):
    """Another process (or another store object) already has this session's store open."""


@runtime_checkable
class MessageStore(Protocol):
    """What a session needs from persistence."""

    @property
    def creation_time(self) -> float:
        """UTC epoch seconds when the current session period's store was reset."""
        ...

    def next_sender_seq(self) -> int:
        """MsgSeqNum the next outgoing message gets."""
        ...

    def next_target_seq(self) -> int:
        """MsgSeqNum expected on the next incoming message."""
        ...

    def set_next_sender_seq(self, seq: int) -> None:
        """Set the next outgoing MsgSeqNum (e.g. after a SequenceReset we sent)."""
        ...

    def set_next_target_seq(self, seq: int) -> None:
        """Set the next expected incoming MsgSeqNum."""
        ...

    def save_sent(self, seq: int, data: bytes) -> None:
        """Persist outgoing message ``seq`` (wire bytes) and set next sender seq to seq+1.

        Both happen as one step: after a crash either both or neither are visible.
        A store with :meth:`flush` may persist it as late as the next ``flush``.
        """
        ...

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Stored outgoing messages with begin <= seq <= end, ascending by seq."""
        ...

    def reset(self, now: float) -> None:
        """Start a new session period: drop messages, both sequence numbers to 1."""
        ...

    def refresh(self) -> None:
        """Reload state from the backing medium (no-op for memory)."""
        ...

    def flush(self) -> None:
        """Write what the store holds back, honouring its fsync policy.

        Called before the bytes of stored messages are handed to the transport: once
        it returns, every earlier call is on the medium (as far as the policy says).
        Stores that write on every call implement it as a no-op. The session also
        accepts stores without this method (written before it existed) and then
        relies on each call being persisted when it returns.
        """
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...


def _check_seq(seq: int) -> None:
    if not isinstance(seq, int) or seq < 1:
        raise ValueError(f"MsgSeqNum must be a positive int, got {seq!r}")


class MemoryStore:
    """A non-durable store: fast, for tests and for sessions that need no recovery."""

    def __init__(self, now: float | None = None) -> None:
        self._created = time.time() if now is None else now
        self._sender = 1
        self._target = 1
        self._messages: dict[int, bytes] = {}

    @property
    def creation_time(self) -> float:
        return self._created

    def next_sender_seq(self) -> int:
        return self._sender

    def next_target_seq(self) -> int:
        return self._target

    def set_next_sender_seq(self, seq: int) -> None:
        _check_seq(seq)
        self._sender = seq

    def set_next_target_seq(self, seq: int) -> None:
        if type(seq) is not int or seq < 1:
            _check_seq(seq)
        self._target = seq

    def save_sent(self, seq: int, data: bytes) -> None:
        if type(seq) is not int or seq < 1:
            _check_seq(seq)
        self._messages[seq] = data if type(data) is bytes else bytes(data)
        self._sender = seq + 1

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        msgs = self._messages
        if end - begin < len(msgs):
            return [(s, msgs[s]) for s in range(max(begin, 1), end + 1) if s in msgs]
        return sorted((s, m) for s, m in msgs.items() if begin <= s <= end)

    def reset(self, now: float) -> None:
        self._created = now
        self._sender = 1
        self._target = 1
        self._messages.clear()

    def refresh(self) -> None:
        return None

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


def session_dir_name(session_id: SessionID) -> str:
    """A file-system-safe, collision-free name for a session.

    ``FIX.4.4-SENDER-TARGET`` (plus ``-QUALIFIER``); characters other than letters,
    digits, ``.`` and ``_`` are percent-encoded, so distinct session ids never
    share a directory (``-`` itself is encoded inside the parts).
    """
    parts = [
        session_id.begin_string,
        session_id.sender_comp_id,
        session_id.target_comp_id,
    ]
    if session_id.qualifier:
        parts.append(session_id.qualifier)
    return "-".join(_quote(p) for p in parts)


def _quote(text: str) -> str:
    out = []
    for ch in text:
        if ch.isascii() and (ch.isalnum() or ch in "._"):
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode())
    return "".join(out)


def open_store(
    kind: str,
    session_id: SessionID,
    path: str | None = None,
    fsync: str = "always",
    *,
    batch_interval_ms: int = DEFAULT_BATCH_INTERVAL_MS,
) -> MessageStore:
    """Open the store a session's settings describe.

    ``kind`` is ``"memory"``, ``"file"`` (the default of settings files) or
    ``"sqlite"``; ``path`` is the FileStorePath directory (required for file and
    sqlite; for sqlite a path ending in ``.db``/``.sqlite``/``.sqlite3`` names one
    database file shared by several sessions). ``fsync`` is ``"always"``,
    ``"batch"`` or ``"never"`` (see ``docs/durability.md``).
    """
    if fsync not in FSYNC_POLICIES:
        raise ConfigError(f"fsync policy must be one of {', '.join(FSYNC_POLICIES)}, got {fsync!r}")
    if kind == "memory":
        return MemoryStore()
    if kind not in STORE_TYPES:
        raise ConfigError(f"store type must be one of {', '.join(STORE_TYPES)}, got {kind!r}")
    if not path:
        raise ConfigError(f"a {kind} store needs a path (FileStorePath)")
    if kind == "file":
        from .store_file import FileStore

        return FileStore(path, session_id, fsync=fsync, batch_interval_ms=batch_interval_ms)
    from .store_sqlite import SqliteStore

    return SqliteStore(path, session_id, fsync=fsync)
