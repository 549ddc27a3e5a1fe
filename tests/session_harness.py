"""Test harness for the sans-IO session: a fake clock, a scripted peer, two sessions on a link.

* :class:`Peer` writes the messages a counterparty would send (header filled, like
  the lines of a QuickFIX ``.def`` script) with its own sequence numbers.
* :class:`Endpoint` wraps one :class:`Session` with a :class:`FakeClock` and decodes
  what it sends; ``sent_bodies()`` lets tests assert "sent ResendRequest(5, 0)" by
  comparing with :mod:`fixengine.session.admin` builders.
* :class:`Link` connects an initiator and an acceptor over a lossless in-memory link
  and runs their timers on the shared clock (h11's ConnectionPair, aioquic's
  client_and_server).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from fixengine.codec import Message, Parser, encode
from fixengine.errors import GarbledMessage
from fixengine.fields import format_utc_timestamp
from fixengine.session import events as ev
from fixengine.session.config import SessionConfig
from fixengine.session.session import Session
from fixengine.session.store import MemoryStore

START = 1_750_000_000.0  # 2025-06-15T15:06:40Z, a Sunday

#: Standard header and trailer tags: not part of what a test compares as the "body".
HEADER_TRAILER = frozenset({8, 9, 10, 34, 43, 49, 50, 52, 56, 57, 97, 122, 142, 143})


class FakeClock:
    """Wall-clock time under the test's control."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def config(role: str = "acceptor", begin: str = "FIX.4.4", **kw: Any) -> SessionConfig:
    """A SessionConfig as the QuickFIX acceptance scripts use it: we are ISLD, they are TW."""
    ours, theirs = ("ISLD", "TW") if role == "acceptor" else ("TW", "ISLD")
    if begin == "FIXT.1.1":
        kw.setdefault("default_appl_ver_id", "FIX.5.0SP2")
    return SessionConfig(begin, ours, theirs, role=role, **kw)  # type: ignore[arg-type]


def timestamp(t: float, precision: int = 3) -> bytes:
    return format_utc_timestamp(round(t * 1e9), precision)


def body(msg: Message) -> list[tuple[int, bytes]]:
    """The fields that are not standard header or trailer, in order (35 included)."""
    return [(t, v) for t, v in msg.fields() if t not in HEADER_TRAILER]


class Peer:
    """The counterparty of a session under test; writes complete wire messages."""

    def __init__(
        self, clock: FakeClock, begin: str = "FIX.4.4", sender: str = "TW", target: str = "ISLD"
    ) -> None:
        self.clock = clock
        self.begin = begin
        self.sender = sender
        self.target = target
        self.seq = 1

    def msg(
        self,
        msg_type: str | bytes,
        *fields: tuple[int, Any],
        seq: int | None = None,
        poss_dup: bool = False,
        orig_sending_time: float | None = None,
        sending_time: float | bytes | None = None,
        sender: str | None = None,
        target: str | None = None,
        begin: str | None = None,
        header: Iterable[tuple[int, Any]] = (),
    ) -> bytes:
        """One message; takes the next sequence number unless ``seq`` is given."""
        if seq is None:
            seq = self.seq
            self.seq += 1
        m = Message(msg_type)
        m.append(49, sender if sender is not None else self.sender)
        m.append(56, target if target is not None else self.target)
        m.append(34, seq)
        if poss_dup:
            m.append(43, b"Y")
        if isinstance(sending_time, bytes):
            m.append(52, sending_time)
        else:
            m.append(52, timestamp(self.clock.now if sending_time is None else sending_time))
        if orig_sending_time is not None:
            m.append(122, timestamp(orig_sending_time))
        for tag, value in header:
            m.append(tag, value)
        for tag, value in fields:
            m.append(tag, value)
        return encode(m, begin if begin is not None else self.begin)

    def logon(self, heart_bt_int: int = 30, *extra: tuple[int, Any], **kw: Any) -> bytes:
        return self.msg("A", (98, 0), (108, heart_bt_int), *extra, **kw)

    def heartbeat(self, *extra: tuple[int, Any], **kw: Any) -> bytes:
        return self.msg("0", *extra, **kw)

    def order(self, cl_ord_id: str = "ID", **kw: Any) -> bytes:
        return self.msg(
            "D", (11, cl_ord_id), (21, 3), (40, 1), (54, 1), (55, "INTC"),
            (60, timestamp(self.clock.now, 0)), **kw,
        )  # fmt: skip


