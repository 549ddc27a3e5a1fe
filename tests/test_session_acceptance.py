"""The acceptance profile against QuickFIX's acceptance scripts (relaxed comparison).

Starts ``fixengine sim --profile acceptance`` on a free port and plays the scripts of
fix42, fix44 and fix50sp2 with the runner in ``../shared/tools`` (the timing scripts
4a and 6, which take 12 s and 35 s, are left to the full run). Skips when the
scripts or the runner are not beside the repository.
"""

from __future__ import annotations

import re
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixengine.codec import Message
from fixengine.sim.acceptance import EchoApplication
from fixengine.sim.cli import profile_path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RUNNER = SHARED / "tools" / "run_defs.py"
DEFS = SHARED / "quickfix" / "definitions"


@pytest.fixture(scope="module")
def sim_port() -> Iterator[int]:
    if not RUNNER.exists() or not DEFS.exists():
        pytest.skip(f"acceptance scripts or runner not found under {SHARED}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "fixengine", "sim", "--profile", "acceptance", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "sim did not start within 60 s"
        line = proc.stdout.readline()
        match = re.search(r"port\(s\) \[(\d+)\]", line)
        assert match, f"sim did not start: {line!r}"
        yield int(match.group(1))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - stuck shutdown
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("version", ["fix42", "fix44", "fix50sp2"])
def test_acceptance_scripts_pass_in_relaxed_mode(sim_port: int, version: str) -> None:
    result = subprocess.run(
        [
            sys.executable, str(RUNNER), "--relaxed", "--port", str(sim_port),
            "--defs", str(DEFS / version), "--skip", "4a_*", "--skip", "6_*",
            "--timeout", "10", "--disconnect-timeout", "5",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    summary = result.stdout.strip().splitlines()[-1] if result.stdout else result.stderr
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.match(r"\d+ passed, 0 failed", summary), summary


def test_acceptance_profile_is_shipped_with_every_version() -> None:
    text = profile_path("acceptance").read_text()
    for comp_id in ("TW40", "TW41", "TW42", "TW43", "TW44", "TW50", "TW50SP1", "TW50SP2"):
        assert f"TargetCompID={comp_id}\n" in text


class FakeHandle:
    def __init__(self, begin: str = "FIX.4.4") -> None:
        from fixengine.session.config import SessionConfig

        self.config = SessionConfig(begin, "ISLD", "TW")
        self.session_id = self.config.session_id
        self.sent: list[Message] = []

    def send_nowait(self, message: Message) -> int:
        self.sent.append(message)
        return len(self.sent)


def test_echo_application_drops_a_poss_resend_order_it_has_seen() -> None:
    app = EchoApplication()
    handle = FakeHandle()
    first = Message.from_fields([(35, "D"), (11, "A")])
    again = Message.from_fields([(35, "D"), (97, "Y"), (11, "A")])
    new = Message.from_fields([(35, "D"), (97, "Y"), (11, "B")])
    for msg in (first, again, new):
        app.on_message(handle, msg)  # type: ignore[arg-type]
    assert handle.sent == [first, new]
    app.on_logout(handle, None)  # type: ignore[arg-type]
    app.on_message(handle, again)  # type: ignore[arg-type]
    assert handle.sent[-1] is again


def test_echo_application_refuses_other_types() -> None:
    from fixengine.application import UnsupportedMessageType

    app = EchoApplication()
    with pytest.raises(UnsupportedMessageType):
        app.on_message(FakeHandle(), Message.from_fields([(35, "8")]))  # type: ignore[arg-type]
    with pytest.raises(UnsupportedMessageType):  # no SecurityDefinition before FIX.4.2
        app.on_message(FakeHandle("FIX.4.1"), Message.from_fields([(35, "d")]))  # type: ignore[arg-type]
    handle = FakeHandle("FIX.4.2")
    app.on_message(handle, Message.from_fields([(35, "d")]))  # type: ignore[arg-type]
    assert len(handle.sent) == 1
