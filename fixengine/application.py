"""The async API an embedding service uses: :class:`Engine`, :class:`SessionHandle`,
:class:`Application`.

Theory of operation
-------------------
An :class:`Engine` owns sessions (initiators and acceptor sessions), the
transports that carry them and their metrics. Each session gets a
:class:`SessionHandle` - the one object the service holds to talk to that
counterparty::

    class Orders(Application):
        async def on_message(self, session, message):
            if message.msg_type != b"D":
                raise UnsupportedMessageType()      # -> BusinessMessageReject(380=3)
            ...

    async with Engine(Orders()) as engine:
        handle = engine.add_initiator(config, [("fix.example.com", 9876)])
        await handle.wait_logged_on(timeout=10)
        seq = await handle.send(order)

Events flow one way, in order. The transport drains every event from the session
(h11 style) into the handle, which fans it out to

* the :class:`Application` callbacks - QuickFIX's ``onCreate``/``onLogon``/
  ``onLogout``/``fromApp``/``fromAdmin`` become ``on_create``/``on_logon``/
  ``on_logout``/``on_message``/``on_admin_message`` (plus ``on_reject``,
  ``on_disconnect`` and ``on_event``), one event at a time, so a callback may be
  ``async`` and is awaited before the next event;
* every ``async for event in handle.events()`` iterator that is open.

Callbacks run on one task per session, the dispatcher, with a shortcut for the
common case: when the dispatcher has nothing queued, an event's callbacks are called
at once, from the transport, and a plain (non-``async``) callback is done before the
next event is even drained - no queue, no task switch, and what it sends leaves in
the same write as the rest of that read's answers. The first callback that returns
an awaitable ends the shortcut: awaiting it (and the event's remaining callbacks)
is the dispatcher's job, and later events queue behind it, so the order stays the
same either way. ``async def`` callbacks therefore always run on the dispatcher task.

Each consumer has its own queue. When a queue holds more than ``event_backlog``
events the handle stops reading from the counterparty's socket (TCP pushes back on
the peer) and reads again once every queue is down to half, so a slow consumer
never makes memory grow and never drops a message.

Sending: :meth:`SessionHandle.send` waits while the connection's write buffer is
above its high-water mark, then hands the message to the session, which numbers it,
stores it and queues it; :meth:`SessionHandle.send_nowait` does the same without
waiting. What happens when the session is not logged on is the session's rule
(:meth:`fixengine.session.session.Session.send`); the handle adds none of its own.

Rejecting an application message the service does not support: raise
:class:`UnsupportedMessageType` (or :class:`BusinessReject` with another
BusinessRejectReason(380)) from ``on_message``, or call :meth:`SessionHandle.reject`.
The session sends BusinessMessageReject(35=j), or a session Reject for FIX.4.0/4.1.

Everything here runs on one event loop; call it from that loop's thread, except
:meth:`SessionHandle.send_threadsafe`, meant for other threads.

Stores and logs the engine opened itself (:meth:`Engine.from_settings`) are closed
by :meth:`Engine.stop`; those passed in by the caller stay the caller's to close.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import gc
import inspect
import logging
import os
import ssl as _ssl
import types
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .codec import Message
from .errors import ConfigError
from .metrics import FixMetrics, MetricsLog, MetricsServer, start_metrics_server
from .session.config import SessionConfig, SessionID
from .session.events import Event
from .session.store import MemoryStore, MessageStore
from .transport.acceptor import Acceptor, AcceptorOptions, acceptor_key
from .transport.connection import (
    Connection,
    SessionDriver,
    SessionLike,
    SessionListener,
    TransportOptions,
)
from .transport.initiator import Initiator, InitiatorOptions
from .transport.loop import IdlePoller, IdleStrategy

if TYPE_CHECKING:
    from .settings import SessionSettings

__all__ = [
    "Application",
    "BusinessReject",
    "Connected",
    "Disconnected",
    "Engine",
    "EventStream",
    "SessionFactory",
    "SessionHandle",
    "UnsupportedMessageType",
]

logger = logging.getLogger("fixengine.application")

SessionFactory = Callable[..., SessionLike]
"""Builds a session: ``factory(config, store, *, dictionary=, app_dictionary=,
authenticator=, log=)`` - the :class:`~fixengine.session.session.Session` signature."""

Authenticator = Callable[[Message], "str | None"]
DynamicSessions = Callable[[SessionID, Message], "SessionConfig | None"]


# -- events the transport adds to the session's own -----------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True)
class Connected(Event):
    """A connection to the counterparty was bound to the session."""

    peer: Any


@dataclasses.dataclass(frozen=True, slots=True)
class Disconnected(Event):
    """The connection ended; ``reason`` is one of ``fixengine.metrics.DISCONNECT_REASONS``."""

    reason: str


# -- rejecting from a callback --------------------------------------------------------------------
class BusinessReject(Exception):
    """Raise from :meth:`Application.on_message` to send BusinessMessageReject(35=j).

    ``reason`` is BusinessRejectReason(380): 0 Other, 1 Unknown ID, 2 Unknown
    Security, 3 Unsupported Message Type, 4 Application not available,
    5 Conditionally required field missing, 6 Not authorized, ...
    """

    def __init__(self, reason: int = 0, text: str = "Other") -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text


class UnsupportedMessageType(BusinessReject):
    """Raise from :meth:`Application.on_message` for a MsgType the service does not handle."""

    def __init__(self, text: str = "Unsupported Message Type") -> None:
        super().__init__(3, text)


# -- the callbacks --------------------------------------------------------------------------------
class Application:
    """Callbacks for session life-cycle and messages; override what you need.

    Every method may be a plain function or ``async def``. They run one event at a
    time per session, in event order: a callback that awaits delays the next event
    of that session only. Plain functions may be called straight from the transport
    (see the module documentation); ``async`` ones run on the session's task.
    """

    def on_create(self, session: SessionHandle) -> None:
        """A session was created (called once, synchronously, before it connects)."""

    def on_logon(self, session: SessionHandle) -> Awaitable[None] | None:
        """The Logon handshake completed."""
        return None

    def on_logout(self, session: SessionHandle, text: str | None) -> Awaitable[None] | None:
        """The session stopped being logged on (Logout, error or lost connection)."""
        return None

    def on_message(self, session: SessionHandle, message: Message) -> Awaitable[None] | None:
        """An application message, in MsgSeqNum order, once.

        Raise :class:`UnsupportedMessageType` or :class:`BusinessReject` to reject it.
        """
        return None

    def on_admin_message(self, session: SessionHandle, message: Message) -> Awaitable[None] | None:
        """A session-level message the session already handled (informational)."""
        return None

    def on_reject(self, session: SessionHandle, event: Event) -> Awaitable[None] | None:
        """A Reject was received (``RejectReceived``) or sent (``RejectSent``)."""
        return None

    def on_disconnect(self, session: SessionHandle, reason: str) -> Awaitable[None] | None:
        """The connection ended."""
        return None

    def on_event(self, session: SessionHandle, event: Event) -> Awaitable[None] | None:
        """Every event, after the specific callback above (if any)."""
        return None


# -- per-consumer queues --------------------------------------------------------------------------
class _Queue:
    """An unbounded FIFO with one waiter; its length drives read backpressure."""

    __slots__ = ("__weakref__", "_items", "_waiter", "closed", "types")

    def __init__(self, types: tuple[type, ...] = ()) -> None:
        self._items: collections.deque[Any] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.types = types

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event: Any) -> bool:
        if self.closed or (self.types and not isinstance(event, self.types)):
            return False
        self._items.append(event)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        return True

    def drop(self) -> list[Any]:
        """Remove and return every item still queued."""
        items = list(self._items)
        self._items.clear()
        return items

    def close(self) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        """The next item, or None once closed and empty."""
        while not self._items:
            if self.closed:
                return None
            if self._waiter is None:
                self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._items.popleft()


class EventStream:
    """``async for event in handle.events()``: every event from the moment it was made.

    Ends when the engine stops or :meth:`close` is called. Dropping the stream (or
    leaving the ``async for``) unsubscribes it.
    """

    def __init__(self, handle: SessionHandle, types: tuple[type, ...]) -> None:
        self._handle = handle
        self._queue = _Queue(types)
        handle._subscribe(self._queue)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        items = self._queue._items
        event: Event | None = items.popleft() if items else await self._queue.get()
        self._handle._consumed()
        if event is None:
            raise StopAsyncIteration
        return event

    async def get(self, timeout: float | None = None) -> Event:
        """The next event (``asyncio.TimeoutError`` after ``timeout`` seconds)."""
        return await asyncio.wait_for(self.__anext__(), timeout)

    def close(self) -> None:
        """Unsubscribe; pending events are still returned, then iteration ends."""
        self._queue.close()
        self._handle._unsubscribe(self._queue)

    def __len__(self) -> int:
        return len(self._queue)

    def __del__(self) -> None:
        try:
            self._handle._unsubscribe(self._queue)
        except Exception:  # interpreter shutdown
            pass

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the handle -----------------------------------------------------------------------------------
class SessionHandle(SessionListener):
    """What the service holds for one session: send, wait, log out, read events."""

    def __init__(
        self,
        engine: Engine,
        session: SessionLike,
        *,
        role: str,
        transport_options: TransportOptions,
    ) -> None:
        self.engine = engine
        self.session = session
        self.role = role
        self.session_id: SessionID = session.session_id
        self.metrics = engine.metrics.session(self.session_id)
        self.driver = SessionDriver(
            session, listener=self, metrics=self.metrics, options=transport_options
        )
        self.initiator: Initiator | None = None
        self.acceptor: Acceptor | None = None
        self._app_queue = _Queue()
        self._streams: weakref.WeakSet[_Queue] = weakref.WeakSet()
        self._stream_cache: tuple[_Queue, ...] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._busy = False  # the dispatcher task is handling an item
        self._inline = False  # a callback is running outside the dispatcher task
        self._handled: Callable[[int], None] | None = getattr(session, "message_handled", None)
        self._logged_on = asyncio.Event()
        self._logged_out = asyncio.Event()
        self._logged_out.set()
        self._paused = False
        self._backlog = engine.event_backlog
        self._owned: list[Any] = []  # stores and logs the engine opened: closed by stop()

    def __repr__(self) -> str:
        return f"<SessionHandle {self.session_id} {self.role} logged_on={self.is_logged_on}>"

    # -- state ------------------------------------------------------------------------------
    @property
    def config(self) -> SessionConfig:
        """The session's configuration."""
        cfg: SessionConfig = getattr(self.session, "config")  # noqa: B009
        return cfg

    @property
    def is_logged_on(self) -> bool:
        """True while the session is logged on."""
        return self.session.is_logged_on

    @property
    def is_connected(self) -> bool:
        """True while a connection is bound."""
        return self.driver.is_connected

    @property
    def state(self) -> Any:
        """The session's state (its enum)."""
        return getattr(self.session, "state", None)

    @property
    def next_sender_seq(self) -> int:
        """MsgSeqNum the next message sent gets."""
        return int(getattr(self.session, "next_sender_seq"))  # noqa: B009

    @property
    def next_target_seq(self) -> int:
        """MsgSeqNum expected on the next message received."""
        return int(getattr(self.session, "next_target_seq"))  # noqa: B009

    @property
    def connection(self) -> Connection | None:
        """The bound connection (peer address, TLS details), or None."""
        return self.driver.connection

    # -- sending ----------------------------------------------------------------------------
    async def send(self, message: Message) -> int:
        """Send an application message; returns its MsgSeqNum.

        Waits first while the peer is not keeping up (write buffer above its
        high-water mark). Not logged on: see the session's ``send`` rule.
        """
        driver = self.driver
        if driver.write_paused:
            await driver.drain()
        return driver.send(message)

    def send_nowait(self, message: Message) -> int:
        """Send without waiting for the write buffer (the transport still caps it)."""
        return self.driver.send(message)

    def send_threadsafe(self, message: Message) -> concurrent.futures.Future[int]:
        """Send from another thread; the future gives the MsgSeqNum (or the error)."""
        return asyncio.run_coroutine_threadsafe(self.send(message), self.engine.loop)

    def reject(
        self, message: Message, reason: int = 3, text: str = "Unsupported Message Type"
    ) -> None:
        """Reject a received application message (BusinessMessageReject, 35=j)."""
        self.driver.business_reject(message, reason, text)

    # -- life-cycle ---------------------------------------------------------------------------
    async def wait_logged_on(self, timeout: float | None = None) -> None:
        """Return once logged on (``asyncio.TimeoutError`` after ``timeout`` seconds)."""
        if self.is_logged_on:
            return
        await asyncio.wait_for(self._logged_on.wait(), timeout)

    async def wait_logged_out(self, timeout: float | None = None) -> None:
        """Return once not logged on (``asyncio.TimeoutError`` after ``timeout``)."""
        if not self.is_logged_on:
            return
        await asyncio.wait_for(self._logged_out.wait(), timeout)

    async def logout(self, text: str | None = None, timeout: float = 5.0) -> None:
        """Log out and disconnect; an initiator then stays down until :meth:`logon`.

        Waits up to ``timeout`` seconds for the counterparty's Logout, then closes
        the connection anyway.
        """
        if self.initiator is not None:
            await self.initiator.stop(logout=True, timeout=timeout, text=text)
            return
        conn = self.driver.connection
        if conn is None:
            return
        if self.is_logged_on:
            self.driver.logout(text)
            try:
                await asyncio.wait_for(conn.wait_closed(), timeout)
                return
            except asyncio.TimeoutError:
                pass
        conn.close("local")
        await conn.wait_closed()

    async def logon(self) -> None:
        """Initiator: (re)start connecting. Acceptor: nothing to do (the peer connects)."""
        if self.initiator is not None and self.engine.is_running:
            await self.initiator.start()

    def disconnect(self) -> None:
        """Drop the connection without a Logout (an initiator reconnects)."""
        self.driver.disconnect("local")

    # -- events -------------------------------------------------------------------------------
    def events(self, *types: type) -> EventStream:
        """An async iterator over this session's events from now on.

        ``types`` restricts it to those event classes, e.g.
        ``handle.events(MessageReceived)``.
        """
        return EventStream(self, tuple(types))

    def _subscribe(self, queue: _Queue) -> None:
        self._streams.add(queue)
        self._stream_cache = None

    def _unsubscribe(self, queue: _Queue) -> None:
        self._streams.discard(queue)
        self._stream_cache = None
        self._consumed()

    def _stream_queues(self) -> tuple[_Queue, ...]:
        """The subscribed queues; a tuple kept until (un)subscribing changes it, since
        iterating the WeakSet for every event costs more than handling the event.
        (An EventStream unsubscribes when closed or dropped, which clears the tuple.)"""
        queues = self._stream_cache
        if queues is None:
            queues = self._stream_cache = tuple(self._streams)
        return queues

    def _confirm(self, message: Message) -> None:
        """Tell the session the application is done with ``message`` (at-least-once)."""
        handled = self._handled
        if handled is not None:
            seq = message.get(34)
            if seq is not None and seq.isdigit():
                handled(int(seq))

    def _deliver(self, event: Event, kind: int, inline: bool = True) -> None:
        longest = 0
        queues = self._stream_cache
        if queues is None:
            queues = self._stream_queues()
        if queues:
            for q in queues:
                if q.put(event) and len(q._items) > longest:
                    longest = len(q._items)
        app = self.engine.application
        if app is not None:
            queue = self._app_queue
            items = queue._items
            if not inline or items or self._busy or self._inline or self._dispatcher is None:
                queue.put(event)  # behind what the dispatcher task still has to do
            else:
                # the callbacks run now, from the transport (the dispatcher task is idle
                # and has nothing queued); what an ``async`` callback awaits goes to the task
                self._inline = True
                try:
                    if kind == _MESSAGE:  # the common event: no dispatch by kind
                        rest = self._call_message(app, event)
                    else:
                        rest = self._call_now(app, event, kind)
                    if rest is not None and not queue.put(rest):
                        rest.close()  # the engine is stopping
                except (Exception, asyncio.CancelledError):
                    self._failed(event)  # a CancelledError leaves the message unconfirmed
                finally:
                    self._inline = False
            if len(items) > longest:
                longest = len(items)
        elif kind == _MESSAGE:
            message = getattr(event, "message", None)
            if isinstance(message, Message):
                # event streams: handed over once queued
                self._confirm(message)
        if longest > self._backlog and not self._paused:
            self._paused = True
            self.driver.pause_reading()

    def _consumed(self) -> None:
        if not self._paused:
            return
        low = self._backlog // 2
        if len(self._app_queue) > low:
            return
        if any(len(q) > low for q in self._stream_queues()):
            return
        self._paused = False
        self.driver.resume_reading()

    # -- SessionListener --------------------------------------------------------------------
    def on_session_event(self, driver: SessionDriver, event: Any) -> None:
        kind = _KINDS.get(type(event))
        if kind is None:
            kind = _kind(type(event))
        if kind == _LOGGED_ON:
            self._logged_out.clear()
            self._logged_on.set()
        elif kind == _LOGGED_OUT:
            self._logged_on.clear()
            self._logged_out.set()
        self._deliver(event, kind)

    def on_connected(self, driver: SessionDriver, connection: Connection) -> None:
        # through the dispatcher task: its callbacks see the session told connection_made
        self._deliver(Connected(connection.peer), _OTHER, inline=False)

    def on_disconnected(self, driver: SessionDriver, connection: Connection, reason: str) -> None:
        if not self.session.is_logged_on:
            self._logged_on.clear()
            self._logged_out.set()
        self._deliver(Disconnected(reason), _DISCONNECTED)

    # -- the application dispatcher -------------------------------------------------------------
    def _start_dispatcher(self) -> None:
        if self.engine.application is None or self._dispatcher is not None:
            return
        self._app_queue.closed = False
        self._dispatcher = asyncio.get_running_loop().create_task(
            self._dispatch(), name=f"fix-app {self.session_id}"
        )

    async def _stop_dispatcher(self) -> None:
        task = self._dispatcher
        self._dispatcher = None
        self._app_queue.close()
        if task is not None:
            try:
                await asyncio.wait_for(task, 2.0)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                task.cancel()
        for item in self._app_queue.drop():
            if type(item) is _Rest:
                item.close()  # never started: no "never awaited" warnings

    async def _dispatch(self) -> None:
        app = self.engine.application
        assert app is not None
        queue = self._app_queue
        while True:
            item = await queue.get()
            self._consumed()
            if item is None:
                return
            self._busy = True
            try:
                if type(item) is _Rest:
                    await item.rest
                else:
                    rest = self._call_now(app, item, _kind(type(item)))
                    if rest is not None:
                        await rest.rest
            except asyncio.CancelledError:
                raise
            except Exception:
                self._failed(item.event if type(item) is _Rest else item)
            finally:
                self._busy = False

    def _failed(self, event: Event) -> None:
        # not the event's repr: it shows the whole message, a Logon's Password too
        what = type(event).__name__
        msg = getattr(event, "message", None)
        if isinstance(msg, Message):
            what += f" (MsgType {msg.get_str(35)}, MsgSeqNum {msg.get_str(34)})"
        logger.exception("%s: application callback failed on %s", self.session_id, what)

    def _call_now(self, app: Application, event: Event, kind: int) -> _Rest | None:
        """Call ``event``'s callbacks up to the first that returns an awaitable; the rest
        (awaiting it, confirming a message, ``on_event``) is returned, not started."""
        result: Any = None
        if kind == _MESSAGE:
            return self._call_message(app, event)
        if kind == _LOGGED_ON:
            result = app.on_logon(self)
        elif kind == _LOGGED_OUT:
            result = app.on_logout(self, getattr(event, "text", None))
        elif kind == _ADMIN:
            result = app.on_admin_message(self, getattr(event, "message"))  # noqa: B009
        elif kind == _REJECT:
            result = app.on_reject(self, event)
        elif kind == _DISCONNECTED:
            result = app.on_disconnect(self, getattr(event, "reason"))  # noqa: B009
        if result is not None and _is_awaitable(result):
            return _Rest(self._finish(app, event, result), event, result)
        result = app.on_event(self, event)
        if result is not None and _is_awaitable(result):
            return _Rest(_await(result), event, result)
        return None

    def _call_message(self, app: Application, event: Any) -> _Rest | None:
        """:meth:`_call_now` of a MessageReceived."""
        message: Message = event.message
        try:
            result = app.on_message(self, message)
        except BusinessReject as exc:
            self.reject(message, exc.reason, exc.text)
        except Exception:
            self._confirm(message)  # the application failed on it: do not loop on it
            raise
        else:
            if result is not None and _is_awaitable(result):
                return _Rest(self._finish_message(app, event, message, result), event, result)
        self._confirm(message)
        result = app.on_event(self, event)
        if result is not None and _is_awaitable(result):
            return _Rest(_await(result), event, result)
        return None

    async def _finish_message(
        self, app: Application, event: Event, message: Message, pending: Awaitable[None]
    ) -> None:
        try:
            await pending
        except BusinessReject as exc:
            self.reject(message, exc.reason, exc.text)
        except asyncio.CancelledError:
            raise  # not handled: stays unconfirmed, asked for again after a restart
        except Exception:
            self._confirm(message)  # the application failed on it: do not loop on it
            raise
        self._confirm(message)
        result = app.on_event(self, event)
        if result is not None and _is_awaitable(result):
            await result

    async def _finish(self, app: Application, event: Event, pending: Awaitable[None]) -> None:
        await pending
        result = app.on_event(self, event)
        if result is not None and _is_awaitable(result):
            await result


