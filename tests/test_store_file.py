"""FileStore specifics: on-disk layout, torn tails, corruption, locking, fsync policy."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from fixengine.errors import ConfigError
from fixengine.session import store_file
from fixengine.session.config import SessionID
from fixengine.session.store import (
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    open_store,
    session_dir_name,
)
from fixengine.session.store_file import FileStore

SID = SessionID("FIX.4.4", "SENDER", "TARGET")


def log_path(root: Path, sid: SessionID = SID) -> Path:
    return root / session_dir_name(sid) / "messages.log"


def filled(root: Path, n: int = 3) -> tuple[list[int], int]:
    """Save n messages; return the log size after each one and the size before the first."""
    sizes = []
    with FileStore(root, SID) as s:
        start = s.size
        for seq in range(1, n + 1):
            s.save_sent(seq, b"message %d \x01 body" % seq)
            sizes.append(s.size)
    return sizes, start


@pytest.fixture(params=["mapped", "pwrite"])
def file_writes(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Run a test with the target slots written through a mapping, and with ``pwrite``."""
    if request.param == "mapped":
        fstype = store_file._filesystem_type(str(tmp_path))
        if fstype is None:
            pytest.skip("file system type unknown")
        monkeypatch.setattr(store_file, "_MAP_SAFE_FILESYSTEMS", frozenset({fstype}))
    else:
        monkeypatch.setattr(store_file, "_MAP_SAFE_FILESYSTEMS", frozenset())
    return str(request.param)


def snapshot(root: Path, into: Path) -> Path:
    """Copy a session's files as they are on disk now: what a kill -9 here would leave."""
    shutil.copytree(root / session_dir_name(SID), into / session_dir_name(SID))
    return into


# A store written by the version before writes were held until flush(): the log
# (header, M 1, M 2, S 5, M 5; zero-filled tail cut off) and the two target slots.
OLD_LOG = bytes.fromhex(
    "46495853544f5231f1582100000041121ab54800002040fc54d94125fa4b8f278cee0d0100000000000000"
    "0100000000000000f1581d000000819fc2054d0100000000000000383d4649582e342e340133353d410133"
    "343d3101f1581d000000c2e4097e4d0200000000000000383d4649582e342e340133353d440133343d3201"
    "f15809000000bd3fde8b530500000000000000f1581d0000006e75662d4d0500000000000000383d464958"
    "2e342e340133353d300133343d3501"
)
OLD_SLOTS = (
    bytes.fromhex("020000000000000025fa4b8f278cee0d04000000000000003b8aaffc"),
    bytes.fromhex("010000000000000025fa4b8f278cee0d03000000000000000a2a74ae"),
)
OLD_MESSAGES = [
    (1, b"8=FIX.4.4\x0135=A\x0134=1\x01"),
    (2, b"8=FIX.4.4\x0135=D\x0134=2\x01"),
    (5, b"8=FIX.4.4\x0135=0\x0134=5\x01"),
]
OLD_HEADER_SIZE = 8 + 10 + 33  # file magic, header record


def test_opens_a_store_written_by_the_previous_version(tmp_path: Path) -> None:
    log_path(tmp_path).parent.mkdir(parents=True)
    log_path(tmp_path).write_bytes(OLD_LOG)
    log_path(tmp_path).with_name("seqnums").write_bytes(
        OLD_SLOTS[0] + bytes(4096 - len(OLD_SLOTS[0])) + OLD_SLOTS[1]
    )
    with FileStore(tmp_path, SID) as s:
        assert (s.next_sender_seq(), s.next_target_seq()) == (6, 4)
        assert s.creation_time == 1_700_000_000.5
        assert s.get_sent(1, 10) == OLD_MESSAGES
        s.save_sent(6, b"new")
        s.set_next_target_seq(5)
    with FileStore(tmp_path, SID) as s:
        assert (s.next_sender_seq(), s.next_target_seq()) == (7, 5)
        assert s.get_sent(1, 10) == [*OLD_MESSAGES, (6, b"new")]


