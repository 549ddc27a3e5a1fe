"""Crash-safety soak: SIGKILL an initiator and an acceptor at random moments, then verify.

Theory of operation
-------------------
Two child processes (``python -m fixengine.bench.crash --child ...``) each run an
:class:`~fixengine.application.Engine` with one FIX.4.4 session and a file store:

* the **initiator** sends a numbered stream of NewOrderSingle(35=D), ClOrdID
  ``I-<n>``, whatever the connection state (the session numbers and persists a
  message sent while disconnected and delivers it by resend after the next Logon);
* the **acceptor** answers each order with one ExecutionReport(35=8, 150=0 New). At
  start it reads its own store: an order whose ExecutionReport is already stored was
  answered (the store is written before the bytes leave), so a redelivered order
  (the engine confirms a message after its callback: at-least-once) is not answered
  twice.

Each child appends what it does and sees to a *record file*: one JSON line per
``os.write`` on an ``O_APPEND`` descriptor, so a line whose write returned survives
``kill -9``. The initiator writes ``intent`` *before* ``send`` (a restarted process
never reuses an order number, even when killed inside ``send``) and ``sent`` after.

The parent kills the chosen victim(s) ``--kills`` times at random moments - while
starting, connecting, logging on, resending or streaming (the phase is read from
the victim's records at the moment of the kill) - and restarts each from the same
settings and store. Then it stops the stream and reconciles: both sides are stopped
cleanly (Logout), the stores are read, and while an order stored by the initiator
has no ExecutionReport, both are started again without sending until it has one.

Checks, from the stores (read once their owners are gone) and the records:

* ``lost``: orders in the initiator's store never acknowledged after reconciliation
  (an order with an ``intent`` but not in the store is *unsent*, and known to be);
* ``seqnum_reuse``: a MsgSeqNum whose content differs between what a receiver got
  and the sender's store, or between two receptions, or between a ``sent`` record
  and the store (FIX: a resend carries the original message, PossDupFlag=Y);
* ``missing_in_store``: a MsgSeqNum from 1 to next-1 absent from either store
  (every sent message, session messages too, is persisted before it is sent);
* ``unflagged_duplicates``: an application message delivered again without
  PossDupFlag(43)=Y; ``unknown_received``: a received MsgSeqNum the sender never stored.

Nothing is timed as an assertion; ``seconds`` is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import functools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..codec import Message, decode
from ..errors import FixError

#: Fields a resend may change (PossDupFlag, SendingTime, OrigSendingTime) or that follow
#: from the rest (BodyLength, CheckSum).
_VOLATILE = frozenset({9, 10, 43, 52, 122})
_SESSION_TYPES = frozenset({b"0", b"1", b"2", b"3", b"4", b"5", b"A"})
_ROLES = ("initiator", "acceptor")
_KINDS = ("initiator", "acceptor", "both")
VICTIMS = (*_KINDS, "random")
_COMP = {"initiator": ("INI", "ACC"), "acceptor": ("ACC", "INI")}
_TIMEOUT = 30.0


# -- record files -----------------------------------------------------------------------------
class Recorder:
    """Appends JSON lines to a record file, one unbuffered ``os.write`` each."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, ev: str, **fields: Any) -> None:
        """Append one record (``ev`` names it; ``t`` is the wall clock)."""
        fields["ev"] = ev
        fields["t"] = round(time.time(), 6)
        os.write(self._fd, (json.dumps(fields, separators=(",", ":")) + "\n").encode())

    def close(self) -> None:
        """Close the descriptor."""
        os.close(self._fd)


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete line of a record file (a torn last line is skipped)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def order_number(msg: Message) -> int | None:
    """``n`` of ClOrdID(11) ``I-<n>`` (None for anything else)."""
    clordid = msg.get_str(11) or ""
    prefix, sep, num = clordid.partition("-")
    return int(num) if prefix == "I" and sep and num.isdigit() else None


