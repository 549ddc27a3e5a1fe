"""The initiator: connect, stay connected, fail over, back off.

Theory of operation
-------------------
An :class:`Initiator` runs one task per session while the session should be up:

1. connect to ``hosts[i]`` within ``connect_timeout`` (TLS handshake included);
   the new :class:`~fixengine.transport.connection.Connection` binds to the
   session's driver, the session queues its Logon (``connection_made``) and the
   connection runs until it is lost;
2. a failed attempt moves on to the next host at once (failover list, as
   QuickFIX's ``SocketConnectHost1..N``); when every host of the list failed in a
   row, or a connection ended, the task sleeps for the backoff delay and goes on.

Outside the session's schedule (``session.schedule``, when it has one) the task
does not connect; it sleeps until the schedule's next change.

The backoff delay is ``min(cap, base * 2**attempt)`` reduced by a random fraction up
to ``jitter`` (so many initiators restarted together do not reconnect in lock-step),
with ``base`` = ReconnectInterval. ``attempt`` goes back to 0 and the host index
back to the primary after a connection that completed a Logon, so a session that
was up reconnects after about ReconnectInterval, as QuickFIX does, and only a
counterparty that keeps failing is backed off up to the cap.

:meth:`Initiator.stop` ends the task: it logs out a logged-on session (waiting up
to ``timeout`` for the Logout handshake), then closes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import ssl as _ssl
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .connection import Connection, SessionDriver, SessionLike, SessionListener, TransportOptions

if TYPE_CHECKING:
    from ..metrics import FixMetrics

__all__ = ["Initiator", "InitiatorOptions", "backoff_delay"]

logger = logging.getLogger("fixengine.transport.initiator")


@dataclasses.dataclass(frozen=True, slots=True)
class InitiatorOptions:
    """Connection policy of an initiator."""

    connect_timeout: float = 10.0
    """Seconds allowed for TCP connect plus TLS handshake."""
    reconnect_interval: float = 30.0
    """QuickFIX's ReconnectInterval: the base of the backoff (seconds)."""
    max_reconnect_interval: float = 300.0
    """Cap of the backoff (seconds)."""
    jitter: float = 0.2
    """Each delay is shortened by a random fraction in [0, jitter)."""
    transport: TransportOptions = dataclasses.field(default_factory=TransportOptions)

    def __post_init__(self) -> None:
        if self.connect_timeout <= 0:
            raise ValueError("connect_timeout must be positive")
        if self.reconnect_interval <= 0:
            raise ValueError("reconnect_interval must be positive")
        if self.max_reconnect_interval < self.reconnect_interval:
            raise ValueError("max_reconnect_interval must be at least reconnect_interval")
        if not 0.0 <= self.jitter < 1.0:
            raise ValueError("jitter must be in [0, 1)")