class _Rest:
    """What is left of an event's callbacks after one returned an awaitable."""

    __slots__ = ("event", "pending", "rest")

    def __init__(
        self, rest: Coroutine[Any, Any, None], event: Event, pending: Awaitable[None]
    ) -> None:
        self.rest = rest  # awaits ``pending``, then the event's remaining callbacks
        self.event = event
        self.pending = pending  # what the callback returned

    def close(self) -> None:
        """Discard it unstarted (the engine stopped first), without warnings that a
        coroutine was never awaited."""
        self.rest.close()
        pending = self.pending
        if type(pending) is types.CoroutineType:
            pending.close()


async def _await(pending: Awaitable[None]) -> None:
    await pending


def _is_awaitable(result: object) -> bool:
    return type(result) is types.CoroutineType or inspect.isawaitable(result)


# Event class -> what the handle does with it. Session events are matched by class
# name (the handle depends on no concrete session event class), once per class.
_OTHER, _MESSAGE, _LOGGED_ON, _LOGGED_OUT, _ADMIN, _REJECT, _DISCONNECTED = range(7)
_KIND_BY_NAME = {
    "MessageReceived": _MESSAGE,
    "LoggedOn": _LOGGED_ON,
    "LoggedOut": _LOGGED_OUT,
    "AdminMessageReceived": _ADMIN,
    "RejectReceived": _REJECT,
    "RejectSent": _REJECT,
}
_KINDS: dict[type, int] = {}