def read_store(store_dir: str | os.PathLike[str], role: str) -> tuple[int, dict[int, bytes]]:
    """Next sender MsgSeqNum and every stored message of a role's (closed) file store."""
    from ..session.config import SessionID
    from ..session.store import open_store

    sender, target = _COMP[role]
    store = open_store("file", SessionID("FIX.4.4", sender, target), str(store_dir), "never")
    try:
        nxt = store.next_sender_seq()
        return nxt, dict(store.get_sent(1, nxt - 1))
    finally:
        store.close()


# -- the child processes ----------------------------------------------------------------------
def _new_order(n: int) -> Message:
    msg = Message("D")
    msg.append(11, f"I-{n}")
    msg.append(21, "1")
    msg.append(55, "CRASH")
    msg.append(54, "1" if n % 2 else "2")
    from ..fields import format_utc_timestamp

    msg.append(60, format_utc_timestamp(time.time_ns(), 3))
    msg.append(38, str(1 + n % 500))
    msg.append(40, "1")
    return msg


def _execution_report(order: Message, n: int) -> Message:
    er = Message("8")
    er.append(37, f"O-{n}")
    er.append(17, f"E-{n}")
    er.append(11, order.get_str(11) or "")
    er.append(150, "0")
    er.append(39, "0")
    er.append(55, order.get_str(55) or "")
    er.append(54, order.get_str(54) or "1")
    er.append(38, order.get_str(38) or "0")
    er.append(151, order.get_str(38) or "0")
    er.append(14, "0")
    er.append(6, "0")
    return er


def _child_app(role: str, rec: Recorder, answered: set[int]) -> Any:
    from ..application import Application, SessionHandle

    class ChildApp(Application):
        async def on_logon(self, session: SessionHandle) -> None:
            rec.write("logon", next_sender=session.next_sender_seq)

        def on_logout(self, session: SessionHandle, text: str | None) -> None:
            rec.write("logout", text=text)

        def on_admin_message(self, session: SessionHandle, message: Message) -> None:
            mt = (message.msg_type or b"").decode()
            if mt in ("2", "4"):  # ResendRequest, SequenceReset: a resend is under way
                rec.write("admin", type=mt, seq=message.get_int(34))

        async def on_message(self, session: SessionHandle, message: Message) -> None:
            raw = message.raw if message.raw is not None else message.encode()
            n = order_number(message)
            rec.write(
                "recv",
                seq=message.get_int(34),
                possdup=message.get(43) == b"Y",
                n=n,
                type=(message.msg_type or b"").decode(),
                raw=raw.decode("latin-1"),
            )
            if role == "acceptor" and message.msg_type == b"D" and n is not None:
                if n in answered:
                    return
                answered.add(n)
                seq = await session.send(_execution_report(message, n))
                rec.write("ack_sent", n=n, seq=seq)

    return ChildApp()


def _answered_orders(store_dir: str) -> set[int]:
    """Orders whose ExecutionReport the acceptor's store already holds."""
    try:
        _, messages = read_store(store_dir, "acceptor")
    except Exception:  # a fresh directory: nothing answered yet
        return set()
    out: set[int] = set()
    for raw in messages.values():
        msg = decode(raw)
        if msg.msg_type == b"8" and (n := order_number(msg)) is not None:
            out.add(n)
    return out


