"""One behaviour suite run against every MessageStore (memory, file, sqlite).

Modelled on the shape of quickfixgo's store suite: sequence numbers, set/get,
save/get ranges, reset, refresh and reopen, large messages, binary data with SOH,
creation time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fixengine.session import store_file
from fixengine.session.config import SessionID
from fixengine.session.store import MemoryStore, MessageStore, open_store
from fixengine.session.store_file import FileStore
from fixengine.session.store_sqlite import SqliteStore

SID = SessionID("FIX.4.4", "SENDER", "TARGET")
KINDS = ["memory", "file", "sqlite", "file-batch", "sqlite-never", "file-pwrite"]

Opener = Callable[[], MessageStore]


def _opener(kind: str, path: Path) -> Opener:
    if kind == "memory":
        shared = MemoryStore()
        return lambda: shared
    if kind == "file":
        return lambda: FileStore(path, SID, fsync="always")
    if kind == "file-batch":
        return lambda: FileStore(path, SID, fsync="batch", batch_interval_ms=5)
    if kind == "file-pwrite":
        return lambda: _unmapped_file_store(path)
    if kind == "sqlite":
        return lambda: SqliteStore(path, SID, fsync="always")
    return lambda: SqliteStore(path, SID, fsync="never")


def _unmapped_file_store(path: Path) -> FileStore:
    """A file store that writes with pwrite/pwritev only (as on btrfs or ZFS)."""
    mapped = store_file._MAP_SAFE_FILESYSTEMS
    store_file._MAP_SAFE_FILESYSTEMS = frozenset()
    try:
        return FileStore(path, SID, fsync="never")
    finally:
        store_file._MAP_SAFE_FILESYSTEMS = mapped


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def opener(kind: str, tmp_path: Path) -> Opener:
    return _opener(kind, tmp_path)


@pytest.fixture
def store(opener: Opener) -> Iterator[MessageStore]:
    s = opener()
    yield s
    s.close()


def reopen(store: MessageStore, opener: Opener) -> MessageStore:
    """Close and open again (memory stores keep their object: nothing to reopen)."""
    if isinstance(store, MemoryStore):
        return store
    store.close()
    return opener()


def test_new_store_starts_at_seq_one(store: MessageStore) -> None:
    assert store.next_sender_seq() == 1
    assert store.next_target_seq() == 1
    assert store.get_sent(1, 100) == []


def test_is_a_message_store(store: MessageStore) -> None:
    assert isinstance(store, MessageStore)


def test_set_and_get_sequence_numbers(store: MessageStore, opener: Opener) -> None:
    store.set_next_sender_seq(867)
    store.set_next_target_seq(5309)
    assert (store.next_sender_seq(), store.next_target_seq()) == (867, 5309)
    store = reopen(store, opener)
    assert (store.next_sender_seq(), store.next_target_seq()) == (867, 5309)
    store.close()


def test_latest_target_seq_wins_after_many_updates(store: MessageStore, opener: Opener) -> None:
    for seq in range(2, 60):
        store.set_next_target_seq(seq)
    store = reopen(store, opener)
    assert store.next_target_seq() == 59
    store.close()


def test_save_sent_advances_next_sender_seq(store: MessageStore) -> None:
    store.save_sent(1, b"one")
    assert store.next_sender_seq() == 2
    store.save_sent(2, b"two")
    assert store.next_sender_seq() == 3
    assert store.next_target_seq() == 1


def test_save_and_get_ranges(store: MessageStore, opener: Opener) -> None:
    msgs = {seq: f"8=FIX.4.4\x0134={seq}\x01".encode() for seq in range(1, 11)}
    for seq, data in msgs.items():
        store.save_sent(seq, data)
    store = reopen(store, opener)
    assert store.get_sent(1, 10) == sorted(msgs.items())
    assert store.get_sent(3, 5) == [(s, msgs[s]) for s in (3, 4, 5)]
    assert store.get_sent(7, 7) == [(7, msgs[7])]
    assert store.get_sent(9, 1000) == [(9, msgs[9]), (10, msgs[10])]
    assert store.get_sent(11, 20) == []
    assert store.get_sent(5, 4) == []
    assert store.next_sender_seq() == 11
    store.close()


def test_get_sent_skips_gaps(store: MessageStore) -> None:
    store.save_sent(1, b"a")
    store.set_next_sender_seq(5)  # e.g. a gap we will fill
    store.save_sent(5, b"e")
    store.save_sent(6, b"f")
    assert store.get_sent(1, 6) == [(1, b"a"), (5, b"e"), (6, b"f")]
    assert store.next_sender_seq() == 7


def test_saving_a_seq_again_keeps_the_latest_bytes(store: MessageStore, opener: Opener) -> None:
    store.save_sent(1, b"first")
    store.save_sent(1, b"second")
    store = reopen(store, opener)
    assert store.get_sent(1, 1) == [(1, b"second")]
    store.close()


def test_set_next_sender_seq_after_save_survives_reopen(
    store: MessageStore, opener: Opener
) -> None:
    store.save_sent(1, b"a")
    store.save_sent(2, b"b")
    store.set_next_sender_seq(40)
    store = reopen(store, opener)
    assert store.next_sender_seq() == 40
    assert store.get_sent(1, 2) == [(1, b"a"), (2, b"b")]
    store.close()


def test_reset_drops_messages_and_seqnums(store: MessageStore, opener: Opener) -> None:
    store.save_sent(1, b"a")
    store.save_sent(2, b"b")
    store.set_next_target_seq(30)
    store.reset(1_700_000_000.25)
    assert (store.next_sender_seq(), store.next_target_seq()) == (1, 1)
    assert store.get_sent(1, 10) == []
    assert store.creation_time == 1_700_000_000.25
    store = reopen(store, opener)
    assert (store.next_sender_seq(), store.next_target_seq()) == (1, 1)
    assert store.get_sent(1, 10) == []
    assert store.creation_time == 1_700_000_000.25
    store.save_sent(1, b"new period")
    assert store.get_sent(1, 10) == [(1, b"new period")]
    store.close()


def test_creation_time_is_kept_across_reopen(store: MessageStore, opener: Opener) -> None:
    created = store.creation_time
    assert created > 1_600_000_000
    store.save_sent(1, b"x")
    store = reopen(store, opener)
    assert store.creation_time == created
    store.close()


def test_refresh_keeps_state(store: MessageStore) -> None:
    store.save_sent(1, b"a")
    store.set_next_target_seq(9)
    store.refresh()
    assert store.next_sender_seq() == 2
    assert store.next_target_seq() == 9
    assert store.get_sent(1, 1) == [(1, b"a")]


def test_large_messages_round_trip(store: MessageStore, opener: Opener) -> None:
    big = os.urandom(3 * 1024 * 1024)
    store.save_sent(1, big)
    store.save_sent(2, b"small")
    store = reopen(store, opener)
    assert store.get_sent(1, 2) == [(1, big), (2, b"small")]
    store.close()


def test_binary_data_with_soh_round_trips(store: MessageStore, opener: Opener) -> None:
    data = bytes(range(256)) * 3 + b"\x01\x0110=000\x01\x00"
    store.save_sent(1, data)
    store.save_sent(2, b"")
    store = reopen(store, opener)
    assert store.get_sent(1, 2) == [(1, data), (2, b"")]
    store.close()


def test_accepts_bytearray_and_memoryview(store: MessageStore) -> None:
    store.save_sent(1, bytearray(b"abc"))
    store.save_sent(2, memoryview(b"def"))  # type: ignore[arg-type]
    assert store.get_sent(1, 2) == [(1, b"abc"), (2, b"def")]


@pytest.mark.parametrize("bad", [0, -1])
def test_rejects_non_positive_seq(store: MessageStore, bad: int) -> None:
    with pytest.raises(ValueError):
        store.save_sent(bad, b"x")
    with pytest.raises(ValueError):
        store.set_next_target_seq(bad)
    with pytest.raises(ValueError):
        store.set_next_sender_seq(bad)
    assert store.next_sender_seq() == 1


def test_many_messages_then_reopen(store: MessageStore, opener: Opener) -> None:
    for seq in range(1, 501):
        store.save_sent(seq, b"m%d" % seq)
        store.set_next_target_seq(seq + 1)
    store = reopen(store, opener)
    assert store.next_sender_seq() == 501
    assert store.next_target_seq() == 501
    got = store.get_sent(100, 400)
    assert [s for s, _ in got] == list(range(100, 401))
    assert all(m == b"m%d" % s for s, m in got)
    store.close()


def test_flushed_calls_survive_reopen(store: MessageStore, opener: Opener) -> None:
    store.flush()  # nothing held: harmless
    store.save_sent(1, b"a")
    store.set_next_sender_seq(3)
    store.set_next_target_seq(4)
    store.flush()
    store.flush()
    store.save_sent(3, b"c")
    assert store.get_sent(1, 5) == [(1, b"a"), (3, b"c")]  # held calls are visible
    store.flush()
    store = reopen(store, opener)
    assert (store.next_sender_seq(), store.next_target_seq()) == (4, 4)
    assert store.get_sent(1, 5) == [(1, b"a"), (3, b"c")]
    store.close()


def test_close_is_idempotent(opener: Opener) -> None:
    s = opener()
    s.close()
    s.close()


@pytest.mark.parametrize("kind_name", ["memory", "file", "sqlite"])
def test_open_store_factory_builds_each_kind(tmp_path: Path, kind_name: str) -> None:
    s = open_store(kind_name, SID, str(tmp_path), "always")
    s.save_sent(1, b"x")
    assert s.get_sent(1, 1) == [(1, b"x")]
    assert isinstance(s, MessageStore)
    s.close()


@pytest.mark.parametrize("kind_name", ["file", "sqlite"])
def test_unusable_path_is_a_clear_store_error(tmp_path: Path, kind_name: str) -> None:
    from fixengine.session.store import StoreError

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="not-a-directory"):
        open_store(kind_name, SID, str(blocker / "store"), "always")
