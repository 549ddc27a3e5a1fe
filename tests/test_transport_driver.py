"""The driver's pump in isolation: a fake session-level peer over an in-memory transport."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from test_transport_fakes import app_bytes, logon_bytes, pair, run

from fixengine.codec import Message, Parser
from fixengine.metrics import FixMetrics
from fixengine.session.events import MessageReceived
from fixengine.transport import Connection, SessionDriver, SessionListener, TransportOptions

__all__ = ["run"]


class MemoryTransport:
    """The part of an asyncio transport a Connection uses; records every write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False
        self.reading = True

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def messages(self) -> list[list[Message]]:
        """What each write carried, framed."""
        return [[m for m in Parser().feed(w) if isinstance(m, Message)] for w in self.writes]


def ack(msg: Message) -> Message:
    out = Message("8")
    out.append(11, msg.get(11) or b"")
    return out


class Answering(SessionListener):
    """Answers every application message with two messages, from inside the pump."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.disconnect_after: bytes | None = None
        self.answer = True

    def on_session_event(self, driver: SessionDriver, event: Any) -> None:
        self.seen.append(type(event).__name__)
        if isinstance(event, MessageReceived) and self.answer:
            driver.send(ack(event.message))
            driver.send(ack(event.message))
            if event.message.get(11) == self.disconnect_after:
                driver.disconnect()


async def logged_on_acceptor(
    listener: SessionListener | None = None,
    metrics: Any = None,
    options: TransportOptions | None = None,
) -> tuple[SessionDriver, MemoryTransport, Any]:
    _, acc = pair()
    driver = SessionDriver(acc, listener=listener, metrics=metrics, options=options)
    conn = Connection(driver)
    transport = MemoryTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    conn.data_received(logon_bytes("CLIENT", "SERVER"))
    assert acc.is_logged_on
    await asyncio.sleep(0)  # the write of this loop iteration went out: no batching left
    transport.writes.clear()
    return driver, transport, acc


def test_answers_sent_while_pumping_leave_in_one_write_after_the_events(run: Any) -> None:
    async def scenario() -> None:
        listener = Answering()
        driver, transport, acc = await logged_on_acceptor(listener)
        conn = driver.connection
        assert conn is not None
        data = app_bytes("CLIENT", "SERVER", 2, t11="A") + app_bytes("CLIENT", "SERVER", 3, t11="B")
        conn.data_received(data)
        # two orders in one read: four answers, one write, in the order they were sent
        assert [[m.get(11) for m in w] for w in transport.messages()] == [[b"A", b"A", b"B", b"B"]]
        assert [m.get_int(34) for m in transport.messages()[0]] == [2, 3, 4, 5]
        assert listener.seen[-2:] == ["MessageReceived", "MessageReceived"]
        assert acc.calls["send"] == 4

    run(scenario())


def test_send_outside_a_pump_is_written_before_it_returns(run: Any) -> None:
    async def scenario() -> None:
        driver, transport, _ = await logged_on_acceptor()
        msg = Message("8")
        msg.append(11, "X")
        seq = driver.send(msg)
        assert seq == 2
        assert [[m.get(11) for m in w] for w in transport.messages()] == [[b"X"]]

    run(scenario())


def test_disconnecting_from_a_listener_still_writes_what_it_sent_first(run: Any) -> None:
    async def scenario() -> None:
        listener = Answering()
        listener.disconnect_after = b"A"
        driver, transport, _ = await logged_on_acceptor(listener)
        conn = driver.connection
        assert conn is not None
        conn.data_received(app_bytes("CLIENT", "SERVER", 2, t11="A"))
        assert transport.closing
        assert [m.get(11) for w in transport.messages() for m in w] == [b"A", b"A"]
        assert conn.reason == "local"

    run(scenario())


def test_metrics_follow_state_and_sequence_numbers_across_pumps(run: Any) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        driver, _, acc = await logged_on_acceptor(metrics=metrics.session(pair()[1].session_id))
        m = driver.metrics
        assert m is not None
        assert (m.state, m.next_sender_seq, m.next_target_seq) == ("LOGGED_ON", 2, 2)
        msg = Message("8")
        msg.append(11, "X")
        driver.send(msg)
        assert (m.state, m.next_sender_seq) == ("LOGGED_ON", 3)
        driver.logout("bye")
        assert m.state == acc.state == "LOGOUT_SENT"

    run(scenario())


def test_connection_lost_during_a_pump_reports_disconnected_after_the_session_events(
    run: Any,
) -> None:
    class Order(SessionListener):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def on_session_event(self, driver: SessionDriver, event: Any) -> None:
            self.seen.append(type(event).__name__)
            conn = driver.connection
            if isinstance(event, MessageReceived) and conn is not None:
                conn.connection_lost(None)  # a transport that reports the loss at once

        def on_disconnected(
            self, driver: SessionDriver, connection: Connection, reason: str
        ) -> None:
            self.seen.append(f"disconnected {reason}")

    async def scenario() -> None:
        listener = Order()
        driver, _, acc = await logged_on_acceptor(listener)
        conn = driver.connection
        assert conn is not None
        conn.data_received(app_bytes("CLIENT", "SERVER", 2, t11="A"))
        assert listener.seen[-3:] == ["MessageReceived", "LoggedOut", "disconnected peer_closed"]
        assert driver.connection is None and acc.calls["connection_lost"] == 1

    run(scenario())


def test_a_burst_of_sends_asks_for_the_session_timer_once_and_arms_it(run: Any) -> None:
    async def scenario() -> None:
        driver, transport, acc = await logged_on_acceptor()
        asked = 0
        get_timer = acc.get_timer

        def counting() -> float | None:
            nonlocal asked
            asked += 1
            return get_timer()

        acc.get_timer = counting
        for i in range(50):
            msg = Message("8")
            msg.append(11, f"X{i}")
            driver.send(msg)
        assert asked == 0
        await asyncio.sleep(0)
        assert asked == 1
        assert len(transport.writes) == 2  # the first at once, the other 49 gathered
        assert driver._timer is not None and not driver._timer.cancelled()
        # a pump that writes nothing asks at once
        driver.pump()
        assert asked == 2

    run(scenario())


def orders(first_seq: int, n: int) -> bytes:
    """``n`` orders in one read, ClOrdID 0..n-1, MsgSeqNum from ``first_seq``."""
    return b"".join(app_bytes("CLIENT", "SERVER", first_seq + i, t11=str(i)) for i in range(n))


def test_a_large_read_answered_inline_leaves_in_pieces_in_order(run: Any) -> None:
    async def scenario() -> None:
        listener = Answering()
        options = TransportOptions(feed_slice=300, write_batch=200)
        driver, transport, acc = await logged_on_acceptor(listener, options=options)
        conn = driver.connection
        assert conn is not None
        data = orders(2, 12)
        assert len(data) > 3 * 300
        conn.data_received(data)
        await asyncio.sleep(0)
        writes = transport.messages()
        # answered slice by slice: several writes, every answer once, in order
        assert len(writes) > 2
        assert [m.get(11) for w in writes for m in w] == [
            str(i).encode() for i in range(12) for _ in (0, 1)
        ]
        assert [m.get_int(34) for w in writes for m in w] == list(range(2, 26))
        # the first write carries only the first slice's answers, cut at a message end
        assert 0 < len(writes[0]) < 24 and len(writes[0]) % 2 == 0
        assert acc.calls["receive_data"] > 2

    run(scenario())


def test_a_large_read_nobody_answers_inline_is_fed_in_two_pieces_at_most(run: Any) -> None:
    async def scenario() -> None:
        listener = Answering()
        listener.answer = False
        options = TransportOptions(feed_slice=300)
        driver, transport, acc = await logged_on_acceptor(listener, options=options)
        conn = driver.connection
        assert conn is not None
        fed = acc.calls["receive_data"]
        conn.data_received(orders(2, 12))
        assert acc.calls["receive_data"] == fed + 2  # one slice, then the rest at once
        assert listener.seen.count("MessageReceived") == 12
        assert transport.writes == []

    run(scenario())


@pytest.mark.parametrize("feed_slice", [0, 4096])
def test_reads_are_fed_whole_by_default_and_up_to_feed_slice(run: Any, feed_slice: int) -> None:
    async def scenario() -> None:
        listener = Answering()
        options = TransportOptions(feed_slice=feed_slice)
        driver, transport, acc = await logged_on_acceptor(listener, options=options)
        conn = driver.connection
        assert conn is not None
        fed = acc.calls["receive_data"]
        data = orders(2, 12)
        assert len(data) <= 4096
        conn.data_received(data)
        assert acc.calls["receive_data"] == fed + 1
        assert len(transport.writes) == 1  # every answer in one write

    run(scenario())


def test_a_connection_lost_while_a_slice_is_pumped_ends_the_feeding(run: Any) -> None:
    class Losing(SessionListener):
        def __init__(self) -> None:
            self.received = 0

        def on_session_event(self, driver: SessionDriver, event: Any) -> None:
            conn = driver.connection
            if isinstance(event, MessageReceived):
                self.received += 1
                driver.send(ack(event.message))
                if conn is not None:
                    conn.connection_lost(None)  # a transport that reports the loss at once

    async def scenario() -> None:
        listener = Losing()
        options = TransportOptions(feed_slice=300)
        driver, _, acc = await logged_on_acceptor(listener, options=options)
        conn = driver.connection
        assert conn is not None
        fed = acc.calls["receive_data"]
        conn.data_received(orders(2, 12))
        # the rest of the read is not fed to a session that was told the connection is gone
        assert acc.calls["receive_data"] == fed + 1
        assert driver.connection is None and conn.reason == "peer_closed"
        assert 0 < listener.received < 12

    run(scenario())


def test_gathered_writes_leave_once_they_reach_write_batch(run: Any) -> None:
    async def scenario() -> None:
        driver, transport, _ = await logged_on_acceptor(options=TransportOptions(write_batch=500))
        for i in range(20):
            msg = Message("8")
            msg.append(11, f"X{i}")
            driver.send(msg)
        # the first at once, then a write whenever 500 bytes were gathered
        assert len(transport.writes) > 2
        assert all(len(w) >= 500 for w in transport.writes[1:])
        await asyncio.sleep(0)  # the rest at the start of the next iteration
        sent = [m.get(11) for w in transport.messages() for m in w]
        assert sent == [f"X{i}".encode() for i in range(20)]

    run(scenario())


def test_feed_slice_and_write_batch_must_not_be_negative() -> None:
    with pytest.raises(ValueError):
        TransportOptions(feed_slice=-1)
    with pytest.raises(ValueError):
        TransportOptions(write_batch=-1)


class Waking(SessionListener):
    """Resolves the future waiting for a ClOrdID when its message is delivered."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []
        self.waiting: dict[bytes, asyncio.Future[int]] = {}

    def on_session_event(self, driver: SessionDriver, event: Any) -> None:
        if isinstance(event, MessageReceived):
            cl = event.message.get(11) or b""
            self.seen.append(cl)
            fut = self.waiting.pop(cl, None)
            if fut is not None:
                fut.set_result(len(self.seen))

    def on_disconnected(self, driver: SessionDriver, connection: Connection, reason: str) -> None:
        self.seen.append(b"disconnected")


