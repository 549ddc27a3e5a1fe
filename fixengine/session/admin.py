"""Builders for the session-level (admin) messages.

Theory of operation
-------------------
The session *decides* what to send; this module *builds* it (Artio's SessionProxy).
Each builder returns a :class:`~fixengine.codec.Message` holding MsgType(35) and the
body only: the session adds the standard header (BeginString, SenderCompID,
TargetCompID, MsgSeqNum, SendingTime, PossDupFlag, ...) when it sends. Tests compare a
sent message's body with a builder's result ("sent ResendRequest(5, 0)") instead of
comparing bytes, and :func:`describe` names a message in one short line for logs and
assertions.

Version rules live here too, so they are written once:

* Reject(35=3): RefTagID(371), RefMsgType(372) and SessionRejectReason(373) exist from
  FIX.4.2 on; FIX.4.2 knows reasons 0-11 only. FIX.4.0/4.1 put the tag in the text,
  ``"Invalid tag number (999)"``.
* Routing fields are reversed on replies: OnBehalfOfCompID/SubID(115/116) become
  DeliverToCompID/SubID(128/129) and back; OnBehalfOfLocationID(144) and
  DeliverToLocationID(145) too from FIX.4.1 on (the version that added them). Empty
  values are not copied.
* ResendRequest "to infinity" is EndSeqNo(16)=0 from FIX.4.2 on, 999999 before.
"""

from __future__ import annotations

from ..codec import Message

__all__ = [
    "ADMIN_MSG_TYPES",
    "REJECT_REASON_TEXT",
    "appl_ver_id",
    "business_message_reject",
    "describe",
    "heartbeat",
    "infinity_seq",
    "logon",
    "logout",
    "protocol_version",
    "reject",
    "resend_request",
    "reverse_route",
    "sequence_reset",
    "test_request",
]

#: Session-level message types (FIX "administrative messages").
ADMIN_MSG_TYPES: frozenset[bytes] = frozenset({b"0", b"1", b"2", b"3", b"4", b"5", b"A"})

#: SessionRejectReason(373) -> Text(58), worded as QuickFIX words them.
REJECT_REASON_TEXT: dict[int, str] = {
    0: "Invalid tag number",
    1: "Required tag missing",
    2: "Tag not defined for this message type",
    3: "Undefined Tag",
    4: "Tag specified without a value",
    5: "Value is incorrect (out of range) for this tag",
    6: "Incorrect data format for value",
    7: "Decryption problem",
    8: "Signature problem",
    9: "CompID problem",
    10: "SendingTime accuracy problem",
    11: "Invalid MsgType",
    13: "Tag appears more than once",
    14: "Tag specified out of required order",
    15: "Repeating group fields out of order",
    16: "Incorrect NumInGroup count for repeating group",
    17: "Non Data value includes field delimiter (SOH character)",
    99: "Other",
}

_VERSIONS = {
    "FIX.4.0": 40,
    "FIX.4.1": 41,
    "FIX.4.2": 42,
    "FIX.4.3": 43,
    "FIX.4.4": 44,
    "FIXT.1.1": 50,
}

#: ApplVerID(1128)/DefaultApplVerID(1137) enumeration (FIXT.1.1).
_APPL_VER_IDS = {
    "FIX.2.7": "0",
    "FIX.3.0": "1",
    "FIX.4.0": "2",
    "FIX.4.1": "3",
    "FIX.4.2": "4",
    "FIX.4.3": "5",
    "FIX.4.4": "6",
    "FIX.5.0": "7",
    "FIX.5.0SP1": "8",
    "FIX.5.0SP2": "9",
}


def protocol_version(begin_string: str) -> int:
    """40, 41, 42, 43 or 44 for FIX.4.x; 50 for FIXT.1.1 (FIX 5.x); ValueError otherwise."""
    try:
        return _VERSIONS[begin_string]
    except KeyError:
        raise ValueError(f"unsupported BeginString {begin_string!r}") from None


def appl_ver_id(name: str) -> str:
    """The ApplVerID enum value for ``"FIX.5.0SP2"``-style names ("9"); digits pass through."""
    if name.isdigit():
        return name
    compact = name.upper().replace("FIX.", "FIX").replace(".", "")
    for key, value in _APPL_VER_IDS.items():
        if key.upper().replace("FIX.", "FIX").replace(".", "") == compact:
            return value
    raise ValueError(f"unknown ApplVerID {name!r}")


def infinity_seq(version: int) -> int:
    """EndSeqNo(16) meaning "all messages after BeginSeqNo": 0 from FIX.4.2 on, else 999999."""
    return 0 if version >= 42 else 999999


def logon(
    heart_bt_int: int,
    *,
    reset_seq_num: bool = False,
    next_expected_msg_seq_num: int | None = None,
    default_appl_ver_id: str | None = None,
    username: str | None = None,
    password: str | None = None,
) -> Message:
    """Logon(35=A): EncryptMethod(98)=0, HeartBtInt(108), optional 141/789/553/554/1137."""
    msg = Message(b"A")
    msg.append(98, b"0")
    msg.append(108, heart_bt_int)
    if reset_seq_num:
        msg.append(141, b"Y")
    if next_expected_msg_seq_num is not None:
        msg.append(789, next_expected_msg_seq_num)
    if username is not None:
        msg.append(553, username)
    if password is not None:
        msg.append(554, password)
    if default_appl_ver_id is not None:
        msg.append(1137, appl_ver_id(default_appl_ver_id))
    return msg


