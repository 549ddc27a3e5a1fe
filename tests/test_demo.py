"""``fixengine demo`` as a user runs it: a subprocess, its output and exit code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(
    r"^  \d\d:\d\d:\d\d\.\d{3} (\S+)\s+([A-Z_]+)\s+cum=(\S+) leaves=(\S+) avgpx=(\S+)  \((.*)\)$"
)


def demo(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "fixengine", "demo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


def test_demo_prints_lifecycles_and_latencies_and_exits_0(tmp_path: Path) -> None:
    result = demo("--orders", "60", "--store-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr + result.stdout
    out = result.stdout.splitlines()
    assert "PROBLEMS:" not in result.stdout
    lifecycle = [m.groups() for line in out if (m := LINE.match(line))]
    states = [g[1] for g in lifecycle]
    # the replaced-twice-then-canceled order, the partly filled buy, the IOC
    assert states.count("CANCELED") == 2
    assert "PARTIALLY_FILLED" in states and "FILLED" in states
    assert sum("replaced to" in g[5] for g in lifecycle) == 2
    partial = next(g for g in lifecycle if g[1] == "PARTIALLY_FILLED")
    assert (partial[2], partial[3]) == ("80", "120")
    filled = next(g for g in lifecycle if g[1] == "FILLED")
    assert (filled[2], filled[3], filled[4]) == ("200", "0", "100.1")
    assert any(line.startswith("refused before the wire: refused (PRICE_COLLAR)") for line in out)
    stats = next(i for i, line in enumerate(out) if line.startswith("60 orders sent"))
    assert "60 filled" in out[stats]
    assert re.match(r"^  p50 \S+  p90 \S+  p99 \S+  max \S+  \(n=60\)$", out[stats + 1])
    assert out[-1].startswith("logged out; total ")
    # the client's durable state is where it was asked to be
    assert list(tmp_path.glob("*/orders.jsonl")) and list(tmp_path.glob("*/messages.log"))


def test_demo_json_summary_is_machine_readable() -> None:
    result = demo("--orders", "30", "--json", "--fix-version", "FIX.4.2")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["ok"] is True and summary["problems"] == []
    assert summary["fix_version"] == "FIX.4.2"
    assert summary["orders"] == 30 and summary["filled"] == 30
    latency = summary["latency_seconds"]
    assert latency["count"] == 30
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"] < 5
    first = summary["scenarios"][0]["lifecycle"]
    assert [u["status"] for u in first][-1] == "CANCELED"
    assert summary["simulator"]["orders"] >= 33


def test_demo_explains_a_bad_option() -> None:
    result = demo("--orders", "0")
    assert result.returncode == 2
    assert "--orders: must be at least 1" in result.stderr
