"""The application API end to end: real sessions over loopback sockets."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from test_transport_fakes import eventually, free_port, run

from fixengine.application import (
    Application,
    BusinessReject,
    Connected,
    Disconnected,
    Engine,
    SessionHandle,
    UnsupportedMessageType,
)
from fixengine.codec import Message
from fixengine.errors import ConfigError
from fixengine.session.config import SessionConfig, SessionID
from fixengine.session.events import LoggedOn, LoggedOut, MessageReceived
from fixengine.session.store import MemoryStore
from fixengine.transport import InitiatorOptions

__all__ = ["run"]

FAST = InitiatorOptions(
    connect_timeout=2.0, reconnect_interval=0.05, max_reconnect_interval=0.2, jitter=0.0
)


def cfg(sender: str, target: str, role: str = "initiator", **kw: Any) -> SessionConfig:
    kw.setdefault("logon_timeout", 2.0)
    kw.setdefault("logout_timeout", 1.0)
    return SessionConfig("FIX.4.4", sender, target, role=role, **kw)  # type: ignore[arg-type]


def order(clordid: str) -> Message:
    msg = Message("D")
    msg.append(11, clordid)
    msg.append(55, "XYZ")
    msg.append(54, "1")
    msg.append(38, "100")
    msg.append(40, "1")
    return msg


class Recorder(Application):
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.messages: list[Message] = []

    def on_create(self, session: SessionHandle) -> None:
        self.calls.append(("create", session.session_id))

    async def on_logon(self, session: SessionHandle) -> None:
        self.calls.append(("logon", session.session_id))

    async def on_logout(self, session: SessionHandle, text: str | None) -> None:
        self.calls.append(("logout", session.session_id))

    async def on_message(self, session: SessionHandle, message: Message) -> None:
        self.messages.append(message)

    def on_disconnect(self, session: SessionHandle, reason: str) -> None:
        self.calls.append(("disconnect", reason))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


async def start_pair(
    engine: Engine, *, client: str = "CLIENT", server: str = "SERVER", **kw: Any
) -> tuple[SessionHandle, SessionHandle]:
    """An acceptor session and an initiator session of one engine, logged on."""
    acc = engine.add_acceptor_session(
        cfg(server, client, "acceptor", **kw), port=0, host="127.0.0.1"
    )
    if not engine.is_running:
        await engine.start()
    assert acc.acceptor is not None
    await eventually(lambda: acc.acceptor is not None and acc.acceptor.is_serving)
    ini = engine.add_initiator(
        cfg(client, server, **kw), [("127.0.0.1", acc.acceptor.port)], options=FAST
    )
    await ini.wait_logged_on(timeout=5)
    await acc.wait_logged_on(timeout=5)
    return ini, acc


async def serve_and_add_client(
    server: Engine, client: Engine
) -> tuple[SessionHandle, SessionHandle]:
    """An acceptor session on ``server`` (started) and an initiator session on ``client``
    (not started) that connects to it: the acceptor's and the initiator's handles."""
    acc = server.add_acceptor_session(cfg("SERVER", "CLIENT", "acceptor"), port=0, host="127.0.0.1")
    await server.start()
    assert acc.acceptor is not None
    ini = client.add_initiator(
        cfg("CLIENT", "SERVER"), [("127.0.0.1", acc.acceptor.port)], options=FAST
    )
    return acc, ini


def test_callbacks_see_create_logon_messages_in_order_and_logout(run: Any) -> None:
    async def scenario() -> None:
        app = Recorder()
        engine = Engine(app)
        ini, acc = await start_pair(engine)
        seqs = [await ini.send(order(f"O{i}")) for i in range(50)]
        assert seqs == list(range(2, 52))
        await eventually(lambda: len(app.messages) == 50)
        got = [m.get(11) for m in app.messages]
        assert got == [f"O{i}".encode() for i in range(50)]
        await ini.logout(timeout=2)
        await acc.wait_logged_out(timeout=2)
        await engine.stop()
        names = app.names()
        assert names[:2] == ["create", "create"]
        assert names.count("logon") == 2
        assert names.count("logout") == 2
        assert "disconnect" in names

    run(scenario())


def test_event_stream_reports_connect_logon_messages_and_logout(run: Any) -> None:
    async def scenario() -> None:
        engine = Engine()
        acc = engine.add_acceptor_session(
            cfg("SERVER", "CLIENT", "acceptor"), port=0, host="127.0.0.1"
        )
        stream = acc.events()
        await engine.start()
        assert acc.acceptor is not None
        ini = engine.add_initiator(
            cfg("CLIENT", "SERVER"), [("127.0.0.1", acc.acceptor.port)], options=FAST
        )
        await ini.wait_logged_on(5)
        await ini.send(order("A1"))
        seen: list[Any] = []
        async for event in stream:
            seen.append(event)
            if isinstance(event, MessageReceived):
                break
        kinds = [type(e) for e in seen]
        assert kinds[0] is Connected
        assert LoggedOn in kinds
        assert seen[-1].message.get(11) == b"A1"
        await ini.logout(timeout=2)
        rest = []
        while not rest or not isinstance(rest[-1], Disconnected):
            rest.append(await stream.get(timeout=2))
        kinds = [type(e) for e in rest]
        assert LoggedOut in kinds and kinds.index(LoggedOut) < kinds.index(Disconnected)
        await engine.stop()
        # the stream ends when the engine stops
        leftovers = [e async for e in stream]
        assert all(not isinstance(e, MessageReceived) for e in leftovers)

    run(scenario())


def test_filtered_stream_only_yields_the_requested_types(run: Any) -> None:
    async def scenario() -> None:
        engine = Engine()
        ini, acc = await start_pair(engine)
        messages = acc.events(MessageReceived)
        await ini.send(order("F1"))
        await ini.send(order("F2"))
        first = await messages.get(timeout=2)
        second = await messages.get(timeout=2)
        assert isinstance(first, MessageReceived) and isinstance(second, MessageReceived)
        assert (first.message.get(11), second.message.get(11)) == (b"F1", b"F2")
        await engine.stop()

    run(scenario())


def test_unsupported_message_type_is_answered_with_a_business_reject(run: Any) -> None:
    class OnlyOrders(Application):
        def on_message(self, session: SessionHandle, message: Message) -> None:
            if message.msg_type != b"D":
                raise UnsupportedMessageType()

    async def scenario() -> None:
        server = Engine(OnlyOrders())
        client = Engine()
        _acc, ini = await serve_and_add_client(server, client)
        replies = ini.events(MessageReceived)
        await client.start()
        await ini.wait_logged_on(5)
        quote = Message("R")
        quote.append(131, "Q1")
        seq = await ini.send(quote)
        event = await replies.get(timeout=3)
        assert isinstance(event, MessageReceived)
        reject = event.message
        assert reject.msg_type == b"j"
        assert reject.get(380) == b"3"
        assert reject.get(372) == b"R"
        assert reject.get_int(45) == seq
        await client.stop()
        await server.stop()

    run(scenario())


def test_business_reject_exception_carries_its_reason_and_text(run: Any) -> None:
    class Picky(Application):
        def on_message(self, session: SessionHandle, message: Message) -> None:
            raise BusinessReject(2, "Unknown Security")

    async def scenario() -> None:
        server, client = Engine(Picky()), Engine()
        _acc, ini = await serve_and_add_client(server, client)
        replies = ini.events(MessageReceived)
        await client.start()
        await ini.wait_logged_on(5)
        await ini.send(order("BAD"))
        event = await replies.get(timeout=3)
        assert isinstance(event, MessageReceived)
        assert event.message.get(380) == b"2"
        assert event.message.get(58) == b"Unknown Security"
        await client.stop()
        await server.stop()

    run(scenario())


def test_a_failing_callback_is_logged_and_later_messages_still_arrive(
    run: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class Flaky(Recorder):
        async def on_message(self, session: SessionHandle, message: Message) -> None:
            if message.get(11) == b"BOOM":
                raise RuntimeError("bug in the service")
            await super().on_message(session, message)

    async def scenario() -> None:
        app = Flaky()
        engine = Engine(app)
        ini, _acc = await start_pair(engine)
        for clordid in ("A", "BOOM", "B"):
            await ini.send(order(clordid))
        await eventually(lambda: len(app.messages) == 2)
        assert [m.get(11) for m in app.messages] == [b"A", b"B"]
        await engine.stop()

    with caplog.at_level(logging.ERROR, logger="fixengine.application"):
        run(scenario())
    assert any("bug in the service" in r.getMessage() or r.exc_info for r in caplog.records)


def test_wait_logged_on_times_out_when_nobody_listens(run: Any) -> None:
    async def scenario() -> None:
        engine = Engine()
        ini = engine.add_initiator(
            cfg("CLIENT", "SERVER"), [("127.0.0.1", free_port())], options=FAST
        )
        await engine.start()
        with pytest.raises(asyncio.TimeoutError):
            await ini.wait_logged_on(timeout=0.3)
        await engine.stop()

    run(scenario())


def test_logout_keeps_an_initiator_down_until_logon(run: Any) -> None:
    async def scenario() -> None:
        engine = Engine()
        ini, acc = await start_pair(engine)
        await ini.logout("done for today", timeout=2)
        assert not ini.is_logged_on
        await asyncio.sleep(0.3)  # several reconnect intervals
        assert not ini.is_connected and not acc.is_logged_on
        await ini.logon()
        await ini.wait_logged_on(timeout=3)
        await acc.wait_logged_on(timeout=3)
        await engine.stop()

    run(scenario())


def test_message_sent_while_disconnected_is_delivered_by_resend(run: Any) -> None:
    async def scenario() -> None:
        app = Recorder()
        server, client = Engine(app), Engine()
        _acc, ini = await serve_and_add_client(server, client)
        await client.start()
        await ini.wait_logged_on(5)
        await ini.logout(timeout=2)
        seq = await ini.send(order("OFFLINE"))  # persisted, not transmitted
        assert seq == ini.next_sender_seq - 1
        assert app.messages == []
        await ini.logon()
        await eventually(lambda: len(app.messages) == 1, timeout=5)
        resent = app.messages[0]
        assert resent.get(11) == b"OFFLINE"
        assert resent.get_int(34) == seq
        assert resent.get(43) == b"Y"  # PossDupFlag: it came by ResendRequest
        await client.stop()
        await server.stop()

    run(scenario())


def test_slow_application_pauses_reading_instead_of_buffering_without_bound(run: Any) -> None:
    gate = asyncio.Event()

    class Slow(Recorder):
        async def on_message(self, session: SessionHandle, message: Message) -> None:
            await gate.wait()
            await super().on_message(session, message)

    async def scenario() -> None:
        app = Slow()
        server = Engine(app, event_backlog=20)
        client = Engine()
        acc, ini = await serve_and_add_client(server, client)
        await client.start()
        await ini.wait_logged_on(5)
        total = 400
        for i in range(total):
            await ini.send(order(f"S{i}"))
            if i % 25 == 0:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        conn = acc.connection
        assert conn is not None and conn.transport is not None
        assert not conn.transport.is_reading()  # TCP pushes back on the sender
        assert len(acc._app_queue) < total
        assert acc.next_target_seq < ini.next_sender_seq  # not everything was read
        gate.set()
        await eventually(lambda: len(app.messages) == total, timeout=10)
        assert [m.get(11) for m in app.messages] == [f"S{i}".encode() for i in range(total)]
        await client.stop()
        await server.stop()

    run(scenario())


def test_dynamic_sessions_accept_comp_ids_the_service_knows(run: Any) -> None:
    async def scenario() -> None:
        app = Recorder()
        server = Engine(app)
        known = {"ALPHA", "BETA"}

        def lookup(session_id: SessionID, logon: Message) -> SessionConfig | None:
            if session_id.target_comp_id not in known:
                return None
            return cfg(session_id.sender_comp_id, session_id.target_comp_id, "acceptor")

        acceptor = server.listen(0, "127.0.0.1", dynamic_sessions=lookup)
        await server.start()
        client = Engine()
        handles = [
            client.add_initiator(cfg(name, "SIM"), [("127.0.0.1", acceptor.port)], options=FAST)
            for name in ("ALPHA", "BETA", "GAMMA")
        ]
        await client.start()
        await handles[0].wait_logged_on(5)
        await handles[1].wait_logged_on(5)
        with pytest.raises(asyncio.TimeoutError):
            await handles[2].wait_logged_on(0.3)
        ids = sorted(str(h.session_id) for h in server.sessions)
        assert ids == ["FIX.4.4:SIM->ALPHA", "FIX.4.4:SIM->BETA"]
        assert app.names().count("create") == 2
        await handles[0].send(order("DYN"))
        await eventually(lambda: len(app.messages) == 1)
        await client.stop()
        await server.stop()

    run(scenario())


def test_engine_refuses_duplicate_sessions() -> None:
    engine = Engine()
    engine.add_initiator(cfg("A", "B"), [("127.0.0.1", 1)])
    with pytest.raises(ConfigError):
        engine.add_initiator(cfg("A", "B"), [("127.0.0.1", 2)])
    with pytest.raises(KeyError):
        engine.session("FIX.4.4:X->Y")
    assert engine.session("FIX.4.4:A->B").role == "initiator"


def test_from_settings_runs_the_sessions_of_a_settings_file(run: Any, tmp_path: Path) -> None:
    port = free_port()
    text = f"""
