"""The compiled session (``fixengine._session``) against its pure-Python twin: fed the same
bytes at the same times, both send the same bytes, report the same events and end in the
same state, whatever the peer does."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixengine import dictionary
from fixengine.codec import Message, decode
from fixengine.errors import LocalProtocolError
from fixengine.session.events import MessageReceived
from fixengine.session.session import Session, _PySession
from fixengine.session.store import MemoryStore
from tests.session_harness import START, FakeClock, Peer, config

pytestmark = pytest.mark.skipif(
    Session is _PySession, reason="fixengine._session is not built (or turned off)"
)

FIX44 = dictionary.load("FIX44")

_ops = st.lists(
    st.one_of(
        st.tuples(st.just("order"), st.integers(1, 3)),
        st.tuples(st.just("heartbeat")),
        st.tuples(st.just("lose"), st.integers(1, 2)),
        st.tuples(st.just("dup"), st.integers(1, 5), st.booleans()),
        st.tuples(st.just("gap_fill"), st.integers(1, 3)),
        st.tuples(st.just("reset"), st.integers(1, 3)),
        st.tuples(st.just("garbage"), st.binary(min_size=1, max_size=30)),
        st.tuples(st.just("odd"), st.sampled_from(["comp_id", "begin", "stale", "invalid"])),
        st.tuples(st.just("split"), st.integers(1, 60)),
        st.tuples(st.just("time"), st.floats(0.1, 40.0)),
        st.tuples(st.just("send"), st.sampled_from([b"D", b"8", b"0", b"A"])),
        st.tuples(st.just("handled"), st.integers(1, 12)),
        st.tuples(st.just("reconnect")),
    ),
    max_size=25,
)


class _Twin:
    """One session of each class, and everything observed of them so far."""

    def __init__(self, validate: bool, confirm: bool) -> None:
        self.clock = FakeClock()
        self.sessions = [
            cls(
                config(),
                MemoryStore(START),
                dictionary=FIX44 if validate else None,
                confirm_delivery=confirm,
            )
            for cls in (Session, _PySession)
        ]

    def each(self, call: Any) -> None:
        """Apply ``call`` to both sessions; they must answer alike (value or error type)."""
        outcomes = []
        for s in self.sessions:
            try:
                outcomes.append(("ok", call(s)))
            except (LocalProtocolError, ValueError) as exc:
                outcomes.append(("error", type(exc).__name__))
        assert outcomes[0] == outcomes[1]

    def observed(self, s: Any) -> tuple[Any, ...]:
        events = []
        while (e := s.next_event()) is not None:
            message = getattr(e, "message", None)
            events.append((type(e).__name__, message.fields() if message is not None else repr(e)))
        return (
            s.data_to_send(),
            events,
            s.state,
            s.next_sender_seq,
            s.next_target_seq,
            s.get_timer(),
            s.store.next_target_seq(),
            s.store.next_sender_seq(),
        )

    def compare(self) -> None:
        first, second = (self.observed(s) for s in self.sessions)
        assert first == second


def _feed(twin: _Twin, data: bytes) -> None:
    twin.each(lambda s: s.receive_data(data, twin.clock.now))


@pytest.mark.parametrize("validate", [True, False])
@pytest.mark.parametrize("confirm", [True, False])
@settings(max_examples=80, deadline=None)
@given(ops=_ops)
def test_the_compiled_session_behaves_as_the_python_session(
    validate: bool, confirm: bool, ops: list[tuple[Any, ...]]
) -> None:
    twin = _Twin(validate, confirm)
    peer = Peer(twin.clock)
    twin.each(lambda s: s.connection_made(twin.clock.now))
    _feed(twin, peer.logon())
    twin.compare()
    sent: list[bytes] = []
    for op in ops:
        kind = op[0]
        if kind == "order":
            for _ in range(op[1]):
                data = peer.order(f"C{peer.seq}")
                sent.append(data)
                _feed(twin, data)
        elif kind == "heartbeat":
            _feed(twin, peer.heartbeat())
        elif kind == "lose":
            peer.seq += op[1]
        elif kind == "dup" and len(sent) >= op[1]:
            old = sent[-op[1]]
            seq = decode(old).get_int(34) or 1
            _feed(twin, peer.order(f"C{seq}", seq=seq, poss_dup=op[2], orig_sending_time=START))
        elif kind == "gap_fill":
            start = peer.seq
            peer.seq += op[1]
            _feed(twin, peer.msg("4", (123, "Y"), (36, peer.seq), seq=start))
        elif kind == "reset":
            peer.seq += op[1]
            _feed(twin, peer.msg("4", (36, peer.seq), seq=0))
        elif kind == "garbage":
            _feed(twin, op[1])
        elif kind == "odd":
            how = op[1]
            if how == "comp_id":
                _feed(twin, peer.order("X", sender="SOMEONE"))
            elif how == "begin":
                _feed(twin, peer.order("X", begin="FIX.4.2"))
            elif how == "stale":
                _feed(twin, peer.order("X", sending_time=twin.clock.now - 600))
            else:
                _feed(twin, peer.msg("D", (11, "X"), (54, "Q")))  # fails validation
        elif kind == "split":
            data = peer.order(f"C{peer.seq}") + peer.heartbeat()
            cut = min(op[1], len(data) - 1)
            _feed(twin, data[:cut])
            _feed(twin, data[cut:])
        elif kind == "time":
            twin.clock.advance(op[1])
            twin.each(lambda s: s.handle_timer(twin.clock.now))
        elif kind == "send":
            msg_type = op[1]

            def send(s: Any, msg_type: bytes = msg_type) -> int:
                m = Message(msg_type)
                m.append(11, "OURS")
                return int(s.send(m, twin.clock.now))

            twin.each(send)
        elif kind == "handled":
            twin.each(lambda s, seq=op[1]: s.message_handled(seq))
        elif kind == "reconnect":
            twin.each(lambda s: s.connection_lost(twin.clock.now))
            twin.compare()
            twin.each(lambda s: s.connection_made(twin.clock.now))
            _feed(twin, peer.logon())
        twin.compare()


def test_the_compiled_fast_path_makes_the_same_frozen_event() -> None:
    twin = _Twin(validate=True, confirm=False)
    peer = Peer(twin.clock)
    twin.each(lambda s: s.connection_made(twin.clock.now))
    _feed(twin, peer.logon())
    twin.compare()
    _feed(twin, peer.order("C1"))
    made = [s.next_event() for s in twin.sessions]
    assert type(made[0]) is MessageReceived and made[0] == MessageReceived(made[0].message)
    assert made[0].message.fields() == made[1].message.fields()
    with pytest.raises(dataclasses.FrozenInstanceError):
        made[0].message = made[1].message  # type: ignore[misc]
