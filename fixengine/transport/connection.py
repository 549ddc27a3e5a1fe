"""Binding a sans-IO :class:`~fixengine.session.session.Session` to asyncio sockets.

Theory of operation
-------------------
Two objects split the work:

* :class:`SessionDriver` owns one session for its whole life (across connections).
  Every call into the session goes through it - bytes received, application sends,
  logouts, timer wake-ups - and each call is followed by :meth:`SessionDriver.pump`,
  which drains the session the way h2/aioquic are drained: first every event
  (``next_event()``, handed to the :class:`SessionListener`), then the outbox
  (``data_to_send()``, written to the current connection), then, if the session
  asked for it (``DisconnectRequested``), the connection is closed *after* the
  outbox was written. Finally the one timer handle is re-armed from ``get_timer()``.
  ``now`` is always ``time.time()`` (UTC epoch seconds, as the session expects).
  The pump is re-entrant: a listener that answers an event (``send``, ``logout``,
  ``business_reject`` from ``on_session_event``) only feeds the session; the pump
  already running drains what that produced, so what a read provokes leaves in one
  write, after the events before it. Called outside a pump, ``send`` pumps itself
  and its bytes are written before it returns.
* :class:`Connection` is the :class:`asyncio.Protocol` of one socket: TCP_NODELAY,
  write-buffer limits, backpressure and closing. It forwards received bytes to the
  driver and reports ``connection_lost``.

Timers. The session gives an absolute UTC deadline; the loop's clock is monotonic.
The driver arms ``loop.call_at(loop.time() + (deadline - time.time()))`` and keeps
one handle: a later deadline keeps the armed (earlier) handle - it fires, the
session finds nothing due, and the handle is re-armed - so the hot path does no
heap work per message. Delays are capped (``max_timer_delay``) so a wall-clock step
cannot postpone heartbeats by more than the cap. A pump whose write is gathered
with others (see :meth:`Connection.write`) leaves ``get_timer()`` to the moment the
gathered bytes go out, at the start of the next loop iteration, so a burst of sends
asks the session once.

Pieces under load (off by default). With many messages in flight both peers
read everything available, work on all of it and write all the answers at once,
so each idles while the other works. Two options let output leave while the rest
is worked on. A read larger than ``feed_slice`` is fed to the session in slices cut
at message ends, each followed by a pump, as long as the slices provoke answers (an
application answering inline); the first slice that provokes none ends the slicing
for that read. Gathered writes leave as soon as they hold ``write_batch`` bytes
instead of waiting for the next iteration. Neither changes what a lone message
costs. They pay off only when both peers have a CPU of their own: every piece is a
write and a wake-up of the peer, and where the peers share CPUs (with each other or
with other work) taking turns in big batches gives more messages per second.

Backpressure. Writes go to the transport's buffer. Above ``write_high_water`` the
transport pauses us: :meth:`SessionDriver.drain` (used by async senders) waits until
it resumes. Above ``max_write_buffer`` the peer has stopped reading: the connection
is aborted (reason ``write_overflow``). Nothing is lost by that - the session saved
every sequenced message in its store before queueing it, and the peer gets them by
ResendRequest after reconnecting. Reading is bounded by the session's framer
(``max_message_size``) and can be paused by the application layer while its event
queue is full (:meth:`SessionDriver.pause_reading`).

Inbound throttle (``max_inbound_messages`` per ``inbound_interval``, off by
default). A token bucket per connection: it holds up to ``max_inbound_messages``
tokens and refills at ``max_inbound_messages / inbound_interval`` per second; each
message received costs one. Messages are counted by their CheckSum(10) field (the
four bytes ``<SOH>10=``, which no other tag can produce), so counting costs one
``bytes.find`` per read and no parsing. When a read holds more messages than there
are tokens, the session is fed up to the end of the last message it may have; the
rest is held, the socket stops being read (TCP then pushes back on the peer) and a
timer feeds the held messages as tokens come back, then reading resumes. Nothing
is dropped: a flooding peer only gets slower, and the other sessions on the same
loop never wait behind more than a bucket's worth of its messages. Held bytes are
bounded by one read (the transport's read size). If the connection ends while
messages are held, they were never processed, so their MsgSeqNums were never
consumed: the peer resends them after the next Logon (ordinary gap recovery).

Events are matched by class name so this module depends on no concrete event
classes: ``LoggedOn``, ``LoggedOut``, ``HeartbeatMissed``, ``LogonRefused`` and
``DisconnectRequested`` (with a ``reason`` attribute) are the ones the transport
itself acts on. The name is looked at once per class, not per event.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

from ..errors import LocalProtocolError

if TYPE_CHECKING:
    from ..codec import Message
    from ..metrics import SessionMetrics
    from .loop import IdlePoller

__all__ = [
    "Connection",
    "SessionDriver",
    "SessionLike",
    "SessionListener",
    "TransportOptions",
]

logger = logging.getLogger("fixengine.transport")

_MIN_THROTTLE_WAKE = 0.005  # seconds: held messages are released in batches, not one by one
_THROTTLE_LOG_INTERVAL = 10.0  # seconds between two throttle warnings of one connection


class SessionLike(Protocol):
    """The part of the sans-IO session API the transport uses."""

    @property
    def session_id(self) -> Any: ...

    @property
    def is_logged_on(self) -> bool: ...

    def connection_made(self, now: float) -> None: ...

    def receive_data(self, data: bytes, now: float) -> None: ...

    def send(self, msg: Message, now: float) -> int: ...

    def logout(self, now: float, text: str | None = None) -> None: ...

    def send_business_reject(self, ref: Message, reason: int, text: str, now: float) -> None: ...

    def handle_timer(self, now: float) -> None: ...

    def get_timer(self) -> float | None: ...

    def connection_lost(self, now: float) -> None: ...

    def next_event(self) -> Any: ...

    def data_to_send(self) -> bytes: ...


@dataclasses.dataclass(frozen=True, slots=True)
class TransportOptions:
    """Socket-level knobs shared by initiators and acceptors."""

    write_high_water: int = 256 * 1024
    """Pause async senders when this many bytes wait in the write buffer."""
    write_low_water: int = 64 * 1024
    """Resume them below this."""
    max_write_buffer: int = 16 * 1024 * 1024
    """Disconnect a peer that lets more than this pile up (it stopped reading)."""
    close_timeout: float = 2.0
    """After a graceful close, abort if the buffer has not flushed within this many seconds."""
    max_timer_delay: float = 1.0
    """Longest single timer sleep; bounds the effect of wall-clock steps."""
    nodelay: bool = True
    """Set TCP_NODELAY (FIX is latency-bound: never wait to coalesce small writes)."""
    max_inbound_messages: int = 0
    """Inbound throttle: messages a connection may deliver per ``inbound_interval``
    (also the largest burst); beyond it reading pauses until the window allows more.
    0 = no throttle. Settings key ``MaxMessagesPerSecond`` (with an interval of 1 s)."""
    inbound_interval: float = 1.0
    """The throttle's window in seconds."""
    feed_slice: int = 0
    """A read larger than this many bytes is handed to the session in slices of about
    this size (cut at message ends), each followed by a pump, while the application
    answers inline: the peer gets the first answers while the rest is being worked
    on. 0 (the default) = whole reads."""
    first_message_alone: bool | None = None
    """A read holding several messages: the first is worked on (and answered) alone and
    the rest waits for the loop's next turn, so tasks woken by the first (a caller
    awaiting an order's acknowledgement) run before the later messages are worked on.
    It costs one more loop turn per such read, and the answers to one read may leave
    in two writes. None (the default): off until the application asks for it
    (:meth:`SessionDriver.prefer_first_message_alone`; an order router does); True or
    False: as said, whatever the application asks. Settings key ``FirstMessageAlone``."""
    write_batch: int = 0
    """Writes gathered within one loop iteration leave as soon as they hold this many
    bytes (see :meth:`Connection.write`). 0 (the default) = only above the
    high-water mark."""

    def __post_init__(self) -> None:
        if not 0 <= self.write_low_water <= self.write_high_water:
            raise ValueError("need 0 <= write_low_water <= write_high_water")
        if self.max_write_buffer < self.write_high_water:
            raise ValueError("max_write_buffer must be at least write_high_water")
        if self.close_timeout <= 0 or self.max_timer_delay <= 0:
            raise ValueError("close_timeout and max_timer_delay must be positive")
        if self.max_inbound_messages < 0:
            raise ValueError("max_inbound_messages must not be negative")
        if self.inbound_interval <= 0:
            raise ValueError("inbound_interval must be positive")
        if self.feed_slice < 0 or self.write_batch < 0:
            raise ValueError("feed_slice and write_batch must not be negative")


