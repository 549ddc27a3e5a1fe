"""A standalone FIX peer for the end-to-end tests, and the harness that runs it.

It builds an :class:`~fixengine.application.Engine` from a QuickFIX-style settings
file with exactly one session (initiator or acceptor, file store, file log), sends
a numbered stream of NewOrderSingle messages and records everything it observes
in a *record file*: one JSON object per line, written with a single unbuffered
``os.write`` on an ``O_APPEND`` descriptor, so a line whose write returned
survives ``kill -9`` of this process. The parent test reads the record file and
the message store (once the process is gone) and checks them against each other.

Record lines (``ev`` field):

``start``     the process started; the store's sequence numbers at that moment
``intent``    about to send stream message ``n`` (written *before* ``send``, so a
              restarted peer never reuses ``n`` even if it was killed inside ``send``)
``sent``      ``send`` returned MsgSeqNum ``seq`` for ``n``
``send_error`` ``send`` raised (``error`` is the text)
``recv``      an application message: ``seq``, ``possdup``, ``n`` (parsed from
              ClOrdID ``<origin>-<n>``), ``orig`` (OrigSendingTime) and ``raw``
``admin``     a session message (Logon, Logout, ResendRequest, SequenceReset,
              Reject): type, MsgSeqNum and the fields that matter; never a password
``logon``, ``logout``, ``refused``, ``disconnect``, ``event``, ``stopped_sending``,
``stopping``, ``stopped``

Signals: SIGTERM stops the engine cleanly (Logout handshake, stores and logs
closed) and exits 0; SIGUSR1 stops the stream (no further sends).

Usage::

    python tests/e2e_peer.py --settings peer.cfg --record peer.jsonl --origin I \\
        [--count N] [--interval S] [--burst B --pause S] [--no-send] \\
        [--wait-logon | --wait-connected] [--expect-password-env VAR] [--logon-delay S] \\
        [--app-delay S] [--fail-admin]

The second half of this module is the harness the tests use in the parent process:
:func:`peer_pair` writes the two settings files, :class:`Peer` starts, signals and
reaps one program (stdout/stderr go to files, never to a pipe that could fill),
:class:`PeerGroup` kills whatever still runs at teardown, :func:`read_store` reads a
store back once its process is gone and :func:`verify_stream` checks a receiver's
records against the sender's store.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(_ROOT))

from fixengine.application import Application, Engine, SessionHandle  # noqa: E402
from fixengine.bench.crash import Recorder, read_records  # noqa: E402
from fixengine.codec import Message, decode  # noqa: E402
from fixengine.errors import FixError  # noqa: E402
from fixengine.fields import format_utc_timestamp  # noqa: E402
from fixengine.session.config import SessionID  # noqa: E402
from fixengine.session.store import open_store  # noqa: E402
from fixengine.transport.initiator import InitiatorOptions  # noqa: E402
from fixengine.transport.loop import run as run_loop  # noqa: E402

#: Session-message fields worth recording (never 554 Password / 925 NewPassword).
_ADMIN_FIELDS = (7, 16, 36, 43, 45, 58, 98, 108, 123, 141, 372, 373, 553)


def stream_message(origin: str, n: int) -> Message:
    """Stream message ``n``: a NewOrderSingle whose ClOrdID is ``<origin>-<n>``."""
    msg = Message("D")
    msg.append(11, f"{origin}-{n}")
    msg.append(21, "1")
    msg.append(55, "E2E")
    msg.append(54, "1" if n % 2 else "2")
    msg.append(60, format_utc_timestamp(time.time_ns(), 3))
    msg.append(38, str(n))
    msg.append(40, "1")
    msg.append(58, "n" * (1 + n % 40))  # sizes vary
    return msg


def stream_number(msg: Message) -> int | None:
    """``n`` of a stream message (None when ClOrdID is not ``<origin>-<n>``)."""
    clordid = msg.get_str(11) or ""
    _, sep, num = clordid.rpartition("-")
    return int(num) if sep and num.isdigit() else None


class PeerApp(Application):
    """Records what the application sees; optionally slow to consume messages."""

    def __init__(self, rec: Recorder, app_delay: float, fail_admin: bool = False) -> None:
        self.rec = rec
        self.app_delay = app_delay
        self.fail_admin = fail_admin

    async def on_logon(self, session: SessionHandle) -> None:
        self.rec.write(
            "logon", next_sender=session.next_sender_seq, next_target=session.next_target_seq
        )

    def on_logout(self, session: SessionHandle, text: str | None) -> None:
        self.rec.write("logout", text=text)

    async def on_message(self, session: SessionHandle, message: Message) -> None:
        if self.app_delay:
            await asyncio.sleep(self.app_delay)
        raw = message.raw if message.raw is not None else message.encode()
        self.rec.write(
            "recv",
            seq=message.get_int(34),
            possdup=message.get(43) == b"Y",
            n=stream_number(message),
            orig=message.get_str(122),
            raw=raw.decode("latin-1"),
        )

    def on_admin_message(self, session: SessionHandle, message: Message) -> None:
        fields = {str(tag): message.get_str(tag) for tag in _ADMIN_FIELDS if tag in message}
        self.rec.write(
            "admin", type=(message.msg_type or b"").decode(), seq=message.get_int(34), **fields
        )
        if self.fail_admin:
            raise RuntimeError("on_admin_message failed (as asked by --fail-admin)")

    def on_disconnect(self, session: SessionHandle, reason: str) -> None:
        self.rec.write("disconnect", reason=reason)

    def on_event(self, session: SessionHandle, event: Any) -> None:
        name = type(event).__name__
        if name == "LogonRefused":
            self.rec.write("refused", text=getattr(event, "text", None))
        elif name in ("GapDetected", "GapFilled", "StoreReset", "UnsentMessagesDiscarded"):
            self.rec.write("event", name=name, detail=repr(event))


def _authenticator(env_name: str | None, delay: float) -> Any:
    """Accept a Logon when Password(554) equals the environment variable's value (if one
    is named), after blocking for ``delay`` seconds (a slow authentication backend)."""

    def check(logon: Message) -> str | None:
        if delay:
            time.sleep(delay)
        if env_name is None:
            return None
        expected = os.environ.get(env_name)
        if expected is None or logon.get_str(554) != expected:
            return "Invalid username or password"
        return None

    return check


def _last_intent(path: str) -> int:
    return max((r["n"] for r in read_records(path) if r.get("ev") == "intent"), default=0)


async def _stream(
    handle: SessionHandle, rec: Recorder, args: argparse.Namespace, stop_sending: asyncio.Event
) -> None:
    """Send stream messages ``last intent + 1 .. count`` whatever the connection state."""
    while args.wait_logon and not handle.is_logged_on and not stop_sending.is_set():
        try:
            await handle.wait_logged_on(timeout=0.05)
        except asyncio.TimeoutError:
            pass
    while args.wait_connected and not handle.is_connected and not stop_sending.is_set():
        await asyncio.sleep(0.002)
    n = _last_intent(rec.path)
    sent_in_burst = 0
    while n < args.count and not stop_sending.is_set():
        n += 1
        rec.write("intent", n=n)
        try:
            seq = await handle.send(stream_message(args.origin, n))
        except FixError as exc:
            rec.write("send_error", n=n, error=str(exc), kind=type(exc).__name__)
        else:
            rec.write("sent", n=n, seq=seq)
        sent_in_burst += 1
        delay = args.interval
        if args.burst and sent_in_burst >= args.burst:
            sent_in_burst = 0
            delay = args.pause
        try:
            await asyncio.wait_for(stop_sending.wait(), delay)
        except asyncio.TimeoutError:
            pass
    rec.write("stopped_sending", last_n=n)


async def main_async(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    stop_sending = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, stop_sending.set)
    rec = Recorder(args.record)
    authenticator = None
    if args.expect_password_env or args.logon_delay:
        authenticator = _authenticator(args.expect_password_env, args.logon_delay)
    engine = Engine.from_settings(
        args.settings,
        PeerApp(rec, args.app_delay, args.fail_admin),
        authenticator=authenticator,
        initiator_options=InitiatorOptions(
            connect_timeout=2.0, reconnect_interval=0.2, max_reconnect_interval=1.0, jitter=0.2
        ),
    )
    handles = engine.sessions
    if len(handles) != 1:
        print(f"expected one session in {args.settings}, found {len(handles)}", file=sys.stderr)
        return 2
    handle = handles[0]
    rec.write(
        "start",
        pid=os.getpid(),
        role=handle.role,
        next_sender=handle.next_sender_seq,
        next_target=handle.next_target_seq,
    )
    await engine.start()
    sender = None
    if not args.no_send:
        sender = loop.create_task(_stream(handle, rec, args, stop_sending))
    await stop.wait()
    rec.write("stopping")
    stop_sending.set()
    if sender is not None:
        await sender
    await engine.stop(logout=True, timeout=args.logout_timeout)
    rec.write("stopped", next_sender=handle.next_sender_seq, next_target=handle.next_target_seq)
    rec.close()
    return 0


# -- harness: what the tests in the parent process use -----------------------------------

PEER = Path(__file__).resolve()
#: Fields that legitimately differ between a message and its resend (PossDupFlag,
#: SendingTime, OrigSendingTime) or follow from the rest (BodyLength, CheckSum).
VOLATILE_TAGS = frozenset({9, 10, 43, 52, 122})


def free_port() -> int:
    """A TCP port nobody listens on right now (bind port 0 and read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_settings(
    path: Path,
    *,
    role: str,
    sender: str,
    target: str,
    port: int,
    store: Path,
    log: Path,
    heartbeat: int = 2,
    extra: dict[str, str] | None = None,
) -> Path:
    """A QuickFIX-style settings file with one session, file store and file log."""
    lines = [
        "[DEFAULT]",
        "BeginString=FIX.4.4",
        f"HeartBtInt={heartbeat}",
        "ReconnectInterval=0.2",
        f"FileStorePath={store}",
        f"FileLogPath={log}",
        "UseDataDictionary=Y",
        "LogonTimeout=5",
        "LogoutTimeout=2",
        "",
        "[SESSION]",
        f"ConnectionType={role}",
        f"SenderCompID={sender}",
        f"TargetCompID={target}",
    ]
    if role == "initiator":
        lines += ["SocketConnectHost=127.0.0.1", f"SocketConnectPort={port}"]
    else:
        lines += ["SocketAcceptHost=127.0.0.1", f"SocketAcceptPort={port}"]
    lines += [f"{key}={value}" for key, value in (extra or {}).items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wait_until(
    condition: Callable[[], Any], timeout: float, what: str, peers: Sequence[Peer] = ()
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        for peer in peers:
            peer.check_alive()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = "\n".join(peer.describe() for peer in peers)
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{detail}")
        time.sleep(0.05)


class Peer:
    """One peer program (restartable) with its settings, record file and outputs."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        settings: Path,
        *,
        origin: str,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.workdir = workdir
        self.settings = settings
        self.record = workdir / f"{name}.record.jsonl"
        self.origin = origin
        self.args = list(args)
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.outputs: list[Path] = []

    # -- process control ------------------------------------------------------------------
    def start(self, *extra: str, args: Sequence[str] | None = None) -> Peer:
        """Start the program (again); ``args`` replaces the arguments given at creation."""
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} still runs"
        self.runs += 1
        out = self.workdir / f"{self.name}.{self.runs}.out"
        err = self.workdir / f"{self.name}.{self.runs}.err"
        self.outputs += [out, err]
        env = dict(os.environ)
        env.pop("PYTHONWARNINGS", None)
        env.update(self.env)
        env["PYTHONPATH"] = str(_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        cmd = [
            sys.executable,
            str(PEER),
            "--settings",
            str(self.settings),
            "--record",
            str(self.record),
            "--origin",
            self.origin,
            *(self.args if args is None else args),
            *extra,
        ]
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            self.proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=env)
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self) -> None:
        """Fail at once (with its stderr) if the program died by itself."""
        proc = self.proc
        if proc is not None and proc.poll() is not None and proc.returncode > 0:
            raise AssertionError(f"{self.name} exited with {proc.returncode}\n{self.describe()}")

    def kill(self) -> None:
        """``kill -9`` and reap."""
        proc = self.proc
        assert proc is not None
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM (clean stop: Logout, stores and logs closed) and wait; returns the code."""
        proc = self.proc
        assert proc is not None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            raise AssertionError(
                f"{self.name} did not stop on SIGTERM\n{self.describe()}"
            ) from None

    def stop_sending(self) -> None:
        """SIGUSR1: end the stream."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGUSR1)

    def cleanup(self) -> None:
        """Kill the program if it still runs (test teardown)."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    # -- what it recorded ---------------------------------------------------------------
    def records(self, ev: str | None = None) -> list[dict[str, Any]]:
        recs = read_records(self.record)
        return recs if ev is None else [r for r in recs if r.get("ev") == ev]

    def runs_records(self) -> list[list[dict[str, Any]]]:
        """The records split by program run (each starts with a ``start`` line)."""
        runs: list[list[dict[str, Any]]] = []
        for r in read_records(self.record):
            if r.get("ev") == "start" or not runs:
                runs.append([])
            runs[-1].append(r)
        return runs

    def received(self) -> list[dict[str, Any]]:
        """``recv`` records, in the order the application saw them."""
        return self.records("recv")

    def received_numbers(self) -> set[int]:
        return {r["n"] for r in self.received() if r.get("n") is not None}

    def sent(self) -> list[dict[str, Any]]:
        return self.records("sent")

    def this_run(self) -> list[dict[str, Any]]:
        """The records of the current (or last) process, from its ``start`` line on."""
        pid = None if self.proc is None else self.proc.pid
        for run in reversed(self.runs_records()):
            if run and run[0].get("ev") == "start" and run[0].get("pid") == pid:
                return run
        return []  # it has not written its first line yet

    def logged_on_in_this_run(self) -> bool:
        return any(r.get("ev") == "logon" for r in self.this_run())

    def describe(self) -> str:
        """Exit status and the tail of stderr, for failure messages."""
        code = None if self.proc is None else self.proc.poll()
        tail = ""
        if len(self.outputs) >= 2 and self.outputs[-1].exists():
            tail = self.outputs[-1].read_text(errors="replace")[-3000:]
        return f"--- {self.name} (run {self.runs}, exit {code}) stderr tail:\n{tail}"


class PeerGroup:
    """Peers of one test; every program still running is killed on exit."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.peers: list[Peer] = []

    def add(self, peer: Peer) -> Peer:
        self.peers.append(peer)
        return peer

    def __enter__(self) -> PeerGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        for peer in self.peers:
            peer.cleanup()


@dataclasses.dataclass
class StoreContents:
    """A file store read back once its owner is gone."""

    next_sender: int
    next_target: int
    messages: dict[int, bytes]

    def app_messages(self) -> dict[int, Message]:
        """Stored application messages (MsgType not a session type), by MsgSeqNum."""
        out: dict[int, Message] = {}
        for seq, raw in self.messages.items():
            msg = decode(raw)
            if msg.msg_type not in _SESSION_TYPES:
                out[seq] = msg
        return out


_SESSION_TYPES = frozenset({b"0", b"1", b"2", b"3", b"4", b"5", b"A"})


def read_store(store_dir: Path, sender: str, target: str) -> StoreContents:
    """Open a (closed) file store, copy its state out and close it again."""
    store = open_store("file", SessionID("FIX.4.4", sender, target), str(store_dir), "never")
    try:
        nxt = store.next_sender_seq()
        return StoreContents(nxt, store.next_target_seq(), dict(store.get_sent(1, nxt - 1)))
    finally:
        store.close()


def stable_fields(msg: Message) -> list[tuple[int, bytes]]:
    """The fields a resend must carry unchanged (all but :data:`VOLATILE_TAGS`)."""
    return [(tag, value) for tag, value in msg.fields() if tag not in VOLATILE_TAGS]


def message_log(log_dir: Path) -> list[dict[str, Any]]:
    """Every line of the ``*.messages.log`` files in ``log_dir``, with ``fields`` parsed."""
    out: list[dict[str, Any]] = []
    for path in sorted(log_dir.glob("*.messages.log")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            rec["fields"] = dict(
                (int(k), v)
                for k, _, v in (f.partition("=") for f in rec["msg"].split("|") if f)
                if k.isdigit()
            )
            out.append(rec)
    return out


@dataclasses.dataclass
class Pair:
    """An initiator and an acceptor peer wired to each other, and their directories."""

    ini: Peer
    acc: Peer
    port: int
    ini_store: Path
    acc_store: Path
    ini_log: Path
    acc_log: Path

    def ini_store_contents(self) -> StoreContents:
        return read_store(self.ini_store, "INI", "ACC")

    def acc_store_contents(self) -> StoreContents:
        return read_store(self.acc_store, "ACC", "INI")


def peer_pair(
    group: PeerGroup,
    *,
    ini_args: Sequence[str] = (),
    acc_args: Sequence[str] = (),
    ini_extra: dict[str, str] | None = None,
    acc_extra: dict[str, str] | None = None,
    ini_env: dict[str, str] | None = None,
    acc_env: dict[str, str] | None = None,
    heartbeat: int = 2,
    connect_port: int | None = None,
) -> Pair:
    """Settings for INI (initiator, stream ``I-n``) and ACC (acceptor, stream ``A-n``).

    ``connect_port`` points the initiator somewhere else than the acceptor (a proxy).
    """
    wd = group.workdir
    port = free_port()
    dirs = {name: wd / name for name in ("ini-store", "acc-store", "ini-log", "acc-log")}
    acc_cfg = write_settings(
        wd / "acc.cfg",
        role="acceptor",
        sender="ACC",
        target="INI",
        port=port,
        store=dirs["acc-store"],
        log=dirs["acc-log"],
        heartbeat=heartbeat,
        extra=acc_extra,
    )
    ini_cfg = write_settings(
        wd / "ini.cfg",
        role="initiator",
        sender="INI",
        target="ACC",
        port=connect_port or port,
        store=dirs["ini-store"],
        log=dirs["ini-log"],
        heartbeat=heartbeat,
        extra=ini_extra,
    )
    ini = group.add(Peer("ini", wd, ini_cfg, origin="I", args=ini_args, env=ini_env))
    acc = group.add(Peer("acc", wd, acc_cfg, origin="A", args=acc_args, env=acc_env))
    return Pair(
        ini, acc, port, dirs["ini-store"], dirs["acc-store"], dirs["ini-log"], dirs["acc-log"]
    )


@dataclasses.dataclass
class StreamReport:
    """How a receiver's application saw one sender's stream."""

    deliveries: collections.Counter[int]  # MsgSeqNum -> times handed to the application
    missing: set[int]  # stored application MsgSeqNums never handed to the application
    possdup: set[int]  # MsgSeqNums whose first delivery carried PossDupFlag=Y
    numbers: list[int]  # stream numbers in the order first delivered


def verify_stream(
    store: StoreContents, received: Sequence[dict[str, Any]], origin: str
) -> StreamReport:
    """Check a receiver's ``recv`` records against the sender's store.

    Fails (AssertionError) when a received message is not in the store under its
    MsgSeqNum with the same content, when a resend's OrigSendingTime is not the
    original SendingTime, when a stream number was stored under two MsgSeqNums, when
    first deliveries are out of MsgSeqNum order, or when a repeated delivery lacks
    PossDupFlag=Y. Returns what was delivered and what is missing.
    """
    app = store.app_messages()
    by_number: dict[int, int] = {}
    for seq, msg in app.items():
        n = stream_number(msg)
        assert n is not None, f"stored message {seq} is not a stream message: {msg!r}"
        assert n not in by_number, f"stream message {n} stored twice: {by_number[n]} and {seq}"
        by_number[n] = seq
    deliveries: collections.Counter[int] = collections.Counter()
    possdup: set[int] = set()
    numbers: list[int] = []
    last = 0
    for rec in received:
        msg = decode(rec["raw"].encode("latin-1"))
        if not (msg.get_str(11) or "").startswith(origin + "-"):
            continue
        seq = rec["seq"]
        assert msg.get_int(34) == seq
        assert seq in app, f"received MsgSeqNum {seq} ({msg.get_str(11)}) is not in the store"
        assert stable_fields(msg) == stable_fields(app[seq]), (
            f"MsgSeqNum {seq}: received content differs from the stored message\n"
            f"  received {stable_fields(msg)}\n  stored   {stable_fields(app[seq])}"
        )
        if rec["possdup"]:
            assert msg.get(122) == app[seq].get(52), f"{seq}: OrigSendingTime is not SendingTime"
        if deliveries[seq]:
            assert rec["possdup"], f"MsgSeqNum {seq} delivered again without PossDupFlag=Y"
        else:
            assert seq > last, f"MsgSeqNum {seq} delivered after {last}"
            last = seq
            numbers.append(rec["n"])
            if rec["possdup"]:
                possdup.add(seq)
        deliveries[seq] += 1
    return StreamReport(deliveries, set(app) - set(deliveries), possdup, numbers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", required=True, help="QuickFIX-style settings file")
    parser.add_argument("--record", required=True, help="record file (JSON lines, appended)")
    parser.add_argument("--origin", default="X", help="ClOrdID prefix of the stream")
    parser.add_argument("--count", type=int, default=0, help="last stream number to send")
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between sends")
    parser.add_argument("--burst", type=int, default=0, help="messages per burst (0: no bursts)")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between bursts")
    parser.add_argument("--no-send", action="store_true", help="send no stream messages")
    parser.add_argument("--wait-logon", action="store_true", help="start the stream once logged on")
    parser.add_argument(
        "--wait-connected", action="store_true", help="start the stream once connected"
    )
    parser.add_argument("--app-delay", type=float, default=0.0, help="seconds per on_message")
    parser.add_argument(
        "--fail-admin", action="store_true", help="on_admin_message raises (after recording)"
    )
    parser.add_argument(
        "--logon-delay", type=float, default=0.0, help="acceptor: block before answering a Logon"
    )
    parser.add_argument(
        "--expect-password-env", help="acceptor: accept Logons whose Password is this variable"
    )
    parser.add_argument("--logout-timeout", type=float, default=2.0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    return run_loop(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
