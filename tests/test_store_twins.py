"""The compiled file store (``fixengine._store``) against its pure-Python twin: the same
calls leave the same bytes on disk and the same state, through the compiled common
case and every case it hands back."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixengine.session import store_file
from fixengine.session.config import SessionID
from fixengine.session.store_file import FileStore, _PyFileStore

SID = SessionID("FIX.4.4", "TWIN", "PEER")

pytestmark = pytest.mark.skipif(
    FileStore is _PyFileStore, reason="fixengine._store is not built (or turned off)"
)

_seqs = st.one_of(
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=2**63 - 2, max_value=2**64 - 1),  # the packing's edge
)
_data = st.one_of(
    st.binary(max_size=300),
    st.binary(min_size=1, max_size=8).map(bytearray),  # not bytes: copied by the store
    st.integers(min_value=200_000, max_value=300_000).map(lambda n: b"z" * n),  # > hold
)
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("save"), _seqs, _data),
        st.tuples(st.just("target"), _seqs),
        st.tuples(st.just("sender"), _seqs),
        st.tuples(st.just("flush")),
    ),
    max_size=40,
)


def _play(cls: type[_PyFileStore], where: Path, ops: list[tuple], fsync: str) -> tuple:
    store = cls(where, SID, fsync=fsync, now=1_700_000_000.0)  # type: ignore[arg-type]
    outcomes = []
    for op in ops:
        try:
            if op[0] == "save":
                store.save_sent(op[1], op[2])
            elif op[0] == "target":
                store.set_next_target_seq(op[1])
            elif op[0] == "sender":
                store.set_next_sender_seq(op[1])
            else:
                store.flush()
            outcomes.append(None)
        except Exception as exc:  # the same error, by type, from both
            outcomes.append(type(exc).__name__)
    state = (store.next_sender_seq(), store.next_target_seq(), store.size)
    sent = store.get_sent(1, 2**64)
    store.close()
    directory = where / store_file.session_dir_name(SID)
    files = {name: (directory / name).read_bytes() for name in ("messages.log", "seqnums")}
    return outcomes, state, sent, files


_counter = itertools.count()


def _writes(monkeypatch: pytest.MonkeyPatch, where: Path, mapped: bool) -> None:
    """Both stores write through mappings (where the file system allows) or not."""
    fstype = store_file._filesystem_type(str(where)) if mapped else None
    if mapped and fstype is None:
        pytest.skip("file system type unknown")
    safe = frozenset({fstype}) if fstype is not None else frozenset()
    monkeypatch.setattr(store_file, "_MAP_SAFE_FILESYSTEMS", safe)


@pytest.mark.parametrize("mapped", [True, False])
@pytest.mark.parametrize("fsync", ["never", "always"])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=_ops)
def test_the_compiled_store_writes_what_the_python_store_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mapped: bool, fsync: str, ops: list[tuple]
) -> None:
    _writes(monkeypatch, tmp_path, mapped)
    monkeypatch.setattr(store_file.secrets, "randbits", lambda bits: 123456789)  # same token
    run = next(_counter)
    compiled = _play(FileStore, tmp_path / f"c{run}", ops, fsync)
    python = _play(_PyFileStore, tmp_path / f"p{run}", ops, fsync)
    assert compiled == python


def test_the_common_case_takes_the_compiled_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The comparison above means something only if the compiled path runs: with the
    files mapped and fsync "never", saving and flushing never calls a Python method."""
    _writes(monkeypatch, tmp_path, True)
    store = FileStore(tmp_path, SID, fsync="never")
    store.save_sent(1, b"first")  # the first flush maps the log (written ahead): Python
    store.flush()
    assert store._map_files and store._log_map is not None and store._slots is not None
    called: list[str] = []
    for name in ("save_sent", "set_next_target_seq", "flush", "_flush_log", "_flush_target"):
        original = getattr(_PyFileStore, name)

        def spy(self: object, *args: object, _name: str = name, _f: object = original) -> object:
            called.append(_name)
            return _f(self, *args)  # type: ignore[operator]

        monkeypatch.setattr(_PyFileStore, name, spy)
    for seq in range(2, 50):
        store.save_sent(seq, b"8=FIX.4.4\x01" * seq)
        store.set_next_target_seq(seq + 1)
        store.flush()
    assert called == []
    store.save_sent(2**63, b"x")  # beyond the compiled packing: handed to Python
    assert called == ["save_sent"]
    monkeypatch.undo()
    assert store.get_sent(48, 2**64) == [
        (48, b"8=FIX.4.4\x01" * 48),
        (49, b"8=FIX.4.4\x01" * 49),
        (2**63, b"x"),
    ]
    assert (store.next_sender_seq(), store.next_target_seq()) == (2**63 + 1, 50)
    store.close()
