"""Two sessions over an in-memory link: logon, heartbeats, gaps, resends, logout, reconnect."""

from __future__ import annotations

from fixengine.codec import Message
from fixengine.session import events as ev
from fixengine.session.state import SessionState
from tests.session_harness import Link


def order(cl_ord_id: str) -> Message:
    return Message.from_fields([(35, "D"), (11, cl_ord_id), (55, "INTC")])


def ids(messages: list[Message]) -> list[bytes | None]:
    return [m.get(11) for m in messages]


def test_logon_handshake_between_initiator_and_acceptor() -> None:
    link = Link.create(heartbeat_interval=20).connect()
    assert link.types() == ["A", "A"]
    for side in (link.initiator, link.acceptor):
        assert side.session.state is SessionState.LOGGED_ON
        assert side.of(ev.LoggedOn) == [ev.LoggedOn(20, False)]
    assert link.acceptor.session.heartbeat_interval == 20


def test_idle_link_stays_up_on_heartbeats_alone() -> None:
    link = Link.create(heartbeat_interval=5).connect()
    link.tick(300)
    assert link.connected
    assert link.types().count("0") >= 100
    assert "1" not in link.types()  # no TestRequest was ever needed


def test_silent_peer_is_probed_then_dropped() -> None:
    link = Link.create(heartbeat_interval=5).connect()
    link.connected = False  # the wire goes dead without either side noticing
    link.tick(13)
    assert link.initiator.of(ev.HeartbeatMissed)
    assert link.initiator.of(ev.DisconnectRequested)


def test_messages_flow_both_ways_in_order() -> None:
    link = Link.create().connect()
    for i in range(5):
        link.initiator.session.send(order(f"i{i}"), link.clock.now)
        link.acceptor.session.send(order(f"a{i}"), link.clock.now)
    link.pump()
    assert ids(link.acceptor.received_app()) == [f"i{i}".encode() for i in range(5)]
    assert ids(link.initiator.received_app()) == [f"a{i}".encode() for i in range(5)]


def test_lost_message_is_recovered_by_resend_and_delivered_in_order() -> None:
    link = Link.create().connect()
    for i in range(4):
        link.initiator.session.send(order(f"o{i}"), link.clock.now)
    link.pump(drop={3})  # order o1 (MsgSeqNum 3) is lost on the wire
    got = link.acceptor.received_app()
    assert ids(got) == [b"o0", b"o1", b"o2", b"o3"]
    assert got[1].get(43) == b"Y" and got[1].get(122) is not None
    assert link.acceptor.of(ev.GapDetected) == [ev.GapDetected(3, 3)]
    assert link.acceptor.of(ev.GapFilled) == [ev.GapFilled(3, 3)]
    assert link.initiator.of(ev.MessagesResent)


def test_logout_handshake_ends_both_sides() -> None:
    link = Link.create().connect()
    link.initiator.session.logout(link.clock.now, "end of day")
    link.pump()
    assert not link.connected
    assert link.types()[-2:] == ["5", "5"]
    assert link.acceptor.of(ev.LoggedOut) == [ev.LoggedOut("end of day")]
    assert link.initiator.of(ev.LoggedOut) == [ev.LoggedOut(None)]
    for side in (link.initiator, link.acceptor):
        assert side.session.state is SessionState.DISCONNECTED


def test_reconnect_continues_the_sequence_numbers() -> None:
    link = Link.create().connect()
    link.initiator.session.send(order("x"), link.clock.now)
    link.pump().disconnect()
    link.clock.advance(10)
    link.connect()
    logons = [m for d, m in link.wire if m.msg_type == b"A"]
    assert [m.get_int(34) for m in logons] == [1, 1, 3, 2]
    assert not link.acceptor.of(ev.GapDetected)


def test_reconnect_with_reset_on_logon_starts_over_at_one() -> None:
    link = Link.create(ini_reset_on_logon=True).connect()
    link.initiator.session.send(order("x"), link.clock.now)
    link.pump().disconnect()
    link.connect()
    logons = [m for d, m in link.wire if m.msg_type == b"A"]
    assert [(m.get_int(34), m.get(141)) for m in logons[2:]] == [(1, b"Y"), (1, b"Y")]
    assert link.initiator.session.next_sender_seq == 2
    assert link.acceptor.session.next_target_seq == 2


def test_messages_sent_during_an_outage_arrive_after_reconnect() -> None:
    link = Link.create().connect()
    link.disconnect()
    for i in range(3):
        link.initiator.session.send(order(f"q{i}"), link.clock.now)
    link.clock.advance(5)
    link.connect()
    got = link.acceptor.received_app()
    assert ids(got) == [b"q0", b"q1", b"q2"]
    assert all(m.get(43) == b"Y" for m in got)


def test_both_sides_losing_messages_recover_simultaneously() -> None:
    # test case 20 between two real sessions
    link = Link.create().connect()
    link.acceptor.session.send(order("a0"), link.clock.now)
    link.initiator.session.send(order("i0"), link.clock.now)
    link.initiator.session.data_to_send()  # i0 lost
    link.acceptor.session.data_to_send()  # a0 lost
    link.initiator.session.send(order("i1"), link.clock.now)
    link.acceptor.session.send(order("a1"), link.clock.now)
    link.pump()
    assert ids(link.acceptor.received_app()) == [b"i0", b"i1"]
    assert ids(link.initiator.received_app()) == [b"a0", b"a1"]
    assert link.connected