async def first_alone_acceptor() -> tuple[Waking, Connection, Any]:
    """A logged-on acceptor with ``first_message_alone`` on: its listener, connection
    and session."""
    listener = Waking()
    options = TransportOptions(first_message_alone=True)
    driver, _, acc = await logged_on_acceptor(listener, options=options)
    conn = driver.connection
    assert conn is not None
    return listener, conn, acc


def test_first_message_alone_is_off_by_default_until_the_application_asks() -> None:
    async def scenario() -> None:
        driver, _, _ = await logged_on_acceptor()
        assert not driver.first_message_alone
        driver.prefer_first_message_alone()
        assert driver.first_message_alone
        on, _, _ = await logged_on_acceptor(options=TransportOptions(first_message_alone=True))
        assert on.first_message_alone
        off, _, _ = await logged_on_acceptor(options=TransportOptions(first_message_alone=False))
        off.prefer_first_message_alone()  # the options said no: they win
        assert not off.first_message_alone

    asyncio.run(scenario())


def test_with_first_message_alone_a_task_woken_by_the_first_runs_before_the_rest(
    run: Any,
) -> None:
    async def scenario() -> None:
        listener, conn, acc = await first_alone_acceptor()
        loop = asyncio.get_running_loop()
        woken = listener.waiting[b"A"] = loop.create_future()
        seen_when_woken: list[list[bytes]] = []

        async def waiter() -> None:
            await woken
            seen_when_woken.append(list(listener.seen))

        task = loop.create_task(waiter())
        await asyncio.sleep(0)  # the task waits
        conn.data_received(b"".join(app_bytes("CLIENT", "SERVER", 2 + i, t11=c) for i, c in
                                    enumerate("ABC")))  # fmt: skip
        assert listener.seen == [b"A"]  # the rest waits for the loop's next turn
        await task
        assert seen_when_woken == [[b"A"]]  # the woken task ran before B and C were worked on
        await asyncio.sleep(0)
        assert listener.seen == [b"A", b"B", b"C"]
        assert acc.next_target_seq == 5
        assert listener.waiting == {}

    run(scenario())


