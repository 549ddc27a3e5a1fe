"""A small session that follows the sans-IO session contract, and test helpers.

The transport tests use it where they need a session whose behaviour is fully
known (tiny heartbeat intervals, a counter of calls); end-to-end tests with the
real :class:`fixengine.session.session.Session` live next to them.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import time
from typing import Any

import pytest

from fixengine.codec import Message, Parser, encode
from fixengine.errors import GarbledMessage, LocalProtocolError
from fixengine.fields import format_utc_timestamp
from fixengine.session.config import SessionConfig
from fixengine.session.events import (
    DisconnectRequested,
    GarbledMessageDropped,
    HeartbeatMissed,
    LoggedOn,
    LoggedOut,
    MessageReceived,
)
from fixengine.session.store import MemoryStore
from fixengine.transport.loop import run as run_loop
from fixengine.transport.loop import uvloop_available

SOH = b"\x01"


class FakeSession:
    """Logon, Logout, Heartbeat/TestRequest and application messages; nothing else.

    ``heartbeat`` may be a float so timer tests run in fractions of a second.
    """

    def __init__(
        self,
        config: SessionConfig,
        store: Any = None,
        *,
        heartbeat: float | None = None,
        log: Any = None,
    ) -> None:
        self.config = config
        self.session_id = config.session_id
        self.store = store if store is not None else MemoryStore()
        self.heartbeat = float(heartbeat if heartbeat is not None else config.heartbeat_interval)
        self.log = log
        self.state = "DISCONNECTED"
        self._events: collections.deque[Any] = collections.deque()
        self._out = bytearray()
        self._parser = Parser(config.max_message_size)
        self._last_sent = 0.0
        self._last_recv = 0.0
        self._deadline: float | None = None
        self._test_request_out = False
        self.calls: collections.Counter[str] = collections.Counter()

    # -- properties ---------------------------------------------------------------
    @property
    def is_logged_on(self) -> bool:
        return self.state == "LOGGED_ON"

    @property
    def next_sender_seq(self) -> int:
        return int(self.store.next_sender_seq())

    @property
    def next_target_seq(self) -> int:
        return int(self.store.next_target_seq())

    # -- helpers ---------------------------------------------------------------------
    def _emit(self, msg: Message, now: float) -> int:
        seq = self.store.next_sender_seq()
        out = Message.from_fields(
            [(35, msg.msg_type or b"")]
            + [
                (49, self.config.sender_comp_id),
                (56, self.config.target_comp_id),
                (34, seq),
                (52, format_utc_timestamp(int(now * 1e9), 3)),
            ]
            + [(t, v) for t, v in msg.fields() if t not in (8, 9, 10, 35, 34, 49, 52, 56)]
        )
        data = encode(out, self.config.begin_string)
        self.store.save_sent(seq, data)
        if self.state != "DISCONNECTED":
            self._out += data
            if self.log is not None:
                self.log.on_outgoing(data)
        self._last_sent = now
        return int(seq)

    def _admin(self, msg_type: str, now: float, *fields: tuple[int, Any]) -> None:
        msg = Message(msg_type)
        for tag, value in fields:
            msg.append(tag, value)
        self._emit(msg, now)

    # -- the contract ---------------------------------------------------------------------
    def connection_made(self, now: float) -> None:
        self.calls["connection_made"] += 1
        self._parser = Parser(self.config.max_message_size)
        self._last_recv = now
        self._test_request_out = False
        if self.config.role == "initiator":
            self.state = "LOGON_SENT"
            self._admin("A", now, (98, 0), (108, int(self.heartbeat) or 1))
        else:
            self.state = "AWAIT_LOGON"
        self._deadline = now + self.config.logon_timeout

    def receive_data(self, data: bytes, now: float) -> None:
        self.calls["receive_data"] += 1
        for item in self._parser.feed(data):
            if isinstance(item, GarbledMessage):
                self._events.append(GarbledMessageDropped(item.reason.name, item.size))
                continue
            self._on_message(item, now)

    def _on_message(self, msg: Message, now: float) -> None:
        if self.log is not None and msg.raw is not None:
            self.log.on_incoming(msg.raw)
        self._last_recv = now
        self._test_request_out = False
        seq = msg.get_int(34) or 0
        self.store.set_next_target_seq(seq + 1)
        msg_type = msg.msg_type
        if msg_type == b"A":
            if self.state == "AWAIT_LOGON":
                self._admin("A", now, (98, 0), (108, msg.get_int(108) or 30))
            self.state = "LOGGED_ON"
            self._deadline = None
            self._events.append(LoggedOn(int(self.heartbeat)))
        elif msg_type == b"5":
            if self.state != "LOGOUT_SENT":
                self._admin("5", now)
            self.state = "DISCONNECTED_PENDING"
            self._events.append(LoggedOut(msg.get_str(58)))
            self._events.append(DisconnectRequested("logout complete"))
        elif msg_type == b"1":
            self._admin("0", now, (112, msg.get(112) or b""))
        elif msg_type == b"0":
            pass
        else:
            self._events.append(MessageReceived(msg))

    def send(self, msg: Message, now: float) -> int:
        self.calls["send"] += 1
        if not self.is_logged_on:
            raise LocalProtocolError("not logged on")
        return self._emit(msg, now)

    def logout(self, now: float, text: str | None = None) -> None:
        self.calls["logout"] += 1
        if self.is_logged_on:
            if text:
                self._admin("5", now, (58, text))
            else:
                self._admin("5", now)
            self.state = "LOGOUT_SENT"
            self._deadline = now + self.config.logout_timeout

    def send_business_reject(self, ref: Message, reason: int, text: str, now: float) -> None:
        self._admin(
            "j",
            now,
            (45, ref.get(34) or b"0"),
            (372, ref.msg_type or b""),
            (380, reason),
            (58, text),
        )

    def handle_timer(self, now: float) -> None:
        self.calls["handle_timer"] += 1
        if self._deadline is not None and now >= self._deadline:
            self._deadline = None
            self._events.append(DisconnectRequested("timeout"))
            return
        if self.state != "LOGGED_ON":
            return
        if now - self._last_recv >= 2 * self.heartbeat and self._test_request_out:
            self._events.append(DisconnectRequested("no heartbeat"))
            self.state = "DISCONNECTED_PENDING"
            return
        if now - self._last_recv >= 1.2 * self.heartbeat and not self._test_request_out:
            self._test_request_out = True
            self._events.append(HeartbeatMissed("TEST"))
            self._admin("1", now, (112, "TEST"))
        if now - self._last_sent >= self.heartbeat:
            self._admin("0", now)

    def get_timer(self) -> float | None:
        if self.state == "DISCONNECTED":
            return None
        if self.state != "LOGGED_ON":
            return self._deadline
        hb = self.heartbeat
        when = min(self._last_sent + hb, self._last_recv + 1.2 * hb)
        if self._test_request_out:
            when = min(self._last_sent + hb, self._last_recv + 2 * hb)
        return when

    def connection_lost(self, now: float) -> None:
        self.calls["connection_lost"] += 1
        if self.state in ("LOGGED_ON", "LOGOUT_SENT"):
            self._events.append(LoggedOut("connection lost"))
        self.state = "DISCONNECTED"
        self._deadline = None
        self._out.clear()

    def next_event(self) -> Any:
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data


def config(
    sender: str, target: str, role: str = "initiator", begin: str = "FIX.4.4", **kw: Any
) -> SessionConfig:
    """A SessionConfig with small timeouts for tests."""
    kw.setdefault("logon_timeout", 2.0)
    kw.setdefault("logout_timeout", 1.0)
    return SessionConfig(begin, sender, target, role=role, **kw)  # type: ignore[arg-type]


def pair(
    client: str = "CLIENT", server: str = "SERVER", **kw: Any
) -> tuple[FakeSession, FakeSession]:
    """An initiator session and its acceptor counterpart."""
    heartbeat = kw.pop("heartbeat", None)
    ini = FakeSession(config(client, server, "initiator", **kw), heartbeat=heartbeat)
    acc = FakeSession(config(server, client, "acceptor", **kw), heartbeat=heartbeat)
    return ini, acc


def real_pair(client: str = "CLIENT", server: str = "SERVER", **kw: Any) -> tuple[Any, Any]:
    """The same as :func:`pair` with the real :class:`~fixengine.session.session.Session`."""
    from fixengine.session.session import Session

    ini = Session(config(client, server, "initiator", **kw), MemoryStore())
    acc = Session(config(server, client, "acceptor", **kw), MemoryStore())
    return ini, acc


def logon_bytes(
    sender: str, target: str, begin: str = "FIX.4.4", seq: int = 1, heartbeat: int = 30
) -> bytes:
    """A Logon as a counterparty would send it."""
    msg = Message("A")
    for tag, value in (
        (49, sender),
        (56, target),
        (34, seq),
        (52, format_utc_timestamp(time.time_ns(), 3)),
        (98, 0),
        (108, heartbeat),
    ):
        msg.append(tag, value)
    return encode(msg, begin)


def app_bytes(sender: str, target: str, seq: int, msg_type: str = "D", **fields: Any) -> bytes:
    msg = Message(msg_type)
    msg.append(49, sender)
    msg.append(56, target)
    msg.append(34, seq)
    msg.append(52, format_utc_timestamp(time.time_ns(), 3))
    for name, value in fields.items():
        msg.append(int(name.lstrip("t")), value)
    return encode(msg, "FIX.4.4")


class RawClient:
    """A bare socket counterparty driven by the test (to send anything at all)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = Parser()
        self.messages: list[Message] = []

    @classmethod
    async def connect(cls, port: int, **kw: Any) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, **kw)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_message(self, timeout: float = 3.0) -> Message:
        """The next complete message (TimeoutError if none, EOFError at end of stream)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.messages:
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError("no message")
            data = await asyncio.wait_for(self.reader.read(65536), left)
            if not data:
                raise EOFError("connection closed")
            for item in self.parser.feed(data):
                if isinstance(item, Message):
                    self.messages.append(item)
        return self.messages.pop(0)

    async def wait_closed_by_peer(self, timeout: float = 3.0) -> bytes:
        """Read until end of stream; return what arrived before it."""
        got = bytearray()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError("still open")
            try:
                data = await asyncio.wait_for(self.reader.read(65536), left)
            except ConnectionResetError:
                return bytes(got)
            if not data:
                return bytes(got)
            got += data

    def close(self) -> None:
        self.writer.transport.abort()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def eventually(predicate: Any, timeout: float = 3.0, interval: float = 0.01) -> None:
    """Wait until ``predicate()`` is true (AssertionError after ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)


LOOPS = ["asyncio", "uvloop"] if uvloop_available() else ["asyncio"]


@pytest.fixture(params=LOOPS)
def run(request: pytest.FixtureRequest) -> Any:
    """Run a coroutine to completion on a fresh loop of each kind, with a time limit."""

    def _run(coro: Any, timeout: float = 15.0) -> Any:
        async def guarded() -> Any:
            return await asyncio.wait_for(coro, timeout)

        return run_loop(guarded(), use_uvloop=request.param == "uvloop")

    return _run
