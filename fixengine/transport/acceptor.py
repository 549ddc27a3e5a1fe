"""The acceptor: one listening socket serving many sessions.

Theory of operation
-------------------
A new connection is *pending* until its first message arrives. The pending
protocol frames what arrives with its own bounded :class:`~fixengine.codec.Parser`
(``max_logon_size``) and decides on the first item:

* garbage, an oversize/endless frame, or a first message that is not a Logon(35=A)
  -> refused and closed (FIX session test case 1e: "first message not a Logon ->
  disconnect"; 1d: an invalid Logon -> disconnect);
* a Logon is looked up by (BeginString, SenderCompID, TargetCompID) - swapped: the
  peer's SenderCompID(49) is our TargetCompID and its TargetCompID(56) our
  SenderCompID. Unknown -> the optional ``session_provider`` may create a session
  on the fly (a simulator accepting any CompID it is told about); still unknown ->
  refused. A session that already has a connection -> refused as a duplicate
  (test case 1b) without touching the session already connected.
* otherwise the connection is bound: the socket's protocol is switched to a
  :class:`~fixengine.transport.connection.Connection` of that session's driver and
  every byte received so far (the Logon and anything after it) is fed to the
  session, which takes over (its own logon validation, logon timeout, ...).

A refused Logon from a known BeginString/CompID pair is answered with a Logout
whose Text(58) says why (MsgSeqNum 1, nothing stored: there is no session to
number it in) unless ``refusal_logout`` is off, in which case the connection is
closed silently as QuickFIX does. Pending connections are bounded in number
(``max_pending``; beyond it new connections are closed at once) and in time
(``logon_timeout``, default 10 s, for the first complete message). The timer starts
at accept and is never reset by partial data, so a peer trickling bytes is dropped
on time like a silent one.

TLS. A TLS acceptor accepts TCP connections itself (:class:`_TlsListener`) and
runs each handshake as a task of its pending connection
(``loop.connect_accepted_socket``), instead of letting the server do it out of
sight: a handshake in progress counts against ``max_pending``, ``logon_timeout``
covers handshake plus Logon, and a failed handshake (no client certificate, one
from another CA, plain text on a TLS port) is logged and counted like every other
refusal (reason ``tls_handshake``). Starting TLS on an accepted transport
(``start_tls``) is not used: uvloop starts reading right after ``connection_made``,
so the ClientHello could reach the FIX framer first.

Every refusal is logged (``fixengine.transport.acceptor``, WARNING; a shutdown
at INFO) with the peer address and counted in
``fix_connections_refused_total{reason}`` (see
:data:`fixengine.metrics.REFUSAL_REASONS`). A Logon the session's authenticator
refuses (e.g. a wrong Password) is counted by the driver (reason
``authentication``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import ssl as _ssl
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from ..codec import Message, Parser, encode
from ..errors import ConfigError, GarbledMessage, GarbleReason
from ..fields import format_utc_timestamp
from ..session.config import SessionID
from .connection import Connection, SessionDriver, SessionLike, SessionListener, TransportOptions

if TYPE_CHECKING:
    from ..metrics import FixMetrics

__all__ = ["Acceptor", "AcceptorOptions", "SessionProvider", "acceptor_key"]

logger = logging.getLogger("fixengine.transport.acceptor")


def _tls_failure(exc: BaseException) -> str:
    """A short description of why a TLS handshake failed (no secrets are involved)."""
    if isinstance(exc, _ssl.SSLError):
        return str(exc.reason or exc.__class__.__name__)
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "handshake timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


SessionKey = tuple[str, str, str]
"""(BeginString, our SenderCompID, our TargetCompID)."""

SessionProvider = Callable[[SessionID, Message], "SessionLike | SessionDriver | None"]
"""Called with the SessionID (our point of view) and the Logon of an unknown session;
returns a session (or a driver) to accept it, or None to refuse."""


def acceptor_key(session_id: SessionID) -> SessionKey:
    """The lookup key of a session an acceptor serves."""
    return (session_id.begin_string, session_id.sender_comp_id, session_id.target_comp_id)


@dataclasses.dataclass(frozen=True, slots=True)
class AcceptorOptions:
    """Limits applied to connections before they are bound to a session."""

    logon_timeout: float = 10.0
    """Seconds a new connection has to deliver its first complete message."""
    max_pending: int = 256
    """Connections allowed to wait for their Logon at the same time."""
    max_logon_size: int = 64 * 1024
    """Largest first message accepted (bytes)."""
    refusal_logout: bool = True
    """Answer a refused Logon with a Logout carrying the reason (else close silently)."""
    transport: TransportOptions = dataclasses.field(default_factory=TransportOptions)

    def __post_init__(self) -> None:
        if self.logon_timeout <= 0:
            raise ValueError("logon_timeout must be positive")
        if self.max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        if self.max_logon_size < 64:
            raise ValueError("max_logon_size must be at least 64 bytes")


class _Pending(asyncio.Protocol):
    """A connection waiting for its first message."""

    def __init__(self, acceptor: Acceptor) -> None:
        self.acceptor = acceptor
        self.transport: asyncio.Transport | None = None
        self.peer: Any = None
        self.parser = Parser(max_message_size=acceptor.options.max_logon_size)
        self.received = bytearray()
        self.done = False
        self.timer: asyncio.TimerHandle | None = None
        self.handshake: asyncio.Task[Any] | None = None  # TLS: the handshake in progress
        self.admitted = False  # counted in acceptor.pending, logon timer running

    def _admit(self) -> bool:
        """Count this connection as pending and start its logon timer (False: refused)."""
        acc = self.acceptor
        if acc.stopping:
            self.refuse("stopping")
            return False
        if len(acc.pending) >= acc.options.max_pending:
            self.refuse("too_many_pending")
            return False
        acc.pending.add(self)
        self.admitted = True
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(acc.options.logon_timeout, self._timed_out)
        return True

    def start_tls(self, sock: socket.socket, peer: Any, context: _ssl.SSLContext) -> None:
        """A TCP connection was accepted on a TLS port: admit it, then run the handshake."""
        self.peer = peer
        if not self._admit():
            sock.close()
            return
        loop = asyncio.get_running_loop()
        self.handshake = loop.create_task(
            loop.connect_accepted_socket(
                lambda: self,
                sock,
                ssl=context,
                ssl_handshake_timeout=self.acceptor.options.logon_timeout,
            )
        )
        self.handshake.add_done_callback(self._handshake_done)

    def _handshake_done(self, task: asyncio.Task[Any]) -> None:
        self.handshake = None
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not self.done:
            self.refuse("tls_handshake", detail=_tls_failure(exc))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        if self.done:  # a TLS handshake that finished after the connection was refused
            transport.abort()
            return
        self.transport = transport
        self.peer = transport.get_extra_info("peername")
        if not self.admitted:  # TLS connections were admitted at accept (start_tls)
            self._admit()

    def data_received(self, data: bytes) -> None:
        if self.done:
            return
        self.received += data
        items = self.parser.feed(data)
        if not items:
            if len(self.received) > 2 * self.acceptor.options.max_logon_size:
                self.refuse("oversize")  # the framer bounds itself; belt and braces
            return
        first = items[0]
        if isinstance(first, GarbledMessage):
            self.refuse("oversize" if first.reason is GarbleReason.OVERSIZE else "garbage")
            return
        if first.get(35) != b"A":
            self.refuse("not_logon")
            return
        self.done = True
        self._stop_waiting()
        self.acceptor._bind(self, first, bytes(self.received))

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()

    def _timed_out(self) -> None:
        self.timer = None
        if not self.done:
            self.refuse("logon_timeout")

    def _stop_waiting(self) -> None:
        self.acceptor.pending.discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def refuse(
        self, reason: str, logout: bytes | None = None, *, detail: str | None = None
    ) -> None:
        """Count, log and close; ``logout`` is written first when given."""
        self.done = True
        self._stop_waiting()
        acc = self.acceptor
        if acc.metrics is not None:
            acc.metrics.refused_connection(reason)
        level = logging.INFO if reason == "stopping" else logging.WARNING
        if detail:
            logger.log(level, "refused connection from %s: %s (%s)", self.peer, reason, detail)
        else:
            logger.log(level, "refused connection from %s: %s", self.peer, reason)
        transport = self.transport
        if transport is None:
            if self.handshake is not None:
                self.handshake.cancel()  # closes the socket
            return
        if logout is not None:
            transport.write(logout)
            transport.close()
            # do not wait forever on a peer that does not read
            asyncio.get_running_loop().call_later(
                acc.options.transport.close_timeout, transport.abort
            )
        else:
            transport.abort()


class _TlsListener:
    """The listening socket of a TLS acceptor: accepts TCP connections itself and hands
    each to a :class:`_Pending`, which runs the handshake (the part of
    ``asyncio.AbstractServer`` the acceptor uses: ``sockets``, ``close``, ``wait_closed``).
    """

    def __init__(self, acceptor: Acceptor, sock: socket.socket, context: _ssl.SSLContext) -> None:
        self.sockets = [sock]
        self._acceptor = acceptor
        self._context = context
        self._task = asyncio.get_running_loop().create_task(self._accept_loop())

    @classmethod
    async def open(cls, acceptor: Acceptor, context: _ssl.SSLContext, backlog: int) -> _TlsListener:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            acceptor.host, acceptor._port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return cls(acceptor, sock, context)

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        sock = self.sockets[0]
        while True:
            try:
                conn, peer = await loop.sock_accept(sock)
            except OSError as exc:  # EMFILE and the like: back off, do not spin
                if sock.fileno() < 0:
                    return
                logger.warning("acceptor: accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            conn.setblocking(False)
            _Pending(self._acceptor).start_tls(conn, peer, self._context)

    def close(self) -> None:
        self._task.cancel()
        self.sockets[0].close()

    async def wait_closed(self) -> None:
        await asyncio.wait([self._task])


class Acceptor:
    """Listens on one address and binds each incoming Logon to its session.

    Use as ``async with Acceptor(port=...) as acc`` or call :meth:`start` /
    :meth:`stop`. Sessions are added with :meth:`add_session` (before or after
    starting); each gets a :class:`SessionDriver`.
    """

    def __init__(
        self,
        host: str | None = "0.0.0.0",
        port: int = 0,
        *,
        ssl: _ssl.SSLContext | None = None,
        options: AcceptorOptions | None = None,
        session_provider: SessionProvider | None = None,
        listener: SessionListener | None = None,
        metrics: FixMetrics | None = None,
    ) -> None:
        self.host = host
        self._port = port
        self.ssl = ssl
        self.options = options or AcceptorOptions()
        self.session_provider = session_provider
        self.listener = listener
        self.metrics = metrics
        self.pending: set[_Pending] = set()
        self.stopping = False
        self._drivers: dict[SessionKey, SessionDriver] = {}
        self._server: asyncio.AbstractServer | _TlsListener | None = None

    # -- sessions ------------------------------------------------------------------------
    def add_session(
        self, session: SessionLike | SessionDriver, listener: SessionListener | None = None
    ) -> SessionDriver:
        """Serve ``session``; returns its driver. Two sessions with one key are refused."""
        driver = session if isinstance(session, SessionDriver) else self._make_driver(session)
        if listener is not None:
            driver.listener = listener
        key = acceptor_key(driver.session_id)
        other = self._drivers.get(key)
        if other is not None and other is not driver:
            raise ConfigError(f"acceptor already serves a session {key[0]}:{key[1]}->{key[2]}")
        self._drivers[key] = driver
        return driver

    def _make_driver(self, session: SessionLike) -> SessionDriver:
        sm = self.metrics.session(session.session_id) if self.metrics is not None else None
        return SessionDriver(
            session, listener=self.listener, metrics=sm, options=self.options.transport
        )

    def remove_session(self, session_id: SessionID) -> SessionDriver | None:
        """Stop serving a session (its current connection, if any, is left alone)."""
        return self._drivers.pop(acceptor_key(session_id), None)

    def driver(self, session_id: SessionID) -> SessionDriver | None:
        """The driver of a session this acceptor serves."""
        return self._drivers.get(acceptor_key(session_id))

    @property
    def drivers(self) -> list[SessionDriver]:
        """Every session's driver."""
        return list(self._drivers.values())

    # -- server ----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The listening port (the real one once started with port 0)."""
        server: Any = self._server
        if server is not None:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self._port

    @property
    def is_serving(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._server is not None and not self.stopping

    async def start(self) -> None:
        """Bind and listen."""
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        self.stopping = False
        backlog = max(100, min(self.options.max_pending, 4096))
        if self.ssl is None:
            self._server = await loop.create_server(
                lambda: _Pending(self),
                self.host,
                self._port,
                reuse_address=True,
                backlog=backlog,
            )
        else:
            self._server = await _TlsListener.open(self, self.ssl, backlog)
        logger.info("acceptor listening on %s:%d", self.host, self.port)

    async def stop(self, *, logout: bool = True, timeout: float = 2.0) -> None:
        """Stop listening, log out the sessions that are logged on and close everything.

        Waits up to ``timeout`` seconds for the Logout handshakes, then aborts what
        is still connected.
        """
        if self._server is None:
            return
        self.stopping = True
        server = self._server
        server.close()
        for pending in list(self.pending):
            pending.refuse("stopping")
        connected = [d for d in self._drivers.values() if d.connection is not None]
        for d in connected:
            if logout and d.is_logged_on:
                try:
                    d.logout("Acceptor shutting down")
                except Exception:  # a session that cannot log out still gets closed
                    logger.exception("%s: logout failed", d.session_id)
            else:
                d.disconnect("local")
        waits = [c.wait_closed() for d in connected if (c := d.connection) is not None]
        if waits:
            _done, still = await asyncio.wait(
                [asyncio.ensure_future(w) for w in waits], timeout=timeout
            )
            for fut in still:
                fut.cancel()
        for d in self._drivers.values():
            d.disconnect("local")
            conn = d.connection
            if conn is not None:
                conn.abort("local")
        await asyncio.sleep(0)
        try:
            await asyncio.wait_for(server.wait_closed(), timeout)
        except asyncio.TimeoutError:  # pragma: no cover - a stuck handler
            logger.warning("acceptor: server did not close within %.1fs", timeout)
        self._server = None

    async def __aenter__(self) -> Acceptor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- binding --------------------------------------------------------------------------
    def _bind(self, pending: _Pending, logon: Message, received: bytes) -> None:
        begin = logon.get(8)
        their = logon.get(49)
        ours = logon.get(56)
        if begin is None or their is None or ours is None:
            pending.refuse("unknown_session")
            return
        sid = SessionID(begin.decode("latin-1"), ours.decode("latin-1"), their.decode("latin-1"))
        key = acceptor_key(sid)
        driver = self._drivers.get(key)
        if driver is None and self.session_provider is not None and not self.stopping:
            driver = self._provide(sid, logon)
        if driver is None:
            pending.refuse("unknown_session", self._logout(logon, f"Unknown session {sid}"))
            return
        if driver.connection is not None:
            pending.refuse("duplicate", self._logout(logon, "Session already has a connection"))
            return
        transport = pending.transport
        assert transport is not None
        conn = Connection(driver, self.options.transport)
        transport.set_protocol(conn)
        conn.connection_made(transport)
        if conn.reason is None:
            conn.data_received(received)

    def _provide(self, sid: SessionID, logon: Message) -> SessionDriver | None:
        assert self.session_provider is not None
        try:
            made = self.session_provider(sid, logon)
        except Exception:
            logger.exception("session provider failed for %s", sid)
            return None
        if made is None:
            return None
        driver = made if isinstance(made, SessionDriver) else self._make_driver(made)
        if acceptor_key(driver.session_id) != acceptor_key(sid):
            logger.error("session provider returned %s for %s", driver.session_id, sid)
            return None
        return self.add_session(driver)

    def _logout(self, logon: Message, text: str) -> bytes | None:
        if not self.options.refusal_logout:
            return None
        begin = logon.get(8)
        assert begin is not None
        msg = Message(b"5")
        msg.append(49, logon.get(56) or b"")
        msg.append(56, logon.get(49) or b"")
        msg.append(34, 1)
        msg.append(52, format_utc_timestamp(time.time_ns(), 3))
        msg.append(58, text)
        data: bytes = encode(msg, begin)
        return data

    # -- convenience -----------------------------------------------------------------------
    def add_sessions(self, sessions: Iterable[SessionLike]) -> list[SessionDriver]:
        """:meth:`add_session` for each."""
        return [self.add_session(s) for s in sessions]
