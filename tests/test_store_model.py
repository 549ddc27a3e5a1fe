"""Durable stores behave exactly like the in-memory model under random operations.

A hypothesis state machine applies the same random sequence of calls (saves,
sequence-number changes, resets, reopen) to a FileStore, an SqliteStore and a
MemoryStore, and checks after every step that they agree.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from fixengine.session.config import SessionID
from fixengine.session.store import MemoryStore, MessageStore
from fixengine.session.store_file import FileStore
from fixengine.session.store_sqlite import SqliteStore

SID = SessionID("FIX.4.4", "MODEL", "CHECK")
seqs = st.integers(min_value=1, max_value=40)


class StoresAgree(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="store-model-"))
        self.model = MemoryStore(now=0.0)
        self.durable: list[MessageStore] = [self._open_file(), self._open_sqlite()]

    def _open_file(self) -> FileStore:
        return FileStore(self.dir / "file", SID, fsync="never", now=0.0)

    def _open_sqlite(self) -> SqliteStore:
        return SqliteStore(self.dir / "sqlite", SID, fsync="never", now=0.0)

    def _all(self) -> list[MessageStore]:
        return [self.model, *self.durable]

    @rule(seq=seqs, data=st.binary(max_size=300))
    def save_sent(self, seq: int, data: bytes) -> None:
        for s in self._all():
            s.save_sent(seq, data)

    @rule(seq=seqs)
    def set_next_sender_seq(self, seq: int) -> None:
        for s in self._all():
            s.set_next_sender_seq(seq)

    @rule(seq=seqs)
    def set_next_target_seq(self, seq: int) -> None:
        for s in self._all():
            s.set_next_target_seq(seq)

    @rule(now=st.floats(min_value=1e9, max_value=2e9))
    def reset(self, now: float) -> None:
        for s in self._all():
            s.reset(now)

    @rule()
    def flush(self) -> None:
        for s in self._all():
            s.flush()

    @rule()
    def reopen(self) -> None:
        for s in self.durable:
            s.close()
        self.durable = [self._open_file(), self._open_sqlite()]

    @rule(begin=seqs, end=seqs)
    def same_ranges(self, begin: int, end: int) -> None:
        expected = self.model.get_sent(begin, end)
        for s in self.durable:
            assert s.get_sent(begin, end) == expected

    @invariant()
    def same_state(self) -> None:
        m = self.model
        for s in self.durable:
            assert s.next_sender_seq() == m.next_sender_seq()
            assert s.next_target_seq() == m.next_target_seq()
            assert s.creation_time == m.creation_time
            assert s.get_sent(1, 50) == m.get_sent(1, 50)

    def teardown(self) -> None:
        for s in self.durable:
            s.close()
        shutil.rmtree(self.dir, ignore_errors=True)


StoresAgree.TestCase.settings = settings(max_examples=25, stateful_step_count=30, deadline=None)
TestStoresAgree = StoresAgree.TestCase
