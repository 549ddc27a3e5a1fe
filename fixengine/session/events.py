"""Events a :class:`~fixengine.session.session.Session` reports, and the message-log protocol.

Theory of operation
-------------------
The session never calls back into the application. Everything that happened while it
handled an input (``receive_data``, ``handle_timer``, ``send``, ...) is queued as an
event and drained with ``Session.next_event()``, in the order it happened (h11 style).
Events are immutable facts, named in the past tense. Application messages arrive as
:class:`MessageReceived`, in MsgSeqNum order, each exactly once per session period.

:class:`DisconnectRequested` is the one event the transport must act on: flush
``Session.data_to_send()`` and then close the socket (and report
``Session.connection_lost``).

:class:`MessageLog` is what the session needs from a message log: every message in and
out (wire bytes, passwords masked) and a line of text for each notable event.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

from ..codec import Message

__all__ = [
    "AdminMessageReceived",
    "DisconnectRequested",
    "Event",
    "GapDetected",
    "GapFilled",
    "GarbledMessageDropped",
    "HeartbeatMissed",
    "LoggedOn",
    "LoggedOut",
    "LogonRefused",
    "MessageLog",
    "MessageReceived",
    "MessagesResent",
    "RejectReceived",
    "RejectSent",
    "ResendRequested",
    "SequenceReset",
    "StoreReset",
    "UnsentMessagesDiscarded",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """Base class of every session event."""


@dataclasses.dataclass(frozen=True, slots=True)
class LoggedOn(Event):
    """The Logon handshake completed; ``heartbeat_interval`` is the agreed HeartBtInt(108)."""

    heartbeat_interval: int
    reset_seq_num: bool = False  # the handshake reset both sequence numbers to 1


@dataclasses.dataclass(frozen=True, slots=True)
class LoggedOut(Event):
    """A logged-on session ended (Logout handshake, error or lost connection)."""

    text: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class LogonRefused(Event):
    """The Logon was refused: by our authenticator (acceptor) or by the peer (initiator)."""

    text: str


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class MessageReceived(Event):
    """An application message, delivered in MsgSeqNum order."""

    message: Message

    def __init__(self, message: Message) -> None:
        _set_app_message(self, message)


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class AdminMessageReceived(Event):
    """A session-level message was processed (Heartbeat, TestRequest, Logout, ...).

    Informational (QuickFIX's ``fromAdmin``); the session has already acted on it.
    """

    message: Message

    def __init__(self, message: Message) -> None:
        _set_admin_message(self, message)


# The two events of every message received are built by writing their slot directly:
# a frozen dataclass's generated __init__ goes through object.__setattr__, which costs
# about as much again. They stay frozen: assigning to ``message`` afterwards raises.
_set_app_message = MessageReceived.__dict__["message"].__set__
_set_admin_message = AdminMessageReceived.__dict__["message"].__set__


@dataclasses.dataclass(frozen=True, slots=True)
class RejectReceived(Event):
    """The peer sent a session-level Reject(35=3)."""

    message: Message


@dataclasses.dataclass(frozen=True, slots=True)
class RejectSent(Event):
    """We rejected message ``ref_seq``: SessionRejectReason(373) ``reason`` on ``tag``.

    ``reason`` is None for FIX.4.0/4.1, whose Reject has no reason code.
    """

    ref_seq: int | None
    reason: int | None
    tag: int | None
    text: str


@dataclasses.dataclass(frozen=True, slots=True)
class GapDetected(Event):
    """Incoming messages ``begin``..``end`` are missing; a ResendRequest was sent.

    ``end`` is the last missing sequence number known when the gap was seen.
    """

    begin: int
    end: int


@dataclasses.dataclass(frozen=True, slots=True)
class GapFilled(Event):
    """Every message of a gap reported by :class:`GapDetected` has been processed."""

    begin: int
    end: int


@dataclasses.dataclass(frozen=True, slots=True)
class SequenceReset(Event):
    """The peer moved our expected incoming MsgSeqNum to ``new_seq`` (35=4)."""

    new_seq: int
    gap_fill: bool


@dataclasses.dataclass(frozen=True, slots=True)
class ResendRequested(Event):
    """The peer asked us to resend ``begin``..``end`` (``end`` 0 = everything)."""

    begin: int
    end: int


@dataclasses.dataclass(frozen=True, slots=True)
class MessagesResent(Event):
    """We answered a ResendRequest: ``begin``..``end`` went out again.

    ``resent`` application messages were sent with PossDupFlag=Y, the rest of the
    range was covered by SequenceReset-GapFill.
    """

    begin: int
    end: int
    resent: int


@dataclasses.dataclass(frozen=True, slots=True)
class HeartbeatMissed(Event):
    """Nothing arrived for HeartBtInt plus the allowance: a TestRequest was sent."""

    test_req_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class GarbledMessageDropped(Event):
    """Bytes that did not form a valid message were ignored (FIX: garbled message)."""

    reason: str
    size: int


@dataclasses.dataclass(frozen=True, slots=True)
class StoreReset(Event):
    """Both sequence numbers went back to 1 and the stored messages were dropped."""

    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class UnsentMessagesDiscarded(Event):
    """Messages ``begin``..``end`` were queued while not logged on and then lost to a reset.

    They were never transmitted; the application should send them again if they
    still matter.
    """

    begin: int
    end: int


@dataclasses.dataclass(frozen=True, slots=True)
class DisconnectRequested(Event):
    """The session wants the connection closed: flush ``data_to_send()``, then close."""

    reason: str


@runtime_checkable
class MessageLog(Protocol):
    """Where a session writes its message log (QuickFIX's incoming/outgoing/event logs)."""

    def on_incoming(self, raw: bytes) -> None:
        """A message (or garbled frame) received, as wire bytes."""
        ...

    def on_outgoing(self, raw: bytes) -> None:
        """A message sent, as wire bytes."""
        ...

    def on_event(self, text: str) -> None:
        """A session event, as one line of text."""
        ...