async def _child_main(args: argparse.Namespace) -> int:
    from ..application import Engine
    from ..transport.initiator import InitiatorOptions

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    stop_sending = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, stop_sending.set)
    rec = Recorder(args.record)
    answered = _answered_orders(args.store) if args.child == "acceptor" else set()
    engine = Engine.from_settings(
        args.settings,
        _child_app(args.child, rec, answered),
        initiator_options=InitiatorOptions(
            connect_timeout=2.0, reconnect_interval=0.1, max_reconnect_interval=0.5, jitter=0.2
        ),
    )
    (handle,) = engine.sessions
    rec.write("start", pid=os.getpid(), next_sender=handle.next_sender_seq)
    await engine.start()

    async def stream() -> None:
        n = max((r["n"] for r in read_records(args.record) if r["ev"] == "intent"), default=0)
        while not stop_sending.is_set():
            n += 1
            rec.write("intent", n=n)
            try:
                seq = await handle.send(_new_order(n))
            except FixError as exc:
                rec.write("send_error", n=n, error=str(exc))
            else:
                rec.write("sent", n=n, seq=seq)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop_sending.wait(), args.interval)
        rec.write("stopped_sending", last_n=n)

    sender = None
    if args.child == "initiator" and not args.no_send:
        sender = loop.create_task(stream())
    await stop.wait()
    stop_sending.set()
    if sender is not None:
        await sender
    await engine.stop(logout=True, timeout=2.0)
    rec.write("stopped", next_sender=handle.next_sender_seq, next_target=handle.next_target_seq)
    rec.close()
    return 0


# -- the parent: processes ----------------------------------------------------------------------
def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_settings(path: Path, role: str, port: int, store: Path, log: Path) -> None:
    sender, target = _COMP[role]
    lines = [
        "[DEFAULT]",
        "BeginString=FIX.4.4",
        "HeartBtInt=2",
        "ReconnectInterval=0.1",
        f"FileStorePath={store}",
        f"FileLogPath={log}",
        # kill -9 ends the process, not the machine: written pages survive without fsync
        "FsyncPolicy=never",
        "UseDataDictionary=Y",
        "LogonTimeout=5",
        "LogoutTimeout=2",
        "",
        "[SESSION]",
        f"ConnectionType={role}",
        f"SenderCompID={sender}",
        f"TargetCompID={target}",
    ]
    key = "SocketConnect" if role == "initiator" else "SocketAccept"
    lines += [f"{key}Host=127.0.0.1", f"{key}Port={port}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class Child:
    """One restartable child process, its settings, store and record file."""

    def __init__(self, role: str, workdir: Path, port: int, interval: float) -> None:
        self.role = role
        self.workdir = workdir
        self.store = workdir / f"{role}-store"
        self.settings = workdir / f"{role}.cfg"
        self.record = workdir / f"{role}.jsonl"
        self.interval = interval
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        _write_settings(self.settings, role, port, self.store, workdir / f"{role}-log")

    def start(self, *, send: bool = True) -> None:
        """Start the program (again) on the same settings and store."""
        assert not self.running, f"{self.role} still runs"
        self.runs += 1
        cmd = [
            sys.executable,
            "-m",
            "fixengine.bench.crash",
            "--child",
            self.role,
            "--settings",
            str(self.settings),
            "--record",
            str(self.record),
            "--store",
            str(self.store),
            "--interval",
            str(self.interval),
        ]
        if not send:
            cmd.append("--no-send")
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parent.parent.parent)
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        err = self.workdir / f"{self.role}.{self.runs}.err"
        with open(err, "wb") as stderr:
            self.proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=stderr, env=env, start_new_session=True
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """``kill -9`` and reap."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM (Logout, store closed) and wait; SIGKILL after ``timeout`` (returns -9)."""
        if self.proc is None or self.proc.poll() is not None:
            return 0 if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

    def signal(self, sig: int) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(sig)

    def check_alive(self) -> None:
        """Raise if the program exited by itself with an error (stderr tail attached)."""
        if self.proc is not None and (code := self.proc.poll()) is not None and code > 0:
            raise RuntimeError(f"{self.role} exited with {code}:\n{self.stderr_tail()}")

    def stderr_tail(self) -> str:
        err = self.workdir / f"{self.role}.{self.runs}.err"
        return err.read_text(errors="replace")[-2000:] if err.exists() else ""

    def records(self, ev: str | None = None) -> list[dict[str, Any]]:
        recs = read_records(self.record)
        return recs if ev is None else [r for r in recs if r.get("ev") == ev]

    def this_run(self) -> list[dict[str, Any]]:
        """Records of the current (or last) process, from its ``start`` line on."""
        pid = None if self.proc is None else self.proc.pid
        recs = read_records(self.record)
        for i in range(len(recs) - 1, -1, -1):
            if recs[i].get("ev") == "start" and recs[i].get("pid") == pid:
                return recs[i:]
        return []

    def logged_on(self) -> bool:
        return any(r["ev"] == "logon" for r in self.this_run())

    def phase(self) -> str:
        """What the process was doing, from its records: starting, logging_on,
        resending or streaming."""
        run = self.this_run()
        if not run:
            return "starting"
        if not any(r["ev"] == "logon" for r in run):
            return "logging_on"
        tail = [r for r in run if r["ev"] in ("recv", "admin")][-5:]
        if any(r["ev"] == "admin" or r.get("possdup") for r in tail):
            return "resending"
        return "streaming"


