"""The order journal: what survives a restart, torn and corrupt files, compaction, locking."""

from __future__ import annotations

import json
import time
from decimal import Decimal as D
from pathlib import Path

import pytest

from fixengine.orders import NewOrderRequest, Side
from fixengine.orders.journal import JOURNAL_NAME, OrderJournal, journal_path_for
from fixengine.orders.messages import ExecutionReport
from fixengine.orders.model import ExecType, OrdStatus
from fixengine.orders.state import OrderRegistry
from fixengine.session.config import SessionID
from fixengine.session.store import MemoryStore, StoreCorruptError, StoreError, StoreLockedError
from fixengine.session.store_file import FileStore
from fixengine.session.store_sqlite import SqliteStore

NOW = 1_800_000_000.0


def report(
    cl: str, exec_id: str, exec_type: ExecType, status: OrdStatus, **kw: object
) -> ExecutionReport:
    return ExecutionReport(
        exec_id=exec_id, exec_type=exec_type, ord_status=status, cl_ord_id=cl, order_id="O1", **kw
    )  # type: ignore[arg-type]


def three_orders(journal: OrderJournal) -> tuple[OrderRegistry, list[str]]:
    """Orders A (filled), B (partly filled), C (new), each journaled after every change."""
    registry = OrderRegistry(now=NOW)
    ids = []
    for qty in (10, 20, 30):
        req = registry.new_order(NewOrderRequest("ACME", Side.BUY, D(qty), price=D(5)), NOW)
        assert req.cl_ord_id is not None
        ids.append(req.cl_ord_id)
        journal.record_order(registry[req.cl_ord_id])
    for cl in ids:
        registry.apply(report(cl, f"N-{cl}", ExecType.NEW, OrdStatus.NEW), NOW)
        journal.record_order(registry[cl])
    a, b, _ = ids
    registry.apply(
        report(a, "F1", ExecType.TRADE, OrdStatus.FILLED, last_qty=D(10), last_px=D(5)), NOW
    )
    journal.record_order(registry[a])
    registry.apply(
        report(b, "F2", ExecType.TRADE, OrdStatus.PARTIALLY_FILLED, last_qty=D(5), last_px=D(5)),
        NOW,
    )
    journal.record_order(registry[b])
    return registry, ids


def test_open_orders_and_used_ids_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    with OrderJournal(path, now=NOW) as journal:
        _, (a, b, c) = three_orders(journal)
    with OrderJournal(path, now=NOW) as journal:
        restored = {o.cl_ord_id: o for o in journal.open_orders()}
        assert sorted(restored) == sorted([b, c])
        assert restored[b].cum_qty == D(5) and restored[b].status is OrdStatus.PARTIALLY_FILLED
        assert restored[b].exec_ids == {f"N-{b}", "F2"}
        assert {a, b, c} <= journal.used_ids()
        registry = journal.restore(now=NOW + 1)
    assert a in registry and registry.get(a) is None  # used, refused again, but not open
    dup = registry.apply(
        report(b, "F2", ExecType.TRADE, OrdStatus.PARTIALLY_FILLED, last_qty=D(5), last_px=D(5)),
        NOW,
    )
    assert dup.duplicate and registry[b].cum_qty == D(5)
    fresh = registry.new_order(NewOrderRequest("ACME", Side.SELL, D(1), price=D(5)), NOW)
    assert fresh.cl_ord_id not in (a, b, c)


def test_a_torn_last_line_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    with OrderJournal(path, now=NOW) as journal:
        _, (_, b, c) = three_orders(journal)
    with open(path, "ab") as f:
        f.write(b'{"kind":"order","order":{"cl_ord_id":"X"')  # a crash in mid-append
    with OrderJournal(path, now=NOW) as journal:
        assert journal.dropped_torn_line
        assert sorted(o.cl_ord_id for o in journal.open_orders()) == sorted([b, c])
    lines = path.read_bytes().splitlines()
    assert all(json.loads(line) for line in lines)  # compaction rewrote it whole


