"""Fault injection end to end: each fault, and the engine's own initiator recovering from it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from test_sim_exchange import Client

from fixengine.application import Disconnected
from fixengine.orders.model import ExecType, OrdStatus, Side
from fixengine.session.events import (
    GapDetected,
    GapFilled,
    GarbledMessageDropped,
    HeartbeatMissed,
    LoggedOn,
    LoggedOut,
    LogonRefused,
    MessageReceived,
    SequenceReset,
)
from fixengine.sim.faults import FaultInjected, Faults, FaultySession, garble
from fixengine.sim.server import Simulator


async def wait_for(stream: Any, kind: type, timeout: float = 5.0) -> Any:
    """The next event of class ``kind`` on an event stream."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        event = await stream.get(max(deadline - loop.time(), 0.01))
        if isinstance(event, kind):
            return event


async def test_drop_after_n_messages_and_the_client_reconnects_and_recovers(
    simulator: Simulator,
) -> None:
    simulator.faults("CLIENT").drop_after = 3  # the Logon, then two orders
    async with Client(simulator.port) as client:
        assert client.handle is not None
        events = client.handle.events(Disconnected, LoggedOn)
        first = await client.submit(Side.BUY, 10, "1")
        second = await client.submit(Side.SELL, 20, "2")
        await wait_for(events, Disconnected)
        await wait_for(events, LoggedOn)  # reconnected, sequence numbers kept
        reports = await client.reports(4)
        by_order: dict[str, list[ExecType]] = {}
        for r in reports:
            by_order.setdefault(r.cl_ord_id, []).append(r.exec_type)
        assert by_order == {
            first: [ExecType.NEW, ExecType.TRADE],
            second: [ExecType.NEW, ExecType.TRADE],
        }
        assert client.registry[first].status is OrdStatus.FILLED
        assert client.registry[second].status is OrdStatus.FILLED
        assert client.handle.driver.connections == 2
        await client.nothing_more()
        client.no_anomalies()
    assert simulator.fault_stats("CLIENT").dropped == 1
    assert simulator.faults("CLIENT").drop_after is None  # fired once


@pytest.mark.parametrize("mode", ["resend", "gap-fill"])
async def test_skipped_sequence_numbers_are_resent_or_gap_filled(
    simulator: Simulator, mode: str
) -> None:
    faults = simulator.faults("CLIENT")
    async with Client(simulator.port) as client:
        assert client.handle is not None
        events = client.handle.events(GapDetected, GapFilled, SequenceReset, MessageReceived)
        faults.skip_mode = mode  # type: ignore[assignment]
        faults.skip_seq = 1  # the acknowledgement of the next order
        cl = await client.submit(Side.BUY, 5, "7")
        gap = await wait_for(events, GapDetected)
        await wait_for(events, GapFilled)
        if mode == "resend":
            new, fill = await client.reports(2)
            assert new.exec_type is ExecType.NEW and new.poss_dup
            assert fill.exec_type is ExecType.TRADE and not fill.poss_dup
            assert new.message is not None
            assert new.message.get_int(34) == gap.begin
        else:
            (fill,) = await client.reports(1)  # the acknowledgement is lost for good
            assert fill.exec_type is ExecType.TRADE
        assert client.registry[cl].status is OrdStatus.FILLED
        assert client.registry[cl].cum_qty == 5
        await client.nothing_more()
        client.no_anomalies()
        assert client.handle.is_logged_on
    assert simulator.fault_stats("CLIENT").withheld == 1


async def test_garbled_messages_are_ignored_by_the_client(simulator: Simulator) -> None:
    simulator.faults("CLIENT").garble_every = 1
    async with Client(simulator.port) as client:
        assert client.handle is not None
        events = client.handle.events(GarbledMessageDropped, GapDetected, Disconnected)
        cl = await client.submit(Side.SELL, 3, "4")
        await client.reports(2)
        dropped = [await wait_for(events, GarbledMessageDropped) for _ in range(2)]
        assert all("CheckSum" in d.reason for d in dropped)
        simulator.inject_garbled("CLIENT")
        await wait_for(events, GarbledMessageDropped)
        await client.nothing_more()
        assert len(events) == 0  # no gap, no disconnect
        assert client.handle.is_logged_on
        assert client.registry[cl].status is OrdStatus.FILLED
        client.no_anomalies()
    assert simulator.fault_stats("CLIENT").garbled == 3


