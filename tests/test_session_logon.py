"""Logon and Logout: FIX session test cases 1a-1e and 13, resets, authentication, FIXT."""

from __future__ import annotations

import re
from typing import Any

import pytest

from fixengine.codec import Message
from fixengine.errors import ConfigError, LocalProtocolError
from fixengine.session import admin
from fixengine.session import events as ev
from fixengine.session.state import SessionState
from tests.session_harness import Endpoint, FakeClock, Peer, body, config


def acceptor(**kw: Any) -> tuple[Endpoint, Peer]:
    clock = FakeClock()
    begin = kw.pop("begin", "FIX.4.4")
    session_kw = {k: kw.pop(k) for k in ("authenticator", "log") if k in kw}
    return Endpoint(config("acceptor", begin, **kw), clock, **session_kw), Peer(clock, begin)


def initiator(**kw: Any) -> tuple[Endpoint, Peer]:
    clock = FakeClock()
    begin = kw.pop("begin", "FIX.4.4")
    ep = Endpoint(config("initiator", begin, **kw), clock)
    return ep, Peer(clock, begin, sender="ISLD", target="TW")


class ListLog:
    def __init__(self) -> None:
        self.lines: list[bytes | str] = []

    def on_incoming(self, raw: bytes) -> None:
        self.lines.append(raw)

    def on_outgoing(self, raw: bytes) -> None:
        self.lines.append(raw)

    def on_event(self, text: str) -> None:
        self.lines.append(text)


# -- acceptor ---------------------------------------------------------------------------
def test_acceptor_answers_logon_with_the_initiators_heartbeat_interval() -> None:
    # 1a: valid Logon with the expected MsgSeqNum
    ep, peer = acceptor()
    ep.connect().feed(peer.logon(17))
    (answer,) = ep.sent()
    assert body(answer) == body(admin.logon(17))
    assert answer.get(34) == b"1"
    assert ep.session.state is SessionState.LOGGED_ON
    assert ep.session.heartbeat_interval == 17
    assert ep.of(ev.LoggedOn) == [ev.LoggedOn(17, False)]
    assert ep.session.next_target_seq == 2 and ep.session.next_sender_seq == 2


def test_logon_with_seq_too_high_is_answered_then_a_resend_is_requested() -> None:
    # 1a: Logon MsgSeqNum too high
    ep, peer = acceptor()
    ep.connect().feed(peer.logon(seq=5))
    assert [admin.describe(m) for m in ep.sent()] == ["Logon(30)", "ResendRequest(1, 0)"]
    assert ep.of(ev.GapDetected) == [ev.GapDetected(1, 4)]
    assert ep.session.next_target_seq == 1


def test_logon_with_seq_too_low_is_refused_with_a_logout() -> None:
    ep, peer = acceptor()
    ep.store.set_next_target_seq(10)
    ep.session = type(ep.session)(ep.config, ep.store)
    ep.connect().feed(peer.logon(seq=3))
    (logout,) = ep.sent()
    assert body(logout) == body(admin.logout("MsgSeqNum too low, expecting 10 but received 3"))
    assert ep.disconnect_requested and not ep.of(ev.LoggedOn)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("1e first message is not a Logon", lambda p: p.heartbeat()),
        ("1d SendingTime far from now", lambda p: p.logon(sending_time=b"20010101-00:00:00")),
        ("1c wrong SenderCompID", lambda p: p.logon(sender="WT")),
        ("1c wrong TargetCompID", lambda p: p.logon(target="DLSI")),
        ("1d wrong BeginString", lambda p: p.logon(begin="FIX.4.2")),
        ("1d BodyLength too short", lambda p: re.sub(rb"\x019=\d+", b"\x019=40", p.logon())),
        ("1d CheckSum wrong", lambda p: p.logon()[:-4] + b"000\x01"),
        ("no HeartBtInt", lambda p: p.msg("A", (98, 0))),
    ],
)
def test_acceptor_disconnects_silently_on_an_invalid_first_message(name: str, make: Any) -> None:
    ep, peer = acceptor()
    ep.connect().feed(make(peer))
    assert ep.sent() == []
    assert ep.disconnect_requested, name
    assert ep.session.state is SessionState.DISCONNECTING
    assert not ep.of(ev.LoggedOn)


