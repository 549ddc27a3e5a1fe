"""``fixengine sim`` on the command line, and simulator settings files."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from test_sim_exchange import Client

from fixengine.cli import main as cli_main
from fixengine.orders.model import ExecType, OrdStatus, Side
from fixengine.settings import SettingsError
from fixengine.sim.cli import profile_path
from fixengine.sim.server import Simulator, parse_simulator_settings

ROOT = Path(__file__).resolve().parents[1]


class SimProcess:
    """``fixengine sim ...`` as a child process; a thread collects its output lines."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fixengine", "sim", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_line(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The first output line (read so far or to come) matching ``pattern``."""
        for line in self.lines:
            m = re.search(pattern, line)
            if m:
                return m
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            self.lines.append(line)
            m = re.search(pattern, line)
            if m:
                return m
        raise AssertionError(f"no line matching {pattern!r}; got: {self.lines}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def processes() -> Iterator[list[SimProcess]]:
    started: list[SimProcess] = []
    yield started
    for p in started:
        p.kill()


async def test_one_session_form_serves_a_client_and_prints_a_summary_on_ctrl_c(
    processes: list[SimProcess],
) -> None:
    sim = SimProcess(
        "--port", "0", "--sender-comp-id", "EXEC", "--target-comp-id", "CLIENT",
        "--begin-string", "FIX.4.4", "--fill", "immediate",
    )  # fmt: skip
    processes.append(sim)
    port = int(sim.wait_line(r"listening on 127\.0\.0\.1 port\(s\) \[(\d+)\]").group(1))
    sim.wait_line(r"FIX\.4\.4:EXEC->CLIENT: fill immediate")
    async with Client(port) as client:
        cl = await client.submit(Side.BUY, 10, "2.5")
        _new, fill = await client.reports(2)
        assert fill.exec_type is ExecType.TRADE and fill.cum_qty == 10
        assert client.registry[cl].status is OrdStatus.FILLED
    sim.wait_line(r"logon FIX\.4\.4:EXEC->CLIENT from 127\.0\.0\.1:\d+")
    sim.wait_line(r"logout FIX\.4\.4:EXEC->CLIENT")
    assert sim.stop(signal.SIGINT) == 0
    summary = "\n".join(sim.lines)
    assert "fixengine sim: stopping" in summary
    assert "1 logon(s)" in summary and "orders 1" in summary and "executions 1" in summary


async def test_config_form_serves_every_session_and_stops_on_sigterm(
    tmp_path: Path, processes: list[SimProcess]
) -> None:
    cfg = tmp_path / "sim.cfg"
    cfg.write_text(
        "[DEFAULT]\nSenderCompID=VENUE\nSocketAcceptPort=9999\nStoreType=memory\n"
        "HeartBtInt=30\nSimFill=none\n"
        "[SESSION]\nBeginString=FIX.4.4\nTargetCompID=ALICE\n"
        "[SESSION]\nBeginString=FIX.4.4\nTargetCompID=BOB\n"
    )
    sim = SimProcess("--config", str(cfg), "--port", "0", "--log-dir", str(tmp_path / "logs"))
    processes.append(sim)
    port = int(sim.wait_line(r"port\(s\) \[(\d+)\], 2 session\(s\)").group(1))
    sim.wait_line(r"FIX\.4\.4:VENUE->BOB: fill none")
    async with (
        Client(port, "ALICE", "VENUE") as alice,
        Client(port, "BOB", "VENUE") as bob,
    ):
        await alice.submit(Side.SELL, 5, "3")
        await alice.reports(1)
        await bob.submit(Side.BUY, 5, "3")
        (_, bob_fill) = await bob.reports(2)
        (alice_fill,) = await alice.reports(1)
        assert bob_fill.last_px == alice_fill.last_px == Decimal(3)
    assert sim.stop(signal.SIGTERM) == 0
    assert any("trades 1" in line for line in sim.lines)
    logs = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert "FIX.4.4-VENUE-ALICE.messages.log" in logs


def test_shipped_sim_profile_starts_and_stops(processes: list[SimProcess]) -> None:
    assert profile_path("sim").name == "sim.cfg"
    sim = SimProcess("--profile", "sim", "--port", "0")
    processes.append(sim)
    sim.wait_line(r"port\(s\) \[\d+\], 6 session\(s\)")
    sim.wait_line(r"FIX\.4\.4:EXEC->FLAKY: fill immediate, faults drop_after=20")
    assert sim.stop() == 0


def test_cli_without_anything_to_serve_says_what_to_give(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli_main(["sim"]) == 2
    out = capsys.readouterr().out
    assert "give --port PORT" in out and "--config FILE" in out


def test_cli_refuses_mixed_forms(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli_main(["sim", "--config", "x.cfg", "--sender-comp-id", "A"]) == 2
    assert "one-session form" in capsys.readouterr().out
    assert cli_main(["sim", "--config", "x.cfg", "--profile", "sim"]) == 2


def test_cli_reports_settings_errors_with_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(
        "[DEFAULT]\nSenderCompID=EXEC\nSocketAcceptPort=9999\nStoreType=memory\n"
        "SimFil=partial\n[SESSION]\nBeginString=FIX.4.4\nTargetCompID=C\nSimDelayMs=-1\n"
    )
    assert cli_main(["sim", "--config", str(cfg)]) == 2
    out = capsys.readouterr().out
    assert f"{cfg}:5: SimFil: unknown simulator key (did you mean SimFill?)" in out
    assert f"{cfg}:9: SimDelayMs: expected milliseconds" in out


def test_cli_says_what_to_do_when_the_port_is_taken(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli_main(["sim", "--port", str(port)]) == 2
    out = capsys.readouterr().out
    assert f"cannot listen on 127.0.0.1:{port}" in out and "choose another one" in out


def test_settings_keys_apply_per_session_over_default() -> None:
    settings = parse_simulator_settings(
        "[DEFAULT]\nSenderCompID=EXEC\nSocketAcceptPort=9000\nStoreType=memory\n"
        "SimFill=partial\nSimPartialInterval=0.5\nSimSymbols=AAA,BBB\nSimAcceptAnyCompID=Y\n"
        "[SESSION]\nBeginString=FIX.4.2\nTargetCompID=A\n"
        "[SESSION]\nBeginString=FIXT.1.1\nDefaultApplVerID=FIX.5.0SP2\nTargetCompID=B\n"
        "SimFill=reject\nSimRejectFraction=0.5\nSimSeed=7\nSimSkipSeq=2\nSimSkipMode=gap-fill\n"
        "SimRefuseLogon=Y\nSimHeartbeats=N\n"
    )
    a, b = settings.sessions
    assert a.settings.connection_type == "acceptor"  # implied
    assert (a.fill.model, a.fill.partial_interval) == ("partial", 0.5)
    assert not a.faults.active
    assert (b.fill.model, b.fill.reject_fraction, b.fill.seed) == ("reject", 0.5, 7)
    assert (b.faults.skip_seq, b.faults.skip_mode) == (2, "gap-fill")
    assert b.faults.refuse_logons == -1 and not b.faults.heartbeats
    assert settings.symbols == ("AAA", "BBB") and settings.accept_any_comp_id


def test_settings_errors_keep_the_engine_line_numbers() -> None:
    with pytest.raises(SettingsError) as info:
        parse_simulator_settings(
            "[DEFAULT]\nSimFill=partial\nSenderCompID=EXEC\nSocketAcceptPort=9000\n"
            "StoreType=memory\nHeartBtInt=zero\n"
            "[SESSION]\nBeginString=FIX.4.4\nTargetCompID=A\nSimSymbols=X\n",
            source="f.cfg",
        )
    text = str(info.value)
    assert "f.cfg:6: HeartBtInt" in text
    assert "f.cfg:10: SimSymbols: simulator-wide, set it in [DEFAULT]" in text


def test_settings_refuse_initiators_and_old_versions() -> None:
    with pytest.raises(SettingsError) as info:
        parse_simulator_settings(
            "[DEFAULT]\nSenderCompID=EXEC\nStoreType=memory\nHeartBtInt=30\n"
            "[SESSION]\nConnectionType=initiator\nBeginString=FIX.4.4\nTargetCompID=A\n"
            "SocketConnectHost=localhost\nSocketConnectPort=9\n"
            "[SESSION]\nConnectionType=acceptor\nSocketAcceptPort=9\nBeginString=FIX.4.1\n"
            "TargetCompID=B\n",
            source="g.cfg",
        )
    text = str(info.value)
    assert "acceptor sessions only" in text
    assert "FIX.4.2 to FIX.5.0SP2" in text


async def test_simulator_from_settings_listens_on_the_port_given() -> None:
    settings = parse_simulator_settings(
        "[DEFAULT]\nSenderCompID=EXEC\nSocketAcceptPort=9000\nStoreType=memory\n"
        "[SESSION]\nBeginString=FIX.4.4\nTargetCompID=A\nSimFill=none\n"
    )
    async with Simulator.from_settings(settings, port=0) as sim:
        assert sim.port != 9000
        assert sim.fill_for(settings.sessions[0].session_id).model == "none"
        async with Client(sim.port, "A") as client:
            await client.submit(Side.BUY, 1, "1")
            (new,) = await client.reports(1)
            assert new.ord_status is OrdStatus.NEW


def test_fault_and_fill_flags_configure_every_session() -> None:
    from fixengine.cli import build_parser
    from fixengine.sim.cli import _build_simulator

    args = build_parser().parse_args(
        [
            "sim", "--port", "0", "--begin-string", "FIX.5.0SP2", "--fill", "partial",
            "--partial-fraction", "0.5", "--partial-interval", "0.25", "--drop-after", "9",
            "--skip-seq", "2", "--skip-mode", "gap-fill", "--garble-every", "4",
            "--delay-ms", "15", "--refuse-logon", "--no-heartbeats", "--accept-any-comp-id",
            "--heartbeat", "20", "--symbols", "AAA, BBB", "--tick-size", "0.01",
        ]
    )  # fmt: skip
    sim = _build_simulator(args, None)
    (session,) = sim.sessions
    assert session.session_id.begin_string == "FIXT.1.1"
    assert session.settings.config.default_appl_ver_id == "FIX.5.0SP2"
    assert (session.fill.model, session.fill.partial_fraction) == ("partial", Decimal("0.5"))
    for faults in (session.faults, sim.default_faults):
        assert (faults.drop_after, faults.skip_seq, faults.skip_mode) == (9, 2, "gap-fill")
        assert (faults.garble_every, faults.delay_ms, faults.refuse_logons) == (4, 15.0, -1)
        assert not faults.heartbeats
    assert session.faults is not sim.default_faults
    assert sim.accept_any_comp_id and sim.required_heartbeat == 20
    assert sim.exchange.engine.symbols == frozenset({"AAA", "BBB"})
    assert sim.exchange.engine.tick_size == Decimal("0.01")
    assert not sim.fault_controls  # faults are fixed at start: sessions without any run plain


async def test_data_dictionary_option_replaces_the_shipped_one() -> None:
    from fixengine.codec import Message
    from fixengine.session.events import RejectReceived

    order = Message("D")  # FIX 4.4 without HandlInst(21), which FIX 4.2 requires
    for tag, value in [(11, "A"), (55, "X"), (54, "1"), (60, "20240101-00:00:00"), (38, 1),
                       (40, "1")]:  # fmt: skip
        order.append(tag, value)
    async with Simulator(data_dictionary="FIX42") as sim, Client(sim.port) as client:
        assert client.handle is not None
        events = client.handle.events(RejectReceived)
        await client.send(order.copy())
        reject = (await events.get(10)).message  # type: ignore[attr-defined]
        assert (reject.get(373), reject.get(371)) == (b"1", b"21")
    async with Simulator(validate=False) as sim, Client(sim.port) as client:
        await client.send(order.copy())
        assert [r.exec_type for r in await client.reports(2)] == [ExecType.NEW, ExecType.TRADE]
