"""The FIX session layer as a sans-IO state machine.

Theory of operation
-------------------
:class:`Session` implements the FIX Session Protocol (FIX.4.0-4.4, FIXT.1.1) without
touching sockets or clocks (h11, aioquic). The transport feeds it
``connection_made(now)``, ``receive_data(data, now)``, ``handle_timer(now)`` and
``connection_lost(now)``; the application calls ``send``, ``logout`` and
``send_business_reject``. The session answers by queueing wire bytes (drained with
``data_to_send()``) and events (drained with ``next_event()``), and says when it next
needs ``handle_timer`` with ``get_timer()``. ``now`` is UTC epoch seconds.

Lifecycle (see :mod:`.state`): an initiator sends Logon on ``connection_made``; an
acceptor waits ``logon_timeout`` for a Logon whose first message must be a Logon
(test case 1e) and answers it. Either side logs out with the Logout handshake
(test case 13) and waits ``logout_timeout`` for the answer.

Every received message goes through the same checks, in QuickFIX's order so that
the reactions match the FIX session test cases (named 1a-20 below):

1. garbled frames (bad BodyLength/CheckSum, 2d/2m/3b/3c) are dropped and logged and
   never consume a sequence number; a garbled first message disconnects (1d);
2. BeginString must be ours (2i: Logout "Incorrect BeginString", await the answer);
3. MsgSeqNum(34) must be present (else Logout and disconnect);
4. data-dictionary validation (14a-14i, 2q) -> Reject(35=3);
5. SendingTime within ``max_latency`` of ``now`` (2o: Reject 373=10 then Logout;
   on a Logon: disconnect, 1d);
6. SenderCompID/TargetCompID are the peer's and ours (2k: Reject 373=9 then Logout;
   on a Logon: disconnect, 1c);
7. MsgSeqNum against the expected number: equal -> processed; higher -> queued and a
   ResendRequest sent once for the gap (2b, 1a); lower without PossDupFlag -> Logout
   "MsgSeqNum too low, expecting N but received M" and disconnect (2c); lower with
   PossDupFlag -> ignored (2e) after the OrigSendingTime(122) checks (2f, 2g).
   Logon, Logout, ResendRequest and SequenceReset-Reset are acted on whatever their
   MsgSeqNum (11a, 20), as the spec and QuickFIX do.

Queued messages are processed in sequence as soon as the gap is filled; a
SequenceReset moves the expected number (10, 11). ResendRequests are answered from
the store: application messages again with PossDupFlag=Y and OrigSendingTime,
session messages replaced by SequenceReset-GapFill, consecutive ones merged (8).

Rejects follow QuickFIX: RefSeqNum(45), RefMsgType(372), SessionRejectReason(373)
and RefTagID(371) from FIX.4.2 on, routing fields reversed; a rejected message
consumes its sequence number when it was the expected one (except Logon and
SequenceReset).

Heartbeats: a Heartbeat when nothing was sent for HeartBtInt; a TestRequest(112=TEST)
when nothing arrived for HeartBtInt x (1 + ``test_request_allowance``); no Heartbeat
while it is unanswered; disconnect when nothing arrived for twice that (4a, 4b, 6).

Sending while not logged on: see :meth:`Session.send`.

The per-message methods (``receive_data``, the in-sequence fast path of
``_on_message``, ``send``, ``data_to_send``, ``message_handled``) run compiled
(:mod:`fixengine._session`, built from ``ext/_session.pyx``) when the extension is
built; they repeat this module's fast paths and hand every other case to the
methods here, which stay the reference (the tests compare the two).
"""

from __future__ import annotations

import calendar
import dataclasses
import re
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..codec import HeaderTemplate, Message, Parser, decode
from ..errors import ConfigError, GarbledMessage, LocalProtocolError
from ..extensions import compiled_subclass
from . import admin
from .config import SessionConfig, SessionID
from .events import (
    AdminMessageReceived,
    DisconnectRequested,
    Event,
    GapDetected,
    GapFilled,
    GarbledMessageDropped,
    HeartbeatMissed,
    LoggedOn,
    LoggedOut,
    LogonRefused,
    MessageLog,
    MessageReceived,
    MessagesResent,
    RejectReceived,
    RejectSent,
    ResendRequested,
    SequenceReset,
    StoreReset,
    UnsentMessagesDiscarded,
)
from .schedule import SessionSchedule
from .state import CONNECTED, LOGGED_ON_STATES, SessionState, Trigger, transition
from .store import MessageStore

__all__ = ["Authenticator", "Session"]

Authenticator = Callable[[Message], "str | None"]
"""Acceptor hook: gets the Logon; returns None to accept or a refusal text."""

_S = SessionState
_T = Trigger
# the states as module globals: an enum member looked up on its class costs several
# times a global's lookup (Python 3.11), and the hot paths test the state often
_AWAITING_LOGON = _S.AWAITING_LOGON
_DISCONNECTED = _S.DISCONNECTED
_DISCONNECTING = _S.DISCONNECTING
_LOGGED_ON = _S.LOGGED_ON
_LOGON_SENT = _S.LOGON_SENT
_LOGOUT_SENT = _S.LOGOUT_SENT

#: Header fields the session writes itself; an application message's own are dropped.
_MANAGED = frozenset({8, 9, 10, 34, 35, 43, 49, 52, 56, 122})
#: Types the application may not send through :meth:`Session.send`.
_SESSION_ONLY = frozenset({b"0", b"1", b"2", b"4", b"5", b"A"})
#: Types acted on whatever their MsgSeqNum (or, SequenceReset, by its GapFillFlag):
#: never taken by the in-sequence fast path of ``_on_message``.
_OWN_PATH = frozenset({b"A", b"5", b"2", b"4"})
# session messages _process acts on (the rest are reported as MessageReceived)
_ADMIN_PROCESSED = frozenset({b"0", b"1", b"3", b"4"})
_SECRET = re.compile(rb"(\x01(?:554|925|1402|1404)=)[^\x01]*")
_TEST_REQ_ID = b"TEST"


def _redact(raw: bytes) -> bytes:
    """Mask Password(554), NewPassword(925) and their encrypted forms for logs."""
    return _SECRET.sub(rb"\1***", raw)


#: Digits an int field the session acts on may have (leading zeros aside): a larger
#: MsgSeqNum, NewSeqNo or HeartBtInt fits no store's 64-bit integer (and would
#: overflow the float timers, or int() itself past 4300 digits); it is treated as
#: malformed, like QuickFIX's integer conversion failing.
_MAX_INT_DIGITS = 18


def _int(value: bytes | None) -> int | None:
    """A non-negative int field value, or None when absent, not digits or over 18 digits."""
    if value is None or not value.isdigit():
        return None
    digits = value.lstrip(b"0")
    if len(digits) > _MAX_INT_DIGITS:
        return None
    return int(digits or b"0")