def test_records_are_byte_identical_to_the_previous_version(tmp_path: Path) -> None:
    with FileStore(tmp_path, SID, fsync="never", now=1_700_000_000.5) as s:
        s.save_sent(1, OLD_MESSAGES[0][1])
        s.save_sent(2, OLD_MESSAGES[1][1])
        s.set_next_sender_seq(5)
        s.flush()
        s.save_sent(5, OLD_MESSAGES[2][1])
    log = log_path(tmp_path).read_bytes().rstrip(b"\0")
    assert log[OLD_HEADER_SIZE:] == OLD_LOG[OLD_HEADER_SIZE:]  # the header's token is random


def test_calls_reach_the_disk_at_flush(tmp_path: Path, file_writes: str) -> None:
    with FileStore(tmp_path, SID, fsync="never") as s:
        assert (s._slots is not None) == (file_writes == "mapped")
        s.save_sent(1, b"one")
        s.save_sent(2, b"two")
        s.set_next_target_seq(7)
        assert s.get_sent(1, 2) == [(1, b"one"), (2, b"two")]  # a read flushes first
        s.save_sent(3, b"three")
        s.set_next_sender_seq(9)
        s.set_next_target_seq(8)
        killed = snapshot(tmp_path, tmp_path / "before-flush")
        s.flush()
        flushed = snapshot(tmp_path, tmp_path / "after-flush")
        s.save_sent(9, b"nine")
    with FileStore(killed, SID) as k:  # the state of the last flush (get_sent's)
        assert (k.next_sender_seq(), k.next_target_seq()) == (3, 7)
        assert k.get_sent(1, 10) == [(1, b"one"), (2, b"two")]
    with FileStore(flushed, SID) as f:
        assert (f.next_sender_seq(), f.next_target_seq()) == (9, 8)
        assert f.get_sent(1, 10) == [(1, b"one"), (2, b"two"), (3, b"three")]
    with FileStore(tmp_path, SID) as s:  # close flushed the rest
        assert s.next_sender_seq() == 10
        assert s.get_sent(9, 9) == [(9, b"nine")]


def test_a_flush_writes_all_held_records_with_one_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = FileStore(tmp_path, SID, fsync="never")
    s.save_sent(1, b"first")
    s.flush()  # writes the zeros ahead too
    calls: list[int] = []
    real = os.pwritev
    monkeypatch.setattr(
        store_file.os, "pwritev", lambda fd, bufs, off: (calls.append(fd), real(fd, bufs, off))[1]
    )
    for seq in range(2, 102):
        s.save_sent(seq, b"message %d" % seq)
    s.flush()
    assert len(calls) == 1
    monkeypatch.undo()
    s.close()
    with FileStore(tmp_path, SID) as s:
        got = s.get_sent(1, 200)
        assert [seq for seq, _ in got] == list(range(1, 102))
        assert got[-1] == (101, b"message 101")


def test_many_held_records_are_written_without_waiting_for_flush(tmp_path: Path) -> None:
    with FileStore(tmp_path, SID, fsync="never") as s:
        seq = 0
        while log_path(tmp_path).stat().st_size < store_file._HOLD_BYTES:
            seq += 1
            s.save_sent(seq, bytes(1000))
            assert seq < 1000, "held records were never written"
        killed = snapshot(tmp_path, tmp_path / "killed")
    with FileStore(killed, SID) as k:
        assert k.next_sender_seq() == seq + 1  # everything up to the call that wrote


def test_a_buffer_changed_after_save_sent_does_not_change_the_record(tmp_path: Path) -> None:
    data = bytearray(b"original")
    with FileStore(tmp_path, SID) as s:
        s.save_sent(1, data)
        data[:] = b"changed!"
    with FileStore(tmp_path, SID) as s:
        assert s.get_sent(1, 1) == [(1, b"original")]


def test_file_system_type_of_a_path() -> None:
    if not os.path.exists("/proc/self/mountinfo"):
        pytest.skip("no /proc/self/mountinfo")
    assert store_file._filesystem_type("/proc") == "proc"
    assert store_file._filesystem_type("/no/such/path") is None


def test_layout_is_one_directory_per_session(tmp_path: Path) -> None:
    with FileStore(tmp_path, SID) as s:
        s.save_sent(1, b"x")
    assert sorted(p.name for p in (tmp_path / "FIX.4.4-SENDER-TARGET").iterdir()) == [
        "lock",
        "messages.log",
        "seqnums",
    ]


