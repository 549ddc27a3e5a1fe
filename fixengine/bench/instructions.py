"""Instructions per order: the round trip counted by callgrind instead of timed.

Theory of operation
-------------------
Wall-clock and CPU times on a small shared machine move by tens of percent from one
run to the next; the number of instructions a process executes for the same work
does not. This benchmark runs the fixengine scenario of ``fixengine bench
roundtrip`` (router on an initiator engine <-> ``fixengine sim``, the same settings)
under ``valgrind --tool=callgrind`` with ``--trace-children=yes``, so the driver
process (the client) and the simulator it starts are both counted, each in a file of
its own. It does so twice, with a short and a long run of timed orders; the
difference between the two counts, divided by the difference in orders, is what
one order costs each process, with start-up, logon, warm-up and shutdown cancelled
out. Two runs of the same code agree to about 0.5%, so a change of a few percent is
visible in one comparison, where timings would need many runs.

Instructions are not time: a cache miss or a mispredicted branch costs no
instruction, so code that touches less memory can be faster at the same count (with
one order outstanding the same instructions take about twice as long as with orders
in flight, see ``bench/README.md``). Use the count to compare two versions of the
code, and timings to report latency.

Needs ``valgrind`` on the PATH (skipped with that reason otherwise); a run takes
about a minute, the process being some 50 times slower under callgrind.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..cli import whole_number
from .roundtrip import RunSpec

_MODES = ("one", "window")
_CMD = re.compile(r"^cmd:\s*(.*)$", re.M)
_TOTAL = re.compile(r"^(?:summary|totals):\s*(\d+)", re.M)


@dataclass
class Count:
    """Instructions per order of each process in one mode (None: the run failed)."""

    mode: str
    orders: tuple[int, int]
    client: float | None = None
    server: float | None = None
    error: str | None = None

    def as_json(self) -> dict[str, object]:
        """The JSON object of one mode."""
        return {
            "mode": self.mode,
            "orders": list(self.orders),
            "client_instructions_per_order": self.client,
            "server_instructions_per_order": self.server,
            "error": self.error,
        }


def read_callgrind(path: Path) -> tuple[str, int]:
    """The command line and the total instruction count of one callgrind output file."""
    text = path.read_text(errors="replace")
    cmd = _CMD.search(text)
    total = _TOTAL.search(text)
    if cmd is None or total is None:
        raise ValueError(f"{path}: not a complete callgrind output file")
    return cmd.group(1), int(total.group(1))


def role(cmd: str) -> str | None:
    """``client`` (the bench driver), ``server`` (the simulator) or None (anything else)."""
    if "fixengine.bench.roundtrip" in cmd and "--run" in cmd:
        return "client"
    if re.search(r"-m fixengine sim\b", cmd):
        return "server"
    return None


def totals(directory: Path) -> dict[str, int]:
    """Instructions of the client and the server counted in ``directory``."""
    out: dict[str, int] = {}
    for path in sorted(directory.glob("callgrind.*.out")):
        cmd, total = read_callgrind(path)
        who = role(cmd)
        if who is not None:
            out[who] = out.get(who, 0) + total
    return out


def per_order(
    short: dict[str, int], long: dict[str, int], orders: tuple[int, int]
) -> dict[str, float]:
    """What one order costs each process: the difference of two runs' counts."""
    extra = orders[1] - orders[0]
    if extra <= 0:
        raise ValueError("the second run must have more orders than the first")
    return {who: (long[who] - short[who]) / extra for who in short if who in long}


def _count_run(mode: str, orders: int, warmup: int, work: Path, valgrind: str) -> dict[str, int]:
    spec = RunSpec(
        "fixengine",
        mode,
        orders=orders,
        warmup=warmup,
        window=100,
        timeout=1800.0,
        start_timeout=600.0,  # start-up under valgrind on a busy machine is slow
    )
    work.mkdir(parents=True, exist_ok=True)
    cmd = [
        valgrind,
        "--tool=callgrind",
        "--trace-children=yes",
        f"--callgrind-out-file={work}/callgrind.%p.out",
        sys.executable,
        "-m",
        "fixengine.bench.roundtrip",
        "--run",
        spec.to_json(),
    ]
    env = dict(os.environ, PYTHONHASHSEED="0")  # the same hashes, the same count
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False, env=env)
    found = totals(work)
    if proc.returncode != 0 or set(found) != {"client", "server"}:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{mode} run of {orders} orders failed: {' | '.join(tail)}")
    return found


def count(mode: str, orders: tuple[int, int], warmup: int, keep: Path | None = None) -> Count:
    """Instructions per order of the client and the server in ``mode``."""
    result = Count(mode, orders)
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        result.error = "valgrind is not installed (apt-get install valgrind)"
        return result
    with tempfile.TemporaryDirectory(prefix="fixengine-instr-") as tmp:
        base = keep if keep is not None else Path(tmp)
        try:
            short = _count_run(mode, orders[0], warmup, base / f"{mode}-{orders[0]}", valgrind)
            long = _count_run(mode, orders[1], warmup, base / f"{mode}-{orders[1]}", valgrind)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
            result.error = str(exc)
            return result
    each = per_order(short, long, orders)
    result.client = each.get("client")
    result.server = each.get("server")
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fixengine bench instructions``."""
    parser.description = (
        "Instructions per order of the client and the simulator (callgrind), "
        "from a short and a long round-trip run."
    )
    parser.add_argument("--modes", default="one,window", help="one, window (default: both)")
    parser.add_argument(
        "--orders",
        type=whole_number(1),
        nargs=2,
        default=(1000, 4000),
        metavar=("SHORT", "LONG"),
        help="timed orders of the two runs (default: 1000 4000)",
    )
    parser.add_argument("--warmup", type=whole_number(0), default=200, help="orders before timing")
    parser.add_argument("--keep", type=Path, help="keep the callgrind files under this directory")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--quick", action="store_true", help="a short check: mode one, 100 and 300 orders"
    )


def run(args: argparse.Namespace) -> int:
    """Count each mode; print a table or ``{"results": [...]}``. 0 if every mode counted."""
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in _MODES]
    if unknown or not modes:
        print(f"error: --modes takes {', '.join(_MODES)}, not {args.modes!r}", file=sys.stderr)
        return 2
    orders = tuple(args.orders)
    warmup = args.warmup
    if args.quick:
        modes, orders, warmup = ["one"], (100, 300), 20
    if orders[1] <= orders[0]:
        print("error: the second --orders must be larger than the first", file=sys.stderr)
        return 2
    results = [count(m, orders, warmup, args.keep) for m in modes]  # type: ignore[arg-type]
    if args.json:
        print(json.dumps({"results": [r.as_json() for r in results]}))
    else:
        print(f"{'mode':8} {'client':>12} {'server':>12}   instructions per order")
        for r in results:
            if r.error is not None:
                print(f"{r.mode:8} skipped: {r.error}")
            else:
                print(f"{r.mode:8} {r.client:12,.0f} {r.server:12,.0f}")
    return 0 if all(r.error is None for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    """``python -m fixengine.bench.instructions``."""
    parser = argparse.ArgumentParser(prog="fixengine bench instructions")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
