"""Fault injection for the simulator: a counterparty that misbehaves on purpose.

Theory of operation
-------------------
Faults are configuration of the engine's public pieces, not code paths inside the
session. The engine builds every session through a *session factory*; the simulator's
factory (:func:`faulty_session_factory`) builds the ordinary
:class:`~fixengine.session.session.Session` and wraps it, and its message store,
in two thin layers:

* :class:`FaultySession` sits between the transport and the sans-IO session. After
  every input (``receive_data``, ``send``, ``handle_timer``...) it drains the
  session's events and outbox into its own queues and applies the faults to them;
  the transport then drains the wrapper exactly as it would drain a session.
* :class:`FaultyStore` sits between the session and its store and decides which
  outgoing application messages are skipped.

The faults, all live-editable through a :class:`Faults` object per session:

``drop_after``
    Close the connection, without a Logout, once this many messages have been
    received on it (the Logon counts). Fires once; set it again to re-arm.
``skip_seq``
    Withhold the next N outgoing application messages from the wire. The client
    sees a sequence gap (test case 2b) and sends a ResendRequest. With
    ``skip_mode="resend"`` the message is in the store and is resent with
    PossDupFlag=Y; with ``"gap-fill"`` the number was never stored (as if the
    simulator had jumped it) and is answered with SequenceReset-GapFill (test case 8).
``garble_every``
    After every N-th outgoing application message, send a garbled copy of it (wrong
    CheckSum): the client must ignore it (test cases 2d/3c) without consuming a
    sequence number.
``delay_ms``
    Hold every outgoing message this long before it reaches the wire (in order).
    The session keeps running on time; the delay is served by the session timer.
``refuse_logons``
    Refuse the next N Logons (-1: all) with a Logout carrying ``refuse_text``.
``heartbeats``
    When False, no Heartbeat leaves the simulator (nor the answer to a TestRequest):
    the client sends a TestRequest and then disconnects (test cases 4b, 6). The
    numbers they used come back as a gap the client asks for and gets gap-filled.

Each fault that fires is reported as a :class:`FaultInjected` event through the
session's ordinary event stream (``handle.events()`` and ``Application.on_event``)
and written to the session's event log.

Faults that can only be set before a session exists (the command line, a settings
file) are known when the factory builds it: with ``controls=False`` a session whose
faults are all off is built plain - the ordinary session on the ordinary store, no
wrapper on its path - and only a session with a fault set is wrapped.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from ..codec import Message, checksum
from ..fields import format_utc_timestamp
from ..session.events import DisconnectRequested, Event, MessageLog
from ..session.store import MessageStore

__all__ = [
    "FaultInjected",
    "FaultStats",
    "Faults",
    "FaultySession",
    "FaultyStore",
    "SkipMode",
    "faulty_session_factory",
    "garble",
]

SkipMode = Literal["resend", "gap-fill"]
SKIP_MODES: tuple[SkipMode, ...] = ("resend", "gap-fill")

_ADMIN = frozenset({b"0", b"1", b"2", b"3", b"4", b"5", b"A"})


@dataclasses.dataclass
class Faults:
    """What one session does wrong; change the attributes at any time."""

    drop_after: int | None = None
    """Close the connection after this many messages received on it (fires once)."""
    skip_seq: int = 0
    """Withhold the next N outgoing application messages (a sequence gap at the client)."""
    skip_mode: SkipMode = "resend"
    """``"resend"``: withheld messages are resent on request; ``"gap-fill"``: gap-filled."""
    garble_every: int | None = None
    """Send a garbled copy after every N-th outgoing application message."""
    delay_ms: float = 0.0
    """Hold every outgoing message this many milliseconds."""
    refuse_logons: int = 0
    """Refuse the next N Logons; -1 refuses every Logon."""
    refuse_text: str = "Logon refused by the simulator"
    """Text(58) of the Logout that refuses a Logon."""
    heartbeats: bool = True
    """False: send no Heartbeats (and answer no TestRequest)."""

    def __post_init__(self) -> None:
        self.validate()

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        object.__setattr__(self, "_active", None)  # worked out again when next asked

    def validate(self) -> None:
        """Raise ValueError naming the first setting out of range."""
        if self.drop_after is not None and self.drop_after < 1:
            raise ValueError("drop_after must be at least 1")
        if self.skip_seq < 0:
            raise ValueError("skip_seq must not be negative")
        if self.skip_mode not in SKIP_MODES:
            raise ValueError(f"skip_mode must be one of {', '.join(SKIP_MODES)}")
        if self.garble_every is not None and self.garble_every < 1:
            raise ValueError("garble_every must be at least 1")
        if not 0 <= self.delay_ms <= 3_600_000:
            raise ValueError("delay_ms must be between 0 and 3600000")
        if self.refuse_logons < -1:
            raise ValueError("refuse_logons must be -1 (all), 0 or a positive count")

    def copy(self) -> Faults:
        """An independent copy (each session gets its own from a template)."""
        return dataclasses.replace(self)

    @property
    def active(self) -> bool:
        """True when any fault is configured."""
        active: bool | None = self.__dict__.get("_active")
        if active is None:
            active = (
                self.drop_after is not None
                or self.skip_seq > 0
                or self.garble_every is not None
                or self.delay_ms > 0
                or self.refuse_logons != 0
                or not self.heartbeats
            )
            object.__setattr__(self, "_active", active)
        return active


@dataclasses.dataclass
class FaultStats:
    """How often each fault fired on one session."""

    dropped: int = 0
    withheld: int = 0
    garbled: int = 0
    delayed: int = 0
    refused: int = 0
    heartbeats_suppressed: int = 0

    def total(self) -> int:
        """Every fault that fired."""
        return (
            self.dropped
            + self.withheld
            + self.garbled
            + self.delayed
            + self.refused
            + self.heartbeats_suppressed
        )


@dataclasses.dataclass(frozen=True, slots=True)
class FaultInjected(Event):
    """The simulator misbehaved on purpose: ``kind`` names the fault, ``detail`` what it did."""

    kind: str
    detail: str


def garble(frame: bytes) -> bytes:
    """``frame`` with a wrong CheckSum(10): a message every FIX engine must drop unread."""
    cut = frame.rfind(b"\x0110=")
    if cut < 0:
        return frame + b"\x0110=000\x01"
    body = frame[: cut + 1]
    return body + b"10=%03d\x01" % ((checksum(body) + 1) % 256)


def _frames(data: bytes) -> list[bytes]:
    """Split what a session queued (whole frames, back to back) by BodyLength."""
    frames: list[bytes] = []
    pos = 0
    n = len(data)
    while pos < n:
        first = data.find(b"\x01", pos)
        second = data.find(b"\x01", first + 1) if first >= 0 else -1
        length_text = data[first + 3 : second] if second > 0 else b""
        if not length_text.isdigit():
            frames.append(data[pos:])  # not ours to judge: pass it on whole
            break
        trailer = second + 1 + int(length_text)
        end = data.find(b"\x01", trailer)
        end = n if end < 0 else end + 1
        frames.append(data[pos:end])
        pos = end
    return frames


def _field(frame: bytes, tag: bytes) -> bytes | None:
    needle = b"\x01" + tag + b"="
    i = frame.find(needle)
    if i < 0:
        return None
    start = i + len(needle)
    end = frame.find(b"\x01", start)
    return frame[start:end] if end >= 0 else None


class FaultyStore:
    """A :class:`~fixengine.session.store.MessageStore` that marks messages to skip.

    While ``faults.skip_seq`` is positive and the session is logged on, each
    application message saved is marked for the :class:`FaultySession` to withhold;
    in ``"gap-fill"`` mode its number is consumed without storing it.
    """

    def __init__(self, inner: MessageStore, faults: Faults) -> None:
        self.inner = inner
        self.faults = faults
        self.marked: set[int] = set()
        self.logged_on: Callable[[], bool] = lambda: False

    @property
    def creation_time(self) -> float:
        return self.inner.creation_time

    def next_sender_seq(self) -> int:
        return self.inner.next_sender_seq()

    def next_target_seq(self) -> int:
        return self.inner.next_target_seq()

    def set_next_sender_seq(self, seq: int) -> None:
        self.inner.set_next_sender_seq(seq)

    def set_next_target_seq(self, seq: int) -> None:
        self.inner.set_next_target_seq(seq)

    def save_sent(self, seq: int, data: bytes) -> None:
        faults = self.faults
        if faults.skip_seq > 0 and self.logged_on():
            msg_type = _field(data, b"35")
            if msg_type is not None and msg_type not in _ADMIN and _field(data, b"43") != b"Y":
                faults.skip_seq -= 1
                self.marked.add(seq)
                if faults.skip_mode == "gap-fill":
                    self.inner.set_next_sender_seq(seq + 1)
                    return
        self.inner.save_sent(seq, data)

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        return self.inner.get_sent(begin, end)

    def reset(self, now: float) -> None:
        self.marked.clear()
        self.inner.reset(now)

    def refresh(self) -> None:
        self.inner.refresh()

    def flush(self) -> None:
        flush = getattr(self.inner, "flush", None)
        if flush is not None:  # stores without flush() write on every call
            flush()

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class FaultySession:
    """Wraps a session (anything with the sans-IO session API) and applies :class:`Faults`.

    Every attribute it does not define is the wrapped session's, so the transport,
    the application handle and the metrics see an ordinary session.
    """

    def __init__(
        self,
        inner: Any,
        faults: Faults,
        store: FaultyStore | None = None,
        log: MessageLog | None = None,
    ) -> None:
        self.inner = inner
        self.faults = faults
        self.stats = FaultStats()
        self._store = store
        self._log = log
        if store is not None:
            store.logged_on = lambda: bool(inner.is_logged_on)
        self._events: deque[Event] = deque()
        self._out: deque[tuple[float, bytes]] = deque()  # (release time, bytes)
        self._now = 0.0
        self._received = 0  # messages received on the current connection
        self._app_sent = 0  # application messages sent (for garble_every)
        self._garble_now: list[bytes] = []

    # -- what the transport sees ----------------------------------------------------------
    @property
    def session_id(self) -> Any:
        return self.inner.session_id

    @property
    def is_logged_on(self) -> bool:
        return bool(self.inner.is_logged_on)

    def connection_made(self, now: float) -> None:
        self._received = 0
        self._out.clear()
        self.inner.connection_made(now)
        self._collect(now)

    def receive_data(self, data: bytes, now: float) -> None:
        self.inner.receive_data(data, now)
        if self._passive():
            self._now = now
        else:
            self._collect(now)

    def send(self, msg: Message, now: float) -> int:
        seq: int = self.inner.send(msg, now)
        if self._passive():
            self._now = now
        else:
            self._collect(now)
        return seq

    def logout(self, now: float, text: str | None = None) -> None:
        self.inner.logout(now, text)
        self._collect(now)

    def send_business_reject(self, ref: Message, reason: int, text: str, now: float) -> None:
        self.inner.send_business_reject(ref, reason, text, now)
        self._collect(now)

    def handle_timer(self, now: float) -> None:
        self.inner.handle_timer(now)
        self._collect(now)

    def get_timer(self) -> float | None:
        when: float | None = self.inner.get_timer()
        if self._out:
            release = self._out[0][0]
            if when is None or release < when:
                when = release
        return when

    def connection_lost(self, now: float) -> None:
        self._out.clear()
        self.inner.connection_lost(now)
        self._collect(now)

    def next_event(self) -> Event | None:
        if self._events:
            return self._events.popleft()
        if self._passive():
            event: Event | None = self.inner.next_event()
            return event
        self._collect(self._now)  # a fault was set since the last input
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> bytes:
        if self._passive():
            data: bytes = self.inner.data_to_send()
            return data
        self._collect(self._now)  # anything the session queued while nothing was set
        out = self._out
        if not out:
            return b""
        now = self._now
        parts: list[bytes] = []
        while out and out[0][0] <= now:
            parts.append(out.popleft()[1])
        return b"".join(parts)

    # the attributes the transport and its metrics read on every pump
    @property
    def state(self) -> Any:
        return self.inner.state

    @property
    def next_sender_seq(self) -> Any:
        return self.inner.next_sender_seq

    @property
    def next_target_seq(self) -> Any:
        return self.inner.next_target_seq

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"<FaultySession {self.inner!r} {self.faults}>"

    def _passive(self) -> bool:
        """True while there is nothing to apply: no fault set, nothing held or marked.
        The session's events and output are then handed on as they are, unqueued."""
        store = self._store
        return (
            not self._events
            and not self._out
            and not self.faults.active
            and (store is None or not store.marked)
        )

    # -- run-time controls ------------------------------------------------------------------
    def inject_garbled(self) -> None:
        """Queue a garbled frame now (a Heartbeat with a wrong CheckSum); pump the driver."""
        inner = self.inner
        cfg = inner.config
        hb = Message(b"0")
        hb.append(49, cfg.sender_comp_id)
        hb.append(56, cfg.target_comp_id)
        hb.append(34, inner.next_sender_seq)
        hb.append(52, format_utc_timestamp(time.time_ns(), 3))
        frame = garble(hb.encode(cfg.begin_string))
        self._collect(self._now)  # what the session queued before goes out first
        self._report("garble", "sent a garbled Heartbeat (wrong CheckSum)")
        self.stats.garbled += 1
        self._queue(frame)

    def refuse(self, logon: Message) -> str | None:
        """Authenticator step: the refusal text while ``refuse_logons`` says so, else None."""
        faults = self.faults
        if faults.refuse_logons == 0:
            return None
        if faults.refuse_logons > 0:
            faults.refuse_logons -= 1
        self.stats.refused += 1
        self._report("refuse_logon", f"refused a Logon: {faults.refuse_text}")
        return faults.refuse_text

    # -- applying the faults ------------------------------------------------------------------
    def _collect(self, now: float) -> None:
        """Move the session's events and output into our queues, applying the faults."""
        self._now = now
        inner = self.inner
        faults = self.faults
        disconnect = False
        event = inner.next_event()
        while event is not None:
            self._events.append(event)
            name = type(event).__name__
            if name == "DisconnectRequested":
                disconnect = True
            elif (
                faults.drop_after is not None
                and name in ("AdminMessageReceived", "MessageReceived")
                and not disconnect
            ):
                self._received += 1
                if self._received >= faults.drop_after:
                    n = faults.drop_after
                    faults.drop_after = None
                    self.stats.dropped += 1
                    self._report("drop", f"dropping the connection after {n} message(s)")
                    self._events.append(DisconnectRequested(f"fault: dropped after {n} messages"))
                    disconnect = True
            event = inner.next_event()
        data = inner.data_to_send()
        if data:
            marked = self._store.marked if self._store is not None else ()
            if marked or faults.garble_every is not None or not faults.heartbeats:
                for frame in _frames(data):
                    self._outgoing(frame)
            else:
                self._queue(data)
        if disconnect and self._out:
            # the session closes after this pump: whatever is held goes out first
            self._out = deque((now, b) for _, b in self._out)

    def _outgoing(self, frame: bytes) -> None:
        faults = self.faults
        msg_type = _field(frame, b"35")
        if msg_type == b"0" and not faults.heartbeats:
            self.stats.heartbeats_suppressed += 1
            self._report("no_heartbeat", f"withheld Heartbeat {_seq(frame)}")
            return
        if msg_type is None or msg_type in _ADMIN or _field(frame, b"43") == b"Y":
            self._queue(frame)
            return
        store = self._store
        seq = _seq(frame)
        if store is not None and seq in store.marked:
            store.marked.discard(seq)
            self.stats.withheld += 1
            how = "resent on request" if faults.skip_mode == "resend" else "to be gap-filled"
            self._report("skip_seq", f"withheld MsgSeqNum {seq} ({how})")
            return
        self._queue(frame)
        self._app_sent += 1
        every = faults.garble_every
        if every is not None and self._app_sent % every == 0:
            self.stats.garbled += 1
            self._report("garble", f"sent a garbled copy of MsgSeqNum {seq}")
            self._queue(garble(frame))

    def _queue(self, data: bytes) -> None:
        delay = self.faults.delay_ms
        if delay > 0:
            self.stats.delayed += 1
        self._out.append((self._now + delay / 1000.0, data))

    def _report(self, kind: str, detail: str) -> None:
        self._events.append(FaultInjected(kind, detail))
        if self._log is not None:
            self._log.on_event(f"Fault injected ({kind}): {detail}")


