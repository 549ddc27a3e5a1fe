"""Admin message builders and the session state table."""

from __future__ import annotations

import pytest

from fixengine.codec import Message
from fixengine.errors import LocalProtocolError
from fixengine.session import admin
from fixengine.session.state import TRANSITIONS, SessionState, Trigger, transition


def fields(msg: Message) -> list[tuple[int, bytes]]:
    return msg.fields()


def test_logon_carries_encrypt_method_heartbeat_and_optional_fields() -> None:
    msg = admin.logon(
        30,
        reset_seq_num=True,
        next_expected_msg_seq_num=7,
        default_appl_ver_id="FIX.5.0SP2",
        username="u",
        password="p",
    )
    assert fields(msg) == [
        (35, b"A"), (98, b"0"), (108, b"30"), (141, b"Y"), (789, b"7"),
        (553, b"u"), (554, b"p"), (1137, b"9"),
    ]  # fmt: skip
    assert fields(admin.logon(5)) == [(35, b"A"), (98, b"0"), (108, b"5")]


def test_heartbeat_echoes_test_req_id_only_when_given() -> None:
    assert fields(admin.heartbeat()) == [(35, b"0")]
    assert fields(admin.heartbeat(b"HELLO")) == [(35, b"0"), (112, b"HELLO")]


def test_resend_request_and_sequence_reset_modes() -> None:
    assert fields(admin.resend_request(5, 0)) == [(35, b"2"), (7, b"5"), (16, b"0")]
    assert fields(admin.sequence_reset(9, gap_fill=True)) == [(35, b"4"), (123, b"Y"), (36, b"9")]
    assert fields(admin.sequence_reset(9, gap_fill=False)) == [(35, b"4"), (36, b"9")]


def test_infinity_is_zero_from_fix42_and_999999_before() -> None:
    assert [admin.infinity_seq(v) for v in (40, 41, 42, 44, 50)] == [999999, 999999, 0, 0, 0]


@pytest.mark.parametrize(
    ("version", "reason", "expected"),
    [
        (44, 14, [(45, b"2"), (58, b"Tag specified out of required order"), (371, b"34"),
                  (372, b"D"), (373, b"14")]),
        # FIX.4.2 defines SessionRejectReason 0-11 only
        (42, 14, [(45, b"2"), (58, b"Tag specified out of required order"), (371, b"34"),
                  (372, b"D")]),
        (42, 5, [(45, b"2"), (58, b"Value is incorrect (out of range) for this tag"),
                 (371, b"34"), (372, b"D"), (373, b"5")]),
        # FIX.4.0/4.1: no 371-373, the tag goes into the text
        (40, 14, [(45, b"2"), (58, b"Tag specified out of required order (34)")]),
    ],
)  # fmt: skip
def test_reject_fields_follow_the_version(
    version: int, reason: int, expected: list[tuple[int, bytes]]
) -> None:
    msg = admin.reject(2, reason=reason, tag=34, ref_msg_type=b"D", version=version)
    assert fields(msg) == [(35, b"3"), *expected]


def test_reject_reverses_routing_and_skips_empty_values() -> None:
    ref = Message.from_fields([(35, "D"), (115, "JCD"), (116, ""), (128, "X"), (144, "CHI")])
    out = admin.reject(3, reason=5, tag=40, ref_msg_type=b"D", routing=ref, version=44)
    assert fields(out)[:4] == [(35, b"3"), (128, b"JCD"), (115, b"X"), (145, b"CHI")]
    assert (145, b"CHI") in fields(admin.reject(3, reason=5, routing=ref, version=41))
    old = admin.reject(3, reason=5, tag=40, routing=ref, version=40)
    assert (145, b"CHI") not in fields(old)  # location IDs exist from FIX.4.1 on


def test_business_message_reject_under_fixt_carries_default_appl_ver_id() -> None:
    msg = admin.business_message_reject(
        2, b"8", 3, "Unsupported Message Type", default_appl_ver_id="FIX.5.0SP2"
    )
    assert fields(msg) == [
        (35, b"j"), (45, b"2"), (58, b"Unsupported Message Type"), (372, b"8"), (380, b"3"),
        (1137, b"9"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value"),
    [("FIX.5.0SP2", "9"), ("FIX50SP1", "8"), ("FIX.5.0", "7"), ("FIX.4.4", "6"), ("9", "9")],
)
def test_appl_ver_id_names_map_to_enum_values(name: str, value: str) -> None:
    assert admin.appl_ver_id(name) == value


def test_unknown_versions_are_refused() -> None:
    with pytest.raises(ValueError):
        admin.appl_ver_id("FIX.9.9")
    with pytest.raises(ValueError):
        admin.protocol_version("FIX.3.9")


def test_describe_names_admin_messages_in_one_line() -> None:
    assert admin.describe(admin.resend_request(5, 0)) == "ResendRequest(5, 0)"
    assert admin.describe(admin.sequence_reset(9, gap_fill=True)) == "GapFill(None->9)"
    assert admin.describe(admin.logout("bye")) == "Logout('bye')"
    assert admin.describe(admin.heartbeat(b"X")) == "Heartbeat('X')"


S, T = SessionState, Trigger


@pytest.mark.parametrize(
    ("state", "trigger", "expected"),
    [
        (S.DISCONNECTED, T.CONNECTED_AS_INITIATOR, S.LOGON_SENT),
        (S.DISCONNECTED, T.CONNECTED_AS_ACCEPTOR, S.AWAITING_LOGON),
        (S.AWAITING_LOGON, T.LOGON_COMPLETED, S.LOGGED_ON),
        (S.LOGON_SENT, T.LOGON_COMPLETED, S.LOGGED_ON),
        (S.LOGGED_ON, T.LOGOUT_SENT, S.LOGOUT_SENT),
        (S.LOGOUT_SENT, T.DISCONNECT, S.DISCONNECTING),
        (S.DISCONNECTING, T.CONNECTION_LOST, S.DISCONNECTED),
    ],
)
def test_transition_table_lifecycle(state: S, trigger: T, expected: S) -> None:
    assert transition(state, trigger) is expected


@pytest.mark.parametrize(
    ("state", "trigger"),
    [
        (S.DISCONNECTED, T.LOGON_COMPLETED),
        (S.LOGON_SENT, T.CONNECTED_AS_INITIATOR),
        (S.AWAITING_LOGON, T.LOGOUT_SENT),
        (S.LOGOUT_SENT, T.LOGON_COMPLETED),
        (S.DISCONNECTED, T.DISCONNECT),
    ],
)
def test_transitions_not_in_the_table_are_local_protocol_errors(state: S, trigger: T) -> None:
    with pytest.raises(LocalProtocolError):
        transition(state, trigger)


def test_every_state_can_lose_its_connection() -> None:
    for state in SessionState:
        assert TRANSITIONS[(state, T.CONNECTION_LOST)] is S.DISCONNECTED
