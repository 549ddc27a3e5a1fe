"""Sequence numbers: gaps, duplicates, SequenceReset and answering ResendRequest.

FIX session test cases 2a-2g, 8, 10, 11a-c and 20. The table-driven test plays a
scripted peer against a logged-on acceptor on a fake clock and compares what the
session sends, in :func:`fixengine.session.admin.describe` form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fixengine.codec import Message
from fixengine.session import admin
from fixengine.session import events as ev
from tests.session_harness import Endpoint, FakeClock, Peer, body, config

TOO_LOW = "Logout('MsgSeqNum too low, expecting {} but received {}')"


def logged_on(begin: str = "FIX.4.4", **kw: Any) -> tuple[Endpoint, Peer]:
    clock = FakeClock()
    ep = Endpoint(config("acceptor", begin, **kw), clock)
    peer = Peer(clock, begin)
    return ep.logged_on_acceptor(peer), peer


def hb(p: Peer, seq: int, **kw: Any) -> bytes:
    return p.heartbeat(seq=seq, **kw)


def dup(p: Peer, seq: int, mt: str = "0", *fields: tuple[int, Any], **kw: Any) -> bytes:
    kw.setdefault("orig_sending_time", p.clock.now - 1)
    return p.msg(mt, *fields, seq=seq, poss_dup=True, **kw)


Script = Callable[[Peer], list[bytes]]

# (test case, peer messages after Logon(1), what we send, next expected seq, disconnect?)
CASES: list[tuple[str, Script, list[str], int, bool]] = [
    ("2a in sequence", lambda p: [hb(p, 2), hb(p, 3), hb(p, 4)], [], 5, False),
    ("2b too high asks once", lambda p: [hb(p, 2), hb(p, 5), hb(p, 6)],
     ["ResendRequest(3, 0)"], 3, False),
    ("2b gap filled by the resend", lambda p: [hb(p, 4), hb(p, 2), hb(p, 3)],
     ["ResendRequest(2, 0)"], 5, False),
    ("2c too low without PossDup", lambda p: [hb(p, 2), hb(p, 3), hb(p, 2)],
     [TOO_LOW.format(4, 2)], 4, True),
    ("2e PossDup already received is ignored", lambda p: [hb(p, 2), dup(p, 2), hb(p, 3)],
     [], 4, False),
    ("2e PossDup not yet received is processed", lambda p: [hb(p, 2), dup(p, 3)], [], 4, False),
    ("2f OrigSendingTime after SendingTime", lambda p: [
        hb(p, 2), hb(p, 3), dup(p, 2, orig_sending_time=p.clock.now + 10)],
     ["Reject(2, 10, None, 'SendingTime accuracy problem')", "Logout()"], 4, False),
    ("2g OrigSendingTime missing on a duplicate", lambda p: [
        hb(p, 2), hb(p, 3), p.heartbeat(seq=2, poss_dup=True)],
     ["Reject(2, 1, 122, 'Required tag missing')"], 4, False),
    ("2g OrigSendingTime missing in sequence", lambda p: [p.heartbeat(seq=2, poss_dup=True)],
     ["Reject(2, 1, 122, 'Required tag missing')"], 3, False),
    ("10 GapFill in sequence", lambda p: [
        p.msg("4", (123, "Y"), (36, 20), seq=2), p.msg("1", (112, "X"), seq=20)],
     ["Heartbeat('X')"], 21, False),
    ("10 GapFill too high is queued", lambda p: [
        p.msg("4", (123, "Y"), (36, 20), seq=10), p.msg("1", (112, "X"), seq=20)],
     ["ResendRequest(2, 0)"], 2, False),
    ("10 GapFill too low with PossDup is ignored", lambda p: [
        hb(p, 2), dup(p, 1, "4", (123, "Y"), (36, 20))], [], 3, False),
    ("10 GapFill too low without PossDup", lambda p: [
        hb(p, 2), p.msg("4", (123, "Y"), (36, 20), seq=1)], [TOO_LOW.format(3, 1)], 3, True),
    ("11a Reset to a higher number, whatever MsgSeqNum", lambda p: [
        p.msg("4", (36, 25), seq=0), p.msg("1", (112, "X"), seq=25)], ["Heartbeat('X')"], 26,
     False),
    ("11b Reset to the expected number", lambda p: [p.msg("4", (36, 2), seq=0), hb(p, 2)],
     [], 3, False),
    ("11c Reset to a lower number", lambda p: [p.msg("4", (36, 1), seq=0)],
     ["Reject(0, 5, None, 'Value is incorrect (out of range) for this tag')"], 2, False),
    ("13b Logout with too high MsgSeqNum is answered", lambda p: [p.msg("5", seq=9)],
     ["Logout()"], 2, True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("script", "expected", "next_target", "disconnects"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_reaction_to_incoming_sequence_numbers(
    script: Script, expected: list[str], next_target: int, disconnects: bool
) -> None:
    ep, peer = logged_on()
    ep.feed(*script(peer))
    assert [admin.describe(m) for m in ep.sent()] == expected
    assert ep.session.next_target_seq == next_target
    assert ep.disconnect_requested == disconnects


def test_gap_is_reported_and_queued_messages_are_delivered_in_order() -> None:
    ep, peer = logged_on()
    ep.feed(peer.order("A", seq=2), peer.order("D", seq=5), peer.order("E", seq=6))
    assert ep.of(ev.GapDetected) == [ev.GapDetected(3, 4)]
    assert [m.get(11) for m in ep.received_app()] == [b"A"]
    ep.feed(peer.order("B", seq=3))
    assert [m.get(11) for m in ep.received_app()] == [b"A", b"B"]
    ep.feed(peer.order("C", seq=4))
    assert [m.get(11) for m in ep.received_app()] == [b"A", b"B", b"C", b"D", b"E"]
    assert ep.of(ev.GapFilled) == [ev.GapFilled(3, 4)]
    assert ep.store.next_target_seq() == 7


def test_fix40_asks_to_infinity_with_999999() -> None:
    ep, peer = logged_on("FIX.4.0")
    ep.feed(hb(peer, 5))
    assert [admin.describe(m) for m in ep.sent()] == ["ResendRequest(2, 999999)"]


def test_chunked_resend_requests_ask_for_the_next_chunk_when_one_is_done() -> None:
    ep, peer = logged_on(resend_request_chunk_size=2)
    ep.feed(hb(peer, 7))
    assert [admin.describe(m) for m in ep.sent()] == ["ResendRequest(2, 3)"]
    ep.feed(hb(peer, 2))
    assert ep.sent() == []
    ep.feed(hb(peer, 3))
    assert [admin.describe(m) for m in ep.sent()] == ["ResendRequest(4, 5)"]
    ep.feed(hb(peer, 4), hb(peer, 5))
    assert [admin.describe(m) for m in ep.sent()] == ["ResendRequest(6, 6)"]
    ep.feed(hb(peer, 6))
    assert ep.sent() == [] and ep.session.next_target_seq == 8


def test_redundant_resend_requests_when_configured() -> None:
    ep, peer = logged_on(send_redundant_resend_requests=True)
    ep.feed(hb(peer, 5), hb(peer, 6))
    assert [admin.describe(m) for m in ep.sent()] == ["ResendRequest(2, 0)"] * 2


def test_garbled_messages_are_dropped_without_using_a_sequence_number() -> None:
    # 2d/3b/3c
    ep, peer = logged_on()
    good = hb(peer, 2)
    bad_checksum = good[:-4] + b"000\x01"
    ep.feed(bad_checksum, b"garbage\x01", good)
    assert ep.sent() == []
    assert len(ep.of(ev.GarbledMessageDropped)) == 2
    assert ep.session.next_target_seq == 3 and not ep.disconnect_requested


def test_queue_above_a_gap_is_bounded_and_the_resend_brings_back_what_was_dropped() -> None:
    ep, peer = logged_on(max_queued_messages=3)
    ep.feed(*(peer.order(str(s), seq=s) for s in range(3, 9)))  # 2 lost; 3..8 arrive
    assert [admin.describe(m) for m in ep.sent()] == ["ResendRequest(2, 0)"]
    assert len(ep.session._queue) == 3
    # the peer answers the request to infinity with 2..8 again
    ep.feed(*(dup(peer, s, "D", (11, str(s))) for s in range(2, 9)))
    assert [m.get(11) for m in ep.received_app()] == [str(s).encode() for s in range(2, 9)]
    assert ep.session.next_target_seq == 9 and ep.sent() == []
    assert ep.of(ev.GapFilled) == [ev.GapFilled(2, 7)]


def test_target_sequence_is_persisted_as_it_advances() -> None:
    ep, peer = logged_on()
    ep.feed(hb(peer, 2), hb(peer, 3))
    assert ep.store.next_target_seq() == 4


# -- answering a ResendRequest (test case 8) ----------------------------------------------
def sent_history(ep: Endpoint, peer: Peer, kinds: str) -> None:
    """Make the session send one message per letter: a = app (echo), h = heartbeat."""
    for k in kinds:
        if k == "a":
            ep.session.send(Message.from_fields([(35, "D"), (11, f"o{k}")]), ep.clock.now)
        else:
            ep.feed(peer.msg("1", (112, "T")))
    ep.sent()


@pytest.mark.parametrize(
    ("history", "begin", "end", "expected"),
    [
        # 8_OnlyAdminMessages: one gap fill for the run
        ("hhh", 1, 4, ["GapFill(1->5)"]),
        ("hhh", 1, 0, ["GapFill(1->5)"]),
        # 8_OnlyApplicationMessages: every one resent, trailing admin gap-filled
        ("aaah", 2, 0, ["App(D, seq=2)", "App(D, seq=3)", "App(D, seq=4)", "GapFill(5->6)"]),
        # 8_AdminAndApplicationMessages
        ("hhhaahha", 2, 9, ["GapFill(2->5)", "App(D, seq=5)", "App(D, seq=6)",
                            "GapFill(7->9)", "App(D, seq=9)"]),
        ("hhhaahha", 2, 6, ["GapFill(2->5)", "App(D, seq=5)", "App(D, seq=6)"]),
        # EndSeqNo beyond what was sent, BeginSeqNo above it
        ("aa", 2, 99, ["App(D, seq=2)", "App(D, seq=3)"]),
        ("aa", 7, 0, []),
    ],
)  # fmt: skip
def test_resend_request_is_answered_from_the_store(
    history: str, begin: int, end: int, expected: list[str]
) -> None:
    ep, peer = logged_on()
    sent_history(ep, peer, history)
    ep.feed(peer.msg("2", (7, begin), (16, end)))
    assert [admin.describe(m) for m in ep.sent()] == expected
    assert ep.of(ev.ResendRequested)[-1] == ev.ResendRequested(begin, end)


def test_resent_messages_carry_poss_dup_and_original_sending_time() -> None:
    ep, peer = logged_on()
    sent_history(ep, peer, "a")
    original = ep.store.get_sent(2, 2)[0][1]
    ep.clock.advance(5)
    ep.feed(peer.msg("2", (7, 2), (16, 2)))
    (resent,) = ep.sent()
    assert resent.get(43) == b"Y"
    assert resent.get(34) == b"2"
    assert resent.get(122) == Message.from_fields([(t, v) for t, v in _fields(original)]).get(52)
    assert resent.get(52) != resent.get(122)
    assert body(resent) == [(35, b"D"), (11, b"oa")]
    assert ep.session.next_sender_seq == 3  # a resend takes no new number


def _fields(raw: bytes) -> list[tuple[int, bytes]]:
    from fixengine.codec import decode

    return decode(raw).fields()


def test_gap_fills_carry_poss_dup_and_orig_sending_time() -> None:
    ep, peer = logged_on()
    ep.feed(peer.msg("2", (7, 1), (16, 0)))
    (fill,) = ep.sent()
    assert fill.get(43) == b"Y" and fill.get(122) is not None and fill.get(123) == b"Y"


def test_messages_missing_from_the_store_are_gap_filled() -> None:
    ep, peer = logged_on(persist_messages=False)
    sent_history(ep, peer, "aa")
    ep.feed(peer.msg("2", (7, 1), (16, 0)))
    assert [admin.describe(m) for m in ep.sent()] == ["GapFill(1->4)"]


@pytest.mark.parametrize(
    ("resend", "expected"),
    [
        (False, ["GapFill(1->3)"]),
        (True, ["GapFill(1->2)", "Reject(2, 4, 56, 'Tag specified without a value')"]),
    ],
)
def test_session_level_rejects_are_resent_only_when_configured(
    resend: bool, expected: list[str]
) -> None:
    ep, peer = logged_on(resend_session_level_rejects=resend)
    ep.feed(peer.msg("0", target=""))  # rejected: our Reject is message 2
    ep.sent()
    ep.feed(peer.msg("2", (7, 1), (16, 0)))
    assert [admin.describe(m) for m in ep.sent()] == expected


def test_simultaneous_resend_requests() -> None:
    # test case 20: both sides have a gap; each answers the other's request
    ep, peer = logged_on()
    sent_history(ep, peer, "aa")  # we sent 2, 3
    peer.seq = 2
    ep.feed(hb(peer, 2), hb(peer, 3), hb(peer, 7))
    assert [admin.describe(m) for m in ep.sent()] == ["ResendRequest(4, 0)"]
    ep.feed(peer.msg("2", (7, 2), (16, 3), seq=8))  # too high, answered anyway
    assert [admin.describe(m) for m in ep.sent()] == ["App(D, seq=2)", "App(D, seq=3)"]
    ep.feed(*(dup(peer, s) for s in (4, 5, 6)))
    assert ep.session.next_target_seq == 9  # 7 and 8 were queued and are consumed
    ep.feed(peer.msg("5", seq=9))
    assert [admin.describe(m) for m in ep.sent()] == ["Logout()"]


def test_resend_request_with_too_low_seq_is_still_answered() -> None:
    # 8_OnlyAdminMessages replays a ResendRequest with an old MsgSeqNum
    ep, peer = logged_on()
    ep.feed(peer.msg("2", (7, 1), (16, 0), seq=2))
    ep.sent()
    ep.feed(peer.msg("2", (7, 1), (16, 0), seq=2))
    assert [admin.describe(m) for m in ep.sent()] == ["GapFill(1->2)"]
    assert not ep.disconnect_requested


def test_sequence_reset_events() -> None:
    ep, peer = logged_on()
    ep.feed(peer.msg("4", (123, "Y"), (36, 5), seq=2), peer.msg("4", (36, 9), seq=0))
    assert ep.of(ev.SequenceReset) == [ev.SequenceReset(5, True), ev.SequenceReset(9, False)]


# -- NextTargetSeq persistence --------------------------------------------------------------
def test_confirm_delivery_holds_the_stored_target_at_the_first_unhandled_message() -> None:
    clock = FakeClock()
    ep = Endpoint(config(), clock, confirm_delivery=True)
    peer = Peer(clock)
    ep.logged_on_acceptor(peer)
    assert ep.store.next_target_seq() == 2  # the Logon is not the application's business
    ep.feed(peer.order("a"), peer.order("b"), peer.heartbeat())
    assert ep.session.next_target_seq == 5
    assert ep.store.next_target_seq() == 2
    ep.session.message_handled(3)  # out of order: 2 is still open
    assert ep.store.next_target_seq() == 2
    ep.session.message_handled(2)
    assert ep.store.next_target_seq() == 5  # past the heartbeat too
    ep.session.message_handled(2)  # repeated: ignored
    assert ep.store.next_target_seq() == 5


def test_unhandled_messages_are_requested_again_after_a_crash() -> None:
    clock = FakeClock()
    ep = Endpoint(config(), clock, confirm_delivery=True)
    peer = Peer(clock)
    ep.logged_on_acceptor(peer)
    ep.feed(peer.order("a"), peer.order("b"))
    ep.session.message_handled(2)
    # the process dies; a new one opens the same store
    restarted = Endpoint(config(), clock, store=ep.store, confirm_delivery=True)
    restarted.connect().feed(peer.logon())
    assert [admin.describe(m) for m in restarted.sent()] == ["Logon(30)", "ResendRequest(3, 0)"]
    restarted.feed(dup(peer, 3, "D", (11, "b")), dup(peer, 4, "4", (123, "Y"), (36, 5)))
    assert [m.get(11) for m in restarted.received_app()] == [b"b"]


def test_without_confirmation_the_target_is_stored_when_processed() -> None:
    ep, peer = logged_on()
    ep.feed(peer.order("a"))
    assert ep.store.next_target_seq() == 3
    ep.session.message_handled(2)  # harmless without confirm_delivery
    assert ep.store.next_target_seq() == 3