def _wait(cond: Callable[[], Any], timeout: float, what: str, children: list[Child]) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        for child in children:
            child.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)


def _all_logged_on(children: list[Child]) -> bool:
    return all(c.logged_on() for c in children)


# -- the parent: verification -------------------------------------------------------------------
def _stable(raw: bytes) -> tuple[tuple[int, bytes], ...] | None:
    """The fields a resend keeps unchanged (None when ``raw`` does not decode)."""
    try:
        msg = decode(raw)
    except FixError:
        return None
    return tuple((t, v) for t, v in msg.fields() if t not in _VOLATILE)


def _direction(
    store: dict[int, bytes], received: list[dict[str, Any]], sent: list[dict[str, Any]]
) -> dict[str, int]:
    """Check one direction: the receiver's ``recv`` records against the sender's store."""
    reuse = unflagged = unknown = 0
    seen: dict[int, tuple[tuple[int, bytes], ...] | None] = {}
    deliveries: collections.Counter[int] = collections.Counter()
    stable_store = {seq: _stable(raw) for seq, raw in store.items()}
    for r in received:
        seq = r["seq"]
        content = _stable(r["raw"].encode("latin-1"))
        if seq not in store:
            unknown += 1
        elif content is None or content != stable_store[seq] or seen.get(seq, content) != content:
            reuse += 1
        seen.setdefault(seq, content)
        if deliveries[seq] and not r["possdup"]:
            unflagged += 1
        deliveries[seq] += 1
    for r in sent:  # what the sender's records say it sent under each MsgSeqNum
        raw = store.get(r["seq"])
        if raw is None or order_number(decode(raw)) != r["n"]:
            reuse += 1
    return {
        "seqnum_reuse": reuse,
        "unflagged_duplicates": unflagged,
        "unknown_received": unknown,
        "duplicate_deliveries": sum(c - 1 for c in deliveries.values()),
        "resent": sum(1 for r in received if r["possdup"]),
    }