class Endpoint:
    """A session driven by a test: feed it bytes, read back decoded messages and events."""

    def __init__(
        self,
        cfg: SessionConfig | None = None,
        clock: FakeClock | None = None,
        store: Any = None,
        **session_kw: Any,
    ) -> None:
        self.clock = clock or FakeClock()
        self.config = cfg or config()
        self.store = store if store is not None else MemoryStore(self.clock.now)
        self.session = Session(self.config, self.store, **session_kw)
        self._parser = Parser()
        self.events: list[ev.Event] = []

    # driving
    def connect(self) -> Endpoint:
        self.session.connection_made(self.clock.now)
        return self

    def feed(self, *datas: bytes) -> Endpoint:
        for data in datas:
            self.session.receive_data(data, self.clock.now)
        return self

    def tick(self, seconds: float = 0.0) -> Endpoint:
        """Advance the clock, calling handle_timer at every deadline on the way."""
        end = self.clock.now + seconds
        for _ in range(10_000):
            when = self.session.get_timer()
            if when is None or when > end:
                break
            self.clock.now = max(self.clock.now, when)
            self.session.handle_timer(self.clock.now)
        self.clock.now = end
        return self

    # reading
    def sent(self) -> list[Message]:
        """Every message sent since the last call, decoded."""
        items = self._parser.feed(self.session.data_to_send())
        for item in items:
            assert not isinstance(item, GarbledMessage), item
        return [m for m in items if isinstance(m, Message)]

    def sent_bodies(self) -> list[list[tuple[int, bytes]]]:
        return [body(m) for m in self.sent()]

    def drain(self) -> list[ev.Event]:
        """Events since the last call (also kept in ``events``)."""
        out = []
        while (e := self.session.next_event()) is not None:
            out.append(e)
        self.events.extend(out)
        return out

    def received_app(self) -> list[Message]:
        self.drain()
        return [e.message for e in self.events if isinstance(e, ev.MessageReceived)]

    def of(self, kind: type) -> list[Any]:
        self.drain()
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def disconnect_requested(self) -> bool:
        return bool(self.of(ev.DisconnectRequested))

    def logged_on_acceptor(self, peer: Peer, heart_bt_int: int = 30) -> Endpoint:
        """Connect and complete the Logon handshake as an acceptor; clears the output."""
        self.connect().feed(peer.logon(heart_bt_int))
        out = self.sent()
        assert [m.msg_type for m in out] == [b"A"], out
        self.drain()
        self.events.clear()
        return self


@dataclasses.dataclass
class Link:
    """An initiator and an acceptor over a lossless in-memory link, on one clock."""

    initiator: Endpoint
    acceptor: Endpoint
    connected: bool = False
    wire: list[tuple[str, Message]] = dataclasses.field(default_factory=list)

    @classmethod
    def create(cls, begin: str = "FIX.4.4", clock: FakeClock | None = None, **kw: Any) -> Link:
        clock = clock or FakeClock()
        ini_kw = {k[4:]: v for k, v in kw.items() if k.startswith("ini_")}
        acc_kw = {k[4:]: v for k, v in kw.items() if k.startswith("acc_")}
        common = {k: v for k, v in kw.items() if not k.startswith(("ini_", "acc_"))}
        ini = Endpoint(config("initiator", begin, **common, **ini_kw), clock)
        acc = Endpoint(config("acceptor", begin, **common, **acc_kw), clock)
        return cls(ini, acc)

    @property
    def clock(self) -> FakeClock:
        return self.initiator.clock

    def connect(self) -> Link:
        self.connected = True
        self.acceptor.session.connection_made(self.clock.now)
        self.initiator.session.connection_made(self.clock.now)
        return self.pump()

    def pump(self, drop: set[int] | None = None) -> Link:
        """Deliver queued bytes both ways until quiet; honour disconnect requests.

        A DisconnectRequested closes the link once the bytes queued before it have
        been delivered (the transport flushes, then closes). ``drop`` holds sequence
        numbers of initiator->acceptor messages to lose (not their resends).
        """
        close = False
        for _ in range(1000):
            moved = False
            for src, dst, name in (
                (self.initiator, self.acceptor, "i->a"),
                (self.acceptor, self.initiator, "a->i"),
            ):
                data = src.session.data_to_send()
                if not (data and self.connected):
                    continue
                moved = True
                for m in Parser().feed(data):
                    assert isinstance(m, Message)
                    self.wire.append((name, m))
                    seq = m.get_int(34)
                    if drop and name == "i->a" and seq in drop and m.get(43) != b"Y":
                        drop.discard(seq)
                        continue
                    dst.session.receive_data(m.raw, self.clock.now)
            for side in (self.initiator, self.acceptor):
                if any(isinstance(e, ev.DisconnectRequested) for e in side.drain()):
                    close = True
            if not moved:
                break
        if close:
            self.disconnect()
        return self

    def disconnect(self) -> Link:
        if self.connected:
            self.connected = False
            for side in (self.initiator, self.acceptor):
                side.session.data_to_send()
                side.session.connection_lost(self.clock.now)
                side.drain()
        return self

    def tick(self, seconds: float, step: float = 0.25) -> Link:
        """Advance the shared clock, running both sessions' timers and the link."""
        end = self.clock.now + seconds
        while True:
            whens = [
                w for w in (self.initiator.session.get_timer(), self.acceptor.session.get_timer())
                if w is not None
            ]  # fmt: skip
            nxt = min(whens) if whens else None
            if nxt is None or nxt > end:
                break
            self.clock.now = max(self.clock.now, nxt)
            for side in (self.initiator, self.acceptor):
                w = side.session.get_timer()
                if w is not None and w <= self.clock.now:
                    side.session.handle_timer(self.clock.now)
            self.pump()
        self.clock.now = end
        return self

    def types(self, direction: str | None = None) -> list[str]:
        return [
            (m.msg_type or b"").decode()
            for d, m in self.wire
            if direction is None or d == direction
        ]
