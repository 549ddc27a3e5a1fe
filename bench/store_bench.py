"""Cost of the message stores and logs on this machine's disk.

    python bench/store_bench.py [--dir DIR] [--count N]

Prints microseconds per save_sent (a 200-byte message) and per set_next_target_seq,
each followed by the store's flush() as a session does before its bytes leave, for
every store and fsync policy, and per on_outgoing for the file log. The in-memory
store is the baseline of the same run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

from fixengine.log import FileLog
from fixengine.session.config import SessionID
from fixengine.session.store import MessageStore, open_store

SID = SessionID("FIX.4.4", "BENCH", "DISK")
MSG = (
    b"8=FIX.4.4\x019=178\x0135=D\x0134=%d\x0149=BENCH\x0156=DISK\x0152=20240501-12:00:00.000"
    b"\x0111=ORDER-0000001\x0121=1\x0155=IBM\x0154=1\x0160=20240501-12:00:00.000\x0138=100"
    b"\x0140=2\x0144=123.45\x0159=0\x01100=XNYS\x011=ACCOUNT-42\x01207=XNYS\x0110=000\x01"
)


def per_call_us(fn: Callable[[int], None], count: int) -> tuple[float, float]:
    """(median, p99) microseconds over ``count`` calls."""
    samples = []
    for i in range(1, count + 1):
        t0 = time.perf_counter_ns()
        fn(i)
        samples.append((time.perf_counter_ns() - t0) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def bench_store(kind: str, policy: str, root: str, count: int) -> str:
    store: MessageStore = open_store(kind, SID, f"{root}/{kind}-{policy}", policy)
    flush = getattr(store, "flush", lambda: None)
    try:
        save = per_call_us(lambda i: (store.save_sent(i, MSG % i), flush())[1], count)
        target = per_call_us(lambda i: (store.set_next_target_seq(i + 1), flush())[1], count)
        t0 = time.perf_counter()
        got = store.get_sent(1, count)
        read_us = (time.perf_counter() - t0) * 1e6 / max(len(got), 1)
    finally:
        store.close()
    return (
        f"| {kind:6} | {policy:6} | {save[0]:9.1f} | {save[1]:9.1f} | {target[0]:9.1f} "
        f"| {target[1]:9.1f} | {read_us:7.2f} |"
    )


def bench_reopen(root: str, count: int) -> str:
    path = f"{root}/reopen"
    s = open_store("file", SID, path, "never")
    for i in range(1, count + 1):
        s.save_sent(i, MSG % i)
    s.close()
    t0 = time.perf_counter()
    s = open_store("file", SID, path, "never")
    took = time.perf_counter() - t0
    s.close()
    return f"file store reopen with {count} messages: {took * 1000:.1f} ms"


def bench_log(root: str, count: int) -> str:
    log = FileLog(f"{root}/logs", SID)
    med, p99 = per_call_us(lambda i: log.on_outgoing(MSG % i), count)
    log.close()
    return f"file log on_outgoing: median {med:.1f} us, p99 {p99:.1f} us"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="directory on the disk to measure (default: a temp dir)")
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as root:
        print("| store  | fsync  | save med  | save p99  | tgt med   | tgt p99   | get/msg |")
        print("|--------|--------|-----------|-----------|-----------|-----------|---------|")
        print(bench_store("memory", "never", root, args.count))
        for kind in ("file", "sqlite"):
            for policy in ("always", "batch", "never"):
                print(bench_store(kind, policy, root, args.count))
        print("(microseconds per call)")
        print(bench_reopen(root, 100_000))
        print(bench_log(root, args.count * 10))


if __name__ == "__main__":
    main()
