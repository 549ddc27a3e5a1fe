"""Load benchmark: one acceptor, hundreds of sessions with 1 s heartbeats, orders and a flood.

Theory of operation
-------------------
Two processes (three with a flood), so the acceptor's memory and CPU figures are
its own:

* this process runs the **acceptor**: an :class:`~fixengine.application.Engine` with
  ``sessions`` acceptor sessions on one port (real :class:`~fixengine.session.session.Session`,
  memory store, HeartBtInt 1 s) and an :class:`~fixengine.application.Application`
  that answers each NewOrderSingle(35=D) with an ExecutionReport(35=8, 150=0 New);
* a child process (``python -m fixengine.bench.load --initiators ...``) runs the
  **initiators**: one :class:`~fixengine.transport.Initiator` per session, started in
  batches (a connection storm of hundreds is not what is measured), the first
  ``senders`` of them sending a NewOrderSingle every ``order_interval`` seconds.

The run: the acceptor measures its RSS (``/proc/self/statm``) before adding sessions;
the child logs every session on and reports READY; the acceptor measures its RSS
again (``kb_per_session`` = the difference / sessions; meaningful in a fresh process
such as the CLI's, not inside a long test run that reuses freed memory) and starts the measured
window (GO); the child sends orders for ``seconds`` and reports what it saw; the
acceptor closes the window (CPU from ``getrusage``, counters from its
:class:`~fixengine.metrics.FixMetrics`), then everything logs out.

Order->ack latency is timed in the child from ``driver.send`` of the order to the
drain of its ExecutionReport (both sides' session code and the loopback included),
per sender, and reported as percentiles in microseconds.

Flood (``--flood``): during the second half of the window one session that is
not a sender sends NewOrderSingles at ``flood_rate`` (default 10 x the throttle),
from a third process of its own (so generating the flood does not slow the
senders' process and only the acceptor is shared). The acceptor's inbound
throttle (``--throttle`` messages/s per session, the ``max_inbound_messages``
transport option) holds it to its rate by not reading its socket; the senders'
latency in the first half (no flood) and the second half (flood) are reported
side by side. ``--throttle 0`` shows the same without the throttle.

A missed heartbeat is a TestRequest sent because nothing arrived for HeartBtInt x 1.2
(``fix_heartbeats_missed_total``); disconnections are counted by both sides during
the window. Pinning (``--pin``) puts the acceptor on one CPU and the initiators on
another when there are two. Nothing here is a timed assertion: the numbers are
printed, and ``tests/test_load.py`` checks a small run's invariants.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Sequence
from typing import Any

from ..codec import Message
from ..session.config import SessionConfig

__all__ = ["LoadConfig", "add_arguments", "percentiles", "run", "run_load"]

BEGIN_STRING = "FIX.4.4"
ACCEPTOR_ID = "LOADACC"
_READY = "READY "
_RESULT = "RESULT "


@dataclasses.dataclass(frozen=True, slots=True)
class LoadConfig:
    """What one load run does (the command-line options)."""

    sessions: int = 500
    seconds: float = 30.0
    senders: int = 50
    order_interval: float = 0.1
    heartbeat: int = 1
    throttle: int = 100
    """Inbound messages per second allowed per session on the acceptor (0 = no throttle)."""
    flood: bool = False
    flood_rate: int = 0
    """Messages per second the flooding session sends (0 = 10 x ``throttle``, or 1000)."""
    pin: bool = False
    use_uvloop: bool | None = None
    batch: int = 50
    """Initiators started at a time while logging on."""
    logon_timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.sessions < 1:
            raise ValueError("sessions must be at least 1")
        if not 0 <= self.senders <= self.sessions:
            raise ValueError("senders must be between 0 and sessions")
        if self.flood and self.senders >= self.sessions:
            raise ValueError("a flood needs a session that is not a sender (senders < sessions)")
        if self.seconds <= 0 or self.order_interval <= 0 or self.heartbeat < 1:
            raise ValueError("seconds, order_interval and heartbeat must be positive")
        if self.throttle < 0 or self.flood_rate < 0 or self.batch < 1:
            raise ValueError("throttle and flood_rate must not be negative, batch positive")

    @property
    def effective_flood_rate(self) -> int:
        """Messages per second the flooder offers."""
        if self.flood_rate:
            return self.flood_rate
        return 10 * self.throttle if self.throttle else 1000


def percentiles(samples_ns: Sequence[int]) -> dict[str, float | None]:
    """p50/p99/max of latencies in nanoseconds, as microseconds (None when empty)."""
    if not samples_ns:
        return {"p50_us": None, "p99_us": None, "max_us": None, "count": 0}
    ordered = sorted(samples_ns)
    n = len(ordered)

    def at(q: float) -> float:
        return round(ordered[min(n - 1, int(q * n))] / 1000.0, 1)

    return {"p50_us": at(0.50), "p99_us": at(0.99), "max_us": at(1.0), "count": n}


def _comp_id(i: int) -> str:
    return f"C{i:04d}"


def _rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc; else the peak from getrusage)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak) * (1 if sys.platform == "darwin" else 1024)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return float(usage.ru_utime + usage.ru_stime)


def raise_fd_limit(needed: int) -> int:
    """Raise this process's open-file soft limit to at least ``needed`` (up to the hard
    limit); returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return int(soft)