async def test_delayed_responses_arrive_late_and_in_order(simulator: Simulator) -> None:
    async with Client(simulator.port) as client:
        simulator.faults("CLIENT").delay_ms = 300
        start = time.monotonic()
        cl = await client.submit(Side.BUY, 1, "1")
        new, fill = await client.reports(2)
        elapsed = time.monotonic() - start
        assert elapsed >= 0.28
        assert (new.exec_type, fill.exec_type) == (ExecType.NEW, ExecType.TRADE)
        simulator.faults("CLIENT").delay_ms = 0
        start = time.monotonic()
        await client.submit(Side.BUY, 1, "1")
        await client.reports(2)
        assert time.monotonic() - start < 0.28
        assert client.registry[cl].status is OrdStatus.FILLED
        client.no_anomalies()
    assert simulator.fault_stats("CLIENT").delayed >= 2


async def test_refused_logon_then_accepted_on_retry(simulator: Simulator) -> None:
    faults = simulator.faults("CLIENT")
    faults.refuse_logons = 1
    faults.refuse_text = "Not today"
    client = Client(simulator.port)
    await client.engine.start()
    try:
        handle = client.engine.add_initiator(
            client.config, [("127.0.0.1", simulator.port)], options=_fast()
        )
        events = handle.events(LogonRefused, LoggedOn)
        refused = await wait_for(events, LogonRefused)
        assert refused.text == "Not today"
        await wait_for(events, LoggedOn)
        assert handle.driver.connections == 2
    finally:
        await client.engine.stop()
    assert simulator.fault_stats("CLIENT").refused == 1
    assert faults.refuse_logons == 0


async def test_no_heartbeats_make_the_client_test_then_disconnect(simulator: Simulator) -> None:
    simulator.faults("CLIENT").heartbeats = False
    async with Client(simulator.port, heartbeat_interval=1) as client:
        assert client.handle is not None
        events = client.handle.events(HeartbeatMissed, LoggedOut, Disconnected)
        missed = await wait_for(events, HeartbeatMissed, timeout=4)
        assert missed.test_req_id
        logged_out = await wait_for(events, LoggedOut, timeout=4)
        assert "heartbeat" in (logged_out.text or "").lower()
    stats = simulator.fault_stats("CLIENT")
    assert stats.heartbeats_suppressed >= 1  # our answer to the TestRequest, at least


async def test_faults_fire_as_events_on_the_simulator_side(simulator: Simulator) -> None:
    lines: list[str] = []
    simulator.notify = lines.append
    simulator.faults("CLIENT").skip_seq = 1
    async with Client(simulator.port) as client:
        handle = simulator.handle("CLIENT")
        events = handle.events(FaultInjected)
        await client.submit()
        event = await wait_for(events, FaultInjected)
        assert event.kind == "skip_seq" and "withheld MsgSeqNum" in event.detail
        await client.reports(2)
    assert any(line.startswith("fault on FIX.4.4:EXEC->CLIENT: withheld") for line in lines)


async def test_drop_now_closes_without_logout_and_the_client_comes_back(
    simulator: Simulator,
) -> None:
    async with Client(simulator.port) as client:
        assert client.handle is not None
        events = client.handle.events(Disconnected, LoggedOn)
        simulator.drop("CLIENT")
        await wait_for(events, Disconnected)
        await wait_for(events, LoggedOn)
        await client.submit()
        await client.reports(2)


def test_faults_refuse_settings_out_of_range() -> None:
    with pytest.raises(ValueError, match="drop_after"):
        Faults(drop_after=0)
    with pytest.raises(ValueError, match="skip_mode"):
        Faults(skip_mode="later")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="refuse_logons"):
        Faults(refuse_logons=-2)
    assert not Faults().active and Faults(heartbeats=False).active


def test_garble_breaks_only_the_checksum() -> None:
    from fixengine.codec import Message, decode
    from fixengine.errors import GarbledMessage, GarbleReason

    frame = Message.from_fields([(35, "0"), (49, "A"), (56, "B"), (34, 1)]).encode("FIX.4.4")
    bad = garble(frame)
    assert bad[:-4] == frame[:-4] and bad != frame
    with pytest.raises(GarbledMessage) as info:
        decode(bad)
    assert info.value.reason is GarbleReason.BAD_CHECKSUM


