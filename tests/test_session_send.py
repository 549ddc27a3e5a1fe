"""Outgoing messages: header, SendingTime, persistence order, sending while not logged on."""

from __future__ import annotations

from typing import Any

import pytest

from fixengine.codec import Message
from fixengine.errors import LocalProtocolError
from fixengine.fields import format_utc_timestamp
from fixengine.session import events as ev
from fixengine.session.session import Session
from fixengine.session.store import MemoryStore
from tests.session_harness import Endpoint, FakeClock, Link, Peer, config


def order(cl_ord_id: str = "1") -> Message:
    return Message.from_fields([(35, "D"), (11, cl_ord_id), (55, "INTC"), (54, 1)])


def logged_on(begin: str = "FIX.4.4", **kw: Any) -> tuple[Endpoint, Peer]:
    clock = FakeClock()
    ep = Endpoint(config("acceptor", begin, **kw), clock)
    peer = Peer(clock, begin)
    return ep.logged_on_acceptor(peer), peer


def test_header_order_is_8_9_35_49_56_34_52_then_the_rest() -> None:
    ep, _ = logged_on(sender_sub_id="DESK", target_sub_id="TRADER")
    msg = order()
    msg.append(115, "CLIENT")  # a header field set by the application
    seq = ep.session.send(msg, ep.clock.now)
    (out,) = ep.sent()
    tags = [t for t, _ in out.fields()]
    assert tags[:7] == [8, 9, 35, 49, 56, 34, 52]
    assert tags[-1] == 10
    assert out.get(34) == str(seq).encode() == b"2"
    assert out.get(50) == b"DESK" and out.get(57) == b"TRADER" and out.get(115) == b"CLIENT"
    assert tags.index(115) < tags.index(11)  # header fields before the body


def test_session_owned_fields_of_an_application_message_are_replaced() -> None:
    ep, _ = logged_on()
    msg = order()
    for tag, value in ((49, "X"), (56, "Y"), (34, "77"), (52, "old"), (43, "Y"), (122, "old")):
        msg.append(tag, value)
    ep.session.send(msg, ep.clock.now)
    (out,) = ep.sent()
    assert out.get(49) == b"ISLD" and out.get(56) == b"TW" and out.get(34) == b"2"
    assert 43 not in out and 122 not in out
    assert out.get_all(52) == [format_utc_timestamp(round(ep.clock.now * 1e9), 3)]


@pytest.mark.parametrize(
    ("begin", "precision", "expected"),
    [
        ("FIX.4.4", None, b"20250615-15:06:40.123"),
        ("FIX.4.2", None, b"20250615-15:06:40.123"),
        ("FIX.4.0", None, b"20250615-15:06:40"),
        ("FIX.4.1", None, b"20250615-15:06:40"),
        ("FIX.4.4", 6, b"20250615-15:06:40.123456"),
        ("FIX.4.4", 0, b"20250615-15:06:40"),
    ],
)
def test_sending_time_precision_follows_the_version_or_the_setting(
    begin: str, precision: int | None, expected: bytes
) -> None:
    clock = FakeClock(1_750_000_000.123456)
    ep = Endpoint(config("initiator", begin, timestamp_precision=precision), clock)
    ep.connect()
    (logon,) = ep.sent()
    assert logon.get(52) == expected


def test_sending_time_matches_the_reference_formatter_across_seconds() -> None:
    clock = FakeClock()
    ep = Endpoint(config("initiator"), clock)
    for t in (0.0, 0.9999, 1.0005, 59.5, 86399.999):
        assert ep.session._timestamp(clock.now + t) == format_utc_timestamp(
            int((clock.now + t) * 1000) * 1_000_000, 3
        )


class OrderCheckingStore(MemoryStore):
    """A store that records when messages were saved relative to the outbox."""

    def __init__(self) -> None:
        super().__init__(0.0)
        self.session: Session | None = None
        self.unsent_at_save: list[bytes] = []

    def save_sent(self, seq: int, data: bytes) -> None:
        assert self.session is not None
        # nothing of this message may be in the outbox yet
        self.unsent_at_save.append(b"".join(self.session._outbox))
        super().save_sent(seq, data)


def test_messages_are_persisted_before_they_reach_the_outbox() -> None:
    clock = FakeClock()
    store = OrderCheckingStore()
    ep = Endpoint(config(), clock, store=store)
    store.session = ep.session
    peer = Peer(clock)
    ep.logged_on_acceptor(peer)
    ep.session.send(order(), clock.now)
    data = ep.session.data_to_send()
    saved = store.get_sent(2, 2)[0][1]
    assert data == saved
    assert all(saved not in before for before in store.unsent_at_save)


def test_session_level_types_cannot_be_sent_by_the_application() -> None:
    ep, _ = logged_on()
    for mt in ("0", "1", "2", "4", "5", "A"):
        with pytest.raises(LocalProtocolError):
            ep.session.send(Message(mt), ep.clock.now)
    with pytest.raises(LocalProtocolError):
        ep.session.send(Message(), ep.clock.now)


def test_sent_while_disconnected_is_delivered_by_resend_after_logon() -> None:
    link = Link.create()
    link.connect()
    link.initiator.session.send(order("before"), link.clock.now)
    link.pump().disconnect()
    seq = link.acceptor.session.send(order("offline"), link.clock.now)
    assert link.acceptor.session.data_to_send() == b""
    link.clock.advance(1)
    link.connect()
    # the acceptor's Logon reveals the gap; the initiator asks; the order is resent
    got = link.initiator.received_app()
    assert [m.get(11) for m in got] == [b"offline"]
    assert got[0].get(43) == b"Y" and got[0].get_int(34) == seq


def test_sent_while_logon_is_pending_goes_out_right_after_the_logon() -> None:
    link = Link.create()
    link.connected = True
    link.acceptor.session.connection_made(link.clock.now)
    link.initiator.session.connection_made(link.clock.now)
    link.initiator.session.send(order("early"), link.clock.now)
    link.pump()
    assert [m.get(11) for m in link.acceptor.received_app()] == [b"early"]
    assert link.types("i->a") == ["A", "D"]
    assert not link.acceptor.of(ev.GapDetected)


def test_sending_when_a_reset_would_lose_the_message_is_refused() -> None:
    ep = Endpoint(config("initiator", reset_on_logon=True))
    with pytest.raises(LocalProtocolError):
        ep.session.send(order(), ep.clock.now)
    ep2 = Endpoint(config("initiator", persist_messages=False))
    with pytest.raises(LocalProtocolError):
        ep2.session.send(order(), ep2.clock.now)


def test_unsent_messages_lost_to_a_reset_are_reported() -> None:
    ep, peer = logged_on()
    ep.session.connection_lost(ep.clock.now)
    ep.session.send(order("a"), ep.clock.now)
    ep.session.send(order("b"), ep.clock.now)
    peer.seq = 1
    ep.connect().feed(peer.logon(30, (141, "Y")))
    assert ep.of(ev.UnsentMessagesDiscarded) == [ev.UnsentMessagesDiscarded(2, 3)]


def test_session_config_repr_hides_the_password() -> None:
    from fixengine.session.config import SessionConfig

    config = SessionConfig("FIX.4.4", "A", "B", password="hunter2-secret")
    assert "hunter2-secret" not in repr(config)
    assert config.password == "hunter2-secret"