_second_cache: dict[bytes, int] = {}
_POW10 = [float(10**i) for i in range(10)]


def _minute(prefix: bytes) -> int | None:
    """Epoch seconds of ``YYYYMMDD-HH:MM:`` or None when it is not a valid one."""
    if not (prefix[:8].isdigit() and prefix[9:11].isdigit() and prefix[12:14].isdigit()):
        return None
    if prefix[8:9] != b"-" or prefix[11:12] != b":" or prefix[14:15] != b":":
        return None
    year, month, day = int(prefix[:4]), int(prefix[4:6]), int(prefix[6:8])
    hour, minute = int(prefix[9:11]), int(prefix[12:14])
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59):
        return None
    try:
        return calendar.timegm((year, month, day, hour, minute, 0))
    except (ValueError, OverflowError):  # pragma: no cover - guarded above
        return None


def _second(text: bytes) -> int | None:
    """Epoch seconds of ``YYYYMMDD-HH:MM:SS`` or None (:func:`_parse_time` caches it)."""
    base = _minute(text[:15])
    if base is None:
        return None
    ss = text[15:17]
    if not ss.isdigit() or ss > b"60":
        return None
    return base + int(ss)


def _parse_time(raw: bytes | None) -> float | None:
    """UTCTimestamp -> epoch seconds, or None when malformed (the second is cached)."""
    if raw is None or len(raw) < 17:
        return None
    head = raw[:17]
    second = _second_cache.get(head)
    if second is None:
        second = _second(head)
        if second is None:
            return None
        if len(_second_cache) > 256:
            _second_cache.clear()
        _second_cache[head] = second
    if len(raw) == 17:
        return float(second)
    frac = raw[18:]
    if raw[17:18] != b"." or not frac.isdigit() or len(frac) > 9:
        return None
    return second + int(frac) / _POW10[len(frac)]


@dataclasses.dataclass(slots=True)
class _Gap:
    """Incoming messages we asked the peer to resend (QuickFIX's resend range)."""

    begin: int
    end: int  # last missing sequence number known so far
    requested_to: int  # end of the chunk asked for (ResendRequestChunkSize)
    chunked: bool = False


