"""A peer that stops reading never makes our memory grow without bound."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from test_transport_fakes import RawClient, eventually, logon_bytes, pair, run

from fixengine.codec import Message
from fixengine.errors import LocalProtocolError
from fixengine.metrics import FixMetrics
from fixengine.transport import Acceptor, AcceptorOptions, TransportOptions

__all__ = ["run"]

LIMITS = TransportOptions(
    write_high_water=32 * 1024, write_low_water=8 * 1024, max_write_buffer=256 * 1024
)


async def _stalled_client(port: int) -> RawClient:
    """A client that logs on, reads the answer, then never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    client = RawClient(reader, writer)
    await client.send(logon_bytes("CLIENT", "SERVER"))
    assert (await client.read_message()).msg_type == b"A"
    writer.transport.pause_reading()
    return client


def _order(i: int) -> Message:
    msg = Message("D")
    msg.append(11, f"ORDER-{i}")
    msg.append(58, "x" * 900)
    return msg


def test_stalled_reader_is_disconnected_when_the_write_buffer_hits_its_cap(run: Any) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        _, acc = pair()
        options = AcceptorOptions(transport=LIMITS)
        async with Acceptor("127.0.0.1", 0, options=options, metrics=metrics) as acceptor:
            driver = acceptor.add_session(acc)
            client = await _stalled_client(acceptor.port)
            await eventually(lambda: acc.is_logged_on)
            conn = driver.connection
            assert conn is not None
            sent: list[int] = []
            peak = 0
            for i in range(100_000):
                try:
                    sent.append(driver.send(_order(i)))
                except LocalProtocolError:
                    break  # the session saw the disconnect
                peak = max(peak, conn.write_buffer_size)
                if i % 64 == 0:
                    await asyncio.sleep(0)  # let the loop run as a real application would
            else:
                raise AssertionError("never disconnected")
            assert peak <= LIMITS.max_write_buffer + 2048
            await conn.wait_closed()
            assert conn.reason == "write_overflow"
            sid = str(acc.session_id)
            labels = {"session": sid, "reason": "write_overflow"}
            assert metrics.value("fix_disconnects_total", labels) == 1
            # nothing lost: every sequenced message is in the store for a resend
            stored = acc.store.get_sent(sent[0], sent[-1])
            assert [seq for seq, _ in stored] == sent
            client.close()

    run(scenario())


def test_async_senders_wait_while_the_peer_is_slow(run: Any) -> None:
    async def scenario() -> None:
        _, acc = pair()
        options = AcceptorOptions(transport=LIMITS)
        async with Acceptor("127.0.0.1", 0, options=options) as acceptor:
            driver = acceptor.add_session(acc)
            client = await _stalled_client(acceptor.port)
            await eventually(lambda: acc.is_logged_on)
            conn = driver.connection
            assert conn is not None

            async def producer() -> int:
                n = 0
                while True:
                    await driver.drain()
                    driver.send(_order(n))
                    n += 1
                    assert conn.write_buffer_size <= LIMITS.write_high_water + 2048

            task = asyncio.ensure_future(producer())
            await asyncio.sleep(0.5)
            assert not task.done()  # blocked in drain(), not failing and not growing
            assert conn.reason is None
            assert conn.write_buffer_size <= LIMITS.write_high_water + 2048
            # the reader wakes up: the producer makes progress again
            before = acc.next_sender_seq
            client.writer.transport.resume_reading()
            drained = 0

            async def reader() -> None:
                nonlocal drained
                while True:
                    chunk = await client.reader.read(1 << 16)
                    if not chunk:
                        return
                    drained += len(chunk)

            reading = asyncio.ensure_future(reader())
            await eventually(lambda: acc.next_sender_seq > before + 100, timeout=5.0)
            task.cancel()
            reading.cancel()
            client.close()

    run(scenario())