class SessionListener:
    """Receives what a :class:`SessionDriver` sees; override what you need.

    Called synchronously from the event loop while the driver is pumping, so
    implementations must be quick and must not block (queue work for a task).
    """

    def on_session_event(self, driver: SessionDriver, event: Any) -> None:
        """An event drained from the session (every one, in order)."""

    def on_connected(self, driver: SessionDriver, connection: Connection) -> None:
        """A connection was bound to the session (before the session saw it)."""

    def on_disconnected(self, driver: SessionDriver, connection: Connection, reason: str) -> None:
        """The connection ended; ``reason`` is one of ``metrics.DISCONNECT_REASONS``."""


class SessionDriver:
    """Owns one session and feeds it from whichever connection is bound to it."""

    def __init__(
        self,
        session: SessionLike,
        *,
        listener: SessionListener | None = None,
        metrics: SessionMetrics | None = None,
        options: TransportOptions | None = None,
    ) -> None:
        self.session = session
        self.listener = listener
        self.metrics = metrics
        if metrics is not None:
            metrics.watch(session)  # read at scrape time: nothing to record per pump
        self.options = options or TransportOptions()
        #: the session's queue of events, where its class offers one (else next_event()
        #: drains: a wrapper that delegates attributes must still see every event go)
        self._pending_events: collections.deque[Any] | None = (
            session.pending_events  # type: ignore[attr-defined]
            if hasattr(type(session), "pending_events")
            else None
        )
        self._conn: Connection | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._last_fire = 0.0
        self._read_paused = False
        self._connections = 0
        self._closed = False
        self._change: asyncio.Event | None = None
        self._pumping = False  # inside pump(): calls into the session leave the draining to it
        self._repump = False  # such a call came after the running pump drained the session
        self._after_pump: list[Callable[[], None]] = []  # deferred until the pump ends
        self._feed_slice = self.options.feed_slice or (1 << 62)
        self._written = 0  # pumps that wrote something (feed's slicing looks at it)
        self._first_alone = self.options.first_message_alone is True
        #: the rest of a read whose first message went alone (see :meth:`feed`), and
        #: whatever arrived after it, until the loop's next turn works on it
        self._held_back: list[bytes] | None = None
        #: The engine's :class:`~fixengine.transport.loop.IdlePoller` (idle strategy
        #: ``spin`` or ``backoff``), told of every read and immediate write; else None.
        self.idle: IdlePoller | None = None

    def __repr__(self) -> str:
        state = "connected" if self._conn is not None else "disconnected"
        return f"<SessionDriver {self.session.session_id} {state}>"

    # -- properties -----------------------------------------------------------------
    @property
    def session_id(self) -> Any:
        """The session's SessionID."""
        return self.session.session_id

    @property
    def connection(self) -> Connection | None:
        """The connection bound now, or None."""
        return self._conn

    @property
    def is_connected(self) -> bool:
        """True while a connection is bound."""
        return self._conn is not None

    @property
    def is_logged_on(self) -> bool:
        """The session's own view."""
        return self.session.is_logged_on

    @property
    def connections(self) -> int:
        """How many connections have been bound so far."""
        return self._connections

    @property
    def first_message_alone(self) -> bool:
        """Whether a read's first message is worked on alone (see
        :attr:`TransportOptions.first_message_alone`)."""
        return self._first_alone

    def prefer_first_message_alone(self) -> None:
        """The application has callers awaiting what messages bring: work on each read's
        first message alone (see :attr:`TransportOptions.first_message_alone`), unless
        the options turned that off."""
        if self.options.first_message_alone is not False:
            self._first_alone = True

    # -- binding ----------------------------------------------------------------------
    def attach(self, conn: Connection) -> None:
        """Bind ``conn``; the session is told ``connection_made``."""
        if self._conn is not None:
            raise LocalProtocolError(f"session {self.session_id} already has a connection")
        if self._closed:
            raise LocalProtocolError(f"session driver {self.session_id} is closed")
        self._conn = conn
        self._connections += 1
        m = self.metrics
        if m is not None:
            m.connected = True
            if self._connections > 1:
                m.reconnects.inc()
        if self.listener is not None:
            self.listener.on_connected(self, conn)
        if self._read_paused:
            conn.pause_reading()
        self.session.connection_made(time.time())
        self.pump()
        self._notify()

    def detach(self, conn: Connection, reason: str) -> None:
        """Unbind ``conn`` after it was lost; the session is told ``connection_lost``."""
        if self._conn is not conn:
            return
        held = self._held_back
        if held is not None:
            # bytes read before the connection went: the session sees them first
            self._held_back = None
            try:
                self.session.receive_data(b"".join(held), time.time())
                self.pump()
            except Exception:
                logger.exception("%s: session failed on received data", self.session_id)
        self._conn = None
        if self.metrics is not None:
            self.metrics.disconnected(reason)
        self.session.connection_lost(time.time())
        if self._pumping:
            # lost while a pump runs (a transport closing synchronously): the events of
            # connection_lost are delivered by that pump, Disconnected after them
            self._repump = True
            self._after_pump.append(lambda: self._disconnected(conn, reason))
            return
        self.pump()
        self._disconnected(conn, reason)

    def _disconnected(self, conn: Connection, reason: str) -> None:
        if self.listener is not None:
            self.listener.on_disconnected(self, conn, reason)
        self._notify()

    # -- calls into the session -----------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Bytes received on the bound connection.

        A read larger than ``feed_slice`` bytes is fed in slices of about that size,
        cut after a message's CheckSum field, each followed by a pump, so the answers
        to its first messages are written while the later ones are still being
        worked on. The session frames any chunking, so where a cut falls never
        matters for correctness. Once a slice provokes no write the rest of the read
        goes in one piece.

        With :attr:`first_message_alone` on, a read holding more than one message has
        its first message worked on and pumped alone; the rest (with anything read
        meanwhile) is fed at the loop's next turn, after the callbacks the first
        message's events scheduled. Should the connection be lost first, the rest is
        fed before the session hears of the loss: nothing read is dropped.
        """
        held = self._held_back
        if held is not None:
            held.append(data)  # the rest of an earlier read is still waiting its turn
            return
        if self._first_alone and not self._pumping:
            # the first message alone: the tasks its events wake (an order's
            # acknowledged()) run before the rest of the read is worked on
            i = data.find(_TRAILER)
            if i >= 0:
                j = data.find(b"\x01", i + 4) + 1
                if 0 < j < len(data):
                    self.session.receive_data(data[:j], time.time())
                    self.pump()
                    conn = self._conn
                    if conn is not None:
                        self._held_back = [data[j:]]
                        conn._loop.call_soon(self._feed_held_back, conn)
                    return
        if len(data) <= self._feed_slice or self._pumping:
            self.session.receive_data(data, time.time())
            self.pump()
            return
        self._feed_sliced(data)

    def _feed_held_back(self, conn: Connection) -> None:
        held = self._held_back
        if held is None or self._conn is not conn:
            return  # fed already, when the connection it came on was lost
        self._held_back = None
        data = held[0] if len(held) == 1 else b"".join(held)
        if len(data) <= self._feed_slice:
            self.session.receive_data(data, time.time())
            self.pump()
        else:
            self._feed_sliced(data)

    def _feed_sliced(self, data: bytes) -> None:
        conn = self._conn
        size = self._feed_slice
        end = len(data)
        start = 0
        receive = self.session.receive_data
        while start < end:
            cut = end
            if end - start > size + (size >> 1):  # else the rest goes in one piece
                i = data.find(_TRAILER, start + size)
                if i >= 0:
                    j = data.find(b"\x01", i + 4)
                    if j >= 0:
                        cut = j + 1
            written = self._written
            receive(data[start:cut] if start or cut < end else data, time.time())
            self.pump()
            start = cut
            if self._conn is not conn:
                return  # lost while pumping: the session has forgotten this connection
            if self._written == written:
                # nothing answered inline (the application answers later, if at all):
                # slicing gains nothing, the rest goes in one piece
                size = end

    def send(self, msg: Message) -> int:
        """Send an application message now; returns its MsgSeqNum.

        What happens when not logged on is the session's rule (see its ``send``).
        Called while the driver pumps (a listener answering an event), the message
        goes out with everything else that pump writes, in one write; otherwise it is
        written before this returns.
        """
        seq = self.session.send(msg, time.time())
        if self._pumping:
            self._repump = True
        else:
            self.pump()
        return seq

    def logout(self, text: str | None = None) -> None:
        """Start the Logout handshake."""
        self.session.logout(time.time(), text)
        self.pump()

    def business_reject(self, ref: Message, reason: int, text: str) -> None:
        """Reject an application message (BusinessMessageReject, 35=j)."""
        self.session.send_business_reject(ref, reason, text, time.time())
        self.pump()

    @property
    def write_paused(self) -> bool:
        """True while the bound connection's write buffer is above its high-water mark
        (:meth:`drain` would wait)."""
        conn = self._conn
        return conn is not None and conn.write_paused

    async def drain(self) -> None:
        """Wait while the bound connection's write buffer is above its high-water mark."""
        conn = self._conn
        if conn is not None and conn.write_paused:
            await conn.drain()

    def pause_reading(self) -> None:
        """Stop reading from the peer (the application cannot keep up)."""
        self._read_paused = True
        if self._conn is not None:
            self._conn.pause_reading()

    def resume_reading(self) -> None:
        """Read from the peer again."""
        self._read_paused = False
        if self._conn is not None:
            self._conn.resume_reading()

    def disconnect(self, reason: str = "local") -> None:
        """Close the bound connection (if any) without a Logout."""
        conn = self._conn
        if conn is not None:
            if self._pumping:
                # what the session queued so far in this pump still goes out first
                data = self.session.data_to_send()
                if data:
                    conn.write(data)
            conn.close(reason)

    def close(self) -> None:
        """Stop the timer and drop the connection; the driver cannot be reused."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._conn is not None:
            self._conn.abort("local")

    def reopen(self) -> None:
        """Allow connections again after :meth:`close` (an engine started again)."""
        self._closed = False

    async def wait_change(self) -> None:
        """Wait until a connection is bound or unbound."""
        if self._change is None:
            self._change = asyncio.Event()
        await self._change.wait()

    def _notify(self) -> None:
        if self._change is not None:
            self._change.set()
            self._change = None

    # -- the pump ----------------------------------------------------------------------
    def pump(self) -> None:
        """Drain events, write the outbox, honour a disconnect request, re-arm the timer.

        Re-entrant: a call into the session made while the pump runs (a listener
        sending an answer from ``on_session_event``) only feeds the session; the running
        pump drains what that call produced, so the answers to one read (or slice of
        a read, see :meth:`feed`) leave in one write. A call that comes after it took
        the outbox makes it go round once more.
        """
        if self._pumping:
            self._repump = True
            return
        self._pumping = True
        session = self.session
        try:
            while True:
                listener = self.listener
                disconnect: str | None = None
                next_event = session.next_event
                pending = self._pending_events
                while True:
                    if pending is not None:  # the session's own queue: no call per event
                        if not pending:
                            break
                        event = pending.popleft()
                    else:
                        event = next_event()
                        if event is None:
                            break
                    cls = type(event)
                    acted = _ACTED_ON.get(cls)
                    if acted is None:
                        acted = _ACTED_ON[cls] = cls.__name__ in _ACTED_ON_NAMES
                    if acted:
                        name = cls.__name__
                        if name == "DisconnectRequested":
                            disconnect = str(getattr(event, "reason", "") or "requested")
                        else:
                            self._count(name, event)
                    if listener is not None:
                        listener.on_session_event(self, event)
                # calls made while the events were handled are in this outbox; only the
                # ones from here on need another round
                self._repump = False
                data = session.data_to_send()
                conn = self._conn
                if conn is not None:
                    if data:
                        self._written += 1
                        conn.write(data)
                    if disconnect is not None:
                        logger.info("%s: disconnecting: %s", self.session_id, disconnect)
                        conn.close("session")
                if not self._closed:
                    if conn is not None and conn._corked:
                        # a write went out in this loop iteration and the connection
                        # gathers the rest until the next: look at the session's timer
                        # then too, once for the whole burst of pumps
                        conn._timer_due = True
                    else:
                        self._arm_timer()
                if not self._repump:
                    break
        finally:
            self._pumping = False
            self._repump = False
            after = self._after_pump
            while after:
                after.pop(0)()

    def _count(self, name: str, event: Any) -> None:
        m = self.metrics
        conn = self._conn
        if name == "LoggedOn":
            if conn is not None:
                conn.logged_on = True
            if m is not None:
                m.logons.inc()
                m.logged_on = True
        elif name == "LogonRefused":
            text = getattr(event, "text", "")
            logger.warning("%s: logon refused: %s", self.session_id, text)
            if m is not None and _role(self.session) == "acceptor":
                m.metrics.refused_connection("authentication")
        elif m is None:
            return
        elif name == "LoggedOut":
            m.logouts.inc()
            m.logged_on = False
        elif name == "HeartbeatMissed":
            m.heartbeats_missed.inc()

    def _arm_timer(self) -> None:
        when = self.session.get_timer()
        if when is None:
            return
        timer = self._timer
        if timer is not None:
            if self._timer_at <= when:
                return  # the armed handle fires first; it re-arms then
            timer.cancel()
        now = time.time()
        delay = when - now
        if delay < 0.0:
            delay = 0.0
        if when <= self._last_fire:
            # the session asks again for a moment already handled: do not spin
            delay = max(delay, 0.05)
        if delay > self.options.max_timer_delay:
            delay = self.options.max_timer_delay
        loop = asyncio.get_running_loop()
        self._timer_at = now + delay
        self._timer = loop.call_at(loop.time() + delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._closed:
            return
        now = time.time()
        self._last_fire = now
        try:
            self.session.handle_timer(now)
        except Exception:  # a session bug must not kill the loop's timer chain
            logger.exception("%s: handle_timer failed", self.session_id)
        self.pump()


_ACTED_ON_NAMES = frozenset(
    {"DisconnectRequested", "LoggedOn", "LoggedOut", "HeartbeatMissed", "LogonRefused"}
)
#: Event class -> whether the driver acts on it (by name, see above); filled as seen.
_ACTED_ON: dict[type, bool] = {}

#: The last four bytes before every CheckSum value: one per message on the wire.
_TRAILER = b"\x0110="


def _role(session: Any) -> str | None:
    config = getattr(session, "config", None)
    role = getattr(config, "role", None)
    return role if isinstance(role, str) else None


class _TokenBucket:
    """``limit`` tokens at most, refilled at ``limit / interval`` per second."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, limit: int, interval: float, now: float) -> None:
        self.capacity = float(limit)
        self.rate = limit / interval
        self.tokens = self.capacity
        self.stamp = now

    def available(self, now: float) -> int:
        """Whole tokens available at ``now`` (after refilling)."""
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
        return int(self.tokens)

    def take(self, n: int) -> None:
        self.tokens -= n

    def wait(self) -> float:
        """Seconds until one whole token is available."""
        return max(0.0, (1.0 - self.tokens) / self.rate)


