"""CI smoke runs of ``fixengine bench roundtrip``: each benchmark completes and reports
sane numbers (no timed assertions: the numbers themselves are for bench/README.md)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixengine.bench import roundtrip as rt
from fixengine.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"orders": 60, "warmup": 10, "window": 5, "rate": 500.0, "timeout": 30.0}


def _sane(result: rt.Result, orders: int) -> None:
    assert result.skipped is None, result.skipped
    assert result.orders == orders
    values = [result.p50_us, result.p90_us, result.p99_us, result.p999_us, result.max_us]
    assert all(v > 0 and math.isfinite(v) for v in values)
    assert values == sorted(values)  # percentiles never decrease
    assert result.orders_per_s > 0
    assert result.client_cpu_us_per_order is not None and result.client_cpu_us_per_order >= 0
    assert result.curve[0][0] == 0.0 and result.curve[-1] == [100.0, result.max_us]


def test_percentiles_are_nearest_rank_over_sorted_samples() -> None:
    data = list(range(1, 1001))  # 1..1000
    assert rt.percentile(data, 50) == 500
    assert rt.percentile(data, 99) == 990
    assert rt.percentile(data, 99.9) == 999
    assert rt.percentile(data, 100) == 1000
    assert rt.percentile([7.0], 99.9) == 7.0
    stats = rt.summarize([5.0, 1.0, 3.0])
    assert stats["p50_us"] == 3.0 and stats["max_us"] == 5.0
    with pytest.raises(ValueError):
        rt.percentile([], 50)


@pytest.mark.parametrize("mode", rt.MODES)
def test_fixengine_round_trip_completes_in_each_mode(mode: str) -> None:
    spec = rt.RunSpec("fixengine", mode, **SMALL)  # type: ignore[arg-type]
    result = rt.run_one(spec)
    _sane(result, SMALL["orders"])
    assert result.server_cpu_us_per_order is not None
    assert result.cpu_us_per_order == pytest.approx(
        result.client_cpu_us_per_order + result.server_cpu_us_per_order, abs=0.2
    )
    if mode == "rate":  # the offered rate bounds the throughput
        assert result.orders_per_s < SMALL["rate"] * 1.5


def test_idle_strategy_reaches_both_fixengine_processes(tmp_path: Path) -> None:
    spec = rt.RunSpec("fixengine", "one", idle="backoff", **SMALL)  # type: ignore[arg-type]
    for role in ("initiator", "acceptor"):
        text = rt._fixengine_settings(tmp_path / f"{role}.cfg", role, 1, spec).read_text()
        assert "IdleStrategy=backoff" in text.splitlines()
        assert "IdleSpinMicros=50" in text.splitlines()
    plain = rt.RunSpec("fixengine", "one", **SMALL)  # type: ignore[arg-type]
    text = rt._fixengine_settings(tmp_path / "plain.cfg", "initiator", 1, plain).read_text()
    assert "IdleStrategy" not in text
    _sane(rt.run_one(spec), SMALL["orders"])
    args = build_parser().parse_args(["bench", "roundtrip", "--idle", "spin"])
    assert {s.idle for s in rt.config_from_args(args).specs()} == {"spin"}
    args = build_parser().parse_args(
        ["bench", "roundtrip", "--idle", "backoff", "--idle-spin", "300"]
    )
    specs = rt.config_from_args(args).specs()
    assert {(s.idle, s.idle_spin_us) for s in specs} == {("backoff", 300)}
    text = rt._fixengine_settings(tmp_path / "spin.cfg", "acceptor", 1, specs[0]).read_text()
    assert "IdleSpinMicros=300" in text.splitlines()


@pytest.mark.parametrize("mode", ["one", "rate"])
def test_pingpong_baseline_completes(mode: str) -> None:
    result = rt.run_one(rt.RunSpec("pingpong", mode, **SMALL))  # type: ignore[arg-type]
    _sane(result, SMALL["orders"])


def test_payload_sizes_are_those_of_real_fix_messages() -> None:
    sizes = rt.payload_sizes()
    assert 120 < sizes["request"] < 300
    assert sizes["ack"] < sizes["fill"] < 400


def test_quickfix_dictionary_is_written_from_the_shipped_spec(tmp_path: Path) -> None:
    path = rt.quickfix_dictionary("FIX44", tmp_path / "FIX44.xml")
    text = path.read_text()
    assert 'msgtype="D"' in text and 'name="ExecutionReport"' in text
    assert '<field number="11" name="ClOrdID"' in text


def _quickfix_available() -> str | None:
    try:
        rt.quickfix_programs()
    except RuntimeError as exc:
        return str(exc)
    return None


def test_quickfix_scenarios_run_or_skip_with_the_reason() -> None:
    why = _quickfix_available()
    result = rt._run_child(rt.RunSpec("quickfix-fixengine", "one", **SMALL), None)  # type: ignore[arg-type]
    if why is not None:
        assert result.skipped is not None and "QuickFIX" in result.skipped
        return
    _sane(result, SMALL["orders"])


def test_quickfix_acceptor_runs_in_a_private_network_or_skips() -> None:
    why = _quickfix_available()
    if why is not None:
        pytest.skip(why)
    result = rt._run_child(rt.RunSpec("fixengine-quickfix", "window", **SMALL), None)  # type: ignore[arg-type]
    if result.skipped is not None and "network namespace" in result.skipped:
        pytest.skip(result.skipped)
    _sane(result, SMALL["orders"])


def test_command_prints_one_json_object_with_ratios_and_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--scenarios", "fixengine,pingpong", "--modes", "one", "--pin", "both"]
    argv += ["--orders", "40", "--warmup", "5", "--json"]
    plot_file = tmp_path / "plot.png"
    argv += ["--plot", str(plot_file)]
    assert rt.main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    results = doc["results"]
    assert {(r["scenario"], r["pinned"]) for r in results} == {
        ("fixengine", False),
        ("fixengine", True),
        ("pingpong", False),
        ("pingpong", True),
    }
    for r in results:
        assert r["mode"] == "one" and r["orders"] == 40
        for key in ("p50_us", "p90_us", "p99_us", "p999_us", "max_us", "orders_per_s"):
            assert isinstance(r[key], float) and r[key] > 0
        assert r["ratio_vs_fixengine"]["p50_us"] > 0
    base = [r for r in results if r["scenario"] == "fixengine"]
    assert all(r["ratio_vs_fixengine"]["p50_us"] == 1.0 for r in base)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib" in doc["plot"]
    else:
        assert plot_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = rt.format_table([rt.Result.from_dict(r) for r in results])
    assert "fixengine" in table and "pingpong" in table and "p99.9" in table


def test_command_is_registered_and_checks_its_options() -> None:
    args = build_parser().parse_args(["bench", "roundtrip", "--quick", "--modes", "one,rate"])
    assert args._run is rt.run and args.modes == ("one", "rate")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "roundtrip", "--modes", "sideways"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "roundtrip", "--orders", "0"])


def test_thin_runner_script_shows_its_help() -> None:
    script = ROOT / "bench" / "roundtrip.py"
    if not script.exists() or shutil.which(sys.executable) is None:
        pytest.skip("bench/roundtrip.py not in this checkout")
    done = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "--window" in done.stdout


async def test_router_feeds_the_round_trip_histogram(simulator: object) -> None:
    from decimal import Decimal

    from fixengine.application import Engine
    from fixengine.orders import NewOrderRequest, OrdType, Side
    from fixengine.orders.router import OrderRouter
    from fixengine.session.config import SessionConfig

    config = SessionConfig("FIX.4.4", "CLIENT", "EXEC", role="initiator")
    engine = Engine()
    handle = engine.add_initiator(config, [("127.0.0.1", simulator.port)])  # type: ignore[attr-defined]
    async with engine:
        await handle.wait_logged_on(timeout=10)
        async with OrderRouter(handle) as router:
            for _ in range(3):
                order = await router.submit(
                    NewOrderRequest("ACME", Side.BUY, Decimal(10), OrdType.MARKET)
                )
                await order.acknowledged(timeout=5)
            labels = {"session": str(handle.session_id)}
            count = engine.metrics.value("fix_order_round_trip_seconds_count", labels)
            total = engine.metrics.value("fix_order_round_trip_seconds_sum", labels)
            assert count == 3
            assert total == pytest.approx(sum(router.latencies))
            assert all(0 < x < 5 for x in router.latencies)


def test_grafana_dashboard_queries_only_metrics_the_engine_exports() -> None:
    import re

    from prometheus_client import generate_latest

    from fixengine.metrics import FixMetrics

    dashboard = json.loads((ROOT / "bench" / "grafana" / "fixengine.json").read_text())
    exprs = [
        t["expr"]
        for p in dashboard["panels"]
        for t in p.get("targets", [])
        if isinstance(t.get("expr"), str)
    ]
    used = {m for e in exprs for m in re.findall(r"\b(fix_[a-z_]+)", e)}
    metrics = FixMetrics()
    session = metrics.session("S")
    session.observe_round_trip(0.001)
    exported = set(
        re.findall(r"^# TYPE (fix_[a-z_]+) (\w+)", generate_latest(metrics.registry).decode(), re.M)
    )
    names = set()
    for name, kind in exported:
        names.add(name)
        if kind == "counter":
            names.add(name + "_total")
        if kind == "histogram":
            names |= {name + "_bucket", name + "_count", name + "_sum"}
    assert used and used <= names, sorted(used - names)
    assert "fix_order_round_trip_seconds_bucket" in used
    variable = dashboard["templating"]["list"][1]
    assert variable["name"] == "session" and "fix_session_logged_on" in variable["definition"]


def test_json_lists_skipped_runs_apart_so_every_result_has_numbers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    measured = rt.Result("fixengine", "one", False, orders=10, window=1)
    for key, value in rt.summarize([float(x) for x in range(1, 11)]).items():
        setattr(measured, key, value)
    measured.orders_per_s = 100.0
    skipped = rt.Result("quickfix", "one", False, skipped="QuickFIX C++ programs unavailable")

    def fake_run(config: rt.BenchConfig, progress: object = None) -> list[rt.Result]:
        return [measured, skipped]

    monkeypatch.setattr(rt, "run_benchmark", fake_run)
    assert rt.main(["--json", "--modes", "one", "--pin", "no"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["scenario"] for r in doc["results"]] == ["fixengine"]
    assert doc["results"][0]["p50_us"] == 5.0 and doc["results"][0]["max_us"] == 10.0
    assert doc["skipped"] == [
        {
            "scenario": "quickfix",
            "mode": "one",
            "pinned": False,
            "reason": "QuickFIX C++ programs unavailable",
        }
    ]