def _kind(cls: type) -> int:
    kind = _KINDS.get(cls)
    if kind is None:
        kind = _KIND_BY_NAME.get(cls.__name__, _OTHER)
        if kind == _OTHER and issubclass(cls, Disconnected):
            kind = _DISCONNECTED
        _KINDS[cls] = kind
    return kind


# -- the engine -----------------------------------------------------------------------------------
def _default_session_factory() -> SessionFactory:
    from .session.session import Session

    factory: SessionFactory = Session
    return factory


class Engine:
    """Runs sessions: initiators connect out, acceptor sessions share listening ports.

    Add sessions (before or after :meth:`start`), then ``async with engine:`` or
    :meth:`start` / :meth:`stop`. ``session_factory`` replaces the session class
    (tests, custom session subclasses); ``metrics`` defaults to a fresh
    :class:`~fixengine.metrics.FixMetrics` with its own registry. ``idle_strategy``
    says what the event loop does while idle (:class:`IdleStrategy`: block, the
    default; spin; or spin a while after each I/O), applied from :meth:`start` to
    :meth:`stop` (settings keys ``IdleStrategy`` and ``IdleSpinMicros``).
    ``gc_freeze`` (settings key ``GcFreeze``) collects once at :meth:`start`, then
    freezes what exists (``gc.freeze()``) so the collector's full passes skip it.
    """

    def __init__(
        self,
        application: Application | None = None,
        *,
        metrics: FixMetrics | None = None,
        session_factory: SessionFactory | None = None,
        event_backlog: int = 10_000,
        transport_options: TransportOptions | None = None,
        idle_strategy: IdleStrategy | None = None,
        gc_freeze: bool = False,
    ) -> None:
        if event_backlog < 2:
            raise ValueError("event_backlog must be at least 2")
        self.idle_strategy = idle_strategy or IdleStrategy()
        self._idle: IdlePoller | None = None
        self.gc_freeze = gc_freeze
        self.application = application
        self.metrics = metrics if metrics is not None else FixMetrics()
        self.event_backlog = event_backlog
        self.transport_options = transport_options or TransportOptions()
        self._factory = session_factory
        self._handles: dict[SessionID, SessionHandle] = {}
        self._acceptors: dict[tuple[str | None, int], Acceptor] = {}
        self._running = False
        self._metrics_server: MetricsServer | None = None
        self._stopped: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"<Engine sessions={len(self._handles)} running={self._running}>"

    # -- sessions ------------------------------------------------------------------------------
    @property
    def is_running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._running

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the engine runs on (set by :meth:`start`)."""
        if self._loop is None:
            raise RuntimeError("the engine has not been started")
        return self._loop

    @property
    def sessions(self) -> list[SessionHandle]:
        """Every session's handle."""
        return list(self._handles.values())

    def session(self, session_id: SessionID | str) -> SessionHandle:
        """The handle of a session, by SessionID or its ``str()``."""
        if isinstance(session_id, SessionID):
            return self._handles[session_id]
        for sid, handle in self._handles.items():
            if str(sid) == session_id:
                return handle
        raise KeyError(session_id)

    def __iter__(self) -> Iterator[SessionHandle]:
        return iter(list(self._handles.values()))

    @property
    def acceptors(self) -> list[Acceptor]:
        """The listening acceptors."""
        return list(self._acceptors.values())

    def _make_session(
        self,
        config: SessionConfig,
        store: MessageStore | None,
        dictionary: Any,
        app_dictionary: Any,
        authenticator: Authenticator | None,
        log: Any,
    ) -> SessionLike:
        factory = self._factory or _default_session_factory()
        metrics_log = MetricsLog(self.metrics.session(config.session_id), log)
        kwargs: dict[str, Any] = {"log": metrics_log}
        if self._factory is None:
            # at-least-once: the store's NextTargetSeq waits for the application (see
            # SessionHandle._confirm), so a crash mid-callback gets the message resent
            kwargs["confirm_delivery"] = True
        if dictionary is not None:
            kwargs["dictionary"] = dictionary
        if app_dictionary is not None:
            kwargs["app_dictionary"] = app_dictionary
        if authenticator is not None:
            kwargs["authenticator"] = authenticator
        return factory(config, store if store is not None else MemoryStore(), **kwargs)

    def _register(self, handle: SessionHandle) -> SessionHandle:
        if handle.session_id in self._handles:
            raise ConfigError(f"session {handle.session_id} already exists")
        self._handles[handle.session_id] = handle
        if self.application is not None:
            self.application.on_create(handle)
        if self._running:
            handle.driver.idle = self._idle
            handle._start_dispatcher()
        return handle

    def add_initiator(
        self,
        config: SessionConfig,
        hosts: Sequence[tuple[str, int]],
        *,
        store: MessageStore | None = None,
        dictionary: Any = None,
        app_dictionary: Any = None,
        log: Any = None,
        tls: _ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        options: InitiatorOptions | None = None,
    ) -> SessionHandle:
        """Add a session that connects to ``hosts`` (tried in turn) and stays connected.

        ``store`` defaults to a :class:`~fixengine.session.store.MemoryStore`;
        ``options`` carries connect timeout, ReconnectInterval and backoff cap.
        """
        options = options or InitiatorOptions(transport=self.transport_options)
        session = self._make_session(config, store, dictionary, app_dictionary, None, log)
        handle = SessionHandle(self, session, role="initiator", transport_options=options.transport)
        handle.initiator = Initiator(
            handle.driver, hosts, ssl=tls, server_hostname=server_hostname, options=options
        )
        self._register(handle)
        if self._running:
            asyncio.get_running_loop().create_task(handle.initiator.start())
        return handle

    def listen(
        self,
        port: int,
        host: str | None = "0.0.0.0",
        *,
        tls: _ssl.SSLContext | None = None,
        options: AcceptorOptions | None = None,
        dynamic_sessions: DynamicSessions | None = None,
        dynamic_store: Callable[[SessionID], MessageStore] | None = None,
        dynamic_dictionary: Callable[[SessionConfig], tuple[Any, Any]] | None = None,
    ) -> Acceptor:
        """Open (or return) the acceptor listening on ``host:port``.

        ``dynamic_sessions(session_id, logon)`` may return a :class:`SessionConfig`
        to accept a Logon from a CompID pair that has no session yet (a simulator
        accepting any CompID it is told about); the new session gets a handle,
        ``on_create`` is called, and ``dynamic_store`` (memory by default) supplies
        its store.
        """
        key = (host, port)
        acceptor = self._acceptors.get(key)
        if acceptor is not None:
            if tls is not None and acceptor.ssl is not tls:
                raise ConfigError(f"port {port} is already open with other TLS settings")
            if dynamic_sessions is not None:
                acceptor.session_provider = self._provider(
                    dynamic_sessions, dynamic_store, dynamic_dictionary
                )
            return acceptor
        opts = options or AcceptorOptions(transport=self.transport_options)
        acceptor = Acceptor(
            host,
            port,
            ssl=tls,
            options=opts,
            metrics=self.metrics,
            session_provider=(
                self._provider(dynamic_sessions, dynamic_store, dynamic_dictionary)
                if dynamic_sessions is not None
                else None
            ),
        )
        self._acceptors[key] = acceptor
        if self._running:
            asyncio.get_running_loop().create_task(acceptor.start())
        return acceptor

    def _provider(
        self,
        dynamic: DynamicSessions,
        make_store: Callable[[SessionID], MessageStore] | None,
        make_dictionaries: Callable[[SessionConfig], tuple[Any, Any]] | None,
    ) -> Callable[[SessionID, Message], SessionDriver | None]:
        def provide(session_id: SessionID, logon: Message) -> SessionDriver | None:
            config = dynamic(session_id, logon)
            if config is None:
                return None
            if config.role != "acceptor":
                config = dataclasses.replace(config, role="acceptor")
            store = make_store(config.session_id) if make_store is not None else None
            dd, app_dd = (
                make_dictionaries(config) if make_dictionaries is not None else (None, None)
            )
            session = self._make_session(config, store, dd, app_dd, None, None)
            handle = SessionHandle(
                self, session, role="acceptor", transport_options=self.transport_options
            )
            self._register(handle)
            return handle.driver

        return provide

    def add_acceptor_session(
        self,
        config: SessionConfig,
        *,
        port: int,
        host: str | None = "0.0.0.0",
        store: MessageStore | None = None,
        dictionary: Any = None,
        app_dictionary: Any = None,
        authenticator: Authenticator | None = None,
        log: Any = None,
        tls: _ssl.SSLContext | None = None,
        options: AcceptorOptions | None = None,
    ) -> SessionHandle:
        """Add a session served on ``host:port`` (one listening socket per address).

        ``authenticator(logon)`` returns None to accept a Logon or the refusal text.
        """
        if config.role != "acceptor":
            config = dataclasses.replace(config, role="acceptor")
        acceptor = self.listen(port, host, tls=tls, options=options)
        session = self._make_session(config, store, dictionary, app_dictionary, authenticator, log)
        handle = SessionHandle(
            self, session, role="acceptor", transport_options=acceptor.options.transport
        )
        key = acceptor_key(handle.session_id)
        if acceptor.driver(handle.session_id) is not None:
            raise ConfigError(f"port {port} already serves a session {key}")
        self._register(handle)
        handle.acceptor = acceptor
        acceptor.add_session(handle.driver)
        return handle

    # -- running ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the listening ports and start the initiators."""
        if self._running:
            return
        self._running = True
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        if self.idle_strategy.mode != "sleep":
            self._idle = IdlePoller(self._loop, self.idle_strategy)
            self._idle.start()
        if self.gc_freeze:
            # the start-up heap (dictionaries, tables) is long-lived: keep the
            # collector's full passes from walking it again and again
            gc.collect()
            gc.freeze()
        for handle in self._handles.values():
            handle.driver.idle = self._idle
            handle._start_dispatcher()
            handle.driver.reopen()
            handle.driver.pump()  # arm the session's timer (schedules run while disconnected)
        try:
            for acceptor in self._acceptors.values():
                await acceptor.start()
        except Exception:
            await self.stop(logout=False)
            raise
        for handle in self._handles.values():
            if handle.initiator is not None:
                await handle.initiator.start()

    async def stop(self, *, logout: bool = True, timeout: float = 2.0) -> None:
        """Log out every logged-on session (waiting up to ``timeout``), close everything."""
        if not self._running:
            return
        self._running = False
        initiators = [h.initiator for h in self._handles.values() if h.initiator is not None]
        await asyncio.gather(
            *(i.stop(logout=logout, timeout=timeout) for i in initiators),
            *(a.stop(logout=logout, timeout=timeout) for a in self._acceptors.values()),
            return_exceptions=True,
        )
        for handle in self._handles.values():
            await handle._stop_dispatcher()
            for q in list(handle._streams):
                q.close()
            handle.driver.close()
            for resource in handle._owned:
                close = getattr(resource, "close", None)
                if callable(close):
                    try:
                        close()
                    except Exception:
                        logger.exception("%s: closing %r failed", handle.session_id, resource)
        if self._metrics_server is not None:
            self._metrics_server.close()
            self._metrics_server = None
        if self._idle is not None:
            self._idle.stop()
            self._idle = None
            for handle in self._handles.values():
                handle.driver.idle = None
        if self._stopped is not None:
            self._stopped.set()

    async def serve_forever(self) -> None:
        """Start (if needed) and run until :meth:`stop` is called."""
        await self.start()
        assert self._stopped is not None
        await self._stopped.wait()

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_metrics_server(self, port: int, addr: str = "127.0.0.1") -> MetricsServer:
        """Serve this engine's metrics on ``http://addr:port/metrics`` (closed by :meth:`stop`)."""
        if self._metrics_server is None:
            self._metrics_server = start_metrics_server(port, addr, self.metrics)
        return self._metrics_server

    # -- from a settings file ---------------------------------------------------------------------
    @classmethod
    def from_settings(
        cls,
        settings: str | os.PathLike[str] | Sequence[SessionSettings],
        application: Application | None = None,
        *,
        metrics: FixMetrics | None = None,
        session_factory: SessionFactory | None = None,
        authenticator: Authenticator | None = None,
        acceptor_options: AcceptorOptions | None = None,
        initiator_options: InitiatorOptions | None = None,
        load_dictionaries: bool = True,
    ) -> Engine:
        """An engine with every session of a QuickFIX-style settings file.

        Stores and logs are opened as the file says (FileStorePath, FileLogPath,
        ...); TLS contexts are built from its Socket* keys; data dictionaries are
        loaded when UseDataDictionary=Y. ``acceptor_options`` / ``initiator_options``
        override the transport defaults (ReconnectInterval still comes from the file).
        """
        from .settings import load_settings

        items = (
            load_settings(settings) if isinstance(settings, (str, os.PathLike)) else list(settings)
        )
        idle = IdleStrategy.busiest(
            [IdleStrategy(s.idle_strategy, s.idle_spin_micros / 1e6) for s in items]
        )
        engine = cls(
            application,
            metrics=metrics,
            session_factory=session_factory,
            idle_strategy=idle,
            gc_freeze=any(s.gc_freeze for s in items),
        )
        tls_cache: dict[tuple[Any, str], _ssl.SSLContext] = {}
        for s in items:
            tls = None
            if s.tls is not None:
                key = (s.tls, s.connection_type)
                tls = tls_cache.get(key)
                if tls is None:
                    tls = tls_cache[key] = s.tls.context(s.connection_type)
            transport = dataclasses.replace(
                (acceptor_options or initiator_options or AcceptorOptions()).transport,
                nodelay=s.socket_nodelay,
            )
            if s.first_message_alone is not None:  # FirstMessageAlone
                transport = dataclasses.replace(
                    transport, first_message_alone=s.first_message_alone
                )
            if s.max_messages_per_second is not None:  # MaxMessagesPerSecond: inbound throttle
                transport = dataclasses.replace(
                    transport, max_inbound_messages=s.max_messages_per_second, inbound_interval=1.0
                )
            dd, app_dd = _dictionaries(s.config) if load_dictionaries else (None, None)
            if s.connection_type == "initiator":
                base = initiator_options or InitiatorOptions()
                cap = max(base.max_reconnect_interval, s.reconnect_interval)
                opts = dataclasses.replace(
                    base,
                    reconnect_interval=s.reconnect_interval,
                    max_reconnect_interval=cap,
                    transport=transport,
                )
                store, log = s.open_store(), s.open_log()
                handle = engine.add_initiator(
                    s.config,
                    s.connect_hosts,
                    store=store,
                    dictionary=dd,
                    app_dictionary=app_dd,
                    log=log,
                    tls=tls,
                    options=opts,
                )
            else:
                if s.accept_port is None:
                    raise ConfigError(f"{s.source}: acceptor without SocketAcceptPort")
                aopts = dataclasses.replace(
                    acceptor_options or AcceptorOptions(), transport=transport
                )
                store, log = s.open_store(), s.open_log()
                handle = engine.add_acceptor_session(
                    s.config,
                    port=s.accept_port,
                    host=s.accept_host or "0.0.0.0",
                    store=store,
                    dictionary=dd,
                    app_dictionary=app_dd,
                    authenticator=authenticator,
                    log=log,
                    tls=tls,
                    options=aopts,
                )
            handle._owned += [store, log]
        return engine


def _dictionaries(config: SessionConfig) -> tuple[Any, Any]:
    """(dictionary, app_dictionary) for a session whose settings ask for validation."""
    if not config.use_data_dictionary:
        return None, None
    from . import dictionary as _dd

    load: Callable[[str], Any] = getattr(_dd, "load")  # noqa: B009
    if config.begin_string == "FIXT.1.1":
        transport = load(config.transport_data_dictionary or "FIXT11")
        app_name = config.app_data_dictionary or config.data_dictionary
        if app_name is None and config.default_appl_ver_id is not None:
            app_name = _APP_DICTIONARIES.get(config.default_appl_ver_id)
        return transport, load(app_name) if app_name else None
    return load(config.data_dictionary or config.begin_string), None


_APP_DICTIONARIES = {
    "7": "FIX50",
    "8": "FIX50SP1",
    "9": "FIX50SP2",
    "FIX.5.0": "FIX50",
    "FIX.5.0SP1": "FIX50SP1",
    "FIX.5.0SP2": "FIX50SP2",
    "6": "FIX44",
    "FIX.4.4": "FIX44",
}