def _pin(cpu: int | None) -> str | None:
    """Pin this process to one CPU (Linux); returns a description or None."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return None
    os.sched_setaffinity(0, {cpu})
    return f"cpu{cpu}"


def _cpus() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


# -- the acceptor side ---------------------------------------------------------------------------
def _acceptor_app() -> Any:
    from ..application import Application

    class Acks(Application):
        """Answers each NewOrderSingle with ExecutionReport 150=0/39=0."""

        def __init__(self) -> None:
            self.orders = 0

        def on_message(self, session: Any, message: Message) -> None:
            if message.msg_type != b"D":
                return None
            self.orders += 1
            n = self.orders
            qty = message.get(38) or b"100"
            report = Message("8")
            report.append(37, f"A{n}")
            report.append(11, message.get(11) or b"?")
            report.append(17, f"X{n}")
            report.append(150, "0")
            report.append(39, "0")
            report.append(55, message.get(55) or b"?")
            report.append(54, message.get(54) or b"1")
            report.append(38, qty)
            report.append(151, qty)
            report.append(14, 0)
            report.append(6, 0)
            session.send_nowait(report)
            return None

    return Acks()


def _metric_sum(metrics: Any, name: str) -> float:
    total = 0.0
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == name:
                total += sample.value
    return total


def _metric_by_session(metrics: Any, name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == name:
                out[sample.labels.get("session", "")] = sample.value
    return out


async def _acceptor_run(
    cfg: LoadConfig, child_cmd: list[str], child_cpu: int | None = None
) -> dict[str, Any]:
    from ..application import Engine
    from ..metrics import FixMetrics
    from ..transport import AcceptorOptions, TransportOptions

    gc.collect()
    rss_start = _rss_bytes()
    transport = TransportOptions(max_inbound_messages=cfg.throttle)
    options = AcceptorOptions(
        transport=transport, max_pending=max(256, cfg.batch * 2), logon_timeout=30.0
    )
    metrics = FixMetrics()
    app = _acceptor_app()
    engine = Engine(app, metrics=metrics, transport_options=transport)
    acceptor = engine.listen(0, "127.0.0.1", options=options)
    sessions = []
    for i in range(cfg.sessions):
        config = SessionConfig(
            BEGIN_STRING,
            ACCEPTOR_ID,
            _comp_id(i),
            role="acceptor",
            heartbeat_interval=cfg.heartbeat,
            logon_timeout=30.0,
        )
        sessions.append(
            engine.add_acceptor_session(config, port=0, host="127.0.0.1", options=options)
        )
    result: dict[str, Any] = {}
    await engine.start()
    parts = ["main", "flood"] if cfg.flood else ["main"]
    procs: dict[str, asyncio.subprocess.Process] = {}
    try:
        spec = {**dataclasses.asdict(cfg), "port": acceptor.port, "initiator_cpu": child_cpu}
        for part in parts:
            procs[part] = await asyncio.create_subprocess_exec(
                *child_cmd,
                json.dumps({**spec, "part": part}),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        ready = {p: await _read_tagged(procs[p], _READY, cfg.logon_timeout + 30.0) for p in parts}
        gc.collect()
        rss_logged_on = _rss_bytes()
        logged_on_at_start = sum(1 for h in sessions if h.is_logged_on)
        missed0 = _metric_sum(metrics, "fix_heartbeats_missed_total")
        disc0 = _metric_sum(metrics, "fix_disconnects_total")
        throttled0 = _metric_by_session(metrics, "fix_inbound_throttled_total")
        orders0 = app.orders
        cpu0, wall0 = _cpu_seconds(), time.perf_counter()
        for proc in procs.values():
            assert proc.stdin is not None
            proc.stdin.write(b"GO\n")
            await proc.stdin.drain()
        reports = {p: await _read_tagged(procs[p], _RESULT, cfg.seconds + 60.0) for p in parts}
        cpu1, wall1 = _cpu_seconds(), time.perf_counter()
        logged_on = sum(1 for h in sessions if h.is_logged_on)
        throttled1 = _metric_by_session(metrics, "fix_inbound_throttled_total")
        throttled = {
            s: v - throttled0.get(s, 0.0) for s, v in throttled1.items() if v > throttled0.get(s, 0)
        }
        rss_end = _rss_bytes()
        cpu = cpu1 - cpu0
        window = wall1 - wall0
        child = reports["main"]
        result = {
            "sessions": cfg.sessions,
            "logged_on": logged_on,
            "logged_on_at_start": logged_on_at_start,
            "missed_heartbeats": int(_metric_sum(metrics, "fix_heartbeats_missed_total") - missed0),
            "disconnections": int(_metric_sum(metrics, "fix_disconnects_total") - disc0),
            "rss_mb": round(rss_logged_on / 2**20, 1),
            "rss_start_mb": round(rss_start / 2**20, 1),
            "rss_end_mb": round(rss_end / 2**20, 1),
            "kb_per_session": round((rss_logged_on - rss_start) / 1024 / cfg.sessions, 1),
            "orders": child["orders"],
            "acks": child["acks"],
            "acceptor_orders": app.orders - orders0,
            **{k: child["latency"][k] for k in ("p50_us", "p99_us", "max_us")},
            "cpu_s": round(cpu, 2),
            "cpu_pct": round(100.0 * cpu / window, 1) if window > 0 else None,
            "seconds": round(window, 2),
            "senders": cfg.senders,
            "order_interval": cfg.order_interval,
            "heartbeat": cfg.heartbeat,
            "throttle": cfg.throttle,
            "throttled_sessions": throttled,
            "logon_s": max(r.get("logon_s", 0.0) for r in ready.values()),
            "initiators": {
                "cpu_s": child["cpu_s"],
                "missed_heartbeats": sum(r["missed_heartbeats"] for r in reports.values()),
                "disconnections": sum(r["disconnections"] for r in reports.values()),
                "logged_on": sum(r["logged_on"] for r in reports.values()),
                "unanswered_orders": child["unanswered"],
            },
        }
        if cfg.flood:
            flood = dict(reports["flood"]["flood"])
            flood["before"] = child["before"]
            flood["during"] = child["during"]
            flood["cpu_s"] = reports["flood"]["cpu_s"]
            flooder = f"{BEGIN_STRING}:{ACCEPTOR_ID}->{_comp_id(cfg.sessions - 1)}"
            flood["throttle_pauses"] = int(throttled.get(flooder, 0))
            flood["others_throttled"] = sorted(s for s in throttled if s != flooder)
            result["flood"] = flood
        for proc in procs.values():
            assert proc.stdin is not None
            proc.stdin.write(b"STOP\n")
            await proc.stdin.drain()
        for proc in procs.values():
            await asyncio.wait_for(proc.wait(), 30.0)
    finally:
        for proc in procs.values():
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await engine.stop(timeout=2.0)
    return result


async def _read_tagged(proc: asyncio.subprocess.Process, tag: str, timeout: float) -> Any:
    """The JSON after ``tag`` on the child's next tagged stdout line."""
    assert proc.stdout is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise TimeoutError(f"the initiator process did not report {tag.strip()} in time")
        line = await asyncio.wait_for(proc.stdout.readline(), left)
        if not line:
            raise RuntimeError(f"the initiator process ended before {tag.strip()}")
        text = line.decode("utf-8", "replace")
        if text.startswith(tag):
            return json.loads(text[len(tag) :])