def _seq(frame: bytes) -> int:
    raw = _field(frame, b"34")
    return int(raw) if raw is not None and raw.isdigit() else 0


SessionFactory = Callable[..., Any]


def faulty_session_factory(
    faults_for: Callable[[Any], Faults],
    *,
    base: SessionFactory | None = None,
    authenticator: Callable[[Any, Message], str | None] | None = None,
    on_created: Callable[[Any], None] | None = None,
    log_for: Callable[[Any, Any], Any] | None = None,
    controls: bool = True,
) -> SessionFactory:
    """A session factory for :class:`~fixengine.application.Engine` that wraps each session.

    ``faults_for(session_id)`` gives the live :class:`Faults` of a session;
    ``base`` builds the real session (default :class:`~fixengine.session.session.Session`);
    ``authenticator(session_id, logon)`` may refuse a Logon with a text, after the
    ``refuse_logons`` fault and before any authenticator the engine passes in;
    ``log_for(session_id, log)`` may replace the message log the engine made;
    ``on_created`` sees each session built (a :class:`FaultySession` when wrapped).
    ``controls=False`` says faults are not changed once a session exists: a session
    whose :class:`Faults` are all off when it is built is then the plain session, on
    the engine's store (faults set on it later have no effect).
    """

    def factory(config: Any, store: MessageStore, **kwargs: Any) -> Any:
        if base is None:
            from ..session.session import Session

            make: SessionFactory = Session
        else:
            make = base
        faults = faults_for(config.session_id)
        engine_auth = kwargs.pop("authenticator", None)
        if log_for is not None:
            kwargs["log"] = log_for(config.session_id, kwargs.get("log"))
        if not controls and not faults.active:
            plain = make(config, store, authenticator=_chain(config, engine_auth), **kwargs)
            if on_created is not None:
                on_created(plain)
            return plain
        wrapped_store = FaultyStore(store, faults)
        holder: list[FaultySession] = []

        def authenticate(logon: Message) -> str | None:
            refusal = holder[0].refuse(logon) if holder else None
            if refusal is None and authenticator is not None:
                refusal = authenticator(config.session_id, logon)
            if refusal is None and engine_auth is not None:
                refusal = engine_auth(logon)
            return refusal

        inner = make(config, wrapped_store, authenticator=authenticate, **kwargs)
        session = FaultySession(inner, faults, wrapped_store, kwargs.get("log"))
        holder.append(session)
        if on_created is not None:
            on_created(session)
        return session

    def _chain(
        config: Any, engine_auth: Callable[[Message], str | None] | None
    ) -> Callable[[Message], str | None] | None:
        """The Logon check of a plain session: ours, then the engine's."""
        if authenticator is None:
            return engine_auth

        def authenticate(logon: Message) -> str | None:
            assert authenticator is not None
            refusal = authenticator(config.session_id, logon)
            if refusal is None and engine_auth is not None:
                refusal = engine_auth(logon)
            return refusal

        return authenticate

    return factory
