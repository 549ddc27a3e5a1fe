"""Round-trip benchmark: order -> acknowledgement through the whole stack, with baselines.

Theory of operation
-------------------
One *run* measures one scenario in one mode, pinned or not, in a fresh driver
process (``python -m fixengine.bench.roundtrip --run SPEC``) that prints one JSON
line; :func:`run_benchmark` starts the runs one after another and collects them, so
no run inherits another's heap, caches or sockets. The counterparty is always a
separate process. Scenarios (client <-> server):

``fixengine``
    :class:`~fixengine.orders.router.OrderRouter` on an initiator
    :class:`~fixengine.application.Engine` <-> ``fixengine sim`` (fill immediate).
    One order is ``t0 = now; order = await router.submit(request); await
    order.acknowledged()``: router API -> session -> socket -> simulator -> socket ->
    session -> order state updated -> the awaiting caller resumes.
``pingpong``
    the floor for Python: an asyncio/uvloop TCP client and server exchanging
    opaque payloads of the same sizes (a NewOrderSingle out; an ExecutionReport
    New and a Fill back, in one write); a round trip ends when the first reply's
    bytes are in.
``quickfix``, ``fixengine-quickfix``, ``quickfix-fixengine``
    QuickFIX C++ (``bench/quickfix``: ``qf_initiator`` latency mode,
    ``qf_executor --single-fill``) on either or both sides; skipped with the
    reason when the programs cannot be built (no compiler, no libquickfix-dev) or
    found (an installed package without ``bench/``).

Like for like: every FIX side uses FIX.4.4, file message stores (written through
the page cache, never fsynced: QuickFIX's FileStore without FileStoreSync),
data-dictionary validation of every message received (the same dictionary:
fixengine's shipped FIX44 spec, written out as QuickFIX XML), file message logs
(``--no-logs`` turns them off on both), and an ExecutionReport New followed by one
Fill for each market order.

Modes:

``one``
    one order outstanding: the next is sent when the previous one is acknowledged.
``window``
    ``window`` (K) orders outstanding: K closed loops, each sending its next order
    when its last is acknowledged. Throughput is N / elapsed.
``rate``
    an open loop at ``rate`` orders per second: order i is due at start + i/rate
    (a periodic ``timerfd`` wakes the event loop at that moment); its round trip is timed
    from when it was *due*, so a send delayed by a busy process counts against it
    (no coordinated omission).

Each run sends ``warmup`` orders, waits for every acknowledgement, reads the CPU
time of both processes (``getrusage`` for the driver itself, ``/proc/<pid>/stat``
for the other processes), sends the ``orders`` timed orders, waits for them, and
reads the CPU times again: ``cpu_us_per_order`` covers exactly the timed part (at
the kernel's tick resolution, 10 ms, for ``/proc``). Percentiles are exact
(nearest rank over the sorted samples). Pinned runs put the driver, the counterparty
and every thread on CPU 0 (``os.sched_setaffinity``, inherited by the child).

QuickFIX's acceptor listens on every interface; a run that starts one first moves
its driver into a private network namespace (``unshare(CLONE_NEWNET)``, loopback
brought up with ``SIOCSIFFLAGS``; needs root or CAP_SYS_ADMIN), so nothing but
loopback is reachable from it. fixengine's processes listen on 127.0.0.1.

Nothing here asserts a time: ``tests/test_bench_roundtrip.py`` checks that a small
run completes and reports sane numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import dataclasses
import fcntl
import gzip
import json
import math
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..cli import positive_number, whole_number

__all__ = [
    "MODES",
    "SCENARIOS",
    "BenchConfig",
    "Result",
    "RunSpec",
    "add_arguments",
    "format_table",
    "percentile",
    "plot",
    "run",
    "run_benchmark",
    "run_one",
    "summarize",
]

MODES = ("one", "window", "rate")
#: scenario -> (client, server)
SCENARIOS: dict[str, tuple[str, str]] = {
    "fixengine": ("fixengine", "fixengine"),
    "pingpong": ("pingpong", "pingpong"),
    "quickfix": ("quickfix", "quickfix"),
    "fixengine-quickfix": ("fixengine", "quickfix"),
    "quickfix-fixengine": ("quickfix", "fixengine"),
}
BASELINE = "fixengine"
BEGIN_STRING = "FIX.4.4"
CLIENT_ID = "BENCHCLI"
SERVER_ID = "BENCHEXE"
SYMBOL = "ACME"
#: percentile levels of the latency curve kept for plots
CURVE = (0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 100.0)
_PIN_CPU = 0
_START_TIMEOUT = 30.0


# -- numbers ----------------------------------------------------------------------------------
def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile ``p`` (0-100) of an already sorted, non-empty sequence."""
    n = len(ordered)
    if n == 0:
        raise ValueError("no samples")
    if p <= 0:
        return ordered[0]
    rank = math.ceil(p * n / 100.0 - 1e-9)  # the epsilon absorbs 99.9 * 1000 / 100 > 999
    return ordered[min(n - 1, max(0, rank - 1))]


