"""SqliteStore specifics: file naming, shared databases, corruption, locking, pragmas."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixengine.session.config import SessionID
from fixengine.session.store import StoreCorruptError, StoreError, StoreLockedError
from fixengine.session.store_sqlite import SqliteStore

SID = SessionID("FIX.4.4", "SENDER", "TARGET")
OTHER = SessionID("FIX.4.2", "SENDER", "TARGET", "q1")


def test_directory_path_gives_one_database_per_session(tmp_path: Path) -> None:
    with SqliteStore(tmp_path, SID) as a, SqliteStore(tmp_path, OTHER) as b:
        a.save_sent(1, b"a")
        b.save_sent(1, b"b")
    assert (tmp_path / "FIX.4.4-SENDER-TARGET.sqlite3").exists()
    assert (tmp_path / "FIX.4.2-SENDER-TARGET-q1.sqlite3").exists()


def test_sessions_sharing_one_database_are_independent(tmp_path: Path) -> None:
    db = tmp_path / "fix.db"
    with SqliteStore(db, SID) as a, SqliteStore(db, OTHER) as b:
        a.save_sent(1, b"a1")
        a.save_sent(2, b"a2")
        b.save_sent(1, b"b1")
        b.set_next_target_seq(40)
        a.reset(1.0)
        assert b.get_sent(1, 5) == [(1, b"b1")]
    with SqliteStore(db, SID) as a, SqliteStore(db, OTHER) as b:
        assert (a.next_sender_seq(), a.next_target_seq(), a.get_sent(1, 5)) == (1, 1, [])
        assert (b.next_sender_seq(), b.next_target_seq()) == (2, 40)


def test_garbage_database_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "broken.sqlite3"
    db.write_bytes(b"this is not an sqlite database at all" * 200)
    with pytest.raises(StoreCorruptError, match=r"broken\.sqlite3: not a usable SQLite store"):
        SqliteStore(db, SID)


def test_second_open_of_same_session_is_refused(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path, SID)
    with pytest.raises(StoreLockedError, match="already open"):
        SqliteStore(tmp_path, SID)
    first.close()
    SqliteStore(tmp_path, SID).close()


@pytest.mark.parametrize(("policy", "level"), [("always", 2), ("batch", 1), ("never", 0)])
def test_fsync_policy_sets_synchronous_pragma(tmp_path: Path, policy: str, level: int) -> None:
    with SqliteStore(tmp_path, SID, fsync=policy) as s:  # type: ignore[arg-type]
        assert s._conn is not None
        assert s._conn.execute("PRAGMA synchronous").fetchone()[0] == level
        assert s._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_closed_store_refuses_calls(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path, SID)
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.save_sent(1, b"x")
