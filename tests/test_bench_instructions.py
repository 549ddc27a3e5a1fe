"""``fixengine bench instructions``: reading callgrind's files and the per-order arithmetic
(a real run takes a minute under valgrind: it is for people, see bench/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixengine.bench import instructions as ins
from fixengine.cli import main

CLIENT = 'python -m fixengine.bench.roundtrip --run {"scenario": "fixengine"}'
SERVER = "python -m fixengine sim --config /tmp/x/server.cfg"


def _callgrind(path: Path, cmd: str, total: int, *, key: str = "summary") -> None:
    path.write_text(
        f"# callgrind format\nversion: 1\ncreator: callgrind-3.19.0\npid: 1\ncmd: {cmd}\n"
        f"positions: line\nevents: Ir\nfl=(1) x.c\nfn=(1) main\n0 {total}\n{key}: {total}\n"
    )


def test_each_file_is_charged_to_the_client_or_the_server(tmp_path: Path) -> None:
    _callgrind(tmp_path / "callgrind.10.out", CLIENT, 5_000)
    _callgrind(tmp_path / "callgrind.11.out", SERVER, 3_000, key="totals")
    _callgrind(tmp_path / "callgrind.12.out", "/bin/sh -c true", 99)  # neither: ignored
    assert ins.totals(tmp_path) == {"client": 5_000, "server": 3_000}


def test_an_incomplete_file_is_an_error_not_a_zero(tmp_path: Path) -> None:
    (tmp_path / "callgrind.1.out").write_text(f"cmd: {CLIENT}\n")  # killed before the totals
    with pytest.raises(ValueError, match="not a complete callgrind output"):
        ins.totals(tmp_path)


def test_per_order_is_the_difference_of_two_runs() -> None:
    short = {"client": 1_000_000, "server": 600_000}
    long = {"client": 1_900_000, "server": 900_000}
    assert ins.per_order(short, long, (100, 400)) == {"client": 3_000.0, "server": 1_000.0}
    with pytest.raises(ValueError):
        ins.per_order(short, long, (400, 400))


@pytest.mark.parametrize(
    "cmd, expected",
    [
        (CLIENT, "client"),
        (SERVER, "server"),
        ("python -m fixengine.bench.roundtrip --pingpong-server 1 2 3", None),
        ("taskset -c 0 python -m fixengine simulate", None),
    ],
)
def test_roles_by_command_line(cmd: str, expected: str | None) -> None:
    assert ins.role(cmd) == expected


def test_the_command_refuses_unknown_modes_and_equal_run_lengths(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "instructions", "--modes", "rate"]) == 2
    assert "--modes takes one, window" in capsys.readouterr().err
    assert main(["bench", "instructions", "--orders", "500", "500"]) == 2
    assert "must be larger" in capsys.readouterr().err


def test_without_valgrind_the_mode_is_skipped_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(ins.shutil, "which", lambda name: None)
    assert main(["bench", "instructions", "--modes", "one", "--json"]) == 1
    out = capsys.readouterr().out
    assert '"error": "valgrind is not installed' in out