def summarize(samples_us: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/p99.9/max/mean of round trips in microseconds (exact, nearest rank)."""
    ordered = sorted(samples_us)
    return {
        "p50_us": round(percentile(ordered, 50), 1),
        "p90_us": round(percentile(ordered, 90), 1),
        "p99_us": round(percentile(ordered, 99), 1),
        "p999_us": round(percentile(ordered, 99.9), 1),
        "max_us": round(ordered[-1], 1),
        "mean_us": round(statistics.fmean(ordered), 1),
    }


def _curve(samples_us: Sequence[float]) -> list[list[float]]:
    ordered = sorted(samples_us)
    return [[p, round(percentile(ordered, p), 1)] for p in CURVE]


# -- what to run ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run: a scenario in one mode, pinned or not."""

    scenario: str
    mode: str
    pinned: bool = False
    orders: int = 10_000
    warmup: int = 1_000
    window: int = 100
    rate: float = 1_000.0
    logs: bool = True
    validate: bool = True
    timeout: float = 120.0
    idle: str = "sleep"  # fixengine's IdleStrategy on both sides (QuickFIX has none)
    idle_spin_us: int = 50  # backoff: µs of spinning after each read or write
    start_timeout: float = _START_TIMEOUT  # seconds for a process to start and log on

    @property
    def outstanding(self) -> int:
        """Orders kept in flight: 1, ``window``, or unbounded for ``rate``."""
        return 1 if self.mode == "one" else self.window if self.mode == "window" else 1 << 30

    @property
    def needs_netns(self) -> bool:
        """A QuickFIX acceptor is started (it listens on every interface)."""
        return SCENARIOS[self.scenario][1] == "quickfix"

    def to_json(self) -> str:
        """The spec as a JSON object (the child's ``--run`` argument)."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))


@dataclasses.dataclass
class Result:
    """What one run measured (or why it did not run)."""

    scenario: str
    mode: str
    pinned: bool
    orders: int = 0
    p50_us: float = math.nan
    p90_us: float = math.nan
    p99_us: float = math.nan
    p999_us: float = math.nan
    max_us: float = math.nan
    mean_us: float = math.nan
    orders_per_s: float = math.nan
    cpu_us_per_order: float | None = None
    client_cpu_us_per_order: float | None = None
    server_cpu_us_per_order: float | None = None
    window: int = 1
    rate: float | None = None
    runs: int = 1
    spread: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    curve: list[list[float]] = dataclasses.field(default_factory=list)
    skipped: str | None = None
    ratio_vs_fixengine: dict[str, float] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN becomes null)."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and math.isnan(value):
                out[key] = None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """Inverse of :meth:`to_dict`."""
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {
            k: (math.nan if v is None and k.endswith("_us") else v) for k, v in data.items()
        }
        if values.get("orders_per_s") is None:
            values["orders_per_s"] = math.nan
        return cls(**{k: v for k, v in values.items() if k in known})


# -- processes --------------------------------------------------------------------------------
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        data = fh.read()
    fields = data[data.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def self_cpu_seconds() -> float:
    """User + system CPU seconds of this process (every thread)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, proc: subprocess.Popen[Any], timeout: float) -> None:
    """Return once something accepts on 127.0.0.1:``port``; raise if ``proc`` dies first."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{_name(proc)} exited with code {proc.returncode}")
        with socket.socket() as s:
            s.settimeout(0.5)
            try:
                s.connect(("127.0.0.1", port))
                return
            except OSError:
                pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{_name(proc)} did not listen on port {port} in {timeout:.0f}s")
        time.sleep(0.02)


def _name(proc: subprocess.Popen[Any]) -> str:
    args = proc.args
    if isinstance(args, (list, tuple)):
        return " ".join(str(a) for a in args[:4])
    return str(args)


def stop_process(proc: subprocess.Popen[Any], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; always reaps it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def enter_private_network() -> None:
    """Move this process into a new network namespace with only loopback, up."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)} (needs root)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))


def pin_to_cpu(cpu: int = _PIN_CPU) -> None:
    """Pin this process (and what it starts from now on) to ``cpu``."""
    os.sched_setaffinity(0, {cpu})


