"""The fuzz harness (``fixengine bench fuzz``): a short run finds nothing, planted failures
are found, inputs are reproducible, and the generators make what they claim."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fixengine import _codec_py, cli, validation
from fixengine.bench import fuzz
from fixengine.errors import GarbledMessage

SEED = 20250615


class Planted(fuzz.Target):
    """Draws two bytes; misbehaves when the first is the magic value (about 1 input in 64)."""

    name = "planted"
    MAGIC = 0x2A

    def __init__(self, action: str) -> None:
        self.action = action

    def run(self, rng: random.Random, case: dict[str, Any]) -> dict[str, int]:
        case["data"] = rng.randbytes(2).hex()
        return self.replay(case)

    def replay(self, case: dict[str, Any]) -> dict[str, int]:
        data = bytes.fromhex(case["data"])
        if data[0] % 64 == self.MAGIC % 64:
            if self.action == "raise":
                raise ZeroDivisionError("planted crash")
            if self.action == "violate":
                raise fuzz.InvariantViolation("planted violation")
            if self.action == "slow":
                time.sleep(0.06)
            if self.action == "spin":
                while True:  # stuck in Python: the timer signal must get it out
                    pass
            if self.action == "die":
                os._exit(3)
            if self.action == "block":
                # stuck where no signal reaches (as in C code): only a kill ends it
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
                time.sleep(60)
        return {"drawn": 1}


def _magic_indices(seed: int, count: int) -> list[int]:
    hits = []
    for index in range(count):
        case: dict[str, Any] = {}
        Planted("none").run(fuzz._rng(seed, index), case)
        if bytes.fromhex(case["data"])[0] % 64 == Planted.MAGIC % 64:
            hits.append(index)
    return hits


def test_short_run_of_every_target_finds_no_failure_and_reaches_deep() -> None:
    # a generous deadline: a loaded CI machine must not turn a slow input into a "hang"
    report = fuzz.fuzz(fuzz.FuzzOptions(inputs=1500, seed=SEED, deadline=10.0))
    result = report.to_dict()
    assert result["failures"] == []
    assert (result["crashes"], result["violations"], result["hangs"]) == (0, 0, 0)
    assert result["inputs"] == 1500
    per = result["per_target"]
    assert {name: t["inputs"] for name, t in per.items()} == {
        "framer": 500, "decoder": 500, "session": 500,
    }  # fmt: skip
    # the inputs get past the framing checks, not only into them
    assert per["framer"]["stats"]["messages"] > 100
    assert per["framer"]["stats"]["garbled_bad_checksum"] > 0
    assert per["decoder"]["stats"]["valid"] > 50
    assert sum(v for k, v in per["decoder"]["stats"].items() if k.startswith("reject_")) > 50
    stats = per["session"]["stats"]
    for key in ("delivered", "ev_GapFilled", "ev_RejectSent", "resent", "ev_HeartbeatMissed"):
        assert stats[key] > 0, key
    assert result["memory_ok"] and result["max_rss_mb"] > 0


def test_planted_crash_is_counted_saved_and_replays(tmp_path: Path) -> None:
    hits = _magic_indices(7, 300)
    assert hits, "the seed must draw the magic input"
    options = fuzz.FuzzOptions(inputs=300, seed=7, save=str(tmp_path), saves_per_failure=2)
    report = fuzz.fuzz(options, [Planted("raise")])
    assert report.crashes == len(hits)
    assert (report.violations, report.hangs) == (0, 0)
    assert not report.ok
    [failure] = report.failures.values()
    assert failure["first_index"] == hits[0]
    assert failure["error"] == "ZeroDivisionError: planted crash"
    assert failure["where"].startswith("test_fuzz.py:")
    files = sorted(tmp_path.iterdir())
    assert len(files) == min(2, len(hits))
    record = json.loads(files[0].read_text())
    assert record["target"] == "planted" and record["seed"] == 7 and record["index"] in hits
    with pytest.raises(ZeroDivisionError):
        fuzz.replay(str(files[0]), {"planted": Planted("raise")})


def test_planted_violation_is_counted_apart_from_crashes() -> None:
    hits = _magic_indices(3, 200)
    report = fuzz.fuzz(fuzz.FuzzOptions(inputs=200, seed=3), [Planted("violate")])
    assert (report.crashes, report.violations) == (0, len(hits))


def test_input_slower_than_the_deadline_is_a_hang() -> None:
    hits = _magic_indices(5, 200)
    options = fuzz.FuzzOptions(inputs=200, seed=5, deadline=0.03)
    report = fuzz.fuzz(options, [Planted("slow")])
    assert report.hangs == len(hits) and report.crashes == 0


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX interval timers")
def test_input_stuck_in_python_is_interrupted_and_the_run_goes_on() -> None:
    hits = _magic_indices(11, 150)
    options = fuzz.FuzzOptions(inputs=150, seed=11, watchdog=0.1)
    report = fuzz.fuzz(options, [Planted("spin")])
    assert report.inputs == 150
    assert report.hangs == len(hits)
    assert all(f["error"].startswith("Stuck") for f in report.failures.values())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the planted target is passed by fork")
def test_isolated_run_records_a_dying_worker_and_resumes(tmp_path: Path) -> None:
    hits = _magic_indices(13, 120)
    assert hits
    options = fuzz.FuzzOptions(inputs=120, seed=13, save=str(tmp_path))
    report = fuzz.fuzz_isolated(options, [lambda: Planted("die")])
    assert report.inputs == 120
    assert report.tally("planted").inputs == 120
    assert report.crashes == len(hits)
    assert report.worker_restarts == len(hits)
    record = json.loads(next(tmp_path.iterdir()).read_text())
    assert record["error"] == "WorkerDied: exit code 3"
    assert record["input"] is None and record["index"] == hits[0]  # regenerated from the seed


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the planted target is passed by fork")
def test_isolated_run_kills_a_worker_stuck_out_of_reach_of_signals() -> None:
    hits = _magic_indices(17, 200)
    assert hits
    options = fuzz.FuzzOptions(inputs=hits[0] + 1, seed=17, watchdog=0.1)
    t0 = time.monotonic()
    report = fuzz.fuzz_isolated(options, [lambda: Planted("block")])
    assert time.monotonic() - t0 < 20
    assert report.hangs == 1 and report.inputs == hits[0] + 1
    [failure] = report.failures.values()
    assert failure["error"].startswith("Killed")


class Leaky(fuzz.Target):
    """Keeps 20 KB of every input: a leak."""

    name = "leaky"

    def __init__(self) -> None:
        self.kept: list[bytearray] = []

    def run(self, rng: random.Random, case: dict[str, Any]) -> dict[str, int]:
        self.kept.append(bytearray(b"x" * 20_000))
        return {}

    def close(self) -> None:
        self.kept.clear()


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs the current RSS")
def test_leaking_target_fails_the_memory_check() -> None:
    options = fuzz.FuzzOptions(inputs=3000, seed=1, max_rss_growth_mb=10.0)
    report = fuzz.fuzz(options, [Leaky()])
    assert report.crashes == report.violations == report.hangs == 0
    assert report.rss_growth_mb > 10.0
    assert not report.memory_ok and not report.ok


def test_memory_growth_counts_what_the_second_half_of_the_run_adds() -> None:
    report = fuzz.FuzzReport(fuzz.FuzzOptions(max_rss_growth_mb=5.0))
    report.rss_samples_mb = [60.0, 90.0, 95.0, 95.5, 96.0, 96.0, 95.0, 95.5]  # caches, then flat
    assert report.rss_growth_mb == pytest.approx(0.5) and report.memory_ok
    report.rss_samples_mb = [60.0, 70.0, 80.0, 90.0, 100.0, 110.0, 120.0, 130.0]  # a leak
    assert report.rss_growth_mb == pytest.approx(40.0) and not report.memory_ok


@pytest.mark.parametrize("name", sorted(fuzz.TARGETS))
def test_input_is_a_function_of_seed_and_index(name: str) -> None:
    target = fuzz.TARGETS[name]()
    try:
        cases = []
        for _ in range(2):
            case: dict[str, Any] = {}
            target.run(fuzz._rng(99, 123), case)
            cases.append(json.dumps(case, sort_keys=True))
        other: dict[str, Any] = {}
        target.run(fuzz._rng(99, 124), other)
    finally:
        target.close()
    assert cases[0] == cases[1]
    assert json.dumps(other, sort_keys=True) != cases[0]


@pytest.mark.parametrize("name", sorted(fuzz.TARGETS))
def test_recorded_input_replays_to_the_same_observations(name: str) -> None:
    target = fuzz.TARGETS[name]()
    try:
        case: dict[str, Any] = {}
        first = target.run(fuzz._rng(5, 42), case)
        again = target.replay(json.loads(json.dumps(case)))
    finally:
        target.close()
    assert Counter(first) == Counter(again)


def test_json_report_has_the_documented_keys() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(
            ["bench", "fuzz", "--inputs", "30", "--seed", "3", "--json", "--in-process"]
        )
    result = json.loads(out.getvalue())
    assert code == 0
    for key in (
        "inputs", "crashes", "violations", "hangs", "max_rss_mb", "seconds", "inputs_per_s",
        "per_target", "seed", "failures", "memory_ok",
    ):  # fmt: skip
        assert key in result, key
    assert result["seed"] == 3 and result["inputs"] == 30
    assert set(result["per_target"]) == {"framer", "decoder", "session"}


def test_replay_option_checks_saved_inputs(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    target = fuzz.TARGETS["framer"]()
    case: dict[str, Any] = {}
    target.run(fuzz._rng(1, 1), case)
    good.write_text(json.dumps({"target": "framer", "seed": 1, "index": 1, "input": case}))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["bench", "fuzz", "--replay", str(good), "--json"])
    assert code == 0
    assert json.loads(out.getvalue())["failed"] == 0


# -- the generators ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("begin", "app"),
    [("FIX.4.0", None), ("FIX.4.1", None), ("FIX.4.2", None), ("FIX.4.3", None),
     ("FIX.4.4", None), ("FIXT.1.1", "FIX50"), ("FIXT.1.1", "FIX50SP2")],
)  # fmt: skip
def test_factory_writes_messages_of_every_type_the_dictionaries_accept(
    begin: str, app: str | None
) -> None:
    factory = fuzz.factory_for(begin, app)
    rng = random.Random(1)
    header = fuzz.header_fields(b"TW", b"ISLD", 5, fuzz.START)
    app_dd = factory.app_dd if factory.app_name else None
    for msg_type in factory.msg_types:
        data = fuzz.serialise(factory.begin, factory.message(rng, msg_type, header))
        msg = _codec_py.decode(data)
        assert msg.msg_type == msg_type.encode()
        verdict = validation.validate(msg, factory.session_dd, app_dictionary=app_dd)
        assert verdict is None, (msg_type, verdict, msg)


def test_serialise_writes_body_length_and_checksum_the_framer_accepts() -> None:
    fields = [(b"35", b"0"), (b"49", b"TW"), (b"56", b"ISLD"), (b"34", b"1")]
    data = fuzz.serialise(b"FIX.4.4", fields)
    assert data == _codec_py.encode(_codec_py.Message.from_fields(
        [(int(t), v) for t, v in fields]), "FIX.4.4")  # fmt: skip
    bad = fuzz.serialise(b"FIX.4.4", fields, checksum=b"000")
    with pytest.raises(GarbledMessage):
        _codec_py.decode(bad)


def test_corrupt_frame_never_yields_the_original_message() -> None:
    rng = random.Random(2)
    factory = fuzz.factory_for("FIX.4.4")
    kept = 0
    for _ in range(300):
        fields = factory.message(rng, "D", fuzz.header_fields(b"TW", b"ISLD", 9, fuzz.START))
        good = _codec_py.decode(fuzz.serialise(factory.begin, fields)).fields()
        items = _codec_py.Parser().feed(fuzz.corrupt_frame(rng, factory.begin, fields))
        kept += any(not isinstance(i, GarbledMessage) and i.fields() == good for i in items)
    assert kept == 0


def test_field_and_byte_mutations_change_the_input() -> None:
    rng = random.Random(3)
    factory = fuzz.factory_for("FIX.4.2")
    fields = factory.message(rng, "D", fuzz.header_fields(b"TW", b"ISLD", 9, fuzz.START))
    data = fuzz.serialise(factory.begin, fields)
    changed_fields = sum(fuzz.mutate_fields(rng, fields, factory) != fields for _ in range(200))
    changed_bytes = sum(fuzz.mutate_bytes(rng, data) != data for _ in range(200))
    assert changed_fields > 180 and changed_bytes > 180


def test_chunkings_cover_the_stream_in_order() -> None:
    rng = random.Random(4)
    data = bytes(range(256)) * 3
    shapes = set()
    for _ in range(100):
        chunks = fuzz.chunkings(rng, data)
        assert b"".join(chunks) == data and all(chunks)
        shapes.add(len(chunks))
    assert 1 in shapes and len(shapes) > 5


class NeedsTwo(fuzz.Target):
    """Fails when both "a" and "b" are among the steps."""

    name = "needs-two"

    def replay(self, case: dict[str, Any]) -> dict[str, int]:
        if "a" in case["steps"] and "b" in case["steps"]:
            raise ValueError("both")
        return {"steps": len(case["steps"])}


def test_minimize_keeps_the_failure_and_drops_the_rest() -> None:
    case = {"steps": list("xxaxxxxbxx")}
    small = fuzz.minimize(NeedsTwo(), case)
    assert small["steps"] == ["a", "b"]
    assert fuzz.minimize(NeedsTwo(), {"steps": ["x"]}) == {"steps": ["x"]}  # nothing to keep


def test_replay_minimize_writes_a_shrunk_copy_of_a_failing_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(fuzz.TARGETS, "needs-two", NeedsTwo)
    saved = tmp_path / "case.json"
    record = {"target": "needs-two", "seed": 0, "index": 0, "input": {"steps": list("xaxxbx")}}
    saved.write_text(json.dumps(record))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["bench", "fuzz", "--replay", str(saved), "--minimize", "--json"])
    assert code == 1
    [result] = json.loads(out.getvalue())["results"]
    assert result["ok"] is False and result["error"] == "ValueError: both"
    shrunk = json.loads(Path(result["minimized"]).read_text())
    assert shrunk["input"] == {"steps": ["a", "b"]}
    assert shrunk["target"] == "needs-two"
