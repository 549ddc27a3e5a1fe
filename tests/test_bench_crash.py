"""``fixengine bench crash``: a short soak passes, and the verifier catches what it must."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from fixengine.bench import crash
from fixengine.cli import main


@pytest.fixture(scope="module")
def soaked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("crash")
    result = crash.soak(3, seed=11, victim="random", workdir=workdir)
    return workdir, result


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write_records(path: Path, recs: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))


def test_three_kills_lose_nothing_and_reuse_no_sequence_number(
    soaked: tuple[Path, dict[str, Any]],
) -> None:
    _, result = soaked
    assert result["kills"] == 3 and sum(result["kills_per_victim"].values()) == 3
    assert result["orders"] > 0
    assert result["acknowledged"] == result["orders"]
    for key in crash.FAILURE_KEYS:
        assert result[key] == 0, (key, result)
    assert result["ok"] is True


def test_every_order_the_initiator_recorded_as_sent_is_in_its_store(
    soaked: tuple[Path, dict[str, Any]],
) -> None:
    workdir, _ = soaked
    _, store = crash.read_store(workdir / "initiator-store", "initiator")
    stored = {crash.order_number(crash.decode(raw)) for raw in store.values()}
    sent = {r["n"] for r in _records(workdir / "initiator.jsonl") if r["ev"] == "sent"}
    assert sent and sent <= stored


def test_a_repeated_delivery_without_possdup_is_counted(
    soaked: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    workdir, _ = soaked
    copy = tmp_path / "w"
    shutil.copytree(workdir, copy)
    recs = _records(copy / "acceptor.jsonl")
    first = next(r for r in recs if r["ev"] == "recv")
    _write_records(copy / "acceptor.jsonl", [*recs, {**first, "possdup": False}])
    assert crash.verify(copy)["unflagged_duplicates"] == 1
    _write_records(copy / "acceptor.jsonl", [*recs, {**first, "possdup": True}])
    assert crash.verify(copy)["unflagged_duplicates"] == 0


def test_other_content_under_a_received_msgseqnum_is_counted_as_reuse(
    soaked: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    workdir, _ = soaked
    shutil.copytree(workdir, tmp_path / "w")
    path = tmp_path / "w" / "acceptor.jsonl"
    recs = _records(path)
    i = next(i for i, r in enumerate(recs) if r["ev"] == "recv")
    other = crash.decode(recs[i]["raw"].encode("latin-1"))
    other.set(55, "OTHER")
    recs[i] = {**recs[i], "raw": other.encode().decode("latin-1")}
    _write_records(path, recs)
    assert crash.verify(tmp_path / "w")["seqnum_reuse"] == 1
    recs[i] = {**recs[i], "raw": "8=FIX.4.4\x019=5\x01garbled"}
    _write_records(path, recs)
    assert crash.verify(tmp_path / "w")["seqnum_reuse"] == 1  # unreadable: not the stored content


def test_an_order_never_acknowledged_is_lost(
    soaked: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    workdir, _ = soaked
    shutil.copytree(workdir, tmp_path / "w")
    path = tmp_path / "w" / "initiator.jsonl"
    recs = _records(path)
    acks = [i for i, r in enumerate(recs) if r["ev"] == "recv" and r["type"] == "8"]
    _write_records(path, [r for i, r in enumerate(recs) if i != acks[-1]])
    assert crash.verify(tmp_path / "w")["lost"] == 1


def test_cli_prints_one_json_object_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["bench", "crash", "--kills", "1", "--seed", "5", "--victim", "both", "--json"]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["kills"] == 1 and result["kills_per_victim"]["both"] == 1
    assert result["seed"] == 5
    for key in ("orders", "lost", "seqnum_reuse", "unflagged_duplicates", "missing_in_store"):
        assert key in result
