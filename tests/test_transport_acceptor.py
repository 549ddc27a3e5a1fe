"""Acceptor and connection behaviour over real loopback sockets (asyncio and uvloop)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from test_transport_fakes import (
    FakeSession,
    RawClient,
    app_bytes,
    config,
    eventually,
    logon_bytes,
    pair,
    real_pair,
    run,
)

from fixengine.codec import Message
from fixengine.metrics import FixMetrics
from fixengine.transport import (
    Acceptor,
    AcceptorOptions,
    Initiator,
    InitiatorOptions,
    SessionListener,
)

__all__ = ["run"]


def refused(metrics: FixMetrics, reason: str) -> float | None:
    return metrics.value("fix_connections_refused_total", {"reason": reason})


class Recorder(SessionListener):
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.disconnects: list[str] = []

    def on_session_event(self, driver: Any, event: Any) -> None:
        self.events.append(event)

    def on_disconnected(self, driver: Any, connection: Any, reason: str) -> None:
        self.disconnects.append(reason)

    def names(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


def test_initiator_and_acceptor_log_on_exchange_and_log_out(run: Any) -> None:
    async def scenario() -> None:
        ini, acc = pair()
        rec_a, rec_i = Recorder(), Recorder()
        async with Acceptor("127.0.0.1", 0) as acceptor:
            acceptor.add_session(acc, rec_a)
            initiator = Initiator(ini, [("127.0.0.1", acceptor.port)], listener=rec_i)
            await initiator.start()
            await eventually(lambda: ini.is_logged_on and acc.is_logged_on)
            msg = Message("D")
            msg.append(11, "ORDER-1")
            seq = initiator.driver.send(msg)
            assert seq == 2
            await eventually(lambda: "MessageReceived" in rec_a.names())
            received = next(e for e in rec_a.events if type(e).__name__ == "MessageReceived")
            assert received.message.get(11) == b"ORDER-1"
            assert received.message.get(49) == b"CLIENT"
            await initiator.stop(logout=True, timeout=2.0)
            assert "LoggedOut" in rec_i.names()
            await eventually(lambda: rec_a.disconnects != [])
            assert not acc.is_logged_on

    run(scenario())


def test_acceptor_serves_many_sessions_on_one_port(run: Any) -> None:
    async def scenario() -> None:
        n = 12
        async with Acceptor("127.0.0.1", 0) as acceptor:
            initiators = []
            pairs = [pair(f"C{i}", "SERVER") for i in range(n)]
            for ini, acc in pairs:
                acceptor.add_session(acc)
                initiators.append(Initiator(ini, [("127.0.0.1", acceptor.port)]))
            for i in initiators:
                await i.start()
            await eventually(lambda: all(a.is_logged_on for _, a in pairs))
            # each acceptor session talks to the initiator with its own CompID
            for idx, (_ini, acc) in enumerate(pairs):
                assert acceptor.driver(acc.session_id) is not None
                assert acc.session_id.target_comp_id == f"C{idx}"
            await asyncio.gather(*(i.stop() for i in initiators))
            assert not any(a.is_logged_on for _, a in pairs)

    run(scenario())


def test_unknown_comp_id_is_refused_with_a_logout_and_counted(run: Any) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        _, acc = pair()
        async with Acceptor("127.0.0.1", 0, metrics=metrics) as acceptor:
            acceptor.add_session(acc)
            client = await RawClient.connect(acceptor.port)
            await client.send(logon_bytes("STRANGER", "SERVER"))
            logout = await client.read_message()
            assert logout.msg_type == b"5"
            assert logout.get(56) == b"STRANGER"
            assert b"Unknown session" in (logout.get(58) or b"")
            await client.wait_closed_by_peer()
            assert acc.calls["connection_made"] == 0
            assert refused(metrics, "unknown_session") == 1

    run(scenario())


def test_refusal_closes_silently_when_refusal_logout_is_off(run: Any) -> None:
    async def scenario() -> None:
        options = AcceptorOptions(refusal_logout=False)
        async with Acceptor("127.0.0.1", 0, options=options) as acceptor:
            acceptor.add_session(pair()[1])
            client = await RawClient.connect(acceptor.port)
            await client.send(logon_bytes("CLIENT", "NOBODY"))
            assert await client.wait_closed_by_peer() == b""

    run(scenario())


def test_duplicate_logon_is_refused_while_the_first_stays_up(run: Any) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        _, acc = pair()
        rec = Recorder()
        async with Acceptor("127.0.0.1", 0, metrics=metrics) as acceptor:
            acceptor.add_session(acc, rec)
            first = await RawClient.connect(acceptor.port)
            await first.send(logon_bytes("CLIENT", "SERVER"))
            assert (await first.read_message()).msg_type == b"A"
            assert acc.is_logged_on

            second = await RawClient.connect(acceptor.port)
            await second.send(logon_bytes("CLIENT", "SERVER"))
            logout = await second.read_message()
            assert logout.msg_type == b"5"
            await second.wait_closed_by_peer()
            assert metrics.value("fix_connections_refused_total", {"reason": "duplicate"}) == 1

            # the first connection is untouched: still logged on, still served
            assert acc.is_logged_on
            assert acc.calls["connection_made"] == 1
            await first.send(app_bytes("CLIENT", "SERVER", 2, t11="X1"))
            await eventually(lambda: "MessageReceived" in rec.names())
            await first.send(app_bytes("CLIENT", "SERVER", 3, "1", t112="ping"))
            heartbeat = await first.read_message()
            assert heartbeat.msg_type == b"0" and heartbeat.get(112) == b"ping"
            first.close()

    run(scenario())


def test_connection_that_sends_nothing_is_dropped_at_the_logon_timeout(run: Any) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        options = AcceptorOptions(logon_timeout=0.3)
        async with Acceptor("127.0.0.1", 0, options=options, metrics=metrics) as acceptor:
            acceptor.add_session(pair()[1])
            client = await RawClient.connect(acceptor.port)
            loop = asyncio.get_running_loop()
            start = loop.time()
            assert await client.wait_closed_by_peer(timeout=3.0) == b""
            assert 0.25 <= loop.time() - start < 2.0
            assert not acceptor.pending
            assert metrics.value("fix_connections_refused_total", {"reason": "logon_timeout"}) == 1

    run(scenario())


def test_random_bytes_are_dropped(run: Any) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        async with Acceptor("127.0.0.1", 0, metrics=metrics) as acceptor:
            acceptor.add_session(pair()[1])
            client = await RawClient.connect(acceptor.port)
            junk = os.urandom(4096).replace(b"8=FIX", b"xxxxx")
            try:
                await client.send(junk)
            except ConnectionError:
                pass
            assert await client.wait_closed_by_peer() == b""
            assert metrics.value("fix_connections_refused_total", {"reason": "garbage"}) == 1

    run(scenario())


def test_endless_message_is_dropped_and_memory_stays_bounded(run: Any) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        options = AcceptorOptions(max_logon_size=4096)
        async with Acceptor("127.0.0.1", 0, options=options, metrics=metrics) as acceptor:
            acceptor.add_session(pair()[1])
            client = await RawClient.connect(acceptor.port)
            # a plausible header, then a body that goes on and on
            await client.send(b"8=FIX.4.4\x019=99999999\x0135=A\x01")
            try:
                for _ in range(20):
                    await client.send(b"58=" + b"x" * 1000 + b"\x01")
                    assert all(len(p.received) <= 2 * 4096 + 1100 for p in acceptor.pending)
            except ConnectionError:
                pass
            await client.wait_closed_by_peer()
            assert not acceptor.pending
            assert metrics.value("fix_connections_refused_total", {"reason": "oversize"}) == 1

    run(scenario())


def test_first_message_that_is_not_a_logon_is_dropped(run: Any) -> None:
    async def scenario() -> None:
        async with Acceptor("127.0.0.1", 0, options=AcceptorOptions()) as acceptor:
            _, acc = pair()
            acceptor.add_session(acc)
            client = await RawClient.connect(acceptor.port)
            await client.send(app_bytes("CLIENT", "SERVER", 1, "0"))
            assert await client.wait_closed_by_peer() == b""
            assert acc.calls["connection_made"] == 0

    run(scenario())


def test_pending_connections_beyond_the_bound_are_closed_at_once(run: Any) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        options = AcceptorOptions(max_pending=2, logon_timeout=5.0)
        async with Acceptor("127.0.0.1", 0, options=options, metrics=metrics) as acceptor:
            acceptor.add_session(pair()[1])
            idle = [await RawClient.connect(acceptor.port) for _ in range(2)]
            await eventually(lambda: len(acceptor.pending) == 2)
            extra = await RawClient.connect(acceptor.port)
            assert await extra.wait_closed_by_peer(timeout=2.0) == b""
            assert len(acceptor.pending) == 2
            assert refused(metrics, "too_many_pending") == 1
            for c in idle:
                c.close()
            await eventually(lambda: not acceptor.pending)

    run(scenario())


def test_session_provider_accepts_sessions_created_on_the_fly(run: Any) -> None:
    async def scenario() -> None:
        allowed = {"ALPHA", "BETA"}
        made: list[Any] = []

        def provider(session_id: Any, logon: Message) -> FakeSession | None:
            if session_id.target_comp_id not in allowed:
                return None
            session = FakeSession(
                config(session_id.sender_comp_id, session_id.target_comp_id, "acceptor")
            )
            made.append(session)
            return session

        async with Acceptor("127.0.0.1", 0, session_provider=provider) as acceptor:
            for name in ("ALPHA", "BETA"):
                client = await RawClient.connect(acceptor.port)
                await client.send(logon_bytes(name, "SIM"))
                reply = await client.read_message()
                assert reply.msg_type == b"A" and reply.get(56) == name.encode()
            refused = await RawClient.connect(acceptor.port)
            await refused.send(logon_bytes("GAMMA", "SIM"))
            assert (await refused.read_message()).msg_type == b"5"
            assert [s.session_id.target_comp_id for s in made] == ["ALPHA", "BETA"]
            assert len(acceptor.drivers) == 2

    run(scenario())


def test_logon_followed_by_messages_in_one_segment_reaches_the_session(run: Any) -> None:
    async def scenario() -> None:
        _, acc = pair()
        rec = Recorder()
        async with Acceptor("127.0.0.1", 0) as acceptor:
            acceptor.add_session(acc, rec)
            client = await RawClient.connect(acceptor.port)
            burst = logon_bytes("CLIENT", "SERVER") + b"".join(
                app_bytes("CLIENT", "SERVER", seq, t11=f"O{seq}") for seq in range(2, 6)
            )
            await client.send(burst)
            await eventually(lambda: rec.names().count("MessageReceived") == 4)
            got = [e.message.get(11) for e in rec.events if type(e).__name__ == "MessageReceived"]
            assert got == [b"O2", b"O3", b"O4", b"O5"]
            client.close()

    run(scenario())


def test_session_timer_sends_heartbeats_and_drops_a_silent_peer(run: Any) -> None:
    async def scenario() -> None:
        acc = FakeSession(config("SERVER", "CLIENT", "acceptor"), heartbeat=0.2)
        rec = Recorder()
        metrics = FixMetrics()
        async with Acceptor("127.0.0.1", 0, metrics=metrics) as acceptor:
            acceptor.add_session(acc, rec)
            client = await RawClient.connect(acceptor.port)
            await client.send(logon_bytes("CLIENT", "SERVER"))
            types = []
            try:
                while True:
                    types.append((await client.read_message(timeout=3.0)).msg_type)
            except EOFError:
                pass
            # Logon answer, then heartbeats / a TestRequest, then the disconnect
            assert types[0] == b"A"
            assert b"0" in types and b"1" in types
            assert "HeartbeatMissed" in rec.names()
            await eventually(lambda: rec.disconnects == ["session"])
            sid = str(acc.session_id)
            assert metrics.value("fix_heartbeats_missed_total", {"session": sid}) == 1
            labels = {"session": sid, "reason": "session"}
            assert metrics.value("fix_disconnects_total", labels) == 1

    run(scenario())


def test_peer_closing_the_socket_reports_connection_lost(run: Any) -> None:
    async def scenario() -> None:
        _, acc = pair()
        rec = Recorder()
        async with Acceptor("127.0.0.1", 0) as acceptor:
            driver = acceptor.add_session(acc, rec)
            client = await RawClient.connect(acceptor.port)
            await client.send(logon_bytes("CLIENT", "SERVER"))
            await client.read_message()
            client.writer.close()
            await eventually(lambda: rec.disconnects == ["peer_closed"])
            assert acc.calls["connection_lost"] == 1
            assert "LoggedOut" in rec.names()
            assert driver.connection is None
            # the session can be connected again
            again = await RawClient.connect(acceptor.port)
            await again.send(logon_bytes("CLIENT", "SERVER", seq=2))
            assert (await again.read_message()).msg_type == b"A"
            again.close()

    run(scenario())


def test_stop_logs_out_connected_sessions(run: Any) -> None:
    async def scenario() -> None:
        ini, acc = pair()
        acceptor = Acceptor("127.0.0.1", 0)
        await acceptor.start()
        acceptor.add_session(acc)
        initiator = Initiator(
            ini, [("127.0.0.1", acceptor.port)], options=InitiatorOptions(reconnect_interval=5)
        )
        await initiator.start()
        await eventually(lambda: acc.is_logged_on)
        await acceptor.stop(timeout=2.0)
        assert acc.calls["logout"] == 1
        await eventually(lambda: not ini.is_logged_on)
        await initiator.stop()

    run(scenario())


def test_real_sessions_many_on_one_port_with_a_duplicate_refused(run: Any) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        async with Acceptor("127.0.0.1", 0, metrics=metrics) as acceptor:
            pairs = [real_pair(f"R{i}", "SERVER") for i in range(6)]
            recorders = []
            initiators = []
            for ini, acc in pairs:
                rec = Recorder()
                recorders.append(rec)
                acceptor.add_session(acc, rec)
                initiators.append(Initiator(ini, [("127.0.0.1", acceptor.port)]))
            for i in initiators:
                await i.start()
            await eventually(lambda: all(a.is_logged_on and i.is_logged_on for i, a in pairs))

            # a second connection for R0 is refused; R0's live connection carries on
            intruder = await RawClient.connect(acceptor.port)
            await intruder.send(logon_bytes("R0", "SERVER", seq=2))
            assert (await intruder.read_message()).msg_type == b"5"
            await intruder.wait_closed_by_peer()
            assert refused(metrics, "duplicate") == 1
            acc0 = pairs[0][1]
            assert acc0.is_logged_on
            msg = Message("D")
            msg.append(11, "STILL-UP")
            initiators[0].driver.send(msg)
            await eventually(lambda: "MessageReceived" in recorders[0].names())
            await asyncio.gather(*(i.stop() for i in initiators))
            assert not any(a.is_logged_on for _, a in pairs)

    run(scenario())
