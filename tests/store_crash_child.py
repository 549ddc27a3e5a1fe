"""Child process of the kill -9 store test (run by tests/test_store_crash.py).

Opens a store and saves messages in a loop forever, in batches of 1 to ``batch``
calls each followed by ``flush()`` the way a session flushes before its bytes
leave (``writes``: ``mapped`` where the file system allows it, or ``pwrite``).
Once the flush returns it writes one line per call of the batch to stdout:
``S <seq>`` for save_sent, ``T <seq>`` for set_next_target_seq. The parent kills
it with SIGKILL at a random moment. Message bytes are a pure function of the seq
(:func:`payload`) so the parent can check them.
"""

from __future__ import annotations

import os
import random
import sys

from fixengine.session import store_file
from fixengine.session.config import SessionID
from fixengine.session.store import open_store

SID = SessionID("FIX.4.4", "CRASH", "TEST")


def payload(seq: int) -> bytes:
    """Deterministic wire-like bytes for ``seq``; some are large to widen the write window."""
    rng = random.Random(seq)
    size = 256 * 1024 if seq % 37 == 0 else rng.randint(20, 3000)
    body = rng.randbytes(size)
    return b"8=FIX.4.4\x0134=%d\x01" % seq + body + b"\x0110=000\x01"


def main() -> None:
    kind, path, fsync, batch, writes = sys.argv[1:6]
    if writes == "pwrite":
        store_file._MAP_SAFE_FILESYSTEMS = frozenset()
    store = open_store(kind, SID, path, fsync)
    out = sys.stdout.fileno()
    rng = random.Random()
    while True:
        acks = []
        for _ in range(rng.randint(1, int(batch))):
            seq = store.next_sender_seq()
            store.save_sent(seq, payload(seq))
            acks.append(b"S %d\n" % seq)
            if seq % 3 == 0:
                target = store.next_target_seq() + 1
                store.set_next_target_seq(target)
                acks.append(b"T %d\n" % target)
        store.flush()
        os.write(out, b"".join(acks))


if __name__ == "__main__":
    main()