def verify(workdir: Path) -> dict[str, Any]:
    """Read both stores and record files (every process gone) and count the failures."""
    ini_next, ini_store = read_store(workdir / "initiator-store", "initiator")
    acc_next, acc_store = read_store(workdir / "acceptor-store", "acceptor")
    ini_recs = read_records(workdir / "initiator.jsonl")
    acc_recs = read_records(workdir / "acceptor.jsonl")
    missing = sum(1 for s in range(1, ini_next) if s not in ini_store)
    missing += sum(1 for s in range(1, acc_next) if s not in acc_store)

    stored_orders: collections.Counter[int] = collections.Counter()
    for raw in ini_store.values():
        msg = decode(raw)
        if msg.msg_type == b"D" and (n := order_number(msg)) is not None:
            stored_orders[n] += 1
    acks: collections.Counter[int] = collections.Counter()
    for raw in acc_store.values():
        msg = decode(raw)
        if msg.msg_type == b"8" and (n := order_number(msg)) is not None:
            acks[n] += 1
    acked = {r["n"] for r in ini_recs if r["ev"] == "recv" and r.get("type") == "8"}
    intents = {r["n"] for r in ini_recs if r["ev"] == "intent"}

    to_acc = _direction(
        ini_store,
        [r for r in acc_recs if r["ev"] == "recv"],
        [r for r in ini_recs if r["ev"] == "sent"],
    )
    to_ini = _direction(
        acc_store,
        [r for r in ini_recs if r["ev"] == "recv"],
        [r for r in acc_recs if r["ev"] == "ack_sent"],
    )
    return {
        "orders": len(stored_orders),
        "acknowledged": len(set(stored_orders) & acked),
        "lost": len(set(stored_orders) - acked),
        "unsent": len(intents - set(stored_orders)),
        "orders_stored_twice": sum(1 for c in stored_orders.values() if c > 1),
        "acks_stored_twice": sum(1 for c in acks.values() if c > 1),
        "seqnum_reuse": to_acc["seqnum_reuse"] + to_ini["seqnum_reuse"],
        "missing_in_store": missing,
        "unflagged_duplicates": to_acc["unflagged_duplicates"] + to_ini["unflagged_duplicates"],
        "unknown_received": to_acc["unknown_received"] + to_ini["unknown_received"],
        "duplicate_deliveries": to_acc["duplicate_deliveries"] + to_ini["duplicate_deliveries"],
        "resent_deliveries": to_acc["resent"] + to_ini["resent"],
        "initiator_next_sender": ini_next,
        "acceptor_next_sender": acc_next,
    }


#: Keys that must be 0 for the run to pass.
FAILURE_KEYS = (
    "lost",
    "seqnum_reuse",
    "missing_in_store",
    "unflagged_duplicates",
    "unknown_received",
    "orders_stored_twice",
)


# -- the parent: the soak -----------------------------------------------------------------------
@contextlib.contextmanager
def _children(workdir: Path, interval: float) -> Iterator[dict[str, Child]]:
    port = free_port()
    children = {role: Child(role, workdir, port, interval) for role in _ROLES}
    try:
        yield children
    finally:
        for child in children.values():
            if child.running:
                child.kill()


def _reconcile(children: dict[str, Child], workdir: Path) -> None:
    """Stop cleanly; while a stored order has no ExecutionReport, run both again without
    sending until it has one (at most three passes)."""
    ini, acc = children["initiator"], children["acceptor"]
    for _ in range(3):
        ini.terminate()
        acc.terminate()
        _, store = read_store(workdir / "initiator-store", "initiator")
        orders = {n for raw in store.values() if (n := order_number(decode(raw))) is not None}
        acked = {r["n"] for r in ini.records("recv") if r.get("type") == "8"}
        if orders <= acked:
            return
        acc.start()
        ini.start(send=False)

        def answered(orders: set[int] = orders) -> bool:
            return orders <= {r["n"] for r in ini.records("recv") if r.get("type") == "8"}

        with contextlib.suppress(TimeoutError):
            _wait(
                answered,
                _TIMEOUT,
                "acknowledgements",
                [ini, acc],
            )
    ini.terminate()
    acc.terminate()