def test_logon_with_too_long_body_length_waits_until_the_logon_timeout() -> None:
    ep, peer = acceptor(logon_timeout=10)
    ep.connect().feed(re.sub(rb"\x019=\d+", b"\x019=900", peer.logon()))
    assert not ep.disconnect_requested
    ep.tick(10)
    assert ep.of(ev.DisconnectRequested) == [ev.DisconnectRequested("Logon timeout")]


def test_fixt_logon_without_default_appl_ver_id_is_disconnected() -> None:
    # 1d_InvalidLogonNoDefaultApplVerID
    ep, peer = acceptor(begin="FIXT.1.1")
    ep.connect().feed(peer.logon())
    assert ep.sent() == [] and ep.disconnect_requested


def test_fixt_logon_answer_carries_our_default_appl_ver_id() -> None:
    ep, peer = acceptor(begin="FIXT.1.1")
    ep.connect().feed(peer.logon(30, (1137, 8)))
    (answer,) = ep.sent()
    assert answer.get(1137) == b"9"
    assert ep.session.peer_default_appl_ver_id == b"8"


def test_data_after_a_disconnect_request_is_ignored() -> None:
    ep, peer = acceptor()
    ep.connect().feed(peer.heartbeat() + peer.logon())
    assert ep.sent() == []
    ep.feed(peer.logon())
    assert ep.sent() == []


def test_acceptor_logon_timeout_disconnects() -> None:
    ep, _ = acceptor(logon_timeout=5)
    ep.connect()
    assert ep.session.get_timer() == ep.clock.now + 5
    ep.tick(4.9)
    assert not ep.disconnect_requested
    ep.tick(0.2)
    assert ep.of(ev.DisconnectRequested) == [ev.DisconnectRequested("Logon timeout")]


def test_reset_seq_num_flag_resets_both_numbers_and_is_echoed() -> None:
    ep, peer = acceptor()
    ep.store.set_next_target_seq(40)
    ep.store.save_sent(25, b"old")
    ep.session = type(ep.session)(ep.config, ep.store)
    ep.connect().feed(peer.logon(30, (141, "Y")))
    (answer,) = ep.sent()
    assert body(answer) == body(admin.logon(30, reset_seq_num=True))
    assert answer.get(34) == b"1"
    assert ep.session.next_target_seq == 2
    assert ep.store.get_sent(25, 25) == []
    assert ep.of(ev.LoggedOn) == [ev.LoggedOn(30, True)]


def test_reset_on_logon_resets_without_echoing_the_flag() -> None:
    ep, peer = acceptor(reset_on_logon=True)
    ep.store.set_next_target_seq(40)
    ep.store.set_next_sender_seq(9)
    ep.session = type(ep.session)(ep.config, ep.store)
    ep.connect().feed(peer.logon())
    (answer,) = ep.sent()
    assert answer.get(34) == b"1" and 141 not in answer
    assert ep.of(ev.StoreReset)


def test_logon_with_reset_flag_while_logged_on_restarts_the_sequences() -> None:
    # QuickFIX SessionReset.def
    ep, peer = acceptor()
    ep.logged_on_acceptor(peer)
    ep.feed(*(peer.heartbeat() for _ in range(5)))
    peer.seq = 1
    ep.feed(peer.logon(30, (141, "Y")))
    (answer,) = ep.sent()
    assert answer.get(34) == b"1" and answer.get(141) == b"Y"
    ep.feed(peer.msg("1", (112, "1")))
    (hb,) = ep.sent()
    assert hb.get(34) == b"2" and hb.get(112) == b"1"


def test_authenticator_refusal_sends_logout_with_the_reason_then_disconnects() -> None:
    seen: list[Message] = []

    def refuse(logon: Message) -> str | None:
        seen.append(logon)
        return None if logon.get(554) == b"right" else "bad credentials"

    ep, peer = acceptor(authenticator=refuse)
    ep.connect().feed(peer.logon(30, (553, "user"), (554, "wrong")))
    (logout,) = ep.sent()
    assert body(logout) == body(admin.logout("bad credentials"))
    assert ep.of(ev.LogonRefused) == [ev.LogonRefused("bad credentials")]
    assert ep.disconnect_requested and not ep.of(ev.LoggedOn)
    assert seen[0].get(553) == b"user"

    ep2, peer2 = acceptor(authenticator=refuse)
    ep2.connect().feed(peer2.logon(30, (553, "user"), (554, "right")))
    assert [m.msg_type for m in ep2.sent()] == [b"A"]