def backoff_delay(
    attempt: int,
    base: float,
    cap: float,
    jitter: float = 0.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Delay before reconnect attempt ``attempt`` (0-based): ``min(cap, base*2**attempt)``,
    shortened by up to ``jitter`` of itself."""
    delay = min(cap, base * (2.0 ** min(attempt, 62)))
    return delay * (1.0 - jitter * rand())


class Initiator:
    """Keeps one session connected to one of ``hosts`` while it runs."""

    def __init__(
        self,
        session: SessionLike | SessionDriver,
        hosts: Sequence[tuple[str, int]],
        *,
        ssl: _ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        options: InitiatorOptions | None = None,
        listener: SessionListener | None = None,
        metrics: FixMetrics | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not hosts:
            raise ConfigError("an initiator needs at least one host")
        self.options = options or InitiatorOptions()
        if isinstance(session, SessionDriver):
            self.driver = session
            if listener is not None:
                self.driver.listener = listener
        else:
            sm = metrics.session(session.session_id) if metrics is not None else None
            self.driver = SessionDriver(
                session, listener=listener, metrics=sm, options=self.options.transport
            )
        self.hosts = [(str(h), int(p)) for h, p in hosts]
        self.ssl = ssl
        self.server_hostname = server_hostname
        self.current_host: tuple[str, int] | None = None
        self._rng = rng or random.Random()
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._running = False

    def __repr__(self) -> str:
        return f"<Initiator {self.driver.session_id} hosts={self.hosts}>"

    @property
    def is_running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._running

    async def start(self) -> None:
        """Start connecting (returns at once; see :meth:`SessionDriver.wait_change`)."""
        if self._running:
            return
        self._running = True
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"fix-initiator {self.driver.session_id}"
        )

    async def stop(
        self, *, logout: bool = True, timeout: float = 2.0, text: str | None = None
    ) -> None:
        """Stop reconnecting; log out (waiting up to ``timeout``) and close the connection."""
        self._running = False
        if self._wake is not None:
            self._wake.set()
        driver = self.driver
        conn = driver.connection
        if conn is not None:
            if logout and driver.is_logged_on:
                try:
                    driver.logout(text)
                except Exception:
                    logger.exception("%s: logout failed", driver.session_id)
                try:
                    await asyncio.wait_for(conn.wait_closed(), timeout)
                except asyncio.TimeoutError:
                    logger.info("%s: no Logout answer within %.1fs", driver.session_id, timeout)
            conn = driver.connection
            if conn is not None:
                conn.abort("local")
                await conn.wait_closed()
        task = self._task
        self._task = None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def __aenter__(self) -> Initiator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the task ------------------------------------------------------------------------------
    async def _run(self) -> None:
        opts = self.options
        n = len(self.hosts)
        index = 0
        attempt = 0
        failed_in_row = 0
        while self._running:
            outside = self._outside_schedule()
            if outside is not None:
                await self._sleep(outside)
                continue
            host, port = self.hosts[index]
            conn = await self._connect(host, port)
            if conn is None:
                index = (index + 1) % n
                failed_in_row += 1
                if failed_in_row < n and self._running:
                    continue  # failover: next host at once
            else:
                reason = await conn.wait_closed()
                self.current_host = None
                logger.info(
                    "%s: connection to %s:%d ended (%s)", self.driver.session_id, host, port, reason
                )
                if conn.logged_on:
                    attempt = 0
                    index = 0
                else:
                    index = (index + 1) % n
            failed_in_row = 0
            if not self._running:
                break
            delay = backoff_delay(
                attempt,
                opts.reconnect_interval,
                opts.max_reconnect_interval,
                opts.jitter,
                self._rng.random,
            )
            attempt += 1
            logger.info("%s: reconnecting in %.2fs", self.driver.session_id, delay)
            await self._sleep(delay)

    def _outside_schedule(self) -> float | None:
        """Seconds to wait when the session is outside its schedule (else None).

        Connecting then would only be refused by the session itself; QuickFIX's
        initiators likewise stay down between EndTime and StartTime.
        """
        schedule = getattr(self.driver.session, "schedule", None)
        if schedule is None or getattr(schedule, "non_stop", True):
            return None
        now = time.time()
        if schedule.is_session_time(now):
            return None
        change = schedule.next_change(now)
        wait = 60.0 if change is None else change - now
        logger.info("%s: outside the session schedule; waiting", self.driver.session_id)
        return float(min(max(wait, 0.05), 60.0))

    async def _sleep(self, delay: float) -> None:
        wake = self._wake
        assert wake is not None
        try:
            await asyncio.wait_for(wake.wait(), delay)
        except asyncio.TimeoutError:
            pass

    async def _connect(self, host: str, port: int) -> Connection | None:
        loop = asyncio.get_running_loop()
        driver = self.driver
        metrics = driver.metrics
        opts = self.options

        def factory() -> Connection:
            self.current_host = (host, port)
            return Connection(driver, opts.transport)

        try:
            _transport, conn = await asyncio.wait_for(
                loop.create_connection(
                    factory,
                    host,
                    port,
                    ssl=self.ssl,
                    server_hostname=(self.server_hostname or host) if self.ssl else None,
                    ssl_handshake_timeout=opts.connect_timeout if self.ssl else None,
                ),
                opts.connect_timeout,
            )
        except asyncio.TimeoutError:
            self.current_host = None
            logger.warning("%s: connect to %s:%d timed out", driver.session_id, host, port)
            if metrics is not None:
                metrics.connect_attempt("timeout")
            return None
        except (OSError, _ssl.SSLError) as exc:
            self.current_host = None
            logger.warning("%s: connect to %s:%d failed: %s", driver.session_id, host, port, exc)
            if metrics is not None:
                metrics.connect_attempt("failed")
            return None
        if metrics is not None:
            metrics.connect_attempt("connected")
        return conn