def soak(
    kills: int,
    *,
    seed: int,
    victim: str = "random",
    interval: float = 0.01,
    workdir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the soak in ``workdir`` (a fresh temporary directory when None) and return
    the figures (see the module docstring)."""
    if victim not in VICTIMS:
        raise ValueError(f"victim must be one of {VICTIMS}, not {victim!r}")
    rng = random.Random(seed)
    started = time.monotonic()
    tmp = None
    if workdir is None:
        tmp = tempfile.mkdtemp(prefix="fixengine-crash-")
        workdir = Path(tmp)
    per_victim: collections.Counter[str] = collections.Counter()
    per_phase: collections.Counter[str] = collections.Counter()
    try:
        with _children(workdir, interval) as children:
            ini, acc = children["initiator"], children["acceptor"]
            acc.start()
            ini.start()
            for i in range(kills):
                who = victim if victim != "random" else rng.choice(_KINDS)
                targets = [children[r] for r in _ROLES] if who == "both" else [children[who]]
                moment = rng.random()
                if moment < 0.35:  # early: starting, connecting, logging on
                    time.sleep(rng.uniform(0.0, 0.35))
                else:  # just after the logon (resending) or later (streaming)
                    with contextlib.suppress(TimeoutError):
                        _wait(functools.partial(_all_logged_on, targets), 10, "logon", [ini, acc])
                    time.sleep(rng.uniform(0.0, 0.03) if moment < 0.7 else rng.uniform(0.05, 0.6))
                for child in targets:
                    per_phase[child.phase()] += 1
                    child.check_alive()
                    child.kill()
                per_victim[who] += 1
                if progress is not None:
                    progress(f"kill {i + 1}/{kills}: {who}")
                for child in targets:
                    child.start()
            # let the stream run once more without kills, then end it and reconcile
            _wait(lambda: ini.logged_on() and acc.logged_on(), _TIMEOUT, "logon", [ini, acc])
            time.sleep(0.3)
            ini.signal(signal.SIGUSR1)
            _wait(
                lambda: any(r["ev"] == "stopped_sending" for r in ini.this_run()),
                _TIMEOUT,
                "end of the stream",
                [ini, acc],
            )
            _reconcile(children, workdir)
        result: dict[str, Any] = {"kills": kills, **verify(workdir)}
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    result["kills_per_victim"] = {k: per_victim[k] for k in ("initiator", "acceptor", "both")}
    result["kills_per_phase"] = dict(sorted(per_phase.items()))
    result["seed"] = seed
    result["victim"] = victim
    result["seconds"] = round(time.monotonic() - started, 2)
    result["ok"] = all(result[k] == 0 for k in FAILURE_KEYS)
    return result


# -- command line -------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fixengine bench crash``."""
    parser.add_argument("--kills", type=int, default=20, help="kill events in all (default 20)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--victim", choices=VICTIMS, default="random", help="who is killed")
    parser.add_argument(
        "--interval", type=float, default=0.01, help="seconds between orders (default 0.01)"
    )
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep stores and records")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """Run the soak; exit status 0 only when every check passes."""
    if args.kills < 0:
        print("--kills must be >= 0", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    workdir = None
    if args.keep:
        workdir = Path(args.keep)
        workdir.mkdir(parents=True, exist_ok=False)
    progress = None if args.json else (lambda line: print(line, file=sys.stderr, flush=True))

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # the children are killed on the way out

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        result = soak(
            args.kills,
            seed=seed,
            victim=args.victim,
            interval=args.interval,
            workdir=workdir,
            progress=progress,
        )
    except (TimeoutError, RuntimeError) as exc:
        print(f"crash soak failed (seed {seed}): {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        width = max(len(k) for k in result)
        for key, value in result.items():
            mark = "  FAIL" if key in FAILURE_KEYS and value else ""
            print(f"{key:<{width}}  {value}{mark}")
    return 0 if result["ok"] else 1


def _child_entry(argv: list[str]) -> int:
    from ..transport.loop import run as run_loop

    parser = argparse.ArgumentParser(prog="fixengine.bench.crash --child")
    parser.add_argument("--child", choices=_ROLES, required=True)
    parser.add_argument("--settings", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--interval", type=float, default=0.01)
    parser.add_argument("--no-send", action="store_true")
    return run_loop(_child_main(parser.parse_args(argv)))


if __name__ == "__main__":
    if "--child" in sys.argv[1:]:
        sys.exit(_child_entry(sys.argv[1:]))
    _parser = argparse.ArgumentParser(prog="fixengine bench crash")
    add_arguments(_parser)
    sys.exit(run(_parser.parse_args()))