# -- settings files ---------------------------------------------------------------------------
def _fixengine_settings(path: Path, role: str, port: int, spec: RunSpec) -> Path:
    sender, target = (CLIENT_ID, SERVER_ID) if role == "initiator" else (SERVER_ID, CLIENT_ID)
    lines = [
        "[DEFAULT]",
        f"ConnectionType={role}",
        "NonStopSession=Y",
        "HeartBtInt=30",
        "StoreType=file",
        f"FileStorePath={path.parent / (role + '-store')}",
        "FsyncPolicy=never",
        f"UseDataDictionary={'Y' if spec.validate else 'N'}",
        "DataDictionary=FIX44",
        "SocketNodelay=Y",
        "GcFreeze=Y",  # a service that cares about its tails freezes its start-up heap
    ]
    if spec.idle != "sleep":
        lines.append(f"IdleStrategy={spec.idle}")
    if spec.idle == "backoff":
        lines.append(f"IdleSpinMicros={spec.idle_spin_us}")
    if spec.logs:
        lines += ["LogType=file", f"FileLogPath={path.parent / (role + '-log')}"]
    else:
        lines.append("LogType=null")
    if role == "initiator":
        lines += ["SocketConnectHost=127.0.0.1", f"SocketConnectPort={port}"]
        lines.append("ReconnectInterval=0.1")
    else:
        lines += ["SocketAcceptHost=127.0.0.1", f"SocketAcceptPort={port}", "SimFill=immediate"]
    lines += [
        "",
        "[SESSION]",
        f"BeginString={BEGIN_STRING}",
        f"SenderCompID={sender}",
        f"TargetCompID={target}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def quickfix_dictionary(name: str, path: Path) -> Path:
    """Write fixengine's shipped dictionary ``name`` (``FIX44``) as a QuickFIX XML file."""
    spec_file = Path(__file__).resolve().parent.parent / "specs" / f"{name}.json.gz"
    with gzip.open(spec_file, "rt", encoding="utf-8") as fh:
        model = json.load(fh)

    def items(parent: ET.Element, entries: list[Any]) -> None:
        for entry in entries:
            kind = {"f": "field", "c": "component", "g": "group"}[entry[0]]
            elem = ET.SubElement(parent, kind, name=entry[1], required="Y" if entry[2] else "N")
            if entry[0] == "g":
                items(elem, entry[3])

    info = model["fix"]
    root = ET.Element(
        "fix",
        type=info["type"],
        major=str(info["major"]),
        minor=str(info["minor"]),
        servicepack=str(info.get("servicepack", 0)),
    )
    items(ET.SubElement(root, "header"), model["header"])
    items(ET.SubElement(root, "trailer"), model["trailer"])
    messages = ET.SubElement(root, "messages")
    for msg_name, msg_type, category, entries in model["messages"]:
        items(
            ET.SubElement(messages, "message", name=msg_name, msgtype=msg_type, msgcat=category),
            entries,
        )
    components = ET.SubElement(root, "components")
    for comp_name, entries in model["components"]:
        items(ET.SubElement(components, "component", name=comp_name), entries)
    fields = ET.SubElement(root, "fields")
    for number, field_name, type_name, values in model["fields"]:
        elem = ET.SubElement(fields, "field", number=str(number), name=field_name, type=type_name)
        for enum, description in values:
            ET.SubElement(elem, "value", enum=enum, description=description)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


def _quickfix_settings(path: Path, role: str, port: int, spec: RunSpec) -> Path:
    sender, target = (CLIENT_ID, SERVER_ID) if role == "initiator" else (SERVER_ID, CLIENT_ID)
    base = path.parent
    (base / f"{role}-store").mkdir(exist_ok=True)
    (base / f"{role}-log").mkdir(exist_ok=True)
    dictionary = base / "FIX44.xml"
    if not dictionary.exists():
        quickfix_dictionary("FIX44", dictionary)
    # a daily window whose ends are hours away (QuickFIX needs StartTime/EndTime)
    now = time.gmtime(time.time() - 3 * 3600)
    start = time.strftime("%H:%M:%S", now)
    end = time.strftime("%H:%M:%S", time.gmtime(time.time() - 3 * 3600 - 60))
    lines = [
        "[DEFAULT]",
        f"ConnectionType={role}",
        "HeartBtInt=30",
        f"StartTime={start}",
        f"EndTime={end}",
        f"FileStorePath={base / (role + '-store')}",
        f"FileLogPath={base / (role + '-log')}",
        f"UseDataDictionary={'Y' if spec.validate else 'N'}",
        f"DataDictionary={dictionary}",
        "SocketNodelay=Y",
        "PersistMessages=Y",
    ]
    if role == "initiator":
        lines += ["SocketConnectHost=127.0.0.1", f"SocketConnectPort={port}", "ReconnectInterval=1"]
    else:
        lines.append(f"SocketAcceptPort={port}")
    lines += [
        "",
        "[SESSION]",
        f"BeginString={BEGIN_STRING}",
        f"SenderCompID={sender}",
        f"TargetCompID={target}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def quickfix_programs() -> dict[str, Path]:
    """Paths of ``qf_executor`` and ``qf_initiator`` (built if needed).

    Raises RuntimeError saying why they are not available.
    """
    build_py = Path(__file__).resolve().parent.parent.parent / "bench" / "quickfix" / "build.py"
    if not build_py.exists():
        raise RuntimeError(
            "QuickFIX programs: bench/quickfix/ not found (run from a source checkout)"
        )
    import importlib.util

    module_spec = importlib.util.spec_from_file_location("_fixengine_qf_build", build_py)
    if module_spec is None or module_spec.loader is None:
        raise RuntimeError(f"cannot load {build_py}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    try:
        paths: dict[str, Path] = module.build()
    except module.BuildUnavailable as exc:
        raise RuntimeError(f"QuickFIX C++ programs unavailable: {exc}") from None
    return paths


# -- servers ----------------------------------------------------------------------------------
@dataclasses.dataclass
class _Server:
    proc: subprocess.Popen[Any]
    port: int


def _start_server(kind: str, spec: RunSpec, work: Path, programs: dict[str, Path]) -> _Server:
    port = free_port()
    out = open(work / f"server-{kind}.out", "wb")  # noqa: SIM115 - lives as long as the server
    if kind == "fixengine":
        cfg = _fixengine_settings(work / "server.cfg", "acceptor", port, spec)
        cmd = [sys.executable, "-m", "fixengine", "sim", "--config", str(cfg)]
    elif kind == "quickfix":
        cfg = _quickfix_settings(work / "server.cfg", "acceptor", port, spec)
        cmd = [str(programs["executor"]), "--settings", str(cfg), "--single-fill"]
        if not spec.logs:
            cmd.append("--no-log")
    else:
        sizes = payload_sizes()
        cmd = [sys.executable, "-m", "fixengine.bench.roundtrip", "--pingpong-server", str(port)]
        cmd += [str(sizes["request"]), str(sizes["ack"] + sizes["fill"])]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=str(work),
        env=_child_env(),
    )
    out.close()
    try:
        wait_for_port(port, proc, spec.start_timeout)
    except Exception:
        stop_process(proc)
        raise RuntimeError(_failure(work / f"server-{kind}.out", f"{kind} server")) from None
    return _Server(proc, port)


def _failure(path: Path, what: str) -> str:
    try:
        tail = path.read_text(errors="replace").strip().splitlines()[-5:]
    except OSError:
        tail = []
    return f"{what} did not start" + (": " + " | ".join(tail) if tail else "")


# -- payload sizes (ping-pong) ----------------------------------------------------------------
def payload_sizes() -> dict[str, int]:
    """Wire sizes of the benchmark's NewOrderSingle and its two ExecutionReports."""
    from ..codec import Message

    stamp = b"20240102-10:11:12.123"
    head: list[tuple[int, str | bytes]] = [
        (49, CLIENT_ID),
        (56, SERVER_ID),
        (34, "123456"),
        (52, stamp),
    ]
    body: list[tuple[int, str | bytes]] = [
        (11, "1700000000000-123456"),
        (55, SYMBOL),
        (54, "1"),
        (60, stamp),
        (38, "100"),
        (40, "1"),
        (59, "0"),
    ]
    nos = Message("D")
    for tag, value in [*head, *body]:
        nos.append(tag, value)

    def report(exec_type: str, status: str, last: bool) -> int:
        er = Message("8")
        fields: list[tuple[int, str | bytes]] = [
            (37, "O123456"),
            (11, "1700000000000-123456"),
            (17, "E1234567"),
            (150, exec_type),
            (39, status),
            (55, SYMBOL),
            (54, "1"),
            (38, "100"),
            (40, "1"),
            (59, "0"),
        ]
        for tag, value in [*head, *fields]:
            er.append(tag, value)
        if last:
            er.append(32, "100")
            er.append(31, "100")
        er.append(151, "0" if last else "100")
        er.append(14, "100" if last else "0")
        er.append(6, "100" if last else "0")
        er.append(60, stamp)
        return len(er.encode(BEGIN_STRING))

    return {
        "request": len(nos.encode(BEGIN_STRING)),
        "ack": report("0", "0", False),
        "fill": report("F", "2", True),
    }


class _PingPongServer(asyncio.Protocol):
    """Answers every ``request`` bytes received with ``reply`` bytes (one write)."""

    def __init__(self, request: int, reply: int) -> None:
        self.request = request
        self.reply = b"R" * reply
        self.pending = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        total = self.pending + len(data)
        count, self.pending = divmod(total, self.request)
        if count and self.transport is not None:
            self.transport.write(self.reply * count)


def serve_pingpong(port: int, request: int, reply: int) -> None:
    """Run the ping-pong server on 127.0.0.1:``port`` until SIGTERM."""
    from ..transport.loop import run as run_loop

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _PingPongServer(request, reply), "127.0.0.1", port
        )
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        server.close()

    run_loop(main())


class _PingPongClient(asyncio.Protocol):
    """Sends requests; each one's "ack" is in once ``ack`` bytes of its reply arrived."""

    def __init__(self, request: int, ack: int, reply: int) -> None:
        self.payload = b"Q" * request
        self.ack = ack
        self.reply = reply
        self.received = 0
        self.sent = 0
        self.waiting: deque[tuple[int, Callable[[], None]]] = deque()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, on_ack: Callable[[], None]) -> None:
        self.waiting.append((self.sent * self.reply + self.ack, on_ack))
        self.sent += 1
        assert self.transport is not None
        self.transport.write(self.payload)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        waiting = self.waiting
        while waiting and waiting[0][0] <= self.received:
            waiting.popleft()[1]()


