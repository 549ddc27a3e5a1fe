"""Session states and the one table of legal transitions.

Theory of operation
-------------------
A FIX session (FIX Session Protocol, "Logon"/"Logout" and session test cases 1-20)
moves through a few connection-level states. The table below is the whole lifecycle;
a (state, trigger) pair that is not in it is a bug or a misuse of the API and raises
:class:`~fixengine.errors.LocalProtocolError` (h2's ``_transitions``).

::

    DISCONNECTED --connection_made--> LOGON_SENT        (initiator: our Logon is queued)
    DISCONNECTED --connection_made--> AWAITING_LOGON    (acceptor: logon timer runs)
    AWAITING_LOGON --valid Logon-->   LOGGED_ON         (we answer with our Logon)
    LOGON_SENT --Logon answer-->      LOGGED_ON
    LOGGED_ON --Logon 141=Y-->        LOGGED_ON         (sequence reset by the peer)
    LOGGED_ON --we send Logout-->     LOGOUT_SENT       (logout timer runs)
    connected --fatal error/Logout--> DISCONNECTING     (DisconnectRequested emitted)
    any --connection_lost-->          DISCONNECTED

Sequence-number gaps are not separate states: a logged-on session that awaits a
resend keeps the gap (range asked for, messages queued above it) beside the state,
and all the states above may carry one.
"""

from __future__ import annotations

import enum

from ..errors import LocalProtocolError

__all__ = ["CONNECTED", "LOGGED_ON_STATES", "SessionState", "Trigger", "transition"]


class SessionState(enum.Enum):
    """Where a session is in its connection lifecycle."""

    DISCONNECTED = "disconnected"
    AWAITING_LOGON = "awaiting logon"  # acceptor, connected, no Logon yet
    LOGON_SENT = "logon sent"  # initiator, Logon sent, no answer yet
    LOGGED_ON = "logged on"
    LOGOUT_SENT = "logout sent"  # waiting for the peer's Logout (or the timeout)
    DISCONNECTING = "disconnecting"  # DisconnectRequested emitted; input is ignored


class Trigger(enum.Enum):
    """What moves a session from one state to another."""

    CONNECTED_AS_INITIATOR = "connection made (initiator)"
    CONNECTED_AS_ACCEPTOR = "connection made (acceptor)"
    LOGON_COMPLETED = "logon completed"
    LOGOUT_SENT = "logout sent"
    DISCONNECT = "disconnect requested"
    CONNECTION_LOST = "connection lost"


S = SessionState
T = Trigger

#: (state, trigger) -> next state. Anything else is illegal.
TRANSITIONS: dict[tuple[SessionState, Trigger], SessionState] = {
    (S.DISCONNECTED, T.CONNECTED_AS_INITIATOR): S.LOGON_SENT,
    (S.DISCONNECTED, T.CONNECTED_AS_ACCEPTOR): S.AWAITING_LOGON,
    (S.AWAITING_LOGON, T.LOGON_COMPLETED): S.LOGGED_ON,
    (S.LOGON_SENT, T.LOGON_COMPLETED): S.LOGGED_ON,
    (S.LOGGED_ON, T.LOGON_COMPLETED): S.LOGGED_ON,
    (S.LOGGED_ON, T.LOGOUT_SENT): S.LOGOUT_SENT,
    (S.AWAITING_LOGON, T.DISCONNECT): S.DISCONNECTING,
    (S.LOGON_SENT, T.DISCONNECT): S.DISCONNECTING,
    (S.LOGGED_ON, T.DISCONNECT): S.DISCONNECTING,
    (S.LOGOUT_SENT, T.DISCONNECT): S.DISCONNECTING,
    (S.DISCONNECTING, T.DISCONNECT): S.DISCONNECTING,
    (S.DISCONNECTED, T.CONNECTION_LOST): S.DISCONNECTED,
    (S.AWAITING_LOGON, T.CONNECTION_LOST): S.DISCONNECTED,
    (S.LOGON_SENT, T.CONNECTION_LOST): S.DISCONNECTED,
    (S.LOGGED_ON, T.CONNECTION_LOST): S.DISCONNECTED,
    (S.LOGOUT_SENT, T.CONNECTION_LOST): S.DISCONNECTED,
    (S.DISCONNECTING, T.CONNECTION_LOST): S.DISCONNECTED,
}

#: States with a live connection whose input is processed.
CONNECTED: frozenset[SessionState] = frozenset(
    {S.AWAITING_LOGON, S.LOGON_SENT, S.LOGGED_ON, S.LOGOUT_SENT}
)

#: States in which the Logon handshake has completed.
LOGGED_ON_STATES: frozenset[SessionState] = frozenset({S.LOGGED_ON, S.LOGOUT_SENT})


def transition(state: SessionState, trigger: Trigger) -> SessionState:
    """The state after ``trigger`` in ``state``; LocalProtocolError if it is not legal."""
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise LocalProtocolError(f"{trigger.value!r} is not possible while {state.value}") from None