# -- the initiator side (child process) ----------------------------------------------------------
class _Side:
    """Listener of every initiator session: counts what the measurement needs."""

    def __init__(self) -> None:
        self.sent_at: dict[bytes, int] = {}  # ClOrdID -> perf_counter_ns at send
        self.latencies: list[tuple[int, int]] = []  # (send ns, latency ns), senders only
        self.flood_acks = 0
        self.missed_heartbeats = 0
        self.disconnections = 0

    def listener(self) -> Any:
        from ..transport import SessionListener

        side = self

        class Listener(SessionListener):
            def on_session_event(self, driver: Any, event: Any) -> None:
                name = type(event).__name__
                if name == "MessageReceived":
                    msg = event.message
                    if msg.msg_type == b"8":
                        cl = msg.get(11) or b""
                        if cl.startswith(b"F"):
                            side.flood_acks += 1
                            return
                        sent = side.sent_at.pop(cl, None)
                        if sent is not None:
                            now = time.perf_counter_ns()
                            side.latencies.append((sent, now - sent))
                elif name == "HeartbeatMissed":
                    side.missed_heartbeats += 1

            def on_disconnected(self, driver: Any, connection: Any, reason: str) -> None:
                side.disconnections += 1

        return Listener()


def _order(cl_ord_id: str) -> Message:
    msg = Message("D")
    msg.append(11, cl_ord_id)
    msg.append(1, "LOAD")
    msg.append(55, "AAPL")
    msg.append(54, "1")
    msg.append(60, "20240102-10:11:12.123")
    msg.append(38, 100)
    msg.append(40, "2")
    msg.append(44, "187.25")
    msg.append(59, "0")
    return msg