def test_a_bad_line_followed_by_good_ones_is_corruption(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    with OrderJournal(path, now=NOW) as journal:
        three_orders(journal)
    lines = path.read_bytes().splitlines()
    lines.insert(2, b"not json at all")
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(StoreCorruptError, match="line 3"):
        OrderJournal(path, now=NOW)
    OrderJournal(tmp_path / "other.jsonl").close()  # the lock was released


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    path.write_text(
        '{"kind":"header","format":"something.else","version":1}\n{"kind":"id","id":"a","time":1}\n'
    )
    with pytest.raises(StoreCorruptError, match="not an order journal"):
        OrderJournal(path)


def test_compaction_keeps_one_line_per_open_order(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    with OrderJournal(path, now=NOW, compact_every=1000) as journal:
        registry, (a, b, c) = three_orders(journal)
        for _ in range(50):
            journal.record_order(registry[c])
        assert len(path.read_bytes().splitlines()) > 50
        journal.compact(NOW)
        records = [json.loads(line) for line in path.read_bytes().splitlines()]
        kinds = [r["kind"] for r in records]
        assert kinds == ["header", "retired", "order", "order"]
        assert a in records[1]["ids"]
        journal.record_order(registry[c])  # appends continue after the rewrite
    with OrderJournal(path, now=NOW) as journal:
        assert sorted(o.cl_ord_id for o in journal.open_orders()) == sorted([b, c])


def test_compaction_is_due_after_compact_every_records(tmp_path: Path) -> None:
    with OrderJournal(tmp_path / JOURNAL_NAME, now=NOW, compact_every=5) as journal:
        registry = OrderRegistry(now=NOW)
        req = registry.new_order(NewOrderRequest("ACME", Side.BUY, D(1), price=D(1)), NOW)
        assert req.cl_ord_id is not None
        for _ in range(4):
            journal.record_order(registry[req.cl_ord_id])
        assert not journal.compaction_due
        journal.record_order(registry[req.cl_ord_id])
        assert journal.compaction_due
        journal.compact()
        assert not journal.compaction_due


def test_retired_ids_are_forgotten_after_the_retention(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    with OrderJournal(path, now=NOW) as journal:
        _, (a, _, _) = three_orders(journal)
        journal.record_id("MASS-1", NOW)
    with OrderJournal(path, now=NOW + 3600) as journal:
        assert {a, "MASS-1"} <= journal.used_ids()
    with OrderJournal(path, now=NOW + 4 * 86400, id_retention=3 * 86400) as journal:
        assert a not in journal.used_ids() and "MASS-1" not in journal.used_ids()


def test_a_second_journal_on_the_same_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    with OrderJournal(path), pytest.raises(StoreLockedError, match="already open"):
        OrderJournal(path)
    OrderJournal(path).close()


def test_a_crashed_compaction_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    with OrderJournal(path, now=NOW) as journal:
        _, (_, b, c) = three_orders(journal)
    (tmp_path / (JOURNAL_NAME + ".tmp")).write_bytes(b"half a new file")
    with OrderJournal(path, now=NOW) as journal:
        assert sorted(o.cl_ord_id for o in journal.open_orders()) == sorted([b, c])
    assert not (tmp_path / (JOURNAL_NAME + ".tmp")).exists()


def test_batch_policy_syncs_when_the_interval_has_passed(tmp_path: Path) -> None:
    with OrderJournal(tmp_path / JOURNAL_NAME, fsync="batch", batch_interval=0.001) as journal:
        journal.record_id("X", NOW)
        assert journal.dirty
        time.sleep(0.002)
        assert journal.sync_due() is False and not journal.dirty


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fsync policy"):
        OrderJournal(tmp_path / "j", fsync="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="compact_every"):
        OrderJournal(tmp_path / "j", compact_every=0)


def test_journal_goes_next_to_the_session_store(tmp_path: Path) -> None:
    sid = SessionID("FIX.4.4", "A", "B")
    with FileStore(tmp_path, sid) as store:
        assert journal_path_for(store) == str(Path(store.directory) / JOURNAL_NAME)
    sqlite = SqliteStore(tmp_path / "all.db", sid)
    try:
        assert journal_path_for(sqlite).startswith(str(tmp_path / "all.db") + ".FIX.4.4-A-B")
    finally:
        sqlite.close()
    with pytest.raises(StoreError, match="pass the journal a path"):
        journal_path_for(MemoryStore())


def test_writing_to_a_closed_journal_is_an_error(tmp_path: Path) -> None:
    journal = OrderJournal(tmp_path / JOURNAL_NAME)
    journal.close()
    journal.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        journal.record_id("X", NOW)
