"""Idle strategies: a spinning loop still serves timers and I/O, and stops cleanly."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from test_application import FAST, Recorder, cfg, order, start_pair
from test_transport_fakes import eventually, free_port, run

from fixengine.application import Engine
from fixengine.settings import parse_settings
from fixengine.transport import IdlePoller, IdleStrategy

__all__ = ["run"]


class Counting(IdlePoller):
    """Counts the turns of its callback (how often the loop went round without blocking)."""

    __slots__ = ("turns",)

    def __init__(self, loop: asyncio.AbstractEventLoop, strategy: IdleStrategy) -> None:
        super().__init__(loop, strategy)
        self.turns = 0

    def _turn(self) -> None:
        self.turns += 1
        super()._turn()


def test_strategy_values_are_checked() -> None:
    with pytest.raises(ValueError):
        IdleStrategy("busy")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        IdleStrategy("backoff", -1.0)
    assert IdleStrategy() == IdleStrategy("sleep", 50e-6)


def test_the_busiest_strategy_wins_with_its_longest_spin() -> None:
    busiest = IdleStrategy.busiest
    assert busiest([]) == IdleStrategy()
    assert busiest([IdleStrategy(), IdleStrategy("backoff", 1e-4)]).mode == "backoff"
    got = busiest([IdleStrategy("backoff", 1e-4), IdleStrategy("backoff", 3e-4), IdleStrategy()])
    assert got == IdleStrategy("backoff", 3e-4)
    assert busiest([IdleStrategy("backoff", 1.0), IdleStrategy("spin", 0.0)]).mode == "spin"


def test_a_spinning_loop_serves_timers_and_io_and_stops_cleanly(run: Any) -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        poller = Counting(loop, IdleStrategy("spin"))
        poller.start()
        assert poller.running and poller.spinning

        # timers fire, on time
        fired = loop.create_future()
        t0 = time.monotonic()
        loop.call_later(0.02, fired.set_result, None)
        await asyncio.wait_for(fired, 1.0)
        assert 0.015 <= time.monotonic() - t0 < 0.5
        # ... and the loop never blocked meanwhile: it went round many times
        assert poller.turns > 50

        # I/O is served
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.readexactly(5))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hello")
        assert await asyncio.wait_for(reader.readexactly(5), 1.0) == b"hello"
        writer.close()
        server.close()
        await server.wait_closed()

        # stop: the callback leaves the ready queue, the loop blocks when idle again
        poller.stop()
        assert not poller.running and not poller.spinning
        await asyncio.sleep(0)
        turns = poller.turns
        await asyncio.sleep(0.02)
        assert poller.turns == turns
        poller.touch()  # I/O after stop does not start it again
        await asyncio.sleep(0.005)
        assert poller.turns == turns and not poller.spinning

    run(scenario())


def test_backoff_spins_after_io_then_blocks_until_the_next(run: Any) -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        poller = Counting(loop, IdleStrategy("backoff", 0.005))
        poller.start()
        assert poller.spinning
        await asyncio.sleep(0.05)
        assert not poller.spinning  # quiet for longer than the spin time
        turns = poller.turns
        assert turns > 1
        await asyncio.sleep(0.02)
        assert poller.turns == turns  # blocked meanwhile
        poller.touch()
        assert poller.spinning
        await asyncio.sleep(0.05)
        assert poller.turns > turns and not poller.spinning
        poller.stop()

    run(scenario())


def test_sleep_does_nothing(run: Any) -> None:
    async def scenario() -> None:
        poller = Counting(asyncio.get_running_loop(), IdleStrategy())
        poller.start()
        poller.touch()
        await asyncio.sleep(0.01)
        assert poller.turns == 0 and not poller.running

    run(scenario())


def test_engine_applies_its_idle_strategy_from_start_to_stop(run: Any) -> None:
    async def scenario() -> None:
        app = Recorder()
        engine = Engine(app, idle_strategy=IdleStrategy("spin"))
        ini, acc = await start_pair(engine)  # logon, with both ends on a spinning loop
        poller = engine._idle
        assert poller is not None and poller.spinning
        assert ini.driver.idle is poller and acc.driver.idle is poller
        for i in range(20):
            await ini.send(order(f"S{i}"))
        await eventually(lambda: len(app.messages) == 20)
        assert [m.get(11) for m in app.messages] == [f"S{i}".encode() for i in range(20)]
        await engine.stop()
        assert not poller.running and not poller.spinning
        assert engine._idle is None and ini.driver.idle is None

    run(scenario())


def test_engine_with_backoff_spins_around_io(run: Any) -> None:
    async def scenario() -> None:
        app = Recorder()
        engine = Engine(app, idle_strategy=IdleStrategy("backoff", 0.002))
        ini, _ = await start_pair(engine)
        poller = engine._idle
        assert poller is not None and poller.running
        await asyncio.sleep(0.05)
        assert not poller.spinning  # nothing happened for longer than the spin time
        await ini.send(order("B"))
        assert poller.spinning  # the write went out at once and started the spin
        await eventually(lambda: len(app.messages) == 1)
        await engine.stop()
        assert not poller.spinning

    run(scenario())


def test_from_settings_takes_the_idle_strategy_of_its_sessions(tmp_path: Path) -> None:
    port = free_port()
    text = f"""
[DEFAULT]
BeginString=FIX.4.4
HeartBtInt=30
StoreType=memory
UseDataDictionary=N

[SESSION]
ConnectionType=acceptor
SenderCompID=SERVER
TargetCompID=CLIENT
SocketAcceptPort={port}

[SESSION]
ConnectionType=initiator
SenderCompID=CLIENT
TargetCompID=SERVER
SocketConnectHost=127.0.0.1
SocketConnectPort={port}
IdleStrategy=Backoff
IdleSpinMicros=200
"""
    settings = parse_settings(text, "idle.cfg")
    assert [s.idle_strategy for s in settings] == ["sleep", "backoff"]
    engine = Engine.from_settings(settings, load_dictionaries=False)
    assert engine.idle_strategy == IdleStrategy("backoff", 200e-6)
    default = Engine.from_settings(settings[:1], load_dictionaries=False)
    assert default.idle_strategy == IdleStrategy()


def test_an_engine_restarted_spins_again(run: Any) -> None:
    async def scenario() -> None:
        engine = Engine(idle_strategy=IdleStrategy("spin"))
        port = free_port()
        acceptor = cfg("SERVER", "CLIENT", "acceptor")
        engine.add_acceptor_session(acceptor, port=port, host="127.0.0.1")
        ini = engine.add_initiator(cfg("CLIENT", "SERVER"), [("127.0.0.1", port)], options=FAST)
        for _ in range(2):
            await engine.start()
            await ini.wait_logged_on(5)
            poller = engine._idle
            assert poller is not None and poller.spinning
            await engine.stop()
            assert not poller.spinning

    run(scenario())


def test_each_spinning_turn_yields_the_cpu(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from fixengine.transport import loop as loop_module

    yields = 0

    def counting_yield() -> None:
        nonlocal yields
        yields += 1

    monkeypatch.setattr(loop_module, "_sched_yield", counting_yield)

    async def scenario() -> None:
        poller = Counting(asyncio.get_running_loop(), IdleStrategy("spin"))
        poller.start()
        await asyncio.sleep(0.01)
        poller.stop()
        assert yields > 10 and yields >= poller.turns - 1

    run(scenario())
