"""The SQLite message store.

Theory of operation
-------------------
Two tables, keyed by the session id's text so that one database file may hold
several sessions::

    sessions(session PRIMARY KEY, creation_time, next_sender, next_target)
    messages(session, seq, data BLOB, PRIMARY KEY (session, seq))

Calls that change state are held in memory until :meth:`SqliteStore.flush`
(the session calls it before the bytes of its messages can leave), which writes
them all in one ``BEGIN IMMEDIATE ... COMMIT``: the held messages are inserted (or
replaced) and the session row gets the latest ``next_sender`` and
``next_target``. After a crash SQLite's journal shows the whole flush or none of
it, so a message and the sender seq it implies are never apart. A process killed
before a flush loses the calls held since the previous one, none of which has
reached the peer. Reads (``get_sent``), ``refresh``, ``reset`` and ``close`` flush
first. ``reset`` deletes the session's messages and rewrites its row in one
transaction.

The database runs in WAL mode. The fsync policy maps onto SQLite's
``synchronous`` pragma: ``"always"`` -> ``FULL`` (the WAL is synced at every
commit, i.e. every flush), ``"batch"`` -> ``NORMAL`` (the WAL is synced at
checkpoints only: an OS crash can lose the last commits; a process crash cannot),
``"never"`` -> ``OFF``.

``path`` is a directory (one ``<session_dir_name>.sqlite3`` per session) or a file
name ending in ``.db``, ``.sqlite`` or ``.sqlite3`` (a database shared by
sessions). A lock file ``<database>.<session>.lock`` is ``flock``-ed while open,
so two processes never drive the same session.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from typing import TYPE_CHECKING

from .store import (
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

__all__ = ["SqliteStore"]

_SYNCHRONOUS = {"always": "FULL", "batch": "NORMAL", "never": "OFF"}
_DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session TEXT PRIMARY KEY,
    creation_time REAL NOT NULL,
    next_sender INTEGER NOT NULL,
    next_target INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    session TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (session, seq)
);
"""


class SqliteStore:
    """Durable message store in an SQLite database (see module docstring)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        session_id: SessionID,
        *,
        fsync: FsyncPolicy = "always",
        now: float | None = None,
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync policy must be one of {FSYNC_POLICIES}, got {fsync!r}")
        self.session_id = session_id
        self.fsync_policy: FsyncPolicy = fsync
        self._key = str(session_id)
        path = os.fspath(path)
        if path.endswith(_DB_SUFFIXES):
            self.database = path
            parent = os.path.dirname(path) or "."
        else:
            self.database = os.path.join(path, session_dir_name(session_id) + ".sqlite3")
            parent = path
        self._closed = False
        self._lock_fd = -1
        self._conn: sqlite3.Connection | None = None
        self._created = 0.0
        self._sender = 1
        self._target = 1
        self._held: list[tuple[str, int, bytes]] = []  # (session, seq, data) to insert
        self._held_seqs = False  # _sender/_target (and _held) not committed yet
        try:
            os.makedirs(parent, exist_ok=True)
            self._lock(f"{self.database}.{session_dir_name(session_id)}.lock")
            self._conn = self._connect()
            self._load(time.time() if now is None else now)
        except OSError as exc:
            self._release()
            raise StoreError(f"{self.database}: cannot open store: {exc}") from exc
        except BaseException:
            self._release()
            raise

    def _lock(self, lock_path: str) -> None:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLockedError(
                f"{self.database}: store of session {self.session_id} is already open "
                "(another process or store object holds its lock)"
            ) from None
        self._lock_fd = fd

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.database, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={_SYNCHRONOUS[self.fsync_policy]}")
            conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreCorruptError(f"{self.database}: not a usable SQLite store: {exc}") from exc
        return conn

    def _db(self) -> sqlite3.Connection:
        if self._closed or self._conn is None:
            raise StoreError(f"{self.database}: store is closed")
        return self._conn

    def _load(self, now: float) -> None:
        conn = self._db()
        try:
            row = conn.execute(
                "SELECT creation_time, next_sender, next_target FROM sessions WHERE session = ?",
                (self._key,),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO sessions VALUES (?, ?, 1, 1)",
                    (self._key, now),
                )
                row = (now, 1, 1)
        except sqlite3.DatabaseError as exc:
            raise StoreCorruptError(f"{self.database}: cannot read session row: {exc}") from exc
        self._created, self._sender, self._target = float(row[0]), int(row[1]), int(row[2])
        self._held.clear()
        self._held_seqs = False

    def _transaction(
        self,
        *statements: tuple[str, tuple[object, ...]],
        many: list[tuple[str, int, bytes]] | None = None,
    ) -> None:
        """Run ``statements`` (after inserting the messages ``many``) as one transaction."""
        conn = self._db()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if many:
                    conn.executemany(
                        "INSERT OR REPLACE INTO messages (session, seq, data) VALUES (?, ?, ?)",
                        many,
                    )
                for sql, params in statements:
                    conn.execute(sql, params)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:  # COMMIT itself failed (e.g. busy): leave no transaction open
                conn.execute("ROLLBACK")
            raise StoreError(f"{self.database}: write failed: {exc}") from exc

    # -- the MessageStore protocol ---------------------------------------------

    @property
    def creation_time(self) -> float:
        return self._created

    def next_sender_seq(self) -> int:
        return self._sender

    def next_target_seq(self) -> int:
        return self._target

    def set_next_sender_seq(self, seq: int) -> None:
        _check_seq(seq)
        self._db()
        self._sender = seq
        self._held_seqs = True

    def set_next_target_seq(self, seq: int) -> None:
        if type(seq) is not int or seq < 1:
            _check_seq(seq)
        if self._closed:
            self._db()
        self._target = seq
        self._held_seqs = True

    def save_sent(self, seq: int, data: bytes) -> None:
        if type(seq) is not int or seq < 1:
            _check_seq(seq)
        if self._closed:
            self._db()
        self._held.append((self._key, seq, data if type(data) is bytes else bytes(data)))
        self._sender = seq + 1
        self._held_seqs = True

    def flush(self) -> None:
        """Commit the held calls in one transaction (synced as the fsync policy says).

        On failure nothing of them is committed, they stay held for the next flush
        and :class:`StoreError` is raised.
        """
        if not self._held_seqs:
            return
        self._transaction(
            (
                "UPDATE sessions SET next_sender = ?, next_target = ? WHERE session = ?",
                (self._sender, self._target, self._key),
            ),
            many=self._held,
        )
        self._held.clear()
        self._held_seqs = False

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        self.flush()
        try:
            rows = self._db().execute(
                "SELECT seq, data FROM messages WHERE session = ? AND seq BETWEEN ? AND ? "
                "ORDER BY seq",
                (self._key, begin, end),
            )
            return [(int(seq), bytes(data)) for seq, data in rows]
        except sqlite3.DatabaseError as exc:
            raise StoreCorruptError(f"{self.database}: cannot read messages: {exc}") from exc

    def reset(self, now: float) -> None:
        self.flush()  # a reset that fails leaves the old period whole
        self._transaction(
            ("DELETE FROM messages WHERE session = ?", (self._key,)),
            (
                "UPDATE sessions SET creation_time = ?, next_sender = 1, next_target = 1 "
                "WHERE session = ?",
                (now, self._key),
            ),
        )
        self._created, self._sender, self._target = now, 1, 1

    def refresh(self) -> None:
        self.flush()
        self._load(time.time())

    def close(self) -> None:
        """Flush and release the database and the lock."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._release()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteStore({self.database!r}, fsync={self.fsync_policy!r})"

    def _release(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1
