"""The order journal: open orders survive a restart of the process.

Theory of operation
-------------------
The journal is an append-only file of JSON lines, by default ``orders.jsonl`` in
the session's store directory (:func:`journal_path_for`). Every line is one record:

``{"kind": "header", ...}``
    First line: format name and version, when the file was (re)written.
``{"kind": "order", "order": {...}}``
    A full snapshot of one order (:meth:`fixengine.orders.model.Order.to_dict`):
    its chain of ClOrdIDs, pending cancel/replace requests, fills and the ExecIDs
    already applied. The router writes one *before* sending a request for the
    order (write-ahead: an order on the wire is always in the journal) and one after
    every report that changed it. The last snapshot of an order wins; orders are
    keyed by their first ClOrdID.
``{"kind": "id", "id": "...", "time": ...}``
    A ClOrdID used by no order (an OrderMassCancelRequest's).
``{"kind": "retired", "ids": {"<ClOrdID>": time, ...}}``
    Written by compaction: the ClOrdIDs of orders that are done, kept so that a
    ClOrdID the caller chooses is still refused as a duplicate after a restart
    (FIX: ClOrdIDs unique within the trading day). Entries older than
    ``id_retention`` seconds are dropped.

Because the ExecIDs already applied are part of each snapshot, a report that comes
again after a restart (a PossDupFlag=Y resend, or one the session asks for again)
is recognised by the order state machine and applied once.

Opening reads every line. A last line that is not complete JSON is what a crash in
the middle of an append leaves: it is ignored (and dropped by the compaction that
follows). A bad line followed by good ones cannot come from a crash and raises
:class:`~fixengine.session.store.StoreCorruptError` naming the file and line.
Opening then *compacts*: the open orders, one snapshot each, and the retired IDs
are written to ``<path>.tmp``, fsynced, renamed over the journal and the directory
fsynced, so the file stays proportional to the open orders. The router compacts
again whenever the journal has grown by ``compact_every`` records.

fsync policy, as the session store's (``FsyncPolicy``): ``"always"`` - fdatasync
after every record; ``"batch"`` - at most every ``batch_interval`` seconds, by a
timer the owner schedules (:meth:`OrderJournal.sync_due`), and on close;
``"never"`` - left to the OS. Records are written with one ``os.write`` on an
``O_APPEND`` descriptor, so a killed process loses no record whose write returned,
whatever the policy. A ``<path>.lock`` file is ``flock``-ed while the journal is
open: a second process using the same journal fails with
:class:`~fixengine.session.store.StoreLockedError`.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from typing import Any

from ..session.store import (
    FSYNC_POLICIES,
    FsyncPolicy,
    MessageStore,
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    session_dir_name,
)
from .model import Order
from .state import ClOrdIdGenerator, OrderRegistry

__all__ = ["JOURNAL_NAME", "OrderJournal", "journal_path_for"]

#: File name of the journal inside a session's store directory.
JOURNAL_NAME = "orders.jsonl"

_FORMAT = "fixengine.orders.journal"
_VERSION = 1


def journal_path_for(store: MessageStore) -> str:
    """The journal path next to a session's durable store.

    A :class:`~fixengine.session.store_file.FileStore` keeps it in its session
    directory; a :class:`~fixengine.session.store_sqlite.SqliteStore` beside its
    database file (``<database>.<session>.orders.jsonl``). A store with no place on disk
    (memory) raises :class:`StoreError`: give the router a path instead.
    """
    directory = getattr(store, "directory", None)
    if isinstance(directory, str):
        return os.path.join(directory, JOURNAL_NAME)
    database = getattr(store, "database", None)
    if isinstance(database, str):
        session_id = getattr(store, "session_id", None)
        suffix = "" if session_id is None else "." + session_dir_name(session_id)
        return f"{database}{suffix}.{JOURNAL_NAME}"
    raise StoreError(
        f"{type(store).__name__} has no directory for an order journal; "
        "use a file or sqlite store, or pass the journal a path"
    )


def _fsync_dir(path: str) -> None:
    fd = os.open(path or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class OrderJournal:
    """Append-only JSON-lines journal of order snapshots (see the module docstring)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: FsyncPolicy = "always",
        batch_interval: float = 0.05,
        id_retention: float = 3 * 86400.0,
        compact_every: int = 10_000,
        now: float | None = None,
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync policy must be one of {FSYNC_POLICIES}, got {fsync!r}")
        if batch_interval <= 0:
            raise ValueError("batch_interval must be positive")
        if compact_every < 1:
            raise ValueError("compact_every must be at least 1")
        self.path = os.fspath(path)
        self.fsync_policy: FsyncPolicy = fsync
        self.batch_interval = batch_interval
        self.id_retention = id_retention
        self.compact_every = compact_every
        self._fd = -1
        self._lock_fd = -1
        self._dirty = False
        self._last_sync = 0.0
        self._records = 0  # appended since the last compaction
        self._orders: dict[str, dict[str, Any]] = {}  # first ClOrdID -> last snapshot
        self._retired: dict[str, float] = {}
        self._loose_ids: dict[str, float] = {}
        self.dropped_torn_line = False
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(directory, exist_ok=True)
            self._lock()
            self._load()
            self._rewrite(time.time() if now is None else now)
        except OSError as exc:
            self._release()
            raise StoreError(f"{self.path}: cannot open order journal: {exc}") from exc
        except BaseException:
            self._release()
            raise

    # -- opening ----------------------------------------------------------------------
    def _lock(self) -> None:
        fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLockedError(
                f"{self.path}: order journal is already open (another process or router)"
            ) from None
        self._lock_fd = fd

    def _release(self) -> None:
        for fd in (self._fd, self._lock_fd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._fd = self._lock_fd = -1

    def _load(self) -> None:
        tmp = self.path + ".tmp"
        if os.path.exists(tmp):
            os.unlink(tmp)  # a compaction that crashed before its rename: the old file stands
        if not os.path.exists(self.path):
            return
        with open(self.path, "rb") as f:
            lines = f.read().split(b"\n")
        last = len(lines) - 1
        while last >= 0 and not lines[last].strip():
            last -= 1
        for number, raw in enumerate(lines[: last + 1], start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
                self._apply(record)
            except (ValueError, KeyError, TypeError) as exc:
                if number == last + 1:
                    self.dropped_torn_line = True  # an append cut short by a crash
                    break
                raise StoreCorruptError(
                    f"{self.path}: line {number} is not a valid journal record ({exc}); "
                    "it is followed by valid records, so it is not a torn write"
                ) from None

    def _apply(self, record: dict[str, Any]) -> None:
        kind = record["kind"]
        if kind == "header":
            if record.get("format") != _FORMAT or record.get("version") != _VERSION:
                raise ValueError(
                    f"not an order journal (format {record.get('format')!r}, "
                    f"version {record.get('version')!r})"
                )
        elif kind == "order":
            data = record["order"]
            Order.from_dict(data)  # validates the snapshot now, not at restore time
            self._orders[str(data["chain"][0])] = data
        elif kind == "id":
            self._loose_ids[str(record["id"])] = float(record["time"])
        elif kind == "retired":
            for cl, when in dict(record["ids"]).items():
                self._retired[str(cl)] = float(when)
        else:
            raise ValueError(f"unknown record kind {kind!r}")

    # -- what it holds ----------------------------------------------------------------
    def open_orders(self) -> list[Order]:
        """Orders whose last snapshot is not done (fresh objects, oldest first)."""
        orders = [Order.from_dict(d) for d in self._orders.values()]
        return sorted((o for o in orders if not o.is_done), key=lambda o: o.created_at)

    def used_ids(self) -> set[str]:
        """Every ClOrdID this journal knows to have been used (open, done, loose)."""
        ids = set(self._retired) | set(self._loose_ids)
        for data in self._orders.values():
            ids.update(str(c) for c in data["chain"])
            ids.update(str(c) for c in data.get("aliases", ()))
        return ids

    def restore(self, *, now: float, prefix: str = "", max_anomalies: int = 1000) -> OrderRegistry:
        """An :class:`OrderRegistry` holding the open orders and refusing every used ID.

        The ClOrdID series is a fresh one (a new stem), which cannot repeat an
        earlier run's IDs.
        """
        data = {
            "format": "fixengine.orders",
            "version": 1,
            "ids": ClOrdIdGenerator(now, prefix=prefix).state(),
            "used_ids": sorted(self.used_ids()),
            "orders": [o.to_dict() for o in self.open_orders()],
        }
        return OrderRegistry.from_dict(data, max_anomalies=max_anomalies)

    # -- writing ----------------------------------------------------------------------
    def _append(self, record: dict[str, Any]) -> None:
        if self._fd < 0:
            raise StoreError(f"{self.path}: order journal is closed")
        line = json.dumps(record, separators=(",", ":"), sort_keys=True).encode() + b"\n"
        written = os.write(self._fd, line)
        while written < len(line):  # regular files write whole; be exact anyway
            written += os.write(self._fd, line[written:])
        self._records += 1
        if self.fsync_policy == "always":
            os.fdatasync(self._fd)
        elif self.fsync_policy == "batch":
            self._dirty = True

    def record_order(self, order: Order) -> None:
        """Append a snapshot of ``order`` (durable per the fsync policy on return)."""
        data = order.to_dict()
        self._orders[order.chain[0]] = data
        self._append({"kind": "order", "order": data})

    def record_id(self, cl_ord_id: str, now: float) -> None:
        """Append a ClOrdID that belongs to no order (so it is never used again)."""
        self._loose_ids[cl_ord_id] = now
        self._append({"kind": "id", "id": cl_ord_id, "time": now})

    @property
    def compaction_due(self) -> bool:
        """``compact_every`` records were appended since the last compaction."""
        return self._records >= self.compact_every

    def compact(self, now: float | None = None) -> None:
        """Rewrite the journal with one snapshot per open order (atomic rename)."""
        self._rewrite(time.time() if now is None else now)

    def _rewrite(self, now: float) -> None:
        horizon = now - self.id_retention
        retired: dict[str, float] = {k: v for k, v in self._retired.items() if v >= horizon}
        for cl, when in self._loose_ids.items():
            if when >= horizon:
                retired[cl] = when
        kept: dict[str, dict[str, Any]] = {}
        for key, data in self._orders.items():
            order = Order.from_dict(data)
            if order.is_done:
                if order.created_at >= horizon:
                    for cl in (*order.chain, *order.aliases):
                        retired[cl] = order.created_at
            else:
                kept[key] = data
        lines: list[dict[str, Any]] = [
            {"kind": "header", "format": _FORMAT, "version": _VERSION, "written": now}
        ]
        if retired:
            lines.append({"kind": "retired", "ids": retired})
        lines.extend({"kind": "order", "order": data} for data in kept.values())
        tmp = self.path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            payload = b"".join(
                json.dumps(r, separators=(",", ":"), sort_keys=True).encode() + b"\n" for r in lines
            )
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        _fsync_dir(os.path.dirname(os.path.abspath(self.path)))
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self._orders = kept
        self._retired = retired
        self._loose_ids = {}
        self._records = 0
        self._dirty = False

    # -- syncing and closing ------------------------------------------------------------
    def sync(self) -> None:
        """fdatasync now if anything was written since the last sync."""
        if self._dirty and self._fd >= 0:
            os.fdatasync(self._fd)
            self._dirty = False
            self._last_sync = time.monotonic()

    @property
    def dirty(self) -> bool:
        """Records were written and not yet synced (``"batch"`` policy)."""
        return self._dirty

    def sync_due(self) -> bool:
        """Sync if the batch interval has passed; True when still dirty afterwards."""
        if self._dirty and time.monotonic() - self._last_sync >= self.batch_interval:
            self.sync()
        return self._dirty

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._fd < 0

    def close(self) -> None:
        """Sync (whatever the policy) and close; idempotent."""
        if self._fd >= 0:
            try:
                if self._dirty or self.fsync_policy != "always":
                    os.fdatasync(self._fd)
            finally:
                self._release()

    def __enter__(self) -> OrderJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OrderJournal({self.path!r}, {len(self._orders)} orders, fsync={self.fsync_policy})"