[DEFAULT]
BeginString=FIX.4.4
HeartBtInt=30
StoreType=file
FileStorePath={tmp_path / "store"}
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary=N
ReconnectInterval=1

[SESSION]
ConnectionType=acceptor
SenderCompID=SERVER
TargetCompID=CLIENT
SocketAcceptHost=127.0.0.1
SocketAcceptPort={port}

[SESSION]
ConnectionType=initiator
SenderCompID=CLIENT
TargetCompID=SERVER
SocketConnectHost=127.0.0.1
SocketConnectPort={port}
"""
    path = tmp_path / "engine.cfg"
    path.write_text(text)

    async def scenario() -> None:
        app = Recorder()
        engine = Engine.from_settings(path, app)
        roles = sorted(h.role for h in engine.sessions)
        assert roles == ["acceptor", "initiator"]
        async with engine:
            ini = engine.session("FIX.4.4:CLIENT->SERVER")
            acc = engine.session("FIX.4.4:SERVER->CLIENT")
            await ini.wait_logged_on(5)
            await acc.wait_logged_on(5)
            await ini.send(order("CFG"))
            await eventually(lambda: len(app.messages) == 1)
            sent = ini.next_sender_seq

        # the engine closed the stores it opened: they reopen (no lock held) with state
        from fixengine.settings import load_settings

        for settings in load_settings(path):
            store = settings.open_store()
            try:
                if settings.connection_type == "initiator":
                    assert store.next_sender_seq() == sent + 1  # + the Logout sent by stop()
            finally:
                store.close()

    run(scenario())


def test_send_threadsafe_sends_from_another_thread(run: Any) -> None:
    async def scenario() -> None:
        app = Recorder()
        engine = Engine(app)
        ini, _acc = await start_pair(engine)

        def worker() -> int:
            return ini.send_threadsafe(order("THREAD")).result(timeout=5)

        seq = await asyncio.to_thread(worker)
        await eventually(lambda: len(app.messages) == 1)
        assert app.messages[0].get_int(34) == seq
        await engine.stop()

    run(scenario())


def test_handle_reports_state_and_sequence_numbers(run: Any) -> None:
    async def scenario() -> None:
        engine = Engine()
        ini, acc = await start_pair(engine)
        assert ini.is_logged_on and ini.is_connected
        before = ini.next_sender_seq
        await ini.send(order("N"))
        assert ini.next_sender_seq == before + 1
        await eventually(lambda: acc.next_target_seq == before + 1)
        assert getattr(ini.state, "name", "") == "LOGGED_ON"
        assert isinstance(ini.session.store, MemoryStore)  # type: ignore[attr-defined]
        await engine.stop()

    run(scenario())


def test_session_timers_drive_heartbeats_on_an_idle_connection(run: Any) -> None:
    async def scenario() -> None:
        engine = Engine()
        ini, acc = await start_pair(engine, heartbeat_interval=1)
        await asyncio.sleep(1.3)  # idle for more than HeartBtInt
        m = engine.metrics
        for handle in (ini, acc):
            labels = {"session": str(handle.session_id), "msg_type": "0"}
            assert (m.value("fix_messages_sent_total", labels) or 0) >= 1
        assert ini.is_logged_on and acc.is_logged_on
        await engine.stop()

    run(scenario())


def test_an_engine_can_be_started_again_after_stop(run: Any) -> None:
    async def scenario() -> None:
        engine = Engine()
        port = free_port()  # the same port after the restart
        acc = engine.add_acceptor_session(
            cfg("SERVER", "CLIENT", "acceptor"), port=port, host="127.0.0.1"
        )
        ini = engine.add_initiator(cfg("CLIENT", "SERVER"), [("127.0.0.1", port)], options=FAST)
        await engine.start()
        await ini.wait_logged_on(5)
        await engine.stop()
        assert not ini.is_logged_on and not acc.is_logged_on
        await engine.start()
        await ini.wait_logged_on(5)
        await acc.wait_logged_on(5)
        await engine.stop()

    run(scenario())


def test_plain_and_async_callbacks_see_messages_in_order_and_confirm_each(run: Any) -> None:
    class Mixed(Application):
        """Every third order takes the slow (async) path; the others return at once."""

        def __init__(self) -> None:
            self.seen: list[int] = []
            self.outside_task = 0

        def on_message(self, session: SessionHandle, message: Message) -> Any:
            n = int((message.get(11) or b"0")[1:])
            if n % 3 == 0:
                return self._slow(n)
            if asyncio.current_task() is None:
                self.outside_task += 1
            self.seen.append(n)
            if n % 5 == 0:
                raise RuntimeError("a plain callback failing")
            return None

        async def _slow(self, n: int) -> None:
            await asyncio.sleep(0.002)
            self.seen.append(n)

    async def scenario() -> None:
        app = Mixed()
        engine = Engine(app)
        ini, acc = await start_pair(engine)
        total = 60
        for i in range(1, total + 1):
            await ini.send(order(f"M{i}"))
        await eventually(lambda: len(app.seen) == total, timeout=5)
        assert app.seen == list(range(1, total + 1))
        # plain callbacks with nothing queued before them run straight from the transport
        assert app.outside_task > 0
        # each message was confirmed (the failed ones too): the stored NextTargetSeq is
        # past all of them
        store = getattr(acc.session, "store")  # noqa: B009
        await eventually(lambda: store.next_target_seq() == acc.next_target_seq)
        await engine.stop()

    run(scenario())


def test_plain_callbacks_answer_in_the_same_write_as_the_session(run: Any) -> None:
    class Echo(Application):
        def on_message(self, session: SessionHandle, message: Message) -> None:
            reply = Message("8")
            reply.append(11, message.get(11) or b"")
            session.send_nowait(reply)
            session.send_nowait(reply)

    async def scenario() -> None:
        server, client = Engine(Echo()), Engine()
        acc, ini = await serve_and_add_client(server, client)
        await client.start()
        await ini.wait_logged_on(5)
        await acc.wait_logged_on(5)
        conn = acc.connection
        assert conn is not None
        writes: list[bytes] = []
        real_write = conn.write

        def spy(data: bytes) -> None:
            writes.append(bytes(data))
            real_write(data)

        conn.write = spy  # type: ignore[method-assign]
        replies = ini.events(MessageReceived)
        await ini.send(order("E1"))
        for _ in range(2):
            event = await replies.get(timeout=3)
            assert isinstance(event, MessageReceived) and event.message.get(11) == b"E1"
        assert len(writes) == 1 and writes[0].count(b"\x0111=E1\x01") == 2
        await client.stop()
        await server.stop()

    run(scenario())
