"""The application behind the ``acceptance`` profile: what QuickFIX's test acceptor does.

Theory of operation
-------------------
The QuickFIX acceptance scripts (``.def`` files, session test cases 1a-21) talk to an
acceptor whose sessions are plain engine configuration (``profiles/acceptance.cfg``:
one port, CompID ISLD, ResetOnLogon, full validation, QuickFIX-compatible garbled
frame recovery). Only the application is specific, and it is small:

* NewOrderSingle (D): sent back, unless it carries PossResend(97)=Y and its ClOrdID
  was already seen on the session since the last logout (test case 19a/19b);
* SecurityDefinition (d, FIX.4.2 and later) and Email (C): sent back;
* anything else: unsupported message type -> BusinessMessageReject(380=3), or a
  session Reject for FIX.4.0/4.1 (the session picks; test case 2r).

"Sent back" means the received message handed to ``send``: the session writes its
own header (CompIDs, MsgSeqNum, SendingTime) and drops PossDupFlag/OrigSendingTime,
so the body and the other header fields (PossResend, routing) are kept.
"""

from __future__ import annotations

from ..application import Application, SessionHandle, UnsupportedMessageType
from ..codec import Message
from ..session.config import SessionID

__all__ = ["PROFILE", "EchoApplication"]

PROFILE = "acceptance"
"""Name of the settings file in ``fixengine/profiles`` this application goes with."""


class EchoApplication(Application):
    """Echoes orders, security definitions and emails; refuses every other type."""

    def __init__(self) -> None:
        self._seen: dict[SessionID, set[bytes]] = {}

    def on_logout(self, session: SessionHandle, text: str | None) -> None:
        self._seen.pop(session.session_id, None)

    def on_message(self, session: SessionHandle, message: Message) -> None:
        msg_type = message.msg_type
        if msg_type == b"D":
            cl_ord_id = message.get(11) or b""
            seen = self._seen.setdefault(session.session_id, set())
            if message.get(97) == b"Y" and cl_ord_id in seen:
                return  # a possible resend of an order already handled
            seen.add(cl_ord_id)
            session.send_nowait(message)
        elif msg_type == b"C" or (msg_type == b"d" and session.config.begin_string >= "FIX.4.2"):
            session.send_nowait(message)
        else:
            raise UnsupportedMessageType()