class _PySession:
    """One FIX session: a sans-IO state machine (see the module docstring).

    ``dictionary`` is the FIX.4.x data dictionary, or the FIXT.1.1 transport dictionary
    with ``app_dictionary`` the FIX 5.x application one; without a dictionary no
    validation is done. ``authenticator`` (acceptor) sees each Logon and returns None
    to accept or a refusal text (sent in the Logout's Text(58)). ``log`` receives every
    message in and out and a line per event; passwords are masked.

    ``confirm_delivery`` gives application messages at-least-once delivery across a
    crash: the NextTargetSeq the store keeps stops at the first
    :class:`~.events.MessageReceived` the application has not yet confirmed with
    :meth:`message_handled`, so after a restart the peer is asked for it again (it
    comes back with PossDupFlag=Y). Without it the store moves on as soon as the
    session has processed a message (at-most-once for what the application had
    not finished when the process died).

    This is the pure-Python session; :data:`Session` is it with the per-message
    methods compiled when the extension is built (twins: the tests run both).
    """

    def __init__(
        self,
        config: SessionConfig,
        store: MessageStore,
        *,
        dictionary: Any = None,
        app_dictionary: Any = None,
        authenticator: Callable[[Message], str | None] | None = None,
        log: MessageLog | None = None,
        confirm_delivery: bool = False,
    ) -> None:
        try:
            self._version = admin.protocol_version(config.begin_string)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if config.heartbeat_interval < 0:
            raise ConfigError("heartbeat_interval must not be negative")
        if self._version == 50 and config.default_appl_ver_id is None:
            raise ConfigError("a FIXT.1.1 session needs default_appl_ver_id (DefaultApplVerID)")
        if config.default_appl_ver_id is not None:
            try:
                admin.appl_ver_id(config.default_appl_ver_id)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        precision = config.timestamp_precision
        if precision is None:
            precision = 0 if self._version < 42 else 3
        if precision not in (0, 3, 6, 9):
            raise ConfigError(f"timestamp_precision must be 0, 3, 6 or 9, not {precision}")

        self.config = config
        self.session_id: SessionID = config.session_id
        self.schedule = SessionSchedule.from_config(config)
        self.state = _DISCONNECTED
        #: The peer's DefaultApplVerID(1137) from its Logon (FIXT.1.1), e.g. b"9".
        self.peer_default_appl_ver_id: bytes | None = None

        self._store = store
        # stores may hold writes back until the bytes leave the session (one write per batch)
        self._flush_store: Callable[[], None] | None = getattr(store, "flush", None)
        self._log = log
        self._authenticator = authenticator
        self._precision = precision
        self._begin = config.begin_string.encode()
        self._sender = config.sender_comp_id.encode()
        self._target = config.target_comp_id.encode()
        self._initiator = config.role == "initiator"
        header: list[tuple[int, bytes]] = [(49, self._sender), (56, self._target)]
        for tag, value in (
            (50, config.sender_sub_id),
            (142, config.sender_location_id),
            (57, config.target_sub_id),
            (143, config.target_location_id),
        ):
            if value:
                header.append((tag, value.encode()))
        self._header = header
        self._header_tags = frozenset(tag for tag, _ in header) | _MANAGED
        # 8, 9, 35, 49, 56, 34, [43], 52, [122], sub/location IDs: written in one call
        self._template = HeaderTemplate(
            self._begin, header[:2], header[2:], self._header_tags, precision
        )
        #: MsgType -> the validator's ready plan, read by the fast path below; None
        #: when validation goes through a wrapper (FIXT.1.1, session messages only)
        self._plans: dict[bytes, Any] | None = None
        self._validate = self._make_validator(dictionary, app_dictionary)
        # length -> data field pairs the dictionaries define beyond the codec's table
        data_fields: dict[int, int] = {}
        for dd in (dictionary, app_dictionary):
            if dd is not None:
                data_fields.update(getattr(dd, "data_fields", {}))
        self._data_fields = data_fields or None

        self._events: deque[Event] = deque()
        self._outbox: list[bytes] = []
        self._parser: Parser | None = None
        self._next_sender = store.next_sender_seq()
        self._next_target = store.next_target_seq()
        self._stored_target = self._next_target  # what the store holds
        self._confirm = confirm_delivery
        self._unhandled: deque[int] = deque()  # MessageReceived not yet confirmed
        self._handled_early: set[int] = set()  # confirmed before an older one

        self._heartbeat_interval = float(config.heartbeat_interval)
        # silence after which a TestRequest goes out: HeartBtInt x (1 + allowance)
        self._probe = self._heartbeat_interval * (1.0 + config.test_request_allowance)
        self._last_sent = 0.0
        self._last_received = 0.0
        self._test_requests = 0
        self._deadline: float | None = None  # logon or logout timeout
        self._queue: dict[int, tuple[Message, bytes, bool]] = {}
        self._gap: _Gap | None = None
        self._reset_sent = False
        self._announced = False  # LoggedOn emitted, LoggedOut not yet
        self._peer_uses_next_expected = False
        self._sent_logon_seq = 0
        self._held: list[tuple[int, bytes]] = []  # sent in LOGON_SENT, go out after Logon
        self._unsent: tuple[int, int] | None = None  # persisted, never transmitted
        self._now = store.creation_time  # the latest instant the session was given

    # -- public properties ------------------------------------------------------------
    @property
    def next_sender_seq(self) -> int:
        """MsgSeqNum of the next message we send."""
        return self._next_sender

    @property
    def next_target_seq(self) -> int:
        """MsgSeqNum we expect on the next message from the peer."""
        return self._next_target

    @property
    def is_logged_on(self) -> bool:
        """True from the completed Logon handshake until the connection ends."""
        return self.state in LOGGED_ON_STATES

    @property
    def heartbeat_interval(self) -> float:
        """The HeartBtInt in force (the initiator's proposal, taken by the acceptor)."""
        return self._heartbeat_interval

    @property
    def store(self) -> MessageStore:
        """The message store this session persists to."""
        return self._store

    # -- draining -----------------------------------------------------------------------
    def next_event(self) -> Event | None:
        """The oldest event not yet drained, or None."""
        return self._events.popleft() if self._events else None

    @property
    def pending_events(self) -> deque[Event]:
        """The events not yet drained, oldest first: popping from the left is the same
        as calling :meth:`next_event` (a driver draining many saves a call each)."""
        return self._events

    def data_to_send(self) -> bytes:
        """Every byte queued for the peer since the last call (may be b"").

        The store is flushed first: nothing reaches the peer before it is persisted.
        """
        flush = self._flush_store
        if flush is not None:
            flush()
        if not self._outbox:
            return b""
        data = b"".join(self._outbox)
        self._outbox.clear()
        return data

    def get_timer(self) -> float | None:
        """When ``handle_timer`` must next be called (UTC epoch seconds), or None."""
        state = self.state
        when: float | None = None
        if state is _LOGGED_ON:
            if self._heartbeat_interval > 0:
                if self._test_requests:
                    when = self._last_received + 2 * self._probe
                else:
                    beat = self._last_sent + self._heartbeat_interval
                    probe = self._last_received + self._probe
                    when = beat if beat <= probe else probe
            if self.schedule.non_stop:
                return when
        elif state is _AWAITING_LOGON or state is _LOGON_SENT or state is _LOGOUT_SENT:
            when = self._deadline
        if not self.schedule.non_stop:
            change = self.schedule.next_change(self._now)
            if change is not None and (when is None or change < when):
                when = change
        return when

    # -- transport inputs ---------------------------------------------------------------
    def connection_made(self, now: float) -> None:
        """A connection is up: an initiator queues its Logon, an acceptor starts the logon timer."""
        trigger = _T.CONNECTED_AS_INITIATOR if self._initiator else _T.CONNECTED_AS_ACCEPTOR
        self.state = transition(self.state, trigger)
        self._now = now
        cfg = self.config
        self._parser = Parser(
            max_message_size=cfg.max_message_size,
            resync=cfg.garbled_recovery,
            data_fields=self._data_fields,
        )
        self._queue.clear()
        self._gap = None
        self._test_requests = 0
        self._reset_sent = False
        self._peer_uses_next_expected = False
        self._held.clear()
        self._last_sent = self._last_received = now
        self._deadline = now + cfg.logon_timeout
        self._event_text(f"Connected ({'initiator' if self._initiator else 'acceptor'})")
        if not self.schedule.is_session_time(now):
            self._disconnect("outside the session schedule", now)
            return
        if cfg.refresh_on_logon:
            self._refresh()
        self._check_period(now)
        if not self._initiator:
            return
        reset = cfg.reset_on_logon
        if reset:
            self._reset_store(now, "ResetOnLogon")
        self._reset_sent = reset
        self._send_admin(self._logon_message(reset, self._next_target), now)

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes from the socket, in any chunking."""
        if self.state is not _LOGGED_ON and self.state not in CONNECTED:
            if self.state is _DISCONNECTING:
                return
            raise LocalProtocolError("receive_data() before connection_made()")
        assert self._parser is not None
        self._now = now
        for item in self._parser.feed(data):
            state = self.state
            if state is _DISCONNECTING or state is _DISCONNECTED:
                break  # a disconnect was requested: the rest is not looked at
            if isinstance(item, GarbledMessage):
                self._on_garbled(item, now)
            else:
                self._on_message(item, now)

    def connection_lost(self, now: float) -> None:
        """The connection ended (whoever closed it)."""
        was = self.state
        self.state = transition(was, _T.CONNECTION_LOST)
        self._now = now
        self._parser = None
        self._outbox.clear()
        self._queue.clear()
        self._gap = None
        self._deadline = None
        self._held_to_unsent()
        if was is _DISCONNECTED:
            return
        self._event_text("Disconnected")
        if self._announced:
            self._announced = False
            self._events.append(LoggedOut("connection lost"))
        if self.config.reset_on_disconnect:
            self._reset_store(now, "ResetOnDisconnect")

    def handle_timer(self, now: float) -> None:
        """Timeouts: heartbeats, TestRequest, logon and logout timeouts, the schedule."""
        self._now = now
        state = self.state
        if not self.schedule.non_stop:
            if state in CONNECTED and not self.schedule.is_session_time(now):
                if state is _LOGGED_ON:
                    self._start_logout(now, "Session schedule ended")
                elif state is not _LOGOUT_SENT:
                    self._disconnect("outside the session schedule", now)
                    return
            elif state is _DISCONNECTED:
                self._check_period(now)
        state = self.state
        if state in (_AWAITING_LOGON, _LOGON_SENT):
            if self._deadline is not None and now >= self._deadline:
                self._disconnect("Logon timeout", now)
        elif state is _LOGOUT_SENT:
            if self._deadline is not None and now >= self._deadline:
                self._disconnect("Logout timeout", now)
        elif state is _LOGGED_ON and self._heartbeat_interval > 0:
            hb = self._heartbeat_interval
            probe = self._probe
            # deadlines summed exactly as get_timer() sums them: a call at the instant it
            # gave must act (``now - last >= probe`` may round below and ask again at once)
            last_in = self._last_received
            if now >= last_in + 2 * probe:
                self._disconnect("Timed out waiting for heartbeat", now)
            elif not self._test_requests and now >= last_in + probe:
                self._test_requests += 1
                self._send_admin(admin.test_request(_TEST_REQ_ID), now)
                self._events.append(HeartbeatMissed(_TEST_REQ_ID.decode()))
                self._event_text("Sent TestRequest TEST")
            elif not self._test_requests and now >= self._last_sent + hb:
                self._send_admin(admin.heartbeat(), now)

    # -- application inputs -------------------------------------------------------------
    def send(self, msg: Message, now: float) -> int:
        """Send an application message; return its MsgSeqNum.

        The session sets the standard header (BeginString, CompIDs, MsgSeqNum,
        SendingTime; PossDupFlag and OrigSendingTime are its own and are dropped from
        ``msg``), persists the message, then queues it.

        When not logged on the message still gets its sequence number and is
        persisted (QuickFIX's rule): while our Logon is awaiting its answer
        (initiator) it goes out right after the Logon handshake; otherwise the peer
        sees the gap at the next Logon and asks for it, and it is resent with
        PossDupFlag=Y. A sequence reset before then (ResetOnLogon, a Logon with
        ResetSeqNumFlag=Y, a new schedule period) loses it and reports
        :class:`~.events.UnsentMessagesDiscarded`. Raises LocalProtocolError when the
        message could never be delivered (ResetOnLogon or PersistMessages=N while
        disconnected) and for session-level types (use :meth:`logout`).
        """
        mt = msg.msg_type
        if mt is None:
            raise LocalProtocolError("message has no MsgType(35)")
        if mt in _SESSION_ONLY:
            raise LocalProtocolError(f"MsgType {mt.decode()} is sent by the session itself")
        self._now = now
        return self._send_app(msg, mt, now)

    def send_business_reject(
        self, ref: Message, reason: int, text: str, now: float, *, ref_id: str | None = None
    ) -> None:
        """Reject an application message we cannot process (BusinessMessageReject, 35=j).

        ``reason`` is BusinessRejectReason(380), e.g. 3 = unsupported message type.
        FIX.4.0/4.1 have no 35=j: a session Reject with ``text`` is sent instead.
        """
        self._now = now
        seq = _int(ref.get(34))
        ref_type = ref.msg_type or b""
        if self._version < 42:
            out = admin.reject(seq, reason=None, text=text, version=self._version, routing=ref)
            self._send_app(out, b"3", now)
            self._events.append(RejectSent(seq, None, None, text))
            return
        out = admin.business_message_reject(
            seq,
            ref_type,
            reason,
            text,
            ref_id=ref_id,
            default_appl_ver_id=self.config.default_appl_ver_id if self._version == 50 else None,
            routing=ref,
            version=self._version,
        )
        self._send_app(out, b"j", now)

    def logout(self, now: float, text: str | None = None) -> None:
        """Start the Logout handshake (test case 13a); the peer's answer ends the connection.

        Before the Logon handshake completed this just disconnects; when already
        logging out or disconnected it does nothing.
        """
        self._now = now
        state = self.state
        if state is _LOGGED_ON:
            self._start_logout(now, text)
        elif state in (_AWAITING_LOGON, _LOGON_SENT):
            self._disconnect(text or "logout requested before logon", now)

    def message_handled(self, seq: int) -> None:
        """The application is done with the :class:`~.events.MessageReceived` numbered ``seq``.

        Only meaningful with ``confirm_delivery``: lets the store's NextTargetSeq move
        past it (and past the admin messages that followed). Confirmations may come in
        any order; unknown or repeated numbers are ignored.
        """
        queue = self._unhandled
        if not queue or seq < queue[0]:
            return
        if seq != queue[0]:
            if seq < self._next_target:
                self._handled_early.add(seq)
            return
        queue.popleft()
        early = self._handled_early
        while queue and queue[0] in early:
            early.discard(queue.popleft())
        stored = queue[0] if queue else self._next_target
        if stored != self._stored_target:
            self._stored_target = stored
            self._store.set_next_target_seq(stored)

    # -- receiving ----------------------------------------------------------------------
    def _on_garbled(self, item: GarbledMessage, now: float) -> None:
        if self._log is not None:
            self._log.on_incoming(item.data)
        self._events.append(GarbledMessageDropped(item.reason.value, item.size))
        self._event_text(f"Garbled message dropped: {item.reason.value} ({item.size} bytes)")
        if self.state in (_AWAITING_LOGON, _LOGON_SENT):
            self._disconnect("first message garbled", now)

    def _on_message(self, msg: Message, now: float) -> None:
        mt, begin, seq, poss_dup, sender, target, sending_time = msg.session_header()
        if mt is None:
            mt = b""
        if self._log is not None:
            raw = msg.raw if msg.raw is not None else msg.encode()
            self._log.on_incoming(_redact(raw) if mt == b"A" or mt == b"BE" else raw)
        state = self.state
        # the common case, in one go: an in-sequence message while logged on that
        # steps 2 to 6 below would all let through (any doubt: the full checks decide)
        if (
            state is _LOGGED_ON
            and seq == self._next_target
            and begin == self._begin
            and sending_time is not None
            and sender
            and target
            and mt not in _OWN_PATH
        ):
            cfg = self.config
            validate = self._validate
            plans = self._plans
            # a MsgType seen before: its plan's compiled rules, which say "certainly
            # valid" or leave it to the validator (as its validate() does first)
            plan = plans.get(mt) if plans is not None else None
            if (
                (not cfg.check_latency or abs(now - sending_time) <= cfg.max_latency)
                and (not cfg.check_comp_id or (sender == self._target and target == self._sender))
                and (
                    validate is None
                    or (plan is not None and plan.rules.check(msg))
                    or validate(msg) is None
                )
            ):
                self._last_received = now
                self._test_requests = 0
                if poss_dup is None and mt not in _ADMIN_PROCESSED:
                    # _process and _advance for an application message, inline
                    self._events.append(MessageReceived(msg))
                    new_target = self._next_target = seq + 1
                    if self._confirm:
                        self._unhandled.append(seq)
                        stored = self._unhandled[0]
                    else:
                        stored = new_target
                    if stored != self._stored_target:
                        self._stored_target = stored
                        self._store.set_next_target_seq(stored)
                    gap = self._gap
                    if gap is not None and new_target > gap.requested_to:
                        self._gap_progress(gap, new_target, now)
                else:
                    self._process(msg, mt, seq, now)
                if self._queue:
                    self._drain_queue(now)
                return
        self._full_checks(msg, mt, now)

    def _full_checks(self, msg: Message, mt: bytes, now: float) -> None:
        """Every check of a message received, in the order of the session's rules."""
        state = self.state
        logged_on = state is _LOGGED_ON or state is _LOGOUT_SENT
        if not logged_on and mt != b"A":
            if mt == b"5" and state is _LOGON_SENT:
                text = msg.get_str(58) or "Logon refused"
                self._events.append(LogonRefused(text))
                self._disconnect(f"Logon refused by the peer: {text}", now)
            else:
                self._disconnect("first message is not a Logon", now)
            return

        # 2. BeginString (test case 2i)
        if msg.get(8) != self._begin:
            if not logged_on:
                self._disconnect("Incorrect BeginString", now)
            elif mt == b"5":
                self._on_logout(msg, _int(msg.get(34)), now)
            else:
                if _int(msg.get(34)) == self._next_target:
                    self._advance(self._next_target + 1, now)
                self._start_logout(now, "Incorrect BeginString")
            return

        # 3. MsgSeqNum present (FIX: a missing MsgSeqNum ends the connection)
        seq = _int(msg.get(34))
        if seq is None:
            if logged_on:
                self._send_admin(admin.logout("MsgSeqNum(34) missing or invalid"), now)
            self._disconnect("MsgSeqNum(34) missing or invalid", now)
            return

        # 4. data dictionary (14a-14i, 2q)
        if self._validate is not None:
            rejection = self._validate(msg)
            if rejection is not None:
                if not logged_on:
                    self._disconnect(f"invalid Logon: {rejection.text}", now)
                    return
                self._reject(msg, mt, seq, rejection.reason, rejection.tag, now, rejection.text)
                self._drain_queue(now)
                return
        else:
            for tag in (49, 56, 52):
                if not msg.get(tag):
                    if not logged_on:
                        self._disconnect(f"Logon without tag {tag}", now)
                        return
                    self._reject(msg, mt, seq, 4 if tag in msg else 1, tag, now)
                    self._drain_queue(now)
                    return

        # 5. SendingTime accuracy (2o; on a Logon 1d)
        sending_time = _parse_time(msg.get(52))
        if sending_time is None:
            if not logged_on:
                self._disconnect("Logon with malformed SendingTime", now)
                return
            self._reject(msg, mt, seq, 6, 52, now)
            self._drain_queue(now)
            return
        cfg = self.config
        if cfg.check_latency and abs(now - sending_time) > cfg.max_latency:
            if not logged_on:
                self._disconnect("Logon SendingTime accuracy problem", now)
                return
            self._reject(msg, mt, seq, 10, None, now)
            self._start_logout(now, None)
            return

        # 6. CompIDs (2k; on a Logon 1c)
        if cfg.check_comp_id and (msg.get(49) != self._target or msg.get(56) != self._sender):
            if not logged_on:
                self._disconnect("Logon with wrong CompIDs", now)
                return
            self._reject(msg, mt, seq, 9, None, now)
            self._start_logout(now, None)
            return

        self._last_received = now
        self._test_requests = 0

        # 7. by type and MsgSeqNum
        if mt == b"A":
            self._on_logon(msg, seq, now)
        elif mt == b"5":
            self._on_logout(msg, seq, now)
        elif mt == b"2":
            self._on_resend_request(msg, seq, now)
        elif mt == b"4" and msg.get(123) != b"Y":
            self._on_sequence_reset(msg, seq, now)
        else:
            expected = self._next_target
            if seq == expected:
                self._process(msg, mt, seq, now)
            elif seq > expected:
                self._too_high(msg, mt, seq, now, handled=False)
            else:
                self._too_low(msg, mt, seq, now)
        self._drain_queue(now)

    def _too_high(self, msg: Message, mt: bytes, seq: int, now: float, *, handled: bool) -> None:
        """Test case 2b: queue the message and ask once for the missing range."""
        expected = self._next_target
        self._event_text(f"MsgSeqNum too high, expecting {expected} but received {seq}")
        if len(self._queue) < self.config.max_queued_messages or seq in self._queue:
            self._queue[seq] = (msg, mt, handled)
        else:
            self._event_text(f"Queue full: message {seq} dropped, it will be requested again")
        gap = self._gap
        if gap is not None:
            if seq - 1 > gap.end and seq - 1 not in self._queue:
                gap.end = seq - 1
                if not gap.chunked:
                    gap.requested_to = gap.end
            if not self.config.send_redundant_resend_requests:
                return
        self._request_resend(expected, seq - 1, now)

    def _request_resend(self, begin: int, end: int, now: float) -> None:
        chunk = self.config.resend_request_chunk_size
        chunked = chunk > 0 and end - begin + 1 > chunk
        if chunked:
            requested_to = begin + chunk - 1
            wire_end = requested_to
        else:
            requested_to = end
            wire_end = admin.infinity_seq(self._version)
        if self._gap is None:
            self._gap = _Gap(begin, end, requested_to, chunked)
            self._events.append(GapDetected(begin, end))
        else:
            assert self._gap is not None
            self._gap.requested_to = max(self._gap.requested_to, requested_to)
        self._send_admin(admin.resend_request(begin, wire_end), now)
        self._event_text(f"Sent ResendRequest FROM: {begin} TO: {wire_end}")

    def _too_low(self, msg: Message, mt: bytes, seq: int, now: float) -> None:
        """Test cases 2c (no PossDupFlag: fatal) and 2e/2f/2g (PossDupFlag=Y)."""
        if msg.get(43) != b"Y":
            text = f"MsgSeqNum too low, expecting {self._next_target} but received {seq}"
            self._send_admin(admin.logout(text), now)
            self._disconnect(text, now)
            return
        if self._check_poss_dup(msg, mt, seq, now):
            self._event_text(f"Duplicate message {seq} ignored (PossDupFlag=Y)")

    def _check_poss_dup(self, msg: Message, mt: bytes, seq: int, now: float) -> bool:
        """OrigSendingTime(122) checks on a PossDupFlag=Y message (2f, 2g); False if rejected."""
        if mt == b"4":
            return True
        orig_raw = msg.get(122)
        if orig_raw is None:
            self._reject(msg, mt, seq, 1, 122, now)
            return False
        orig = _parse_time(orig_raw)
        if orig is None:
            self._reject(msg, mt, seq, 6, 122, now)
            return False
        sending = _parse_time(msg.get(52))
        if sending is not None and orig > sending:
            self._reject(msg, mt, seq, 10, None, now)
            self._start_logout(now, None)
            return False
        return True

    def _process(self, msg: Message, mt: bytes, seq: int, now: float) -> None:
        """Act on a message whose MsgSeqNum is the expected one."""
        if msg.get(43) == b"Y" and not self._check_poss_dup(msg, mt, seq, now):
            return
        # the message is reported before the sequence number moves, so that
        # GapFilled follows the last message of the gap
        events = self._events
        if mt == b"0":
            events.append(AdminMessageReceived(msg))
            self._advance(seq + 1, now)
        elif mt == b"1":
            test_req_id = msg.get(112)
            if test_req_id is None:
                self._reject(msg, mt, seq, 1, 112, now)
                return
            events.append(AdminMessageReceived(msg))
            self._advance(seq + 1, now)
            self._send_admin(admin.heartbeat(test_req_id), now)
        elif mt == b"4":  # gap fill (reset mode never gets here)
            self._on_gap_fill(msg, seq, now)
        elif mt == b"3":
            events.append(RejectReceived(msg))
            self._event_text(f"Reject received: {admin.describe(msg)}")
            self._advance(seq + 1, now)
        else:
            events.append(MessageReceived(msg))
            if self._confirm:
                self._unhandled.append(seq)
            self._advance(seq + 1, now)

    def _on_gap_fill(self, msg: Message, seq: int, now: float) -> None:
        """Test case 10/11: SequenceReset-GapFill received in sequence."""
        new_seq = _int(msg.get(36))
        if new_seq is None:
            self._reject(msg, b"4", seq, 1 if 36 not in msg else 6, 36, now)
            return
        self._events.append(AdminMessageReceived(msg))
        if new_seq > self._next_target:
            self._event_text(f"Received SequenceReset-GapFill FROM: {seq} TO: {new_seq}")
            self._advance(new_seq, now)
            self._events.append(SequenceReset(new_seq, True))
        elif new_seq < self._next_target:
            self._reject(msg, b"4", seq, 5, None, now)

    def _on_sequence_reset(self, msg: Message, seq: int, now: float) -> None:
        """Test case 11a-c: SequenceReset-Reset, acted on whatever its MsgSeqNum."""
        new_seq = _int(msg.get(36))
        if new_seq is None:
            self._reject(msg, b"4", seq, 1 if 36 not in msg else 6, 36, now)
            return
        self._events.append(AdminMessageReceived(msg))
        if new_seq > self._next_target:
            self._event_text(f"Received SequenceReset FROM: {self._next_target} TO: {new_seq}")
            self._advance(new_seq, now)
            self._events.append(SequenceReset(new_seq, False))
        elif new_seq < self._next_target:
            self._reject(msg, b"4", seq, 5, None, now)

    def _on_resend_request(self, msg: Message, seq: int, now: float) -> None:
        """Test cases 8 and 20: answer whatever the MsgSeqNum, then account for it."""
        begin = _int(msg.get(7))
        end = _int(msg.get(16))
        if begin is None or end is None:
            tag = 7 if begin is None else 16
            self._reject(msg, b"2", seq, 1 if tag not in msg else 6, tag, now)
            return
        if msg.get(43) == b"Y" and seq < self._next_target:
            self._event_text(f"Duplicate ResendRequest {seq} ignored")
            return
        self._events.append(AdminMessageReceived(msg))
        self._resend(begin, end, now)
        expected = self._next_target
        if seq == expected:
            self._advance(seq + 1, now)
        elif seq > expected:
            self._too_high(msg, b"2", seq, now, handled=True)

    def _on_logout(self, msg: Message, seq: int | None, now: float) -> None:
        """Test case 13: answer a Logout (unless it answers ours), then disconnect."""
        if seq == self._next_target:
            self._advance(seq + 1, now)
        self._events.append(AdminMessageReceived(msg))
        text = msg.get_str(58)
        if self.state is _LOGOUT_SENT:
            self._event_text("Received Logout response")
        else:
            self._event_text("Received Logout request")
            self._send_admin(admin.logout(), now)
        self._finish_logout(text, now)

    def _finish_logout(self, text: str | None, now: float) -> None:
        if self._announced:
            self._announced = False
            self._events.append(LoggedOut(text))
        self._disconnect("Logout completed", now)
        if self.config.reset_on_logout:
            self._reset_store(now, "ResetOnLogout")

    # -- logon --------------------------------------------------------------------------
    def _logon_message(self, reset: bool, next_expected: int) -> Message:
        cfg = self.config
        return admin.logon(
            int(self._heartbeat_interval),
            # ResetSeqNumFlag(141) exists from FIX.4.1 on (QuickFIX's shouldSendReset)
            reset_seq_num=reset and self._version >= 41,
            next_expected_msg_seq_num=next_expected
            if cfg.enable_next_expected_msg_seq_num
            else None,
            default_appl_ver_id=cfg.default_appl_ver_id if self._version == 50 else None,
            username=cfg.username if self._initiator else None,
            password=cfg.password if self._initiator else None,
        )

    def _on_logon(self, msg: Message, seq: int, now: float) -> None:
        """Test cases 1a-1e, and a mid-session Logon with ResetSeqNumFlag=Y."""
        state = self.state
        reset = msg.get(141) == b"Y"
        if state is _LOGGED_ON or state is _LOGOUT_SENT:
            if not reset or state is _LOGOUT_SENT:
                self._event_text("Logon received while logged on: ignored")
                if seq == self._next_target:
                    self._advance(seq + 1, now)
                return
            self._reset_store(now, "Logon with ResetSeqNumFlag=Y received")
            self._accept_logon(msg, seq, now, reset=True, answer=True)
            return

        cfg = self.config
        if self._version == 50:
            appl = msg.get(1137)
            if not appl:
                self._disconnect("Logon without DefaultApplVerID(1137)", now)
                return
            self.peer_default_appl_ver_id = appl
        if state is _AWAITING_LOGON:
            heart_bt_int = _int(msg.get(108))
            if heart_bt_int is None:
                self._disconnect("Logon without a valid HeartBtInt(108)", now)
                return
            if self._authenticator is not None:
                refusal = self._authenticator(msg)
                if refusal is not None:
                    self._events.append(LogonRefused(refusal))
                    self._event_text(f"Logon refused: {refusal}")
                    self._send_admin(admin.logout(refusal), now)
                    self._disconnect(f"Logon refused: {refusal}", now)
                    return
            if reset or cfg.reset_on_logon:
                self._reset_store(now, "ResetSeqNumFlag=Y" if reset else "ResetOnLogon")
            if not reset and seq < self._next_target:
                text = f"MsgSeqNum too low, expecting {self._next_target} but received {seq}"
                self._send_admin(admin.logout(text), now)
                self._disconnect(text, now)
                return
            self._heartbeat_interval = float(heart_bt_int)
            self._probe = self._heartbeat_interval * (1.0 + cfg.test_request_allowance)
            self._accept_logon(msg, seq, now, reset=reset, answer=True)
            return

        # initiator: the answer to our Logon
        answer = False
        if reset and not self._reset_sent:
            self._reset_store(now, "peer answered with ResetSeqNumFlag=Y")
            answer = True
        if not reset and seq < self._next_target:
            text = f"MsgSeqNum too low, expecting {self._next_target} but received {seq}"
            self._send_admin(admin.logout(text), now)
            self._disconnect(text, now)
            return
        self._accept_logon(msg, seq, now, reset=reset, answer=answer)

    def _accept_logon(
        self, msg: Message, seq: int, now: float, *, reset: bool, answer: bool
    ) -> None:
        cfg = self.config
        expected = self._next_target
        too_high = seq > expected and not reset
        peer_next = _int(msg.get(789)) if cfg.enable_next_expected_msg_seq_num else None
        self._peer_uses_next_expected = peer_next is not None
        logon_seq = self._sent_logon_seq
        if answer:
            next_expected = expected if too_high else max(seq, expected) + 1
            logon_seq = self._next_sender
            self._send_admin(self._logon_message(reset, next_expected), now)
        if peer_next is not None:
            limit = logon_seq + (1 if self._initiator and not answer else 0)
            if peer_next > limit:
                text = (
                    f"NextExpectedMsgSeqNum(789) too high, expecting at most {limit}"
                    f" but received {peer_next}"
                )
                self._send_admin(admin.logout(text), now)
                self._disconnect(text, now)
                return
        self.state = transition(self.state, _T.LOGON_COMPLETED)
        self._deadline = None
        self._reset_sent = False
        self._unsent = None  # now deliverable: the peer sees the gap and asks for them
        self._announced = True
        self._event_text(f"Logon completed (HeartBtInt {int(self._heartbeat_interval)})")
        self._events.append(LoggedOn(int(self._heartbeat_interval), reset))
        self._events.append(AdminMessageReceived(msg))
        if too_high:
            if self._peer_uses_next_expected:
                # the peer resends from our NextExpectedMsgSeqNum; no ResendRequest
                self._gap = _Gap(expected, seq - 1, seq - 1)
                self._events.append(GapDetected(expected, seq - 1))
                self._queue[seq] = (msg, b"A", True)
            else:
                self._too_high(msg, b"A", seq, now, handled=True)
        else:
            self._advance(seq + 1, now)
        if peer_next is not None and peer_next < logon_seq:
            self._resend(peer_next, logon_seq - 1, now)
        for held_seq, data in self._held:
            self._transmit(data, now)
            self._event_text(f"Sent message {held_seq} queued during logon")
        self._held.clear()

    # -- answering a ResendRequest (test case 8) ----------------------------------------------
    def _resend(self, begin: int, end: int, now: float) -> None:
        self._events.append(ResendRequested(begin, end))
        self._event_text(f"Received ResendRequest FROM: {begin} TO: {end}")
        last = self._next_sender - 1
        if end == 0 or (self._version <= 42 and end == 999999) or end > last:
            end = last
        begin = max(begin, 1)
        if begin > end:
            self._events.append(MessagesResent(begin, end, 0))
            return
        stored = self._store.get_sent(begin, end) if self.config.persist_messages else []
        resend_rejects = self.config.resend_session_level_rejects
        fill_from: int | None = None
        resent = 0
        expect = begin
        for seq, raw in stored:
            if seq < begin or seq > end:
                continue
            if seq != expect and fill_from is None:
                fill_from = expect  # missing from the store: gap-filled
            expect = seq + 1
            msg = self._decode_stored(raw)
            mt = msg.msg_type if msg is not None else None
            if (
                msg is None
                or mt is None
                or (mt in admin.ADMIN_MSG_TYPES and not (mt == b"3" and resend_rejects))
            ):
                if fill_from is None:
                    fill_from = seq
                continue
            if fill_from is not None:
                self._send_gap_fill(fill_from, seq, now)
                fill_from = None
            self._send_possdup(msg, mt, seq, now)
            resent += 1
        if expect <= end and fill_from is None:
            fill_from = expect
        if fill_from is not None:
            self._send_gap_fill(fill_from, end + 1, now)
        self._events.append(MessagesResent(begin, end, resent))
        self._event_text(f"Resent {begin}..{end}: {resent} message(s), the rest gap-filled")

    @staticmethod
    def _decode_stored(raw: bytes) -> Message | None:
        try:
            return decode(raw)
        except GarbledMessage:
            return None

    def _send_gap_fill(self, seq: int, new_seq: int, now: float) -> None:
        data = self._build(admin.sequence_reset(new_seq, gap_fill=True), b"4", seq, now, b"")
        self._transmit(data, now)

    def _send_possdup(self, msg: Message, mt: bytes, seq: int, now: float) -> None:
        orig = msg.get(52) or self._timestamp(now)
        self._transmit(self._build(msg, mt, seq, now, orig), now)

    # -- sending ------------------------------------------------------------------------
    def _timestamp(self, now: float) -> bytes:
        """SendingTime for ``now`` with the configured precision (the second is cached)."""
        stamp: bytes = self._template.sending_time(now)
        return stamp

    def _build(
        self, msg: Message, mt: bytes, seq: int, now: float, orig_sending_time: bytes | None
    ) -> bytes:
        """Wire bytes: 8, 9, 35, 49, 56, 34, [43], 52, [122], our sub/location IDs, the rest.

        ``orig_sending_time`` not None marks a possible duplicate (43=Y, and 122 when
        non-empty; b"" means "now", as a gap fill carries it). The message's own
        header fields the session writes are dropped; the others follow ours.
        """
        if type(msg) is not Message:  # e.g. built with the other codec twin
            msg = Message.from_fields(msg.fields())
        data: bytes = self._template.encode(msg, mt, seq, now, orig_sending_time)
        return data

    def _transmit(self, data: bytes, now: float) -> None:
        self._outbox.append(data)
        self._last_sent = now
        if self._log is not None:
            self._log.on_outgoing(data)

    def _send_admin(self, msg: Message, now: float) -> int:
        """Send a session message now (persisted first; MsgSeqNum assigned)."""
        seq = self._next_sender
        mt = msg.msg_type or b""
        data = self._build(msg, mt, seq, now, None)
        if mt == b"A":
            self._sent_logon_seq = seq
            stored = _redact(data)
            self._store.save_sent(seq, stored)
            self._next_sender = seq + 1
            self._outbox.append(data)
            self._last_sent = now
            if self._log is not None:
                self._log.on_outgoing(stored)
            return seq
        self._store.save_sent(seq, data)
        self._next_sender = seq + 1
        self._transmit(data, now)
        return seq

    def _send_app(self, msg: Message, mt: bytes, now: float) -> int:
        state = self.state
        cfg = self.config
        logged_on = state is _LOGGED_ON or state is _LOGOUT_SENT
        if not logged_on and state is not _LOGON_SENT:
            if not cfg.persist_messages:
                raise LocalProtocolError("not logged on and PersistMessages=N: it would be lost")
            if cfg.reset_on_logon or (state is _DISCONNECTING and cfg.reset_on_disconnect):
                raise LocalProtocolError("not logged on and the sequence numbers will be reset")
            if state is _DISCONNECTED:
                self._check_period(now)
        seq = self._next_sender
        data = self._build(msg, mt, seq, now, None)
        if cfg.persist_messages:
            self._store.save_sent(seq, data)
        else:
            self._store.set_next_sender_seq(seq + 1)
        self._next_sender = seq + 1
        if logged_on:
            self._transmit(data, now)
        elif state is _LOGON_SENT:
            self._held.append((seq, data))
        else:
            first = self._unsent[0] if self._unsent is not None else seq
            self._unsent = (first, seq)
            self._event_text(f"Message {seq} stored while not logged on")
        return seq

    def _held_to_unsent(self) -> None:
        if self._held:
            first = self._held[0][0] if self._unsent is None else self._unsent[0]
            self._unsent = (first, self._held[-1][0])
            self._held.clear()

    def _reject(
        self,
        msg: Message,
        mt: bytes,
        seq: int | None,
        reason: int,
        tag: int | None,
        now: float,
        text: str | None = None,
    ) -> None:
        """Session-level Reject(35=3) of ``msg`` (QuickFIX's generateReject)."""
        text = admin.REJECT_REASON_TEXT.get(reason) or text or "Rejected"
        if reason == 11:
            tag = None  # Invalid MsgType names no tag (2q)
        out = admin.reject(
            seq,
            reason=reason,
            tag=tag,
            text=text,
            ref_msg_type=mt or None,
            version=self._version,
            routing=msg,
        )
        if mt not in (b"A", b"4") and seq == self._next_target:
            self._advance(seq + 1, now)
        self._send_admin(out, now)
        self._events.append(RejectSent(seq, reason, tag, text))
        self._event_text(f"Message {seq} rejected: {text}" + (f" ({tag})" if tag else ""))

    def _start_logout(self, now: float, text: str | None) -> None:
        """Send Logout and wait ``logout_timeout`` for the answer (13a, 2i, 2k, 2o)."""
        if self.state is not _LOGGED_ON:
            if self.state is _LOGOUT_SENT:
                return
            self._disconnect(text or "logout", now)
            return
        self._send_admin(admin.logout(text), now)
        self.state = transition(self.state, _T.LOGOUT_SENT)
        self._deadline = now + self.config.logout_timeout
        self._event_text("Sent Logout" + (f": {text}" if text else ""))

    def _disconnect(self, reason: str, now: float) -> None:
        state = self.state
        if state is _DISCONNECTING or state is _DISCONNECTED:
            return
        if self._announced:
            self._announced = False
            self._events.append(LoggedOut(reason))
        self.state = transition(state, _T.DISCONNECT)
        self._deadline = None
        self._held_to_unsent()
        self._events.append(DisconnectRequested(reason))
        self._event_text(f"Disconnecting: {reason}")

    # -- sequence numbers and store --------------------------------------------------------
    def _advance(self, new_target: int, now: float) -> None:
        """The next expected incoming MsgSeqNum is now ``new_target`` (persisted)."""
        self._next_target = new_target
        stored = self._unhandled[0] if self._unhandled else new_target
        if stored != self._stored_target:
            self._stored_target = stored
            self._store.set_next_target_seq(stored)
        gap = self._gap
        if gap is not None and new_target > gap.requested_to:
            self._gap_progress(gap, new_target, now)

    def _gap_progress(self, gap: _Gap, new_target: int, now: float) -> None:
        """The expected MsgSeqNum moved past what was asked for: gap filled or next chunk."""
        if new_target > gap.end:
            self._gap = None
            self._events.append(GapFilled(gap.begin, gap.end))
            self._event_text(f"Gap {gap.begin}..{gap.end} filled")
        elif gap.chunked and self.state in LOGGED_ON_STATES:
            # chunked ResendRequests (ResendRequestChunkSize): ask for the next chunk
            chunk_end = min(gap.end, new_target + self.config.resend_request_chunk_size - 1)
            gap.requested_to = chunk_end
            self._send_admin(admin.resend_request(new_target, chunk_end), now)

    def _drain_queue(self, now: float) -> None:
        """Process queued messages that are now in sequence (after a gap is filled)."""
        queue = self._queue
        while queue and (self.state is _LOGGED_ON or self.state is _LOGOUT_SENT):
            expected = self._next_target
            item = queue.pop(expected, None)
            if item is None:
                for stale in [s for s in queue if s < expected]:
                    del queue[stale]
                break
            msg, mt, handled = item
            self._event_text(f"Processing queued message {expected}")
            if handled:
                self._advance(expected + 1, now)
            else:
                self._process(msg, mt, expected, now)

    def _reset_store(self, now: float, reason: str) -> None:
        if self._unsent is not None:
            self._events.append(UnsentMessagesDiscarded(*self._unsent))
            self._unsent = None
        if self._held:
            self._events.append(UnsentMessagesDiscarded(self._held[0][0], self._held[-1][0]))
            self._held.clear()
        self._store.reset(now)
        self._next_sender = self._store.next_sender_seq()
        self._next_target = self._stored_target = self._store.next_target_seq()
        self._unhandled.clear()
        self._handled_early.clear()
        self._queue.clear()
        self._gap = None
        self._events.append(StoreReset(reason))
        self._event_text(f"Sequence numbers reset: {reason}")

    def _refresh(self) -> None:
        self._store.refresh()
        self._next_sender = self._store.next_sender_seq()
        self._next_target = self._stored_target = self._store.next_target_seq()

    def _check_period(self, now: float) -> None:
        """A store created before the current schedule window belongs to an old period."""
        if self.schedule.non_stop:
            return
        start = self.schedule.period_start(now)
        if start is not None and self._store.creation_time < start:
            self._reset_store(now, "new session period")

    # -- helpers ------------------------------------------------------------------------
    def _event_text(self, text: str) -> None:
        if self._log is not None:
            self._log.on_event(text)

    def _make_validator(
        self, dictionary: Any, app_dictionary: Any
    ) -> Callable[[Message], Any] | None:
        """The dictionary check of step 4, or None when there is nothing to validate with."""
        if dictionary is None or not self.config.use_data_dictionary:
            return None
        from .. import validation

        options = validation.ValidationOptions.from_config(self.config)
        validator = validation.Validator(dictionary, app_dictionary, options)
        if self._version == 50 and app_dictionary is None:
            # FIXT.1.1 with only the transport dictionary: session messages only
            check = validator.validate

            def session_only(msg: Message) -> Any:
                return check(msg) if msg.msg_type in admin.ADMIN_MSG_TYPES else None

            return session_only
        self._plans = validator._plans
        return validator.validate

    def __repr__(self) -> str:
        return (
            f"<Session {self.session_id} {self.state.name} "
            f"out={self._next_sender} in={self._next_target}>"
        )


if TYPE_CHECKING:
    Session = _PySession
else:
    # receive_data, send and the other per-message methods compiled (the common case
    # in C, the rest handed back to _PySession), unless not built or turned off
    Session = compiled_subclass(
        _PySession,
        "_session",
        "SessionCore",
        "Session",
        lambda core: core.configure(_PySession, globals()),
    )