def test_session_dir_names_are_distinct_and_safe() -> None:
    names = {
        session_dir_name(SessionID("FIX.4.4", "A-B", "C")),
        session_dir_name(SessionID("FIX.4.4", "A", "B-C")),
        session_dir_name(SessionID("FIX.4.4", "A", "B", "C")),
        session_dir_name(SessionID("FIX.4.4", "A", "B")),
        session_dir_name(SessionID("FIX.4.4", "../..", "B")),
        session_dir_name(SessionID("FIXT.1.1", "Ünï", "B/C")),
    }
    assert len(names) == 6
    assert all("/" not in n and not n.startswith(".") for n in names)


def test_torn_tail_is_truncated_at_every_cut_point(tmp_path: Path) -> None:
    sizes, _ = filled(tmp_path, 3)
    data = log_path(tmp_path).read_bytes()
    for cut in range(sizes[1] + 1, sizes[2]):
        log_path(tmp_path).write_bytes(data[:cut])
        with FileStore(tmp_path, SID) as s:
            assert s.next_sender_seq() == 3
            assert [seq for seq, _ in s.get_sent(1, 10)] == [1, 2]
        assert log_path(tmp_path).stat().st_size == sizes[1]


def test_store_keeps_working_after_torn_tail(tmp_path: Path) -> None:
    sizes, _ = filled(tmp_path, 2)
    with open(log_path(tmp_path), "r+b") as f:
        f.truncate(sizes[1] - 3)
    with FileStore(tmp_path, SID) as s:
        assert s.next_sender_seq() == 2
        s.save_sent(2, b"again")
    with FileStore(tmp_path, SID) as s:
        assert s.get_sent(1, 2) == [(1, b"message 1 \x01 body"), (2, b"again")]


def test_zero_filled_tail_is_free_space(tmp_path: Path) -> None:
    filled(tmp_path, 2)
    with open(log_path(tmp_path), "ab") as f:
        f.write(b"\x00" * 5000)  # zeros written ahead, or extended but never written (OS crash)
    with FileStore(tmp_path, SID) as s:
        assert s.next_sender_seq() == 3
        s.save_sent(3, b"third")
    with FileStore(tmp_path, SID) as s:
        assert [seq for seq, _ in s.get_sent(1, 9)] == [1, 2, 3]


def test_appends_overwrite_space_written_ahead(tmp_path: Path) -> None:
    with FileStore(tmp_path, SID) as s:
        s.save_sent(1, b"a")
        s.flush()
        allocated = log_path(tmp_path).stat().st_size
        for seq in range(2, 200):
            s.save_sent(seq, b"m" * 100)
            s.flush()
        assert log_path(tmp_path).stat().st_size == allocated  # no growth per append
        assert s.size < allocated
        s.save_sent(200, b"x" * allocated)  # larger than the space left: grows
        s.flush()
        assert log_path(tmp_path).stat().st_size > allocated
    with FileStore(tmp_path, SID) as s:
        assert s.next_sender_seq() == 201
        assert s.get_sent(200, 200) == [(200, b"x" * allocated)]


def test_corruption_in_the_middle_is_a_clear_error(tmp_path: Path) -> None:
    sizes, _ = filled(tmp_path, 3)
    good = log_path(tmp_path).read_bytes()
    raw = bytearray(good)
    raw[sizes[0] + 15] ^= 0xFF  # inside record 2; record 3 is intact after it
    log_path(tmp_path).write_bytes(bytes(raw))
    with pytest.raises(
        StoreCorruptError, match=rf"messages.log: damaged record at offset {sizes[0]}"
    ):
        FileStore(tmp_path, SID)
    assert log_path(tmp_path).read_bytes() == bytes(raw)  # nothing was dropped
    log_path(tmp_path).write_bytes(good)  # repaired: opens again (the failed open let go)
    with FileStore(tmp_path, SID) as s:
        assert s.next_sender_seq() == 4


def test_not_a_store_file_is_a_clear_error(tmp_path: Path) -> None:
    log_path(tmp_path).parent.mkdir(parents=True)
    log_path(tmp_path).write_bytes(b"hello, this is not a store")
    with pytest.raises(StoreCorruptError, match="bad magic"):
        FileStore(tmp_path, SID)
    log_path(tmp_path).write_bytes(b"FIX")
    with pytest.raises(StoreCorruptError, match="too short"):
        FileStore(tmp_path, SID)