def test_passwords_never_reach_the_log_or_the_store() -> None:
    log = ListLog()
    ep, _ = initiator(username="me", password="s3cret")
    ep.session = type(ep.session)(ep.config, ep.store, log=log)
    ep.connect()
    (logon,) = ep.sent()
    assert logon.get(554) == b"s3cret"  # on the wire only
    assert not any(b"s3cret" in line for line in log.lines if isinstance(line, bytes))
    assert b"s3cret" not in ep.store.get_sent(1, 1)[0][1]

    log2 = ListLog()
    ep2, peer2 = acceptor(log=log2)
    ep2.connect().feed(peer2.logon(30, (553, "u"), (554, "hunter2")))
    assert not any(b"hunter2" in line for line in log2.lines if isinstance(line, bytes))
    assert any(isinstance(line, str) for line in log2.lines)


# -- initiator --------------------------------------------------------------------------
def test_initiator_sends_logon_on_connection_made() -> None:
    ep, _ = initiator(heartbeat_interval=20, username="me", password="pw")
    ep.connect()
    (logon,) = ep.sent()
    assert body(logon) == body(admin.logon(20, username="me", password="pw"))
    assert ep.session.state is SessionState.LOGON_SENT


def test_initiator_with_reset_on_logon_resets_and_sends_the_flag() -> None:
    ep, peer = initiator(reset_on_logon=True)
    ep.store.set_next_sender_seq(30)
    ep.session = type(ep.session)(ep.config, ep.store)
    ep.connect()
    (logon,) = ep.sent()
    assert logon.get(141) == b"Y" and logon.get(34) == b"1"
    ep.feed(peer.logon(30, (141, "Y")))
    assert ep.session.is_logged_on
    assert ep.sent() == []  # the answer to our reset needs no second reset


def test_fixt_initiator_sends_default_appl_ver_id_and_next_expected() -> None:
    ep, _ = initiator(begin="FIXT.1.1", enable_next_expected_msg_seq_num=True)
    ep.connect()
    (logon,) = ep.sent()
    assert logon.get(1137) == b"9" and logon.get(789) == b"1"


def test_initiator_reports_a_logout_answer_as_logon_refused() -> None:
    ep, peer = initiator()
    ep.connect().sent()
    ep.feed(peer.msg("5", (58, "not today")))
    assert ep.of(ev.LogonRefused) == [ev.LogonRefused("not today")]
    assert ep.disconnect_requested


def test_initiator_logon_timeout_disconnects() -> None:
    ep, _ = initiator(logon_timeout=3)
    ep.connect().tick(3)
    assert ep.of(ev.DisconnectRequested) == [ev.DisconnectRequested("Logon timeout")]


def test_next_expected_msg_seq_num_lower_than_sent_triggers_an_immediate_resend() -> None:
    ep, peer = initiator(enable_next_expected_msg_seq_num=True)
    for seq in (1, 2, 3):  # messages the peer never got
        ep.store.save_sent(
            seq, Message.from_fields([(8, "FIX.4.4"), (35, "D"), (34, seq), (52, "x")]).encode()
        )
    ep.session = type(ep.session)(ep.config, ep.store)
    ep.connect()
    ep.sent()
    ep.feed(peer.logon(30, (789, 2)))
    got = [admin.describe(m) for m in ep.sent()]
    assert got == ["App(D, seq=2)", "App(D, seq=3)"]
    assert ep.session.is_logged_on


def test_next_expected_msg_seq_num_higher_than_sent_is_fatal() -> None:
    ep, peer = acceptor(enable_next_expected_msg_seq_num=True)
    ep.connect().feed(peer.logon(30, (789, 50)))
    out = ep.sent()
    assert [m.msg_type for m in out] == [b"A", b"5"]
    assert b"NextExpectedMsgSeqNum" in (out[1].get(58) or b"")
    assert ep.disconnect_requested


