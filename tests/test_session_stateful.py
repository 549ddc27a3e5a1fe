"""Property test: a logged-on acceptor fed random peer behaviour keeps its guarantees.

The peer sends application and admin messages, loses some on the wire, duplicates
old ones (with and without PossDupFlag), fills and resets sequence numbers, sends
garbage and lets time pass; it answers every ResendRequest and TestRequest it
sees, like a correct counterparty. Whatever the order, the session must never
deliver an application message twice, must deliver them in MsgSeqNum order, must
not lose one the peer did not give up (SequenceReset-Reset forfeits the skipped
range), must never move its expected MsgSeqNum backwards and must never raise.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from fixengine.codec import Message, Parser, decode
from fixengine.session import events as ev
from fixengine.session.state import LOGGED_ON_STATES, SessionState
from tests.session_harness import Endpoint, FakeClock, Peer, config


class PeerModel:
    """What the counterparty sent: per MsgSeqNum, an application order or an admin message."""

    def __init__(self, clock: FakeClock) -> None:
        self.peer = Peer(clock)
        self.clock = clock
        self.history: dict[int, tuple[str, float]] = {}  # seq -> (kind, original time)
        self.forfeited: set[int] = set()
        self.lose_next = 0

    @property
    def next_seq(self) -> int:
        return self.peer.seq

    def build(self, seq: int, *, poss_dup: bool = False) -> bytes:
        kind, sent_at = self.history[seq]
        orig = sent_at if poss_dup else None
        p = self.peer
        if kind == "app":
            return p.msg("D", (11, str(seq)), (55, "X"), seq=seq, poss_dup=poss_dup,
                         orig_sending_time=orig)  # fmt: skip
        if kind == "logon":
            return p.logon(seq=seq)
        return p.msg("0", seq=seq, poss_dup=poss_dup, orig_sending_time=orig)

    def new(self, kind: str) -> bytes:
        seq = self.peer.seq
        self.peer.seq += 1
        self.history[seq] = (kind, self.clock.now)
        return self.build(seq)


class SessionMachine(RuleBasedStateMachine):
    SESSION_CONFIG: dict[str, object] = {}

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.ep = Endpoint(config(**self.SESSION_CONFIG), self.clock)
        self.model = PeerModel(self.clock)
        self.parser = Parser()
        self.delivered: list[int] = []
        self.covered: set[int] = set()
        self.last_target = 1
        self.reconnects = 0
        self.ep.connect()
        self._transmit(self.model.new("logon"))
        self._settle()

    # -- plumbing ---------------------------------------------------------------------------
    def _transmit(self, data: bytes) -> None:
        if self.model.lose_next:
            self.model.lose_next -= 1
            return
        self.ep.session.receive_data(data, self.clock.now)
        if self.ep.session.state in LOGGED_ON_STATES:
            # which of the peer's numbers the session now holds (processed or queued)
            msg = decode(data)
            seq = msg.get_int(34) or 0
            if msg.msg_type == b"4":
                new = msg.get_int(36) or 0
                self.covered.update(range(seq if msg.get(123) == b"Y" else 1, new))
            else:
                self.covered.add(seq)

    def _collect(self) -> list[Message]:
        out = [
            m for m in self.parser.feed(self.ep.session.data_to_send()) if isinstance(m, Message)
        ]
        while (e := self.ep.session.next_event()) is not None:
            if isinstance(e, ev.MessageReceived):
                self.delivered.append(int(e.message.get(11)))
            elif isinstance(e, ev.DisconnectRequested):
                self._reconnect_pending = True
        return out

    def _answer(self, out: list[Message]) -> bool:
        """Act as a correct peer on what the session sent; True if anything was sent back."""
        acted = False
        for m in out:
            if m.msg_type == b"2":
                begin, end = m.get_int(7) or 1, m.get_int(16) or 0
                last = self.model.next_seq - 1
                end = last if end == 0 or end > last else end
                seq = begin
                while seq <= end:
                    kind = self.model.history.get(seq, ("gone", 0.0))[0]
                    if kind == "app" and seq not in self.model.forfeited:
                        self._transmit(self.model.build(seq, poss_dup=True))
                        seq += 1
                    else:  # admin, logon or forfeited: one gap fill up to the next app message
                        stop = seq + 1
                        while stop <= end and not (
                            self.model.history.get(stop, ("", 0))[0] == "app"
                            and stop not in self.model.forfeited
                        ):
                            stop += 1
                        self._transmit(self.model.peer.msg(
                            "4", (123, "Y"), (36, stop), seq=seq, poss_dup=True,
                            orig_sending_time=self.clock.now))  # fmt: skip
                        seq = stop
                acted = True
            elif m.msg_type == b"1":
                test_req_id = m.get(112) or b""
                seq = self.model.next_seq
                self.model.peer.seq += 1
                self.model.history[seq] = ("admin", self.clock.now)
                self._transmit(self.model.peer.msg("0", (112, test_req_id), seq=seq))
                acted = True
        return acted

    def _settle(self) -> None:
        self._reconnect_pending = False
        for _ in range(50):
            out = self._collect()
            if self._reconnect_pending:
                self._reconnect_pending = False
                self._reconnect()
                continue
            if not self._answer(out):
                break

    def _reconnect(self) -> None:
        s = self.ep.session
        s.connection_lost(self.clock.now)
        self._collect()
        self.reconnects += 1
        s.connection_made(self.clock.now)
        self._transmit(self.model.new("logon"))

    # -- peer behaviour -----------------------------------------------------------------------
    @rule(n=st.integers(1, 3))
    def send_orders(self, n: int) -> None:
        for _ in range(n):
            self._transmit(self.model.new("app"))
        self._settle()

    @rule()
    def send_heartbeat(self) -> None:
        self._transmit(self.model.new("admin"))
        self._settle()

    @rule(n=st.integers(1, 3))
    def lose_messages(self, n: int) -> None:
        self.model.lose_next = n

    @rule(back=st.integers(1, 5), poss_dup=st.booleans())
    def duplicate_old_message(self, back: int, poss_dup: bool) -> None:
        seq = self.model.next_seq - back
        if seq in self.model.history and self.model.history[seq][0] != "logon":
            self._transmit(self.model.build(seq, poss_dup=poss_dup))
            self._settle()

    @rule(k=st.integers(1, 4))
    def gap_fill_admin_run(self, k: int) -> None:
        start = self.model.next_seq
        for i in range(k):
            self.model.history[start + i] = ("admin", self.clock.now)
        self.model.peer.seq = start + k
        self._transmit(self.model.peer.msg("4", (123, "Y"), (36, start + k), seq=start))
        self._settle()

    @rule(k=st.integers(1, 4))
    def sequence_reset_forward(self, k: int) -> None:
        start = self.model.next_seq
        new = start + k
        # everything the session has not processed below ``new`` is given up
        expected = self.ep.session.next_target_seq
        self.model.forfeited.update(range(expected, new))
        for seq in range(start, new):
            self.model.history[seq] = ("admin", self.clock.now)
        self.model.peer.seq = new
        self._transmit(self.model.peer.msg("4", (36, new), seq=0))
        self._settle()

    @rule(data=st.binary(min_size=1, max_size=40).filter(lambda b: b"8=" not in b))
    def send_garbage(self, data: bytes) -> None:
        self.ep.session.receive_data(data + b"\x01", self.clock.now)
        self._settle()

    @rule(seconds=st.floats(0.5, 45.0))
    def time_passes(self, seconds: float) -> None:
        end = self.clock.now + seconds
        while (when := self.ep.session.get_timer()) is not None and when <= end:
            self.clock.now = max(self.clock.now, when)
            self.ep.session.handle_timer(self.clock.now)
            self._settle()
        self.clock.now = end

    # -- guarantees -------------------------------------------------------------------------
    @invariant()
    def delivered_once_and_in_order(self) -> None:
        assert self.delivered == sorted(set(self.delivered))

    @invariant()
    def expected_sequence_never_goes_back(self) -> None:
        target = self.ep.session.next_target_seq
        assert target >= self.last_target
        self.last_target = target

    @invariant()
    def held_messages_are_delivered_as_soon_as_nothing_below_is_missing(self) -> None:
        prefix = 1
        while prefix in self.covered:
            prefix += 1
        due = [
            s for s, (kind, _) in sorted(self.model.history.items())
            if kind == "app" and s < prefix and s not in self.model.forfeited
        ]  # fmt: skip
        assert self.delivered[: len(due)] == due

    @invariant()
    def only_messages_the_peer_sent_are_delivered(self) -> None:
        for seq in self.delivered:
            assert self.model.history[seq][0] == "app"

    def teardown(self) -> None:
        """Nothing is lost once the peer shows its last number and answers the requests."""
        if self.ep.session.state is not SessionState.LOGGED_ON:
            return
        self.model.lose_next = 0
        self._transmit(self.model.new("admin"))  # reveals any trailing gap
        self._settle()
        wanted = [
            s for s, (kind, _) in sorted(self.model.history.items())
            if kind == "app" and s not in self.model.forfeited
        ]  # fmt: skip
        assert self.delivered == wanted


class ChunkedSessionMachine(SessionMachine):
    """The same with bounded ResendRequests: queued messages must be drained, not re-sent."""

    SESSION_CONFIG = {"resend_request_chunk_size": 2}


_SETTINGS = settings(
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSessionMachine = SessionMachine.TestCase
TestSessionMachine.settings = _SETTINGS
TestChunkedSessionMachine = ChunkedSessionMachine.TestCase
TestChunkedSessionMachine.settings = _SETTINGS


def test_machine_reconnects_after_a_fatal_duplicate() -> None:
    """The model itself works: a duplicate without PossDupFlag forces a reconnect."""
    m = SessionMachine()
    m.send_orders(2)
    m.duplicate_old_message(1, poss_dup=False)
    assert m.reconnects == 1
    m.send_orders(1)
    m.teardown()
    assert m.delivered == [2, 3, 5]  # 1 and 4 are the Logons