async def _initiators_main(cfg: LoadConfig, port: int, part: str) -> None:
    """Run this child's initiators: every session but the flooder ("main"), or the
    flooder alone ("flood"), in its own process so its CPU is not the senders'."""
    from ..session.session import Session
    from ..session.store import MemoryStore
    from ..transport import Initiator, InitiatorOptions, SessionDriver

    loop = asyncio.get_running_loop()
    side = _Side()
    listener = side.listener()
    options = InitiatorOptions(
        connect_timeout=10.0, reconnect_interval=0.5, max_reconnect_interval=2.0, jitter=0.2
    )
    flooder = cfg.sessions - 1 if cfg.flood else None
    if part == "flood":
        assert flooder is not None
        indices = [flooder]
    else:
        indices = [i for i in range(cfg.sessions) if i != flooder]
    drivers: dict[int, SessionDriver] = {}
    initiators: list[Initiator] = []
    for i in indices:
        config = SessionConfig(
            BEGIN_STRING,
            _comp_id(i),
            ACCEPTOR_ID,
            role="initiator",
            heartbeat_interval=cfg.heartbeat,
            logon_timeout=30.0,
        )
        driver = SessionDriver(Session(config, MemoryStore()), listener=listener)
        drivers[i] = driver
        initiators.append(Initiator(driver, [("127.0.0.1", port)], options=options))
    t0 = time.perf_counter()
    deadline = loop.time() + cfg.logon_timeout
    for start in range(0, len(initiators), cfg.batch):
        batch = initiators[start : start + cfg.batch]
        for ini in batch:
            await ini.start()
        while not all(ini.driver.is_logged_on for ini in batch):
            if loop.time() > deadline:
                break
            await asyncio.sleep(0.02)
    logon_s = time.perf_counter() - t0
    print(_READY + json.dumps({"logon_s": round(logon_s, 2)}), flush=True)

    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    line = await reader.readline()
    if line.strip() != b"GO":
        return
    missed0, disc0 = side.missed_heartbeats, side.disconnections
    side.sent_at.clear()
    cpu0 = _cpu_seconds()
    start_ns = time.perf_counter_ns()
    half_ns = start_ns + int(cfg.seconds * 1e9 / 2)
    end = loop.time() + cfg.seconds
    counts = {"orders": 0}

    async def sender(i: int) -> None:
        driver = drivers[i]
        # spread the senders over the interval so they do not all send at once
        await asyncio.sleep(cfg.order_interval * i / max(1, cfg.senders))
        n = 0
        next_at = loop.time()
        while loop.time() < end:
            if driver.is_logged_on:
                n += 1
                cl = f"{i}-{n}"
                side.sent_at[cl.encode()] = time.perf_counter_ns()
                driver.send(_order(cl))
                counts["orders"] += 1
            next_at += cfg.order_interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    flood: dict[str, Any] = {}

    async def flood_sender(driver: SessionDriver) -> None:
        rate = cfg.effective_flood_rate
        await asyncio.sleep(max(0.0, (half_ns - time.perf_counter_ns()) / 1e9))
        began = loop.time()
        acks0 = side.flood_acks
        sent = 0
        while loop.time() < end:
            target = int((loop.time() - began) * rate)
            while sent < target and driver.is_logged_on:
                conn = driver.connection
                if conn is None or conn.write_buffer_size > 256 * 1024:
                    break  # the acceptor is not reading: TCP pushes back
                sent += 1
                driver.send(_order(f"F{sent}"))
            await asyncio.sleep(0.005)
        elapsed = loop.time() - began
        acked = side.flood_acks - acks0
        flood.update(
            {
                "rate_offered": rate,
                "seconds": round(elapsed, 2),
                "sent": sent,
                "acked": acked,
                "acked_per_s": round(acked / elapsed, 1) if elapsed > 0 else None,
            }
        )

    if part == "flood":
        tasks = [loop.create_task(flood_sender(drivers[indices[0]]))]
    else:
        tasks = [loop.create_task(sender(i)) for i in range(min(cfg.senders, len(indices)))]
    await asyncio.gather(*tasks)
    await asyncio.sleep(min(1.0, 10 * cfg.order_interval))  # the last acks
    cpu = _cpu_seconds() - cpu0
    before = [lat for sent, lat in side.latencies if sent < half_ns]
    during = [lat for sent, lat in side.latencies if sent >= half_ns]
    report = {
        "orders": counts["orders"],
        "acks": len(side.latencies),
        "unanswered": len(side.sent_at),
        "latency": percentiles([lat for _, lat in side.latencies]),
        "before": percentiles(before),
        "during": percentiles(during),
        "cpu_s": round(cpu, 2),
        "missed_heartbeats": side.missed_heartbeats - missed0,
        "disconnections": side.disconnections - disc0,
        "logged_on": sum(1 for d in drivers.values() if d.is_logged_on),
        "flood": flood,
    }
    print(_RESULT + json.dumps(report), flush=True)
    await reader.readline()  # STOP (or the parent went away)
    await asyncio.gather(*(ini.stop(timeout=1.0) for ini in initiators), return_exceptions=True)