# -- the modes (shared by the Python clients) -------------------------------------------------
class _itimerspec(ctypes.Structure):
    _fields_ = [
        ("interval_s", ctypes.c_long),
        ("interval_ns", ctypes.c_long),
        ("value_s", ctypes.c_long),
        ("value_ns", ctypes.c_long),
    ]


class _Pacer:
    """Calls ``fire(due_ns)`` on the event loop at each due time (rate mode).

    A periodic ``timerfd`` (CLOCK_MONOTONIC, the clock of ``perf_counter_ns``) watched
    by the loop itself: no thread, no GIL hand-over, and the process's timer slack
    set to 1 µs so the kernel does not defer the wake-ups by its default 50 µs.
    Each due time is computed from the start, so a late wake-up fires every order
    that became due, each timed from its own due time.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, fire: Callable[[int], None], n: int, rate: float
    ) -> None:
        self.loop = loop
        self.fire = fire
        self.n = n
        self.fired = 0
        self.interval_ns = 1e9 / rate
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.prctl(29, 1000, 0, 0, 0)  # PR_SET_TIMERSLACK: 1 µs
        fd = self.libc.timerfd_create(1, os.O_NONBLOCK | os.O_CLOEXEC)  # CLOCK_MONOTONIC
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create")
        self.fd = fd
        self.start = 0

    def begin(self) -> None:
        """Start firing 1 ms from now."""
        self.start = time.perf_counter_ns() + 1_000_000
        step = int(self.interval_ns)
        spec = _itimerspec(
            step // 1_000_000_000,
            step % 1_000_000_000,
            self.start // 1_000_000_000,
            self.start % 1_000_000_000,
        )
        if self.libc.timerfd_settime(self.fd, 1, ctypes.byref(spec), None) != 0:  # ABSTIME
            raise OSError(ctypes.get_errno(), "timerfd_settime")
        self.loop.add_reader(self.fd, self._ready)

    def _ready(self) -> None:
        try:
            os.read(self.fd, 8)
        except BlockingIOError:
            return
        now = time.perf_counter_ns()
        while self.fired < self.n:
            due = self.start + int(self.fired * self.interval_ns)
            if due > now:
                break
            self.fired += 1
            self.fire(due)
        if self.fired >= self.n:
            self.close()

    def close(self) -> None:
        """Stop the timer and release its descriptor."""
        if self.fd >= 0:
            self.loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = -1


async def _closed_loops(
    one_order: Callable[[], Awaitable[None]], n: int, k: int
) -> tuple[list[float], float]:
    """``k`` loops of ``await one_order()`` until ``n`` orders: samples (µs), elapsed (s)."""
    samples: list[float] = []
    left = n
    clock = time.perf_counter_ns

    async def loop() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            t0 = clock()
            await one_order()
            samples.append((clock() - t0) / 1000.0)

    start = time.perf_counter()
    if k == 1:
        await loop()
    else:
        await asyncio.gather(*(loop() for _ in range(k)))
    return samples, time.perf_counter() - start


async def _open_loop(
    send: Callable[[Callable[[], None]], Any], n: int, rate: float, timeout: float
) -> tuple[list[float], float]:
    """``n`` orders due at ``rate``/s; ``send(on_ack)`` sends one and calls ``on_ack`` when
    it is acknowledged (it may be a coroutine function). Samples are due -> ack in µs."""
    loop = asyncio.get_running_loop()
    samples: list[float] = []
    done = loop.create_future()
    clock = time.perf_counter_ns
    errors: list[BaseException] = []

    def fire(due: int) -> None:
        def on_ack() -> None:
            samples.append((clock() - due) / 1000.0)
            if len(samples) == n and not done.done():
                done.set_result(None)

        result = send(on_ack)
        if asyncio.iscoroutine(result):
            task = loop.create_task(result)
            task.add_done_callback(_keep_error(errors, done))

    pacer = _Pacer(loop, fire, n, rate)
    start = time.perf_counter()
    pacer.begin()
    try:
        await asyncio.wait_for(done, timeout)
    finally:
        pacer.close()
    if errors:
        raise errors[0]
    return samples, time.perf_counter() - start


def _keep_error(
    errors: list[BaseException], done: asyncio.Future[None]
) -> Callable[[asyncio.Task[Any]], None]:
    def callback(task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            errors.append(task.exception())  # type: ignore[arg-type]
            if not done.done():
                done.set_result(None)

    return callback


@dataclasses.dataclass
class _Measured:
    samples: list[float]
    elapsed: float
    client_cpu: float
    server_cpu: float | None


async def _measure(
    spec: RunSpec,
    one_order: Callable[[], Awaitable[None]],
    send: Callable[[Callable[[], None]], Any],
    server_pid: int | None,
) -> _Measured:
    """Warm up, then time ``spec.orders`` orders in ``spec.mode``; CPU of the timed part."""

    async def phase(n: int) -> tuple[list[float], float]:
        if spec.mode == "rate":
            return await _open_loop(send, n, spec.rate, spec.timeout)
        return await asyncio.wait_for(_closed_loops(one_order, n, spec.outstanding), spec.timeout)

    if spec.warmup:
        await phase(spec.warmup)
    await asyncio.sleep(0.05)  # let the counterparty finish the warm-up's last fill
    server0 = proc_cpu_seconds(server_pid) if server_pid else None
    client0 = self_cpu_seconds()
    samples, elapsed = await phase(spec.orders)
    client1 = self_cpu_seconds()
    server1 = proc_cpu_seconds(server_pid) if server_pid else None
    server = None if server0 is None or server1 is None else server1 - server0
    return _Measured(samples, elapsed, client1 - client0, server)


# -- clients ----------------------------------------------------------------------------------
async def _fixengine_client(spec: RunSpec, port: int, work: Path, server_pid: int) -> _Measured:
    from ..application import Engine
    from ..orders.model import NewOrderRequest, OrdType, Side
    from ..orders.router import OrderRouter, RouterApplication

    cfg = _fixengine_settings(work / "client.cfg", "initiator", port, spec)
    # the router as the engine's application (the recommended set-up): reports are
    # applied inside the engine's callback, with no event queue or task in between
    app = RouterApplication()
    engine = Engine.from_settings(cfg, app)
    await engine.start()
    try:
        handle = engine.sessions[0]
        await handle.wait_logged_on(timeout=spec.start_timeout)
        quantity = Decimal(100)
        sides = (Side.BUY, Side.SELL)
        count = 0

        def request() -> NewOrderRequest:
            nonlocal count
            count += 1
            return NewOrderRequest(SYMBOL, sides[count & 1], quantity, OrdType.MARKET)

        async with OrderRouter(handle, reconcile=False, application=app) as router:

            async def one_order() -> None:
                req = request()
                order = await router.submit(req)
                await order.acknowledged()

            async def send(on_ack: Callable[[], None]) -> None:
                # rate mode: each order is its own task, timed until its acknowledgement
                order = await router.submit(request())
                await order.acknowledged()
                on_ack()

            return await _measure(spec, one_order, send, server_pid)
    finally:
        await engine.stop()


async def _pingpong_client(spec: RunSpec, port: int, server_pid: int) -> _Measured:
    sizes = payload_sizes()
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(
        lambda: _PingPongClient(sizes["request"], sizes["ack"], sizes["ack"] + sizes["fill"]),
        "127.0.0.1",
        port,
    )
    try:

        async def one_order() -> None:
            fut = loop.create_future()
            client.send(lambda: fut.set_result(None))
            await fut

        return await _measure(spec, one_order, client.send, server_pid)
    finally:
        if client.transport is not None:
            client.transport.close()


def _quickfix_client(
    spec: RunSpec, port: int, work: Path, server_pid: int, programs: dict[str, Path]
) -> _Measured:
    cfg = _quickfix_settings(work / "client.cfg", "initiator", port, spec)
    samples_file = work / "samples.txt"
    cmd = [
        str(programs["initiator"]),
        "--settings",
        str(cfg),
        "--count",
        str(spec.orders),
        "--warmup",
        str(spec.warmup),
        "--window",
        str(min(spec.outstanding, 1 << 20)),
        "--samples",
        str(samples_file),
        "--symbol",
        SYMBOL,
        "--sync",
        "--drain-timeout",
        str(spec.timeout),
    ]
    if spec.mode == "rate":
        cmd += ["--rate", str(spec.rate)]
    if not spec.logs:
        cmd.append("--no-log")
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=open(work / "client.err", "wb"),  # noqa: SIM115 - closed with the process
        cwd=str(work),
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        line = _read_line(proc, spec.timeout + spec.start_timeout)
        if line.strip() != b"WARM":
            raise RuntimeError(f"qf_initiator: expected WARM, got {line[:200]!r}")
        client0, server0 = proc_cpu_seconds(proc.pid), proc_cpu_seconds(server_pid)
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        line = _read_line(proc, spec.timeout * 2)
        client1, server1 = proc_cpu_seconds(proc.pid), proc_cpu_seconds(server_pid)
        summary = json.loads(line)
        proc.stdin.write(b"stop\n")
        proc.stdin.flush()
        proc.wait(10)
    finally:
        stop_process(proc)
    samples = [float(x) for x in samples_file.read_text().split()]
    if len(samples) != spec.orders:
        raise RuntimeError(f"qf_initiator timed {len(samples)} of {spec.orders} orders")
    return _Measured(samples, float(summary["seconds"]), client1 - client0, server1 - server0)


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    assert proc.stdout is not None
    box: list[bytes] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if not box or not box[0]:
        code = proc.poll()
        raise RuntimeError(
            f"qf_initiator gave no answer in {timeout:.0f}s"
            + (f" (exit code {code})" if code is not None else "")
        )
    return box[0]


# -- one run ----------------------------------------------------------------------------------
def run_one(spec: RunSpec, work: Path | None = None) -> Result:
    """Measure one run in this process (the driver); never raises for a missing peer."""
    client_kind, server_kind = SCENARIOS[spec.scenario]
    result = Result(spec.scenario, spec.mode, spec.pinned, window=spec.outstanding)
    if spec.mode == "rate":
        result.rate = spec.rate
        result.window = 0
    programs: dict[str, Path] = {}
    if "quickfix" in (client_kind, server_kind):
        try:
            programs = quickfix_programs()
        except RuntimeError as exc:
            result.skipped = str(exc)
            return result
    if spec.needs_netns:
        try:
            enter_private_network()
        except OSError as exc:
            result.skipped = (
                f"cannot make a private network namespace for QuickFIX's acceptor ({exc})"
            )
            return result
    if spec.pinned:
        pin_to_cpu()
    own_dir = work is None
    work = Path(tempfile.mkdtemp(prefix="fixengine-rt-")) if work is None else work
    server: _Server | None = None
    try:
        server = _start_server(server_kind, spec, work, programs)
        pid = server.proc.pid
        if client_kind == "quickfix":
            measured = _quickfix_client(spec, server.port, work, pid, programs)
        else:
            from ..transport.loop import run as run_loop

            if client_kind == "fixengine":
                measured = run_loop(_fixengine_client(spec, server.port, work, pid))
            else:
                measured = run_loop(_pingpong_client(spec, server.port, pid))
    finally:
        if server is not None:
            stop_process(server.proc)
        if own_dir:
            shutil.rmtree(work, ignore_errors=True)
    stats = summarize(measured.samples)
    for key, value in stats.items():
        setattr(result, key, value)
    result.orders = len(measured.samples)
    result.orders_per_s = round(result.orders / measured.elapsed, 1)
    result.client_cpu_us_per_order = round(measured.client_cpu / result.orders * 1e6, 1)
    if measured.server_cpu is not None:
        result.server_cpu_us_per_order = round(measured.server_cpu / result.orders * 1e6, 1)
        result.cpu_us_per_order = round(
            result.client_cpu_us_per_order + result.server_cpu_us_per_order, 1
        )
    result.curve = _curve(measured.samples)
    return result


def _child_env() -> dict[str, str]:
    """The environment of child Python processes: this fixengine first on the path."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _run_child(spec: RunSpec, keep: Path | None) -> Result:
    """Run ``spec`` in a fresh driver process; its one JSON line is the result."""
    cmd = [sys.executable, "-m", "fixengine.bench.roundtrip", "--run", spec.to_json()]
    work = None
    if keep is not None:
        work = keep / f"{spec.scenario}-{spec.mode}-{'pinned' if spec.pinned else 'free'}"
        work.mkdir(parents=True, exist_ok=True)
        cmd += ["--work", str(work)]
    try:
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=spec.timeout * 3 + 60,
            env=_child_env(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Result(spec.scenario, spec.mode, spec.pinned, skipped="timed out")
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        why = " | ".join(tail) or f"exit code {done.returncode}"
        return Result(spec.scenario, spec.mode, spec.pinned, skipped=f"failed: {why}")
    return Result.from_dict(json.loads(lines[-1]))


# -- a whole benchmark --------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """What ``fixengine bench roundtrip`` runs."""

    scenarios: tuple[str, ...] = tuple(SCENARIOS)
    modes: tuple[str, ...] = MODES
    pinning: tuple[bool, ...] = (False, True)
    orders: int = 10_000
    warmup: int = 1_000
    window: int = 100
    rate: float = 1_000.0
    runs: int = 1
    logs: bool = True
    validate: bool = True
    timeout: float = 120.0
    keep: str | None = None
    idle: str = "sleep"
    idle_spin_us: int = 50

    def specs(self) -> list[RunSpec]:
        """Every run, pinned after unpinned, scenario by scenario."""
        return [
            RunSpec(
                scenario,
                mode,
                pinned,
                orders=self.orders,
                warmup=self.warmup,
                window=self.window,
                rate=self.rate,
                logs=self.logs,
                validate=self.validate,
                timeout=self.timeout,
                idle=self.idle,
                idle_spin_us=self.idle_spin_us,
            )
            for pinned in self.pinning
            for scenario in self.scenarios
            for mode in self.modes
        ]


_MEDIAN_KEYS = (
    "p50_us",
    "p90_us",
    "p99_us",
    "p999_us",
    "max_us",
    "mean_us",
    "orders_per_s",
    "cpu_us_per_order",
    "client_cpu_us_per_order",
    "server_cpu_us_per_order",
)


def _combine(results: list[Result]) -> Result:
    """Several runs of one spec: the median of each number, and each one's [min, max]."""
    good = [r for r in results if r.skipped is None]
    if not good:
        return results[0]
    out = dataclasses.replace(good[len(good) // 2])
    out.runs = len(good)
    for key in _MEDIAN_KEYS:
        values = [getattr(r, key) for r in good if getattr(r, key) is not None]
        values = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
        if values:
            setattr(out, key, round(statistics.median(values), 1))
            if len(values) > 1:
                out.spread[key] = [min(values), max(values)]
    return out


def _ratios(results: list[Result]) -> None:
    base = {(r.mode, r.pinned): r for r in results if r.scenario == BASELINE and not r.skipped}
    for r in results:
        b = base.get((r.mode, r.pinned))
        if b is None or r.skipped:
            continue
        ratios: dict[str, float] = {}
        for key in ("p50_us", "p99_us", "orders_per_s", "cpu_us_per_order"):
            mine, theirs = getattr(r, key), getattr(b, key)
            if mine and theirs and not math.isnan(mine) and not math.isnan(theirs):
                ratios[key] = float(f"{mine / theirs:.3g}")
        r.ratio_vs_fixengine = ratios


def run_benchmark(
    config: BenchConfig, progress: Callable[[str], None] | None = None
) -> list[Result]:
    """Every run of ``config`` (each ``config.runs`` times, interleaved), combined."""
    keep = Path(config.keep) if config.keep else None
    specs = config.specs()
    collected: dict[RunSpec, list[Result]] = {s: [] for s in specs}
    skipped: set[tuple[str, bool]] = set()
    for attempt in range(config.runs):
        for spec in specs:
            if (spec.scenario, spec.pinned) in skipped:
                continue
            if progress is not None:
                pin = "pinned" if spec.pinned else "unpinned"
                progress(f"run {attempt + 1}/{config.runs}: {spec.scenario} {spec.mode} {pin}")
            result = _run_child(spec, keep)
            collected[spec].append(result)
            if result.skipped is not None and not result.skipped.startswith("failed"):
                skipped.add((spec.scenario, spec.pinned))  # no point asking again
                if progress is not None:
                    progress(f"  skipped: {result.skipped}")
    results = []
    for spec in specs:
        runs = collected[spec]
        if not runs:
            first = next(
                (
                    r
                    for s, rs in collected.items()
                    for r in rs
                    if s.scenario == spec.scenario and s.pinned == spec.pinned and r.skipped
                ),
                None,
            )
            why = first.skipped if first is not None else "not run"
            results.append(Result(spec.scenario, spec.mode, spec.pinned, skipped=why))
        else:
            results.append(_combine(runs))
    _ratios(results)
    return results


# -- output -----------------------------------------------------------------------------------
def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def format_table(results: Sequence[Result]) -> str:
    """The results as a text table, with each row's ratio to fixengine<->fixengine."""
    head = (
        f"{'scenario':<20} {'mode':<7} {'pin':<3} {'orders':>7} {'p50':>8} {'p90':>8} "
        f"{'p99':>8} {'p99.9':>8} {'max':>9} {'orders/s':>10} {'cpu/order':>10} "
        f"{'p50 x':>6} {'p99 x':>6} {'thru x':>6}"
    )
    lines = [head, "-" * len(head)]
    skipped: list[str] = []
    for r in results:
        pin = "yes" if r.pinned else "no"
        if r.skipped:
            key = f"{r.scenario} ({'pinned' if r.pinned else 'unpinned'}): {r.skipped}"
            if key not in skipped:
                skipped.append(key)
            continue
        ratio = r.ratio_vs_fixengine
        lines.append(
            f"{r.scenario:<20} {r.mode:<7} {pin:<3} {r.orders:>7} {_fmt(r.p50_us):>8} "
            f"{_fmt(r.p90_us):>8} {_fmt(r.p99_us):>8} {_fmt(r.p999_us):>8} "
            f"{_fmt(r.max_us):>9} {_fmt(r.orders_per_s):>10} {_fmt(r.cpu_us_per_order):>10} "
            f"{_fmt(ratio.get('p50_us'), 2):>6} {_fmt(ratio.get('p99_us'), 2):>6} "
            f"{_fmt(ratio.get('orders_per_s'), 2):>6}"
        )
    lines.append("")
    lines.append(
        "latencies in µs (order sent -> acknowledgement seen); cpu/order: µs of CPU of both "
        "processes per order; x: ratio to fixengine<->fixengine in the same mode and pinning"
    )
    for item in skipped:
        lines.append(f"skipped: {item}")
    return "\n".join(lines)


def plot(results: Sequence[Result], path: str) -> str | None:
    """Write a percentile plot (PNG); returns a message instead when matplotlib is absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install 'fixengine[bench]'): no plot written"
    modes = [m for m in MODES if any(r.mode == m and r.curve for r in results)]
    if not modes:
        return "nothing measured: no plot written"
    fig, axes = plt.subplots(1, len(modes), figsize=(6 * len(modes), 4.5), squeeze=False)
    for ax, mode in zip(axes[0], modes, strict=True):
        for r in results:
            if r.mode != mode or not r.curve:
                continue
            xs = [1.0 / (1.0 - min(p, 99.999) / 100.0) for p, _ in r.curve]
            ys = [v for _, v in r.curve]
            style = "-" if not r.pinned else "--"
            label = f"{r.scenario}{' (pinned)' if r.pinned else ''}"
            ax.plot(xs, ys, style, marker=".", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ticks = [1, 2, 10, 100, 1000, 10000, 100000]
        ax.set_xticks(ticks)
        ax.set_xticklabels(["0%", "50%", "90%", "99%", "99.9%", "99.99%", "max"])
        ax.set_xlabel("percentile")
        ax.set_ylabel("order -> ack (µs)")
        title = {"one": "one outstanding", "window": "window", "rate": "fixed rate"}[mode]
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


# -- command line -----------------------------------------------------------------------------
def _csv(choices: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(x.strip() for x in text.split(",") if x.strip())
        bad = [x for x in items if x not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {', '.join(choices)}; got {text!r}"
            )
        return items

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fixengine bench roundtrip``."""
    parser.add_argument(
        "--scenarios",
        type=_csv(tuple(SCENARIOS)),
        default=tuple(SCENARIOS),
        help=f"comma-separated, from: {', '.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument(
        "--modes", type=_csv(MODES), default=MODES, help="one, window, rate (default: all)"
    )
    parser.add_argument(
        "--pin",
        choices=("both", "no", "yes"),
        default="both",
        help="run unpinned, pinned to CPU 0, or both (default)",
    )
    parser.add_argument(
        "--orders", type=whole_number(1), default=10_000, help="timed orders per run"
    )
    parser.add_argument(
        "--warmup", type=whole_number(0), default=1_000, help="orders before timing"
    )
    parser.add_argument("--window", type=whole_number(1), default=100, help="outstanding (window)")
    parser.add_argument("--rate", type=positive_number, default=1_000.0, help="orders/s (rate)")
    parser.add_argument("--runs", type=whole_number(1), default=1, help="repeat and take medians")
    parser.add_argument("--no-logs", action="store_true", help="no message logs on either side")
    parser.add_argument("--no-validate", action="store_true", help="no dictionary validation")
    parser.add_argument("--timeout", type=positive_number, default=120.0, help="seconds per phase")
    parser.add_argument(
        "--idle",
        choices=("sleep", "spin", "backoff"),
        default="sleep",
        help="IdleStrategy of both fixengine processes (default sleep: block in epoll)",
    )
    parser.add_argument(
        "--idle-spin",
        type=whole_number(0),
        default=50,
        metavar="US",
        help="with --idle backoff: µs of spinning after each read or write (default 50)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", metavar="FILE", help="write a PNG percentile plot")
    parser.add_argument("--keep", metavar="DIR", help="keep settings, stores and logs under DIR")
    parser.add_argument(
        "--quick", action="store_true", help="CI smoke run: 200 orders, 50 warm-up, window 10"
    )


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """The :class:`BenchConfig` the options describe."""
    pinning = {"both": (False, True), "no": (False,), "yes": (True,)}[args.pin]
    orders, warmup, window, rate = args.orders, args.warmup, args.window, args.rate
    if args.quick:
        orders, warmup, window, rate = 200, 50, 10, 1000.0
    return BenchConfig(
        scenarios=tuple(args.scenarios),
        modes=tuple(args.modes),
        pinning=pinning,
        orders=orders,
        warmup=warmup,
        window=window,
        rate=rate,
        runs=args.runs,
        logs=not args.no_logs,
        validate=not args.no_validate,
        timeout=args.timeout,
        keep=args.keep,
        idle=args.idle,
        idle_spin_us=args.idle_spin,
    )


def _machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in load],
    }


def run(args: argparse.Namespace) -> int:
    """``fixengine bench roundtrip``: run, then print a table or one JSON object."""
    config = config_from_args(args)

    def progress(text: str) -> None:
        print(f"# {text}", file=sys.stderr, flush=True)

    load_before = _machine()["loadavg"]
    results = run_benchmark(config, progress if not args.json else None)
    note = None
    if args.plot:
        note = plot(results, args.plot)
    if args.json:
        payload = {
            # measured runs only, so every number is a number; skipped ones say why
            "results": [r.to_dict() for r in results if r.skipped is None],
            "skipped": [
                {"scenario": r.scenario, "mode": r.mode, "pinned": r.pinned, "reason": r.skipped}
                for r in results
                if r.skipped is not None
            ],
            "config": dataclasses.asdict(config),
            "machine": {**_machine(), "loadavg_before": load_before},
        }
        if note:
            payload["plot"] = note
        print(json.dumps(payload))
    else:
        print(format_table(results))
        info = _machine()
        print(
            f"python {info['python']}, {info['cpus']} CPUs, load average before "
            f"{load_before[0]}, after {info['loadavg'][0]}"
        )
        if args.plot:
            print(note or f"plot written to {args.plot}")
    measured = [r for r in results if r.skipped is None]
    failed = [r for r in results if r.skipped and r.skipped.startswith("failed")]
    return 1 if failed or not measured else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fixengine.bench.roundtrip`` (also the driver of one run)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--run"]:
        spec = RunSpec.from_json(argv[1])
        work = Path(argv[3]) if argv[2:3] == ["--work"] else None
        result = run_one(spec, work)
        print(json.dumps(result.to_dict()), flush=True)
        return 0
    if argv[:1] == ["--pingpong-server"]:
        serve_pingpong(int(argv[1]), int(argv[2]), int(argv[3]))
        return 0
    parser = argparse.ArgumentParser(prog="fixengine bench roundtrip", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