class Connection(asyncio.Protocol):
    """One socket bound to one :class:`SessionDriver`."""

    def __init__(self, driver: SessionDriver, options: TransportOptions | None = None) -> None:
        self.driver = driver
        self.options = options or driver.options
        self.transport: asyncio.Transport | None = None
        self.peer: Any = None
        self.reason: str | None = None  # set once closing starts
        self.logged_on = False  # became true once a Logon completed on this connection
        self._loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[str] = self._loop.create_future()
        self._write_paused = False
        self._max_write_buffer = self.options.max_write_buffer
        self._drain_waiter: asyncio.Future[None] | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._corked = False  # a write went out in this loop iteration: gather the next ones
        self._timer_due = False  # the driver's timer is to be looked at when uncorking
        self._pending: list[bytes] = []  # gathered writes, sent at the next iteration
        self._pending_size = 0
        batch = self.options.write_batch
        high = self.options.write_high_water
        self._write_batch = min(batch, high) if batch > 0 else high
        self._reading = True  # the transport is being read
        self._app_paused = False  # the driver asked not to read (application backlog)
        # inbound throttle (None when off)
        limit = self.options.max_inbound_messages
        self._bucket = (
            _TokenBucket(limit, self.options.inbound_interval, time.monotonic()) if limit else None
        )
        self._held = bytearray()  # received, not yet fed to the session (throttled)
        self._marks: collections.deque[int] = collections.deque()  # trailer offsets in _held
        self._tail = b""  # last bytes of the previous read: a trailer may straddle reads
        self._throttle_timer: asyncio.TimerHandle | None = None
        self._eof_held = False  # the peer closed while messages were held
        self._open_trailer = False  # the last message fed still lacks its CheckSum value
        self._throttle_logged = 0.0
        #: Times the inbound throttle paused reading on this connection.
        self.throttle_pauses = 0

    def __repr__(self) -> str:
        return f"<Connection {self.peer} {self.driver.session_id}>"

    # -- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.transport = transport
        self.peer = transport.get_extra_info("peername")
        if self.options.nodelay:
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:  # pragma: no cover - exotic socket
                    pass
        transport.set_write_buffer_limits(
            high=self.options.write_high_water, low=self.options.write_low_water
        )
        try:
            self.driver.attach(self)
        except LocalProtocolError:
            logger.warning("%s: refusing a second connection", self.driver.session_id)
            self.reason = "refused"
            transport.abort()
        except Exception:
            logger.exception("%s: session failed on connect", self.driver.session_id)
            self.abort("error")

    def data_received(self, data: bytes) -> None:
        if self.reason is not None:
            return
        idle = self.driver.idle
        if idle is not None:
            idle.touch()
        if self._bucket is None:
            try:
                self.driver.feed(data)
            except Exception:
                logger.exception("%s: session failed on received data", self.driver.session_id)
                self.abort("error")
            return
        # note where each message ends (its "<SOH>10="), also across the previous read
        held = self._held
        base = len(held)
        marks = self._marks
        tail = self._tail
        if tail:
            seam = tail + data[:3]
            i = seam.find(_TRAILER)
            if i >= 0:
                marks.append(base + i - len(tail))
        i = data.find(_TRAILER)
        while i >= 0:
            marks.append(base + i)
            i = data.find(_TRAILER, i + 4)
        self._tail = bytes(data[-3:]) if len(data) >= 3 else (tail + data)[-3:]
        held += data
        if self._throttle_timer is None:
            self._release()

    def _feed(self, data: bytes) -> None:
        try:
            self.driver.feed(data)
        except Exception:
            # a session bug must not leave a half-dead connection behind
            logger.exception("%s: session failed on received data", self.driver.session_id)
            self.abort("error")

    def _release(self) -> None:
        """Feed the held bytes the throttle allows; hold the rest and pause reading."""
        self._throttle_timer = None
        bucket = self._bucket
        if bucket is None or self.reason is not None or self._app_paused:
            return
        held = self._held
        marks = self._marks
        allowed = bucket.available(time.monotonic())
        n = len(marks)
        if n <= allowed:
            bucket.take(n)
            # a counted message whose CheckSum value is still to come must get it without
            # paying again (see below)
            if marks:
                self._open_trailer = held.find(b"\x01", marks[-1] + 4) < 0
            elif self._open_trailer:
                self._open_trailer = held.find(b"\x01") < 0
            marks.clear()
            if held:
                data = bytes(held)
                held.clear()
                self._feed(data)
            self._set_throttled(False)
            if self._eof_held and self.reason is None:
                self.close("peer_closed")
            return
        # feed up to the end of the last message allowed: the SOH after its "<SOH>10=" (the
        # next trailer exists, so that SOH does too)
        cut = 0
        if allowed > 0:
            cut = held.find(b"\x01", marks[allowed - 1] + 4) + 1
        elif self._open_trailer:
            cut = held.find(b"\x01") + 1  # the rest of a message already let through
        self._open_trailer = False
        for _ in range(allowed):
            marks.popleft()
        bucket.take(allowed)
        if cut:
            for k in range(len(marks)):
                marks[k] -= cut
        self._set_throttled(True)
        if cut:
            data = bytes(held[:cut])
            del held[:cut]
            self._feed(data)
        if self.reason is None:
            delay = max(bucket.wait(), _MIN_THROTTLE_WAKE)
            loop = asyncio.get_running_loop()
            self._throttle_timer = loop.call_later(delay, self._release)

    def _set_throttled(self, on: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if on:
            if self._reading:
                self._reading = False
                transport.pause_reading()
                self.throttle_pauses += 1
                m = self.driver.metrics
                if m is not None:
                    m.inbound_throttled.inc()
                now = time.monotonic()
                if now - self._throttle_logged >= _THROTTLE_LOG_INTERVAL:
                    self._throttle_logged = now
                    logger.warning(
                        "%s: inbound throttle: peer %s sends more than %d messages in %gs;"
                        " reading paused (%d pauses so far)",
                        self.driver.session_id,
                        self.peer,
                        self.options.max_inbound_messages,
                        self.options.inbound_interval,
                        self.throttle_pauses,
                    )
        elif not self._reading and not self._app_paused:
            self._reading = True
            transport.resume_reading()

    @property
    def throttled(self) -> bool:
        """True while received messages wait for the inbound throttle."""
        return self._throttle_timer is not None

    def eof_received(self) -> bool | None:
        # FIX has no half-close: end of stream ends the connection, once held messages
        # (inbound throttle) were processed
        if self.reason is None:
            transport = self.transport
            plain = transport is not None and transport.get_extra_info("ssl_object") is None
            if plain and self._held and self._marks:
                self._eof_held = True  # keep the socket until they are fed (not possible on TLS)
                return True
            self.reason = "peer_closed"
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._pending.clear()
        self._pending_size = 0
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        if self._throttle_timer is not None:
            self._throttle_timer.cancel()
            self._throttle_timer = None
        self._held.clear()
        self._marks.clear()
        reason = self.reason or ("error" if exc is not None else "peer_closed")
        self.reason = reason
        self._wake_drain()
        try:
            self.driver.detach(self, reason)
        finally:
            if not self.closed.done():
                self.closed.set_result(reason)

    def pause_writing(self) -> None:
        self._write_paused = True

    @property
    def write_paused(self) -> bool:
        """True while the transport asked us to stop writing (:meth:`drain` would wait)."""
        return self._write_paused and self.reason is None

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_drain()

    # -- used by the driver ----------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Write bytes; abort the connection if the peer let the buffer reach its cap.

        The first write of an event-loop iteration goes to the socket at once (the
        lowest latency for a lone message: an order, its acknowledgement); writes
        after it in the same iteration are gathered and go out in one ``send`` at the
        start of the next iteration, so a burst (a fill after its acknowledgement, a
        batch of orders) costs one system call and one wake-up of the peer, not one
        per message. Gathered writes leave at once when they reach ``write_batch``
        bytes (so a long burst reaches the peer in pieces it can work on while the
        rest is produced) or when the transport's buffer is above its high-water mark
        (so flow control and the cap see every write).
        """
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._corked:
            self._pending.append(data)
            size = self._pending_size + len(data)
            self._pending_size = size
            if (
                size >= self._write_batch
                or size + transport.get_write_buffer_size() > self.options.write_high_water
            ):
                # a burst leaves in pieces, so the peer works on the first while we
                # produce the rest; above the high-water mark the transport's flow
                # control (and the cap) see every write
                self._flush_pending()
            return
        transport.write(data)
        if transport.get_write_buffer_size() > self._max_write_buffer:
            self._overflow()
        idle = self.driver.idle
        if idle is not None:
            idle.touch()
        loop = self._loop
        if not loop.is_running():  # a test driving the protocol by hand: no batching
            return
        self._corked = True
        loop.call_soon(self._uncork)

    def _uncork(self) -> None:
        self._corked = False
        self._flush_pending()
        if self._timer_due:
            self._timer_due = False
            driver = self.driver
            if not driver._closed:
                driver._arm_timer()

    def _flush_pending(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        transport = self.transport
        if transport is not None and not transport.is_closing():
            self._write_now(transport, data)

    def _write_now(self, transport: asyncio.Transport, data: bytes) -> None:
        transport.write(data)
        if transport.get_write_buffer_size() > self._max_write_buffer:
            self._overflow()

    def _overflow(self) -> None:
        logger.warning(
            "%s: peer %s is not reading (write buffer over %d bytes): disconnecting",
            self.driver.session_id,
            self.peer,
            self.options.max_write_buffer,
        )
        self.abort("write_overflow")

    @property
    def write_buffer_size(self) -> int:
        """Bytes waiting in the transport's write buffer (and gathered for the next send)."""
        buffered = 0 if self.transport is None else self.transport.get_write_buffer_size()
        return self._pending_size + buffered

    async def drain(self) -> None:
        """Wait until the write buffer is below its low-water mark (or the connection ends)."""
        while self._write_paused and self.reason is None:
            if self._drain_waiter is None:
                self._drain_waiter = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._drain_waiter)

    def _wake_drain(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def pause_reading(self) -> None:
        """Stop reading from the socket (and feeding held messages to the session)."""
        self._app_paused = True
        if self._reading and self.transport is not None and not self.transport.is_closing():
            self._reading = False
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read from the socket again (once the inbound throttle allows)."""
        self._app_paused = False
        if self._held or self._throttle_timer is not None:
            if self._throttle_timer is None:
                self._release()
            return  # the throttle resumes reading once its held messages are fed
        if not self._reading and self.transport is not None and not self.transport.is_closing():
            self._reading = True
            self.transport.resume_reading()

    def close(self, reason: str = "local") -> None:
        """Close after the write buffer is flushed (aborting after ``close_timeout``)."""
        if self.reason is None:
            self.reason = reason
        transport = self.transport
        if transport is None or self._close_timer is not None:
            return
        self._flush_pending()  # what the session queued before closing still goes out
        transport.close()
        loop = asyncio.get_running_loop()
        self._close_timer = loop.call_later(self.options.close_timeout, transport.abort)

    def abort(self, reason: str = "local") -> None:
        """Close at once, discarding unsent bytes."""
        if self.reason is None:
            self.reason = reason
        self._pending.clear()
        self._pending_size = 0
        if self.transport is not None:
            self.transport.abort()

    async def wait_closed(self) -> str:
        """Wait until the connection is gone; returns the disconnect reason."""
        return await asyncio.shield(self.closed)