def _child(argv: Sequence[str]) -> int:
    spec = json.loads(argv[0])
    port = int(spec.pop("port"))
    pin_cpu = spec.pop("initiator_cpu", None)
    part = str(spec.pop("part", "main"))
    cfg = LoadConfig(**{k: v for k, v in spec.items() if k in LoadConfig.__dataclass_fields__})
    raise_fd_limit(cfg.sessions + 256)
    _pin(pin_cpu)
    from ..transport.loop import run as run_loop

    run_loop(_initiators_main(cfg, port, part), use_uvloop=cfg.use_uvloop)
    return 0


# -- entry points ---------------------------------------------------------------------------------
def run_load(cfg: LoadConfig) -> dict[str, Any]:
    """Run one load measurement (acceptor here, initiators in a child process)."""
    from ..transport.loop import run as run_loop
    from ..transport.loop import uvloop_enabled

    limit = raise_fd_limit(cfg.sessions + 256)
    if limit < cfg.sessions + 64:
        raise RuntimeError(
            f"open-file limit {limit} is too low for {cfg.sessions} sessions (ulimit -n)"
        )
    cpus = _cpus()
    pinned: str | None = None
    child_cpu: int | None = None
    if cfg.pin:
        acceptor_cpu = cpus[0]
        child_cpu = cpus[1] if len(cpus) > 1 else cpus[0]
        _pin(acceptor_cpu)
        pinned = f"acceptor=cpu{acceptor_cpu} initiators=cpu{child_cpu}"
    cmd = [sys.executable, "-m", "fixengine.bench.load", "--initiators"]
    result = run_loop(_acceptor_run(cfg, cmd, child_cpu), use_uvloop=cfg.use_uvloop)
    result["pinned"] = pinned or False
    result["loop"] = "uvloop" if uvloop_enabled(cfg.use_uvloop) else "asyncio"
    result["python"] = platform.python_version()
    result["cpus"] = len(cpus)
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fixengine bench load``."""
    parser.add_argument("--sessions", type=int, default=500, help="sessions (default 500)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window (default 30)")
    parser.add_argument(
        "--senders", type=int, default=50, help="sessions sending orders (default 50)"
    )
    parser.add_argument(
        "--order-interval",
        type=float,
        default=0.1,
        help="seconds between two orders of one sender (default 0.1)",
    )
    parser.add_argument("--heartbeat", type=int, default=1, help="HeartBtInt (default 1)")
    parser.add_argument(
        "--throttle",
        type=int,
        default=100,
        help="acceptor inbound throttle, messages/s per session (0 = off; default 100)",
    )
    parser.add_argument(
        "--flood",
        action="store_true",
        help="one non-sender session floods during the second half of the window",
    )
    parser.add_argument(
        "--flood-rate",
        type=int,
        default=0,
        help="messages/s of the flood (default 10 x --throttle)",
    )
    parser.add_argument(
        "--pin", action="store_true", help="pin the acceptor and the initiators to two CPUs"
    )
    parser.add_argument(
        "--loop", choices=("uvloop", "asyncio"), default=None, help="event loop (default uvloop)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _table(result: dict[str, Any]) -> str:
    rows: list[tuple[str, Any]] = []
    for key, value in result.items():
        if isinstance(value, dict):
            for sub, inner in value.items():
                if isinstance(inner, dict):
                    inner = ", ".join(f"{k}={v}" for k, v in inner.items())
                rows.append((f"{key}.{sub}", inner))
        else:
            rows.append((key, value))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; print a table or one JSON object."""
    import logging

    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        cfg = LoadConfig(
            sessions=args.sessions,
            seconds=args.seconds,
            senders=min(args.senders, args.sessions - (1 if args.flood else 0)),
            order_interval=args.order_interval,
            heartbeat=args.heartbeat,
            throttle=args.throttle,
            flood=args.flood,
            flood_rate=args.flood_rate,
            pin=args.pin,
            use_uvloop=None if args.loop is None else args.loop == "uvloop",
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        result = run_load(cfg)
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result) if args.json else _table(result))
    healthy = (
        result["logged_on"] == cfg.sessions
        and result["missed_heartbeats"] == 0
        and result["disconnections"] == 0
    )
    return 0 if healthy else 1


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--initiators":
        sys.exit(_child(sys.argv[2:]))
    print("usage: fixengine bench load ...", file=sys.stderr)
    sys.exit(2)
