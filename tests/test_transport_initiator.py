"""Initiator: reconnect with backoff, failover, clean stop (real loopback sockets)."""

from __future__ import annotations

import asyncio
import random
import ssl
from typing import Any

import pytest
from test_transport_fakes import eventually, free_port, pair, run

from fixengine.errors import ConfigError
from fixengine.metrics import FixMetrics
from fixengine.transport import Acceptor, Initiator, InitiatorOptions, backoff_delay

__all__ = ["run"]

FAST = InitiatorOptions(
    connect_timeout=1.0, reconnect_interval=0.05, max_reconnect_interval=0.4, jitter=0.0
)


def test_backoff_doubles_from_the_reconnect_interval_up_to_the_cap() -> None:
    delays = [backoff_delay(n, 1.0, 30.0) for n in range(8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_backoff_jitter_only_shortens_and_stays_within_the_fraction() -> None:
    rng = random.Random(7)
    for attempt in range(10):
        full = min(60.0, 2.0 * 2**attempt)
        d = backoff_delay(attempt, 2.0, 60.0, 0.25, rng.random)
        assert 0.75 * full <= d <= full
    # a huge attempt count does not overflow
    assert backoff_delay(10_000, 1.0, 5.0) == 5.0


def test_backoff_jitter_spreads_delays() -> None:
    rng = random.Random(1)
    values = {round(backoff_delay(3, 1.0, 100.0, 0.5, rng.random), 6) for _ in range(20)}
    assert len(values) > 10


def test_initiator_options_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        InitiatorOptions(reconnect_interval=0)
    with pytest.raises(ValueError):
        InitiatorOptions(reconnect_interval=10, max_reconnect_interval=5)
    with pytest.raises(ValueError):
        InitiatorOptions(jitter=1.0)
    with pytest.raises(ConfigError):
        Initiator(pair()[0], [])


def test_initiator_reconnects_after_the_acceptor_restarts(run: Any) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        ini, acc = pair()
        port = free_port()
        acceptor = Acceptor("127.0.0.1", port)
        acceptor.add_session(acc)
        await acceptor.start()
        initiator = Initiator(ini, [("127.0.0.1", port)], options=FAST, metrics=metrics)
        await initiator.start()
        await eventually(lambda: ini.is_logged_on)
        assert initiator.current_host == ("127.0.0.1", port)

        await acceptor.stop(logout=False)
        await eventually(lambda: not ini.is_logged_on)
        await asyncio.sleep(0.3)  # several attempts fail while nobody listens
        acceptor2 = Acceptor("127.0.0.1", port)
        acceptor2.add_session(acc)
        await acceptor2.start()
        await eventually(lambda: ini.is_logged_on, timeout=5.0)
        sid = {"session": str(ini.session_id)}
        assert metrics.value("fix_reconnects_total", sid) == 1
        failed = metrics.value("fix_connect_attempts_total", {**sid, "outcome": "failed"})
        assert failed is not None and failed >= 2
        assert ini.calls["connection_made"] == 2
        await initiator.stop()
        await acceptor2.stop()

    run(scenario())


def test_failed_attempts_back_off_exponentially(run: Any) -> None:
    async def scenario() -> None:
        ini, _ = pair()
        options = InitiatorOptions(
            connect_timeout=1.0, reconnect_interval=0.01, max_reconnect_interval=0.05, jitter=0.0
        )
        hosts = [("127.0.0.1", free_port()), ("127.0.0.1", free_port())]  # nobody listens
        initiator = Initiator(ini, hosts, options=options)
        delays: list[float] = []
        tried: list[int] = []
        real_sleep, real_connect = initiator._sleep, initiator._connect

        async def sleep(delay: float) -> None:
            delays.append(delay)
            await real_sleep(delay)

        async def connect(host: str, port: int) -> Any:
            tried.append(port)
            return await real_connect(host, port)

        initiator._sleep = sleep  # type: ignore[method-assign]
        initiator._connect = connect  # type: ignore[method-assign]
        await initiator.start()
        await eventually(lambda: len(delays) >= 5, timeout=5.0)
        await initiator.stop()
        # both hosts are tried before each wait; waits double up to the cap
        assert delays[:5] == pytest.approx([0.01, 0.02, 0.04, 0.05, 0.05])
        ports = [h[1] for h in hosts]
        assert tried[:6] == ports * 3

    run(scenario())


def test_initiator_fails_over_to_the_second_host(run: Any) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        ini, acc = pair()
        dead = free_port()
        async with Acceptor("127.0.0.1", 0) as acceptor:
            acceptor.add_session(acc)
            hosts = [("127.0.0.1", dead), ("127.0.0.1", acceptor.port)]
            initiator = Initiator(ini, hosts, options=FAST, metrics=metrics)
            await initiator.start()
            await eventually(lambda: ini.is_logged_on)
            assert initiator.current_host == ("127.0.0.1", acceptor.port)
            sid = {"session": str(ini.session_id)}
            assert metrics.value("fix_connect_attempts_total", {**sid, "outcome": "failed"}) == 1
            await initiator.stop()

    run(scenario())


def test_initiator_returns_to_the_primary_after_a_logged_on_connection_ends(run: Any) -> None:
    async def scenario() -> None:
        ini, acc = pair()
        async with Acceptor("127.0.0.1", 0) as primary, Acceptor("127.0.0.1", 0) as backup:
            primary.add_session(acc)
            backup.add_session(pair()[1])
            hosts = [("127.0.0.1", primary.port), ("127.0.0.1", backup.port)]
            initiator = Initiator(ini, hosts, options=FAST)
            await initiator.start()
            await eventually(lambda: acc.is_logged_on)
            driver = primary.driver(acc.session_id)
            assert driver is not None
            driver.disconnect()
            await eventually(lambda: acc.calls["connection_made"] == 2 and acc.is_logged_on)
            assert initiator.current_host == hosts[0]
            await initiator.stop()

    run(scenario())


def test_connect_timeout_covers_a_tls_handshake_that_never_completes(run: Any) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        ini, _ = pair()

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # accept TCP, never answer the TLS ClientHello

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        options = InitiatorOptions(
            connect_timeout=0.2, reconnect_interval=5.0, max_reconnect_interval=5.0, jitter=0.0
        )
        tls = ssl.create_default_context()
        initiator = Initiator(ini, [("127.0.0.1", port)], ssl=tls, options=options, metrics=metrics)
        await initiator.start()
        labels = {"session": str(ini.session_id), "outcome": "timeout"}
        await eventually(lambda: metrics.value("fix_connect_attempts_total", labels) == 1)
        assert ini.calls["connection_made"] == 0
        await initiator.stop()
        server.close()

    run(scenario())


def test_stop_during_backoff_returns_promptly(run: Any) -> None:
    async def scenario() -> None:
        ini, _ = pair()
        options = InitiatorOptions(reconnect_interval=30.0, max_reconnect_interval=30.0)
        initiator = Initiator(ini, [("127.0.0.1", free_port())], options=options)
        await initiator.start()
        await asyncio.sleep(0.1)  # first attempt failed; now sleeping ~30 s
        loop = asyncio.get_running_loop()
        start = loop.time()
        await initiator.stop()
        assert loop.time() - start < 1.0

    run(scenario())


def test_logout_by_the_peer_leads_to_a_reconnect(run: Any) -> None:
    async def scenario() -> None:
        ini, acc = pair()
        async with Acceptor("127.0.0.1", 0) as acceptor:
            driver = acceptor.add_session(acc)
            initiator = Initiator(ini, [("127.0.0.1", acceptor.port)], options=FAST)
            await initiator.start()
            await eventually(lambda: acc.is_logged_on)
            driver.logout("end of day")
            await eventually(lambda: acc.calls["connection_made"] == 2 and ini.is_logged_on)
            await initiator.stop()

    run(scenario())