def test_damaged_header_is_a_clear_error(tmp_path: Path) -> None:
    filled(tmp_path, 1)
    raw = bytearray(log_path(tmp_path).read_bytes())
    raw[20] ^= 0x01
    log_path(tmp_path).write_bytes(bytes(raw))
    with pytest.raises(StoreCorruptError, match="header record"):
        FileStore(tmp_path, SID)


def test_get_sent_detects_damage_after_open(tmp_path: Path) -> None:
    sizes, _ = filled(tmp_path, 2)
    with FileStore(tmp_path, SID) as s:
        with open(log_path(tmp_path), "r+b") as f:
            f.seek(sizes[1] - 2)
            f.write(b"!")
        assert s.get_sent(1, 1) == [(1, b"message 1 \x01 body")]
        with pytest.raises(StoreCorruptError, match="MsgSeqNum 2"):
            s.get_sent(1, 2)


def test_second_open_of_same_session_is_refused(tmp_path: Path) -> None:
    first = FileStore(tmp_path, SID)
    with pytest.raises(StoreLockedError, match="already open"):
        FileStore(tmp_path, SID)
    other = FileStore(tmp_path, SessionID("FIX.4.4", "SENDER", "OTHER"))
    other.close()
    first.close()
    FileStore(tmp_path, SID).close()


def test_torn_newest_target_slot_falls_back_to_previous_value(
    tmp_path: Path, file_writes: str
) -> None:
    with FileStore(tmp_path, SID) as s:
        s.set_next_target_seq(7)
        s.flush()
        s.set_next_target_seq(8)
        s.flush()
    seqnums = log_path(tmp_path).with_name("seqnums")
    raw = bytearray(seqnums.read_bytes())
    raw[0] ^= 0xFF  # the slot written last (counter 2 -> offset 0)
    seqnums.write_bytes(bytes(raw))
    with FileStore(tmp_path, SID) as s:
        assert s.next_target_seq() == 7
        s.set_next_target_seq(9)
    with FileStore(tmp_path, SID) as s:
        assert s.next_target_seq() == 9


def test_target_file_never_grows(tmp_path: Path, file_writes: str) -> None:
    with FileStore(tmp_path, SID, fsync="never") as s:
        for seq in range(2, 2000):
            s.set_next_target_seq(seq)
            s.flush()
    assert log_path(tmp_path).with_name("seqnums").stat().st_size <= 8192


def test_crash_during_reset_keeps_the_old_period(tmp_path: Path) -> None:
    filled(tmp_path, 2)
    tmp = log_path(tmp_path).with_name("messages.log.tmp")
    tmp.write_bytes(b"FIXSTOR1 half written")  # reset died before its rename
    with FileStore(tmp_path, SID) as s:
        assert s.next_sender_seq() == 3
    assert not tmp.exists()


def test_reset_ignores_target_slots_of_the_old_period(tmp_path: Path, file_writes: str) -> None:
    with FileStore(tmp_path, SID) as s:
        s.set_next_target_seq(50)
        s.reset(time.time())
    with FileStore(tmp_path, SID) as s:
        assert s.next_target_seq() == 1
        s.set_next_target_seq(2)
    with FileStore(tmp_path, SID) as s:
        assert s.next_target_seq() == 2