def heartbeat(test_req_id: bytes | str | None = None) -> Message:
    """Heartbeat(35=0), answering TestReqID(112) when given."""
    msg = Message(b"0")
    if test_req_id is not None:
        msg.append(112, test_req_id)
    return msg


def test_request(test_req_id: bytes | str) -> Message:
    """TestRequest(35=1) with TestReqID(112)."""
    msg = Message(b"1")
    msg.append(112, test_req_id)
    return msg


def resend_request(begin: int, end: int) -> Message:
    """ResendRequest(35=2): BeginSeqNo(7), EndSeqNo(16)."""
    msg = Message(b"2")
    msg.append(7, begin)
    msg.append(16, end)
    return msg


def sequence_reset(new_seq: int, *, gap_fill: bool) -> Message:
    """SequenceReset(35=4): NewSeqNo(36); GapFillFlag(123)=Y in gap-fill mode.

    The session sends a gap fill with the MsgSeqNum of the first message it replaces
    and PossDupFlag(43)=Y (FIX: "Sequence Reset - Gap Fill").
    """
    msg = Message(b"4")
    if gap_fill:
        msg.append(123, b"Y")
    msg.append(36, new_seq)
    return msg


def logout(text: str | None = None) -> Message:
    """Logout(35=5), with Text(58) when given."""
    msg = Message(b"5")
    if text:
        msg.append(58, text)
    return msg


def reverse_route(ref: Message, out: Message, version: int) -> None:
    """Copy ``ref``'s routing fields into ``out``, reversed (115<->128, 116<->129, 144<->145)."""
    pairs = [(115, 128), (116, 129)]
    if version >= 41:
        pairs.append((144, 145))
    for a, b in pairs:
        va = ref.get(a)
        if va:
            out.append(b, va)
        vb = ref.get(b)
        if vb:
            out.append(a, vb)


def reject(
    ref_seq: int | None,
    *,
    reason: int | None,
    tag: int | None = None,
    text: str | None = None,
    ref_msg_type: bytes | None = None,
    version: int = 44,
    routing: Message | None = None,
) -> Message:
    """Session-level Reject(35=3) of message ``ref_seq``.

    ``text`` defaults to the reason's standard wording. From FIX.4.2 on, 371/372/373
    are set (373 only for reasons FIX.4.2 defines, 0-11, when ``version`` is 42);
    before, the tag goes into the text in parentheses. ``routing`` is the rejected
    message, whose routing fields are copied reversed.
    """
    msg = Message(b"3")
    if routing is not None:
        reverse_route(routing, msg, version)
    if ref_seq is not None:
        msg.append(45, ref_seq)
    if text is None:
        text = REJECT_REASON_TEXT.get(reason, "") if reason is not None else ""
    if version >= 42:
        if text:
            msg.append(58, text)
        if tag is not None:
            msg.append(371, tag)
        if ref_msg_type:
            msg.append(372, ref_msg_type)
        if reason is not None and (version > 42 or reason <= 11):
            msg.append(373, reason)
    else:
        if tag is not None:
            text = f"{text} ({tag})"
        if text:
            msg.append(58, text)
    return msg


def business_message_reject(
    ref_seq: int | None,
    ref_msg_type: bytes,
    reason: int,
    text: str | None = None,
    *,
    ref_id: str | None = None,
    default_appl_ver_id: str | None = None,
    routing: Message | None = None,
    version: int = 44,
) -> Message:
    """BusinessMessageReject(35=j): RefSeqNum(45), RefMsgType(372), BusinessRejectReason(380).

    Under FIXT.1.1 the body carries our DefaultApplVerID(1137) as QuickFIX does.
    """
    msg = Message(b"j")
    if routing is not None:
        reverse_route(routing, msg, version)
    if ref_seq is not None:
        msg.append(45, ref_seq)
    if text:
        msg.append(58, text)
    msg.append(372, ref_msg_type)
    if ref_id is not None:
        msg.append(379, ref_id)
    msg.append(380, reason)
    if default_appl_ver_id is not None:
        msg.append(1137, appl_ver_id(default_appl_ver_id))
    return msg


_NAMES = {
    b"0": "Heartbeat",
    b"1": "TestRequest",
    b"2": "ResendRequest",
    b"3": "Reject",
    b"4": "SequenceReset",
    b"5": "Logout",
    b"A": "Logon",
    b"j": "BusinessMessageReject",
}


def describe(msg: Message) -> str:
    """One short line naming a message, e.g. ``ResendRequest(5, 0)`` or ``GapFill(2->5)``."""
    mt = msg.msg_type or b"?"
    name = _NAMES.get(mt)
    g = msg.get_str
    if name is None:
        return f"App({mt.decode('latin-1')}, seq={g(34)})"
    if mt == b"0":
        return f"Heartbeat({g(112)!r})" if 112 in msg else "Heartbeat()"
    if mt == b"1":
        return f"TestRequest({g(112)!r})"
    if mt == b"2":
        return f"ResendRequest({g(7)}, {g(16)})"
    if mt == b"3":
        return f"Reject({g(45)}, {g(373)}, {g(371)}, {g(58)!r})"
    if mt == b"4":
        kind = "GapFill" if msg.get(123) == b"Y" else "Reset"
        return f"{kind}({g(34)}->{g(36)})"
    if mt == b"5":
        return f"Logout({g(58)!r})" if 58 in msg else "Logout()"
    if mt == b"A":
        extra = ", reset" if msg.get(141) == b"Y" else ""
        return f"Logon({g(108)}{extra})"
    return f"BusinessMessageReject({g(45)}, {g(372)}, {g(380)})"