def test_reads_arriving_while_the_rest_waits_are_worked_on_after_it_in_order(run: Any) -> None:
    async def scenario() -> None:
        listener, conn, acc = await first_alone_acceptor()
        second = app_bytes("CLIENT", "SERVER", 3, t11="B")
        # a read ending inside a message, then its end and one more message
        conn.data_received(app_bytes("CLIENT", "SERVER", 2, t11="A") + second[:20])
        conn.data_received(second[20:] + app_bytes("CLIENT", "SERVER", 4, t11="C"))
        assert listener.seen == [b"A"]
        await asyncio.sleep(0)
        assert listener.seen == [b"A", b"B", b"C"]
        assert acc.next_target_seq == 5

    run(scenario())


def test_what_waits_is_worked_on_before_a_connection_loss_is_reported(run: Any) -> None:
    async def scenario() -> None:
        listener, conn, acc = await first_alone_acceptor()
        data = app_bytes("CLIENT", "SERVER", 2, t11="A") + app_bytes("CLIENT", "SERVER", 3, t11="B")
        conn.data_received(data)
        conn.connection_lost(None)  # before the loop's next turn
        assert listener.seen == [b"A", b"B", b"disconnected"]
        assert acc.next_target_seq == 4 and conn.driver.connection is None
        await asyncio.sleep(0)  # the held-back turn finds nothing left to do
        assert listener.seen == [b"A", b"B", b"disconnected"]

    run(scenario())


