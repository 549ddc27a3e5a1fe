"""kill -9 at random moments: every acknowledged write survives, nothing is garbled.

A child process (tests/store_crash_child.py) saves messages in a loop, flushes
after each batch of calls and then reports the calls of the batch. The parent
SIGKILLs it at a random moment, reopens the store and checks it against what was
acknowledged; several rounds continue the same session period.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fixengine.session.store import open_store

sys.path.insert(0, str(Path(__file__).parent))
from store_crash_child import SID, payload

CHILD = Path(__file__).with_name("store_crash_child.py")
ROOT = Path(__file__).resolve().parent.parent


def _run_child_and_kill(
    kind: str, path: Path, fsync: str, batch: int, writes: str, acks_before_kill: int
) -> list[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), kind, str(path), fsync, str(batch), writes],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []
    try:
        while len(lines) < acks_before_kill:
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"child exited early: {proc.stderr.read().decode()}")
            lines.append(line.decode().strip())
        proc.send_signal(signal.SIGKILL)  # the child keeps writing until here
        # acks the child wrote before it died (some may sit in this reader's buffer)
        rest = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    lines.extend(line for line in rest.decode().splitlines() if line.endswith(tuple("0123456789")))
    return lines


@pytest.mark.parametrize(
    ("kind", "fsync", "batch", "writes"),
    [
        ("file", "always", 1, "mapped"),
        ("file", "never", 1, "pwrite"),
        ("file", "never", 8, "mapped"),
        ("file", "never", 8, "pwrite"),
        ("sqlite", "always", 4, "-"),
    ],
)
def test_acknowledged_messages_survive_kill_9(
    tmp_path: Path, kind: str, fsync: str, batch: int, writes: str
) -> None:
    rng = random.Random(f"{kind}-{fsync}-{batch}-{writes}")
    acked_sent: set[int] = set()
    last_sent = 0
    last_target = 1
    for _ in range(4):
        lines = _run_child_and_kill(kind, tmp_path, fsync, batch, writes, rng.randint(5, 120))
        for line in lines:
            what, num = line.split()
            if what == "S":
                acked_sent.add(int(num))
                last_sent = max(last_sent, int(num))
            else:
                last_target = max(last_target, int(num))

        store = open_store(kind, SID, str(tmp_path), fsync)
        try:
            nxt = store.next_sender_seq()
            # beyond the acks (by at most a batch) when the kill hit after the flush but
            # before the acks, or in the middle of a flush (a whole prefix of its records)
            assert last_sent + 1 <= nxt <= last_sent + 1 + batch
            target = store.next_target_seq()
            assert last_target <= target <= last_target + batch
            stored = dict(store.get_sent(1, nxt + 10))
            assert sorted(stored) == list(range(1, nxt))  # no holes, nothing beyond
            assert acked_sent <= set(stored)
            for seq, data in stored.items():  # byte-identical, one content per seq
                assert data == payload(seq), f"seq {seq} garbled"
        finally:
            store.close()
        # unacknowledged writes that made it are part of history now
        acked_sent.update(range(last_sent + 1, nxt))
        last_sent = nxt - 1
        last_target = target
    assert last_sent > 20