def test_acceptor_answer_tells_next_expected_and_skips_the_resend_request() -> None:
    ep, peer = acceptor(enable_next_expected_msg_seq_num=True)
    ep.connect().feed(peer.logon(30, (789, 1), seq=4))
    (answer,) = ep.sent()  # no ResendRequest: the peer resends from 789
    assert answer.get(789) == b"1"
    assert ep.of(ev.GapDetected) == [ev.GapDetected(1, 3)]
    ep.feed(
        *(peer.heartbeat(seq=s, poss_dup=True, orig_sending_time=ep.clock.now) for s in (1, 2, 3))
    )
    assert ep.session.next_target_seq == 5
    assert ep.of(ev.GapFilled) == [ev.GapFilled(1, 3)]


# -- logout (test case 13) --------------------------------------------------------------
def test_unsolicited_logout_is_answered_then_disconnected() -> None:
    ep, peer = acceptor()
    ep.logged_on_acceptor(peer)
    ep.feed(peer.msg("5", (58, "bye")))
    assert [admin.describe(m) for m in ep.sent()] == ["Logout()"]
    assert ep.of(ev.LoggedOut) == [ev.LoggedOut("bye")]
    assert ep.of(ev.DisconnectRequested)


def test_logout_handshake_waits_for_the_answer_then_disconnects() -> None:
    ep, peer = acceptor(logout_timeout=2)
    ep.logged_on_acceptor(peer)
    ep.session.logout(ep.clock.now, "done")
    assert [admin.describe(m) for m in ep.sent()] == ["Logout('done')"]
    assert ep.session.state is SessionState.LOGOUT_SENT
    ep.feed(peer.msg("5"))
    assert ep.sent() == []  # the answer is not answered
    assert ep.of(ev.DisconnectRequested) == [ev.DisconnectRequested("Logout completed")]


def test_unanswered_logout_times_out() -> None:
    ep, peer = acceptor(logout_timeout=2)
    ep.logged_on_acceptor(peer)
    ep.session.logout(ep.clock.now)
    ep.tick(1.9)
    assert not ep.disconnect_requested
    ep.tick(0.2)
    assert ep.of(ev.DisconnectRequested) == [ev.DisconnectRequested("Logout timeout")]
    assert ep.of(ev.LoggedOut) == [ev.LoggedOut("Logout timeout")]


def test_messages_keep_being_processed_while_logout_is_pending() -> None:
    ep, peer = acceptor()
    ep.logged_on_acceptor(peer)
    ep.session.logout(ep.clock.now)
    ep.sent()
    ep.feed(peer.order())
    assert len(ep.received_app()) == 1


def test_logout_before_logon_completes_just_disconnects() -> None:
    ep, _ = initiator()
    ep.connect().sent()
    ep.session.logout(ep.clock.now)
    assert ep.sent() == [] and ep.disconnect_requested


def test_reset_on_logout_and_on_disconnect() -> None:
    ep, peer = acceptor(reset_on_logout=True)
    ep.logged_on_acceptor(peer)
    ep.feed(peer.msg("5"))
    assert ep.store.next_sender_seq() == 1 and ep.store.next_target_seq() == 1

    ep2, peer2 = acceptor(reset_on_disconnect=True)
    ep2.logged_on_acceptor(peer2)
    ep2.session.connection_lost(ep2.clock.now)
    assert ep2.store.next_sender_seq() == 1
    assert ep2.of(ev.LoggedOut) == [ev.LoggedOut("connection lost")]


def test_bad_configurations_are_refused() -> None:
    from fixengine.session.session import Session
    from fixengine.session.store import MemoryStore

    with pytest.raises(ConfigError):
        Session(config(begin="FIX.3.9"), MemoryStore())
    with pytest.raises(ConfigError):
        Session(config(begin="FIXT.1.1", default_appl_ver_id="FIX.9"), MemoryStore())
    with pytest.raises(ConfigError):
        Session(config(timestamp_precision=2), MemoryStore())


def test_receive_data_before_connection_made_is_a_local_error() -> None:
    ep, peer = acceptor()
    with pytest.raises(LocalProtocolError):
        ep.feed(peer.logon())
    with pytest.raises(LocalProtocolError):
        ep.connect().connect()