def test_with_first_message_alone_answers_leave_in_order_in_two_writes(run: Any) -> None:
    async def scenario() -> None:
        listener = Answering()
        options = TransportOptions(first_message_alone=True)
        driver, transport, _ = await logged_on_acceptor(listener, options=options)
        conn = driver.connection
        assert conn is not None
        conn.data_received(orders(2, 5))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        sent = [m.get_int(34) for w in transport.messages() for m in w]
        assert sent == list(range(2, 12))
        assert len(transport.messages()[0]) == 2  # the first order's answers went first

    run(scenario())


def test_first_message_alone_setting_reaches_each_sessions_driver() -> None:
    from test_engine_gc import SETTINGS

    from fixengine.application import Engine
    from fixengine.settings import parse_settings

    extra = "FirstMessageAlone=Y\n\n[SESSION]\nSenderCompID=A\nTargetCompID=D\nFirstMessageAlone=N"
    settings = parse_settings(SETTINGS.format(extra=extra), "t.cfg")
    engine = Engine.from_settings(settings, load_dictionaries=False)
    drivers = {str(h.session_id.target_comp_id): h.driver for h in engine.sessions}
    for d in drivers.values():
        d.prefer_first_message_alone()  # what an order router on the session does
    assert {k: d.first_message_alone for k, d in drivers.items()} == {
        "B": True,
        "C": True,
        "D": False,
    }
    assert [d.options.first_message_alone for d in drivers.values()] == [None, True, False]