@pytest.mark.parametrize("file_writes", ["pwrite"], indirect=True)
def test_failed_flush_leaves_no_partial_record_and_keeps_the_records_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file_writes: str
) -> None:
    s = FileStore(tmp_path, SID)
    s.save_sent(1, b"ok")
    s.flush()
    written = log_path(tmp_path).read_bytes().rstrip(b"\0")

    def half_then_fail(fd: int, pieces: list[bytes], offset: int, size: int) -> None:
        os.pwrite(fd, b"".join(pieces)[: size // 2], offset)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_file, "_write_records", half_then_fail)
    s.save_sent(2, b"x" * 1000)
    s.save_sent(3, b"y")
    with pytest.raises(StoreError, match="No space left"):
        s.flush()
    assert log_path(tmp_path).read_bytes() == written  # cut back to the last whole flush
    assert s.next_sender_seq() == 4
    with pytest.raises(StoreError, match="No space left"):
        s.get_sent(1, 3)  # a read needs the held records written
    monkeypatch.undo()
    s.flush()  # the disk has room again: the held records go out
    assert s.get_sent(1, 5) == [(1, b"ok"), (2, b"x" * 1000), (3, b"y")]
    s.close()
    with FileStore(tmp_path, SID) as s:
        assert s.get_sent(1, 5) == [(1, b"ok"), (2, b"x" * 1000), (3, b"y")]
        assert s.next_sender_seq() == 4


def test_failed_growth_of_a_mapped_log_leaves_no_partial_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file_writes: str
) -> None:
    s = FileStore(tmp_path, SID, fsync="never")
    s.save_sent(1, b"ok")
    s.flush()
    written = log_path(tmp_path).read_bytes().rstrip(b"\0")
    real = store_file._write_all

    def half_then_fail(fd: int, data: bytes, offset: int) -> None:
        real(fd, bytes(data)[: len(data) // 2], offset)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_file, "_write_all", half_then_fail)
    big = os.urandom(2 * store_file._PREALLOC)  # more than the space written ahead
    s.save_sent(2, b"small")
    with pytest.raises(StoreError, match="No space left"):
        s.save_sent(3, big)  # too much to hold: written at once, and that fails
    assert log_path(tmp_path).read_bytes() == written
    monkeypatch.undo()
    s.set_next_target_seq(2)
    s.flush()
    s.close()
    with FileStore(tmp_path, SID) as s:
        assert s.get_sent(1, 5) == [(1, b"ok"), (2, b"small"), (3, big)]
        assert (s.next_sender_seq(), s.next_target_seq()) == (4, 2)


def test_a_copy_cut_short_anywhere_reopens_with_a_prefix_of_the_batch(
    tmp_path: Path, file_writes: str
) -> None:
    """Every record copied into the log's mapping, cut short at any byte in any order."""
    if file_writes != "mapped":
        pytest.skip("the mapping only")
    s = FileStore(tmp_path / "live", SID, fsync="never")
    s.save_sent(1, b"before")
    s.flush()
    assert s._log_map is not None
    base = (tmp_path / "live" / session_dir_name(SID) / "messages.log").read_bytes()
    base = base.rstrip(b"\0") + bytes(4096)  # record 1, then zeros written ahead
    copies: list[tuple[int, bytes]] = []

    class Recording:
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def __len__(self) -> int:
            return len(self.inner)  # type: ignore[arg-type]

        def __setitem__(self, where: slice, data: bytes) -> None:
            copies.append((where.start, bytes(data)))
            self.inner[where] = data  # type: ignore[index]

        def close(self) -> None:
            self.inner.close()  # type: ignore[attr-defined]

    s._log_map = Recording(s._log_map)  # type: ignore[assignment]
    batch = [(2, b"8=FIX.4.4\x0135=D\x01" * 3), (3, b"x"), (4, bytes(200))]
    for seq, data in batch:
        s.save_sent(seq, data)
    s.set_next_sender_seq(9)
    s.flush()
    s.close()
    assert len(copies) == 8  # head and data of each record, in log order
    assert [at for at, _ in copies] == sorted(at for at, _ in copies)
    images = 0
    for k, (at, data) in enumerate(copies):
        for cut in {c for c in (0, 1, len(data) // 2, len(data) - 1) if 0 <= c <= len(data)}:
            # copies before k done; copy k stored only its last bytes (memcpy may
            # store the end first) or only its first ones; nothing after it
            for part in (b"\0" * cut + data[cut:], data[:cut]):
                image = bytearray(base)
                for at2, data2 in copies[:k]:
                    image[at2 : at2 + len(data2)] = data2
                image[at : at + len(part)] = part
                images += 1
                root = tmp_path / f"cut-{images}"
                (root / session_dir_name(SID)).mkdir(parents=True)
                (root / session_dir_name(SID) / "messages.log").write_bytes(bytes(image))
                with FileStore(root, SID) as r:
                    got = r.get_sent(1, 10)
                    whole = [seq for seq, _ in got]
                    assert whole == list(range(1, len(whole) + 1))  # a prefix, no error
                    assert got == [(1, b"before"), *batch][: len(whole)]
                    s_at, s_head = copies[6]  # the S record: head (whole body) + b""
                    s_whole = image[s_at : s_at + len(s_head)] == s_head
                    assert r.next_sender_seq() == (9 if s_whole else len(whole) + 1)


def test_failed_target_sync_is_retried_by_the_next_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file_writes: str
) -> None:
    s = FileStore(tmp_path, SID, fsync="always")
    s.set_next_target_seq(5)
    synced: list[int] = []

    def fail(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(store_file.os, "fdatasync", fail)
    with pytest.raises(StoreError, match="cannot write target seq"):
        s.flush()
    monkeypatch.setattr(store_file.os, "fdatasync", synced.append)
    s.flush()
    assert synced == [s._seq_fd]  # the slot was written and synced again
    s.flush()
    assert synced == [s._seq_fd]  # and is not held any more
    monkeypatch.undo()
    s.close()
    with FileStore(tmp_path, SID) as s:
        assert s.next_target_seq() == 5


def test_target_slots_are_written_through_a_mapping_of_allocated_blocks(
    tmp_path: Path, file_writes: str
) -> None:
    if file_writes != "mapped":
        pytest.skip("the mapping only")
    seqnums = log_path(tmp_path).with_name("seqnums")
    seqnums.parent.mkdir(parents=True)
    with open(seqnums, "wb") as f:  # as the previous version left it: slot 1 first, a hole
        f.seek(4096)
        f.write(bytes(28))
    with FileStore(tmp_path, SID, fsync="never") as s:
        assert seqnums.stat().st_size == 8192
        assert seqnums.stat().st_blocks * 512 >= 8192  # no hole left for the mapping to fill
        s.set_next_target_seq(3)
        s.flush()
        killed = snapshot(tmp_path, tmp_path / "killed")  # no close, no sync: a kill -9 now
    with FileStore(killed, SID) as k:
        assert k.next_target_seq() == 3


def test_closed_store_refuses_calls(tmp_path: Path) -> None:
    s = FileStore(tmp_path, SID)
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.save_sent(1, b"x")
    with pytest.raises(StoreError, match="closed"):
        s.get_sent(1, 1)


@pytest.mark.parametrize(("policy", "syncs_per_file"), [("always", 1), ("never", 0)])
def test_fsync_policy_controls_syncs_per_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str, syncs_per_file: int
) -> None:
    s = open_store("file", SID, str(tmp_path), policy)
    calls: list[int] = []
    monkeypatch.setattr(store_file.os, "fdatasync", calls.append)
    for seq in range(1, 11):
        s.save_sent(seq, b"m")
        s.set_next_target_seq(seq + 1)
    assert calls == []  # held: nothing written or synced before the flush
    s.flush()
    assert len(calls) == 2 * syncs_per_file  # the log and the seqnums file, once each
    s.save_sent(11, b"m")
    s.flush()
    assert len(calls) == 3 * syncs_per_file  # only the log was written
    s.flush()  # nothing held: no write, no sync
    assert len(calls) == 3 * syncs_per_file
    s.close()


def test_batch_policy_syncs_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(store_file.os, "fdatasync", lambda fd: (calls.append(fd), real(fd)))
    s = FileStore(tmp_path, SID, fsync="batch", batch_interval_ms=10)
    for seq in range(1, 51):
        s.save_sent(seq, b"m")
        s.flush()
    assert len(calls) < 50  # not one per flush
    deadline = time.monotonic() + 5
    while not calls and time.monotonic() < deadline:
        time.sleep(0.005)
    assert calls, "the background thread never synced"
    calls.clear()
    s.save_sent(51, b"last")
    s.close()  # close flushes and syncs what the thread has not
    assert calls
    assert s._syncer is not None and not s._syncer.is_alive()


def test_open_store_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="store type"):
        open_store("redis", SID, str(tmp_path), "always")
    with pytest.raises(ConfigError, match="fsync policy"):
        open_store("file", SID, str(tmp_path), "sometimes")
    with pytest.raises(ConfigError, match="needs a path"):
        open_store("file", SID, None, "always")
