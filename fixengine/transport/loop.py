"""Event-loop selection and idle strategies.

uvloop is the default because the transport spends most of its time in the loop's
socket and timer machinery, where uvloop is several times cheaper. Set
``FIXENGINE_NO_UVLOOP=1`` (or pass ``use_uvloop=False``) to run on the stock loop,
e.g. to compare or to debug with asyncio's debug mode.

Idle strategies (as Artio's ``IdleStrategy``): what the loop does when it has no
work. ``sleep`` (the default) blocks in the poller until a socket or a timer is
ready: no CPU is used while idle, and every message then runs on a thread that
was asleep (a wake-up by the kernel and cold caches, tens of microseconds).
``spin`` never blocks: the poller is asked with a zero timeout in a loop, so a
message is seen as soon as it arrives and runs warm, at the price of one CPU kept
fully busy (give the process a dedicated core). ``backoff`` spins for a while
(``spin``, 50 µs by default) after the last I/O, so an answer expected shortly
after a send or a read is caught spinning, then blocks as ``sleep`` does.

An :class:`IdlePoller` applies a strategy to a running loop by keeping one callback
in the loop's ready queue (a loop with ready callbacks polls without blocking);
timers and I/O are served as always, between two turns of the callback. Each turn
also yields the CPU (``sched_yield``, as the yielding stage of Artio's backoff
strategy): on a dedicated core it returns at once, and where the spinning process
shares a CPU with its peer or other work, they run at once instead of after the
spinner's time slice (measured: without it, spinning on a shared 2-CPU machine
made the 99th percentile several times worse).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

__all__ = [
    "IDLE_STRATEGIES",
    "IdlePoller",
    "IdleStrategy",
    "loop_factory",
    "new_event_loop",
    "run",
    "uvloop_available",
    "uvloop_enabled",
]

IdleMode = Literal["sleep", "spin", "backoff"]
#: The idle strategies, from the least to the most eager.
IDLE_STRATEGIES: tuple[IdleMode, ...] = ("sleep", "backoff", "spin")

T = TypeVar("T")

_DISABLED = ("1", "true", "yes", "on")
_sched_yield: Callable[[], None] | None = getattr(os, "sched_yield", None)


def uvloop_available() -> bool:
    """True when uvloop can be imported."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def uvloop_enabled(use_uvloop: bool | None = None) -> bool:
    """Whether :func:`new_event_loop` would pick uvloop for this ``use_uvloop`` argument.

    ``None`` means "yes if installed, unless ``FIXENGINE_NO_UVLOOP`` is set".
    ``True`` insists on uvloop (ImportError if it is missing).
    """
    if use_uvloop is None:
        if os.environ.get("FIXENGINE_NO_UVLOOP", "").lower() in _DISABLED:
            return False
        return uvloop_available()
    return use_uvloop


def loop_factory(use_uvloop: bool | None = None) -> Callable[[], asyncio.AbstractEventLoop]:
    """A zero-argument callable making new loops (for :class:`asyncio.Runner`)."""
    if uvloop_enabled(use_uvloop):
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        return factory
    return asyncio.new_event_loop


def new_event_loop(use_uvloop: bool | None = None) -> asyncio.AbstractEventLoop:
    """A new event loop: uvloop unless disabled (see :func:`uvloop_enabled`)."""
    return loop_factory(use_uvloop)()


def run(
    main: Coroutine[Any, Any, T], *, use_uvloop: bool | None = None, debug: bool | None = None
) -> T:
    """Run ``main`` to completion on a new loop (uvloop by default), like :func:`asyncio.run`."""
    factory = loop_factory(use_uvloop)
    if hasattr(asyncio, "Runner"):  # Python 3.11+
        with asyncio.Runner(loop_factory=factory, debug=debug) as runner:
            return runner.run(main)
    loop = factory()  # pragma: no cover - Python 3.10
    try:
        if debug is not None:
            loop.set_debug(debug)
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        asyncio.set_event_loop(None)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@dataclasses.dataclass(frozen=True, slots=True)
class IdleStrategy:
    """What an engine's event loop does while it has no work (see the module notes)."""

    mode: IdleMode = "sleep"
    """``sleep``: block in the poller; ``spin``: never block; ``backoff``: spin for
    ``spin`` seconds after the last I/O, then block. Settings key ``IdleStrategy``."""
    spin: float = 50e-6
    """``backoff``: seconds of spinning after the last I/O. Settings key
    ``IdleSpinMicros`` (in microseconds)."""

    def __post_init__(self) -> None:
        if self.mode not in IDLE_STRATEGIES:
            raise ValueError(f"idle strategy must be one of {', '.join(IDLE_STRATEGIES)}")
        if self.spin < 0:
            raise ValueError("the spin time must not be negative")

    @classmethod
    def busiest(cls, strategies: list[IdleStrategy]) -> IdleStrategy:
        """The most eager of several (sessions of one engine share its loop): the
        eagerest mode, and the longest spin among those of that mode."""
        if not strategies:
            return cls()
        rank = max(IDLE_STRATEGIES.index(s.mode) for s in strategies)
        mode = IDLE_STRATEGIES[rank]
        return cls(mode, max(s.spin for s in strategies if s.mode == mode))


class IdlePoller:
    """Keeps a running loop from blocking, as an :class:`IdleStrategy` says.

    :meth:`start` puts one callback in the loop's ready queue; each turn of the loop
    runs it once and it puts itself back (``spin``), or only while less than
    ``spin`` seconds passed since :meth:`touch` was last called (``backoff``; the
    transport calls it on every read and on every write that goes out at once).
    :meth:`stop` takes it out: the loop blocks again when idle. ``sleep`` does
    nothing at all.
    """

    __slots__ = ("_handle", "_last", "_loop", "_running", "_spin", "strategy")

    def __init__(self, loop: asyncio.AbstractEventLoop, strategy: IdleStrategy) -> None:
        self.strategy = strategy
        self._loop = loop
        self._spin = strategy.spin
        self._handle: asyncio.Handle | None = None
        self._running = False
        self._last = 0.0

    def __repr__(self) -> str:
        state = "spinning" if self._handle is not None else "idle"
        return f"<IdlePoller {self.strategy.mode} {state if self._running else 'stopped'}>"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop` (for ``spin`` and ``backoff``)."""
        return self._running

    @property
    def spinning(self) -> bool:
        """True while the loop is kept from blocking."""
        return self._handle is not None

    def start(self) -> None:
        """Begin (``sleep``: nothing to do)."""
        if self._running or self.strategy.mode == "sleep":
            return
        self._running = True
        self.touch()

    def stop(self) -> None:
        """End: the loop blocks in its poller again when it has nothing to do."""
        self._running = False
        handle = self._handle
        if handle is not None:
            self._handle = None
            handle.cancel()

    def touch(self) -> None:
        """I/O happened: a ``backoff`` poller spins (again) for its spin time."""
        self._last = time.perf_counter()
        if self._handle is None and self._running:
            self._handle = self._loop.call_soon(self._turn)

    def _turn(self) -> None:
        if not self._running:
            self._handle = None
            return
        if self.strategy.mode == "backoff" and time.perf_counter() - self._last >= self._spin:
            self._handle = None  # quiet for long enough: block until the next I/O
            return
        if _sched_yield is not None:
            _sched_yield()  # a runnable peer on this CPU gets it now, not after our slice
        self._handle = self._loop.call_soon(self._turn)