def test_faulty_session_passes_everything_through_when_no_fault_is_set() -> None:
    from fixengine.session.config import SessionConfig
    from fixengine.session.session import Session
    from fixengine.session.store import MemoryStore
    from fixengine.sim.faults import FaultyStore

    cfg = SessionConfig("FIX.4.4", "EXEC", "CLIENT", role="acceptor")
    store = FaultyStore(MemoryStore(), Faults())
    session = FaultySession(Session(cfg, store), Faults(), store)
    session.connection_made(1000.0)
    assert session.get_timer() == session.inner.get_timer()
    assert session.data_to_send() == b""
    assert session.session_id == cfg.session_id and not session.is_logged_on
    assert session.next_sender_seq == 1  # the wrapped session's attributes


def _fast() -> Any:
    from test_sim_exchange import FAST

    return FAST


class _StubSession:
    """The sans-IO session API, scripted: each input queues one event and some bytes."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self.out = b""
        self.is_logged_on = True
        self.session_id = "stub"
        self.state = "LOGGED_ON"
        self.next_sender_seq = 7
        self.next_target_seq = 9

    def receive_data(self, data: bytes, now: float) -> None:
        self.events.append(("received", data))

    def send(self, msg: object, now: float) -> int:
        self.out += b"8=FIX.4.4\x019=5\x0135=8\x0110=000\x01"
        return 1

    def next_event(self) -> object | None:
        return self.events.pop(0) if self.events else None

    def data_to_send(self) -> bytes:
        out, self.out = self.out, b""
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass


def test_faulty_session_hands_output_on_unqueued_until_a_fault_is_set() -> None:
    from fixengine.codec import Message

    inner = _StubSession()
    faults = Faults()
    session = FaultySession(inner, faults)
    session.receive_data(b"x", 1.0)
    session.send(Message(b"8"), 1.0)
    assert not session._events and not session._out  # nothing copied through the wrapper
    assert session.next_event() == ("received", b"x") and session.next_event() is None
    assert session.data_to_send().startswith(b"8=FIX.4.4")
    assert (session.state, session.next_sender_seq, session.next_target_seq) == ("LOGGED_ON", 7, 9)

    faults.delay_ms = 100  # set at run time: applies from the next message on
    assert faults.active
    session.send(Message(b"8"), 2.0)
    assert session.data_to_send() == b"" and session.get_timer() == pytest.approx(2.1)
    session.handle_timer(2.1)
    assert session.data_to_send().startswith(b"8=FIX.4.4")
    faults.delay_ms = 0
    assert not faults.active and session.stats.delayed == 1
    session.receive_data(b"y", 3.0)
    assert not session._events and session.next_event() == ("received", b"y")


async def test_without_run_time_controls_a_session_with_no_fault_is_served_plain() -> None:
    from fixengine.errors import ConfigError
    from fixengine.session.session import Session
    from fixengine.sim.faults import FaultyStore

    async with Simulator(fault_controls=False) as sim:
        async with Client(sim.port) as client:
            cl = await client.submit(Side.BUY, 5, "7")
            new, fill = await client.reports(2)
            assert (new.exec_type, fill.exec_type) == (ExecType.NEW, ExecType.TRADE)
            assert client.registry[cl].status is OrdStatus.FILLED
            handle = sim.handle("CLIENT")
            assert type(handle.session) is Session  # no wrapper between transport and session
            assert not isinstance(handle.session.store, FaultyStore)
            with pytest.raises(ConfigError, match="fault_controls"):
                sim.inject_garbled("CLIENT")
            client.no_anomalies()
        assert sim.summary()["sessions"] == 1
        assert sim.fault_stats("CLIENT").total() == 0


async def test_without_run_time_controls_faults_set_at_start_still_fire() -> None:
    async with Simulator(fault_controls=False, faults=Faults(garble_every=1)) as sim:
        async with Client(sim.port) as client:
            assert client.handle is not None
            events = client.handle.events(GarbledMessageDropped)
            cl = await client.submit(Side.SELL, 3, "4")
            await client.reports(2)
            for _ in range(2):
                await wait_for(events, GarbledMessageDropped)
            assert isinstance(sim.handle("CLIENT").session, FaultySession)
            assert client.registry[cl].status is OrdStatus.FILLED
            client.no_anomalies()
        assert sim.fault_stats("CLIENT").garbled == 2
