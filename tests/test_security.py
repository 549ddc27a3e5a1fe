"""A hostile or broken counterparty, over real sockets: each is refused or disconnected
within its timeout, the refusal is logged and counted by reason in the metrics.

Covered: TLS without a client certificate, with one from another CA, plain text on a
TLS port, a TLS peer that never handshakes; a wrong Password(554); an unknown CompID;
a second Logon for a session already logged on (the first stays up); a connection
that sends nothing, random bytes, an endless message, or a Logon one byte every
100 ms; more pending connections than ``max_pending`` (TLS handshakes included). The
last test runs a whole engine in a child process and proves that the Password and the
TLS key passphrase, both taken from the environment, appear in no log file, no
output and no exception message.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import secrets
import ssl
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from test_transport_fakes import (
    RawClient,
    app_bytes,
    config,
    eventually,
    free_port,
    logon_bytes,
    pair,
    run,
)

from fixengine.codec import Message, encode
from fixengine.fields import format_utc_timestamp
from fixengine.metrics import FixMetrics
from fixengine.session.session import Session
from fixengine.session.store import MemoryStore
from fixengine.transport import Acceptor, AcceptorOptions, client_context, server_context

__all__ = ["run"]

ROOT = Path(__file__).resolve().parent.parent
LOGGER = "fixengine"

_spec = importlib.util.spec_from_file_location(
    "fixengine_security_pki", Path(__file__).parent / "tls" / "pki.py"
)
assert _spec is not None and _spec.loader is not None
pki_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = pki_module
_spec.loader.exec_module(pki_module)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A CA, server and client certificates, and a rogue CA, made for this module."""
    directory = tmp_path_factory.mktemp("pki")
    if pki_module.HAVE_CRYPTOGRAPHY:
        return pki_module.make_pki(directory)
    if pki_module.OPENSSL is not None:
        return pki_module._make_pki_openssl(directory)
    pytest.skip("neither the cryptography package nor the openssl command is available")


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=LOGGER)
    return caplog


def refused(metrics: FixMetrics, reason: str) -> float:
    return metrics.value("fix_connections_refused_total", {"reason": reason}) or 0.0


def logged(caplog: pytest.LogCaptureFixture, *needles: str) -> bool:
    """True when one record of the fixengine loggers contains every needle."""
    return any(
        all(n in r.getMessage() for n in needles)
        for r in caplog.records
        if r.name.startswith(LOGGER) and r.levelno >= logging.INFO
    )


async def closed_after(client: RawClient, timeout: float = 5.0) -> float:
    """Seconds until the acceptor closed ``client`` (whatever it sent before)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        await client.wait_closed_by_peer(timeout=timeout)
    except (ConnectionError, ssl.SSLError):
        pass
    return loop.time() - start


def logon_with_password(sender: str, target: str, password: str) -> bytes:
    msg = Message("A")
    for tag, value in (
        (49, sender),
        (56, target),
        (34, 1),
        (52, format_utc_timestamp(time.time_ns(), 3)),
        (98, 0),
        (108, 30),
        (553, "trader"),
        (554, password),
    ):
        msg.append(tag, value)
    return encode(msg, "FIX.4.4")


def _tls_server(pki: Any, *, mutual: bool) -> ssl.SSLContext:
    return server_context(
        cert_file=pki.server_cert,
        key_file=pki.server_key,
        password=pki.server_key_passphrase,
        ca_file=pki.ca_cert if mutual else None,
        require_client_cert=mutual,
    )


# -- TLS ------------------------------------------------------------------------------------------
async def _tls_logon(port: int, ctx: ssl.SSLContext) -> tuple[bytes, float]:
    """Connect over TLS, send a Logon; (what came back, seconds until the close)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    got = b""
    try:
        client = await RawClient.connect(port, ssl=ctx, server_hostname="localhost")
        try:
            await client.send(logon_bytes("CLIENT", "SERVER"))
            got = await client.wait_closed_by_peer(timeout=5.0)
        finally:
            client.close()
    except (ssl.SSLError, ConnectionError):
        pass
    return got, loop.time() - start


@pytest.mark.parametrize("client", ["no_certificate", "certificate_from_another_ca"])
def test_mutual_tls_refuses_a_bad_client_certificate_and_logs_and_counts_it(
    run: Any, pki: Any, logs: pytest.LogCaptureFixture, client: str
) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        _, acc = pair()
        tls = _tls_server(pki, mutual=True)
        options = AcceptorOptions(logon_timeout=2.0)
        async with Acceptor("127.0.0.1", 0, ssl=tls, options=options, metrics=metrics) as a:
            a.add_session(acc)
            if client == "no_certificate":
                ctx = client_context(ca_file=pki.ca_cert)
            else:
                ctx = client_context(
                    ca_file=pki.ca_cert,
                    cert_file=pki.rogue_client_cert,
                    key_file=pki.rogue_client_key,
                )
            got, seconds = await _tls_logon(a.port, ctx)
            assert b"35=A" not in got
            assert seconds < 1.5  # refused by the handshake, not by a timeout
            await eventually(lambda: refused(metrics, "tls_handshake") == 1)
            assert logged(logs, "refused connection", "tls_handshake")
            assert acc.calls["connection_made"] == 0
            assert not a.pending

            # control: the same port accepts a client with a good certificate
            good = client_context(
                ca_file=pki.ca_cert, cert_file=pki.client_cert, key_file=pki.client_key
            )
            ok = await RawClient.connect(a.port, ssl=good, server_hostname="localhost")
            await ok.send(logon_bytes("CLIENT", "SERVER"))
            assert (await ok.read_message()).msg_type == b"A"
            ok.close()
            assert refused(metrics, "tls_handshake") == 1

    run(scenario())


def test_plain_text_on_a_tls_port_is_refused_logged_and_counted(
    run: Any, pki: Any, logs: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        _, acc = pair()
        tls = _tls_server(pki, mutual=False)
        async with Acceptor("127.0.0.1", 0, ssl=tls, metrics=metrics) as a:
            a.add_session(acc)
            client = await RawClient.connect(a.port)
            await client.send(logon_bytes("CLIENT", "SERVER"))
            assert await closed_after(client) < 1.5
            await eventually(lambda: refused(metrics, "tls_handshake") == 1)
            assert logged(logs, "refused connection", "tls_handshake")
            assert acc.calls["connection_made"] == 0

    run(scenario())


def test_tls_peer_that_never_handshakes_is_dropped_at_the_logon_timeout(
    run: Any, pki: Any, logs: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        timeout = 0.4
        options = AcceptorOptions(logon_timeout=timeout)
        tls = _tls_server(pki, mutual=False)
        async with Acceptor("127.0.0.1", 0, ssl=tls, options=options, metrics=metrics) as a:
            a.add_session(pair()[1])
            client = await RawClient.connect(a.port)
            await eventually(lambda: len(a.pending) == 1)  # a handshake counts as pending
            seconds = await closed_after(client)
            assert timeout - 0.05 <= seconds < timeout + 1.0
            assert refused(metrics, "logon_timeout") + refused(metrics, "tls_handshake") == 1
            assert logged(logs, "refused connection")
            assert not a.pending

    run(scenario())


# -- Logon refusals -------------------------------------------------------------------------------
def test_wrong_password_is_refused_with_a_logout_logged_and_counted(
    run: Any, logs: pytest.LogCaptureFixture
) -> None:
    right = f"right-{secrets.token_hex(6)}"
    wrong = f"wrong-{secrets.token_hex(6)}"

    def authenticator(logon: Message) -> str | None:
        ok = secrets.compare_digest(logon.get(554) or b"", right.encode())
        return None if ok else "Invalid username or password"

    async def scenario() -> None:
        metrics = FixMetrics()
        session = Session(
            config("SERVER", "CLIENT", "acceptor"), MemoryStore(), authenticator=authenticator
        )
        async with Acceptor("127.0.0.1", 0, metrics=metrics) as a:
            a.add_session(session)
            client = await RawClient.connect(a.port)
            loop = asyncio.get_running_loop()
            start = loop.time()
            await client.send(logon_with_password("CLIENT", "SERVER", wrong))
            logout = await client.read_message()
            assert logout.msg_type == b"5"
            assert logout.get(58) == b"Invalid username or password"
            await client.wait_closed_by_peer()
            assert loop.time() - start < 1.5
            assert not session.is_logged_on
            assert refused(metrics, "authentication") == 1
            assert logged(logs, "logon refused", "Invalid username or password")
            sid = str(session.session_id)
            assert metrics.value("fix_logons_total", {"session": sid}) == 0

            # the right password logs on (the refusal was about the password)
            again = await RawClient.connect(a.port)
            await again.send(logon_with_password("CLIENT", "SERVER", right))
            assert (await again.read_message()).msg_type == b"A"
            assert refused(metrics, "authentication") == 1
            again.close()

    run(scenario())
    text = logs.text + "".join(r.getMessage() for r in logs.records)
    assert wrong not in text and right not in text


def test_unknown_comp_id_is_refused_logged_and_counted(
    run: Any, logs: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        _, acc = pair()
        async with Acceptor("127.0.0.1", 0, metrics=metrics) as a:
            a.add_session(acc)
            client = await RawClient.connect(a.port)
            await client.send(logon_bytes("MALLORY", "SERVER"))
            logout = await client.read_message()
            assert logout.msg_type == b"5" and b"Unknown session" in (logout.get(58) or b"")
            assert await closed_after(client) < 1.5
            assert refused(metrics, "unknown_session") == 1
            assert logged(logs, "refused connection", "unknown_session")
            assert acc.calls["connection_made"] == 0

    run(scenario())


def test_second_logon_for_a_logged_on_session_is_refused_and_the_first_stays_up(
    run: Any, logs: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        session = Session(config("SERVER", "CLIENT", "acceptor"), MemoryStore())
        async with Acceptor("127.0.0.1", 0, metrics=metrics) as a:
            a.add_session(session)
            first = await RawClient.connect(a.port)
            await first.send(logon_bytes("CLIENT", "SERVER"))
            assert (await first.read_message()).msg_type == b"A"

            second = await RawClient.connect(a.port)
            await second.send(logon_bytes("CLIENT", "SERVER", seq=2))
            assert (await second.read_message()).msg_type == b"5"
            assert await closed_after(second) < 1.5
            assert refused(metrics, "duplicate") == 1
            assert logged(logs, "refused connection", "duplicate")

            # the first connection still works: a TestRequest is answered
            assert session.is_logged_on
            await first.send(app_bytes("CLIENT", "SERVER", 2, "1", t112="still-there"))
            heartbeat = await first.read_message()
            assert heartbeat.msg_type == b"0" and heartbeat.get(112) == b"still-there"
            first.close()

    run(scenario())


# -- pre-logon abuse ------------------------------------------------------------------------------
def test_connection_that_sends_nothing_is_dropped_at_the_logon_timeout(
    run: Any, logs: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        timeout = 0.4
        options = AcceptorOptions(logon_timeout=timeout)
        async with Acceptor("127.0.0.1", 0, options=options, metrics=metrics) as a:
            a.add_session(pair()[1])
            client = await RawClient.connect(a.port)
            seconds = await closed_after(client)
            assert timeout - 0.05 <= seconds < timeout + 1.0
            assert refused(metrics, "logon_timeout") == 1
            assert logged(logs, "refused connection", "logon_timeout")

    run(scenario())


def test_random_bytes_are_refused_at_once(run: Any, logs: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        async with Acceptor("127.0.0.1", 0, metrics=metrics) as a:
            a.add_session(pair()[1])
            client = await RawClient.connect(a.port)
            junk = os.urandom(2048).replace(b"8=", b"xx")
            try:
                await client.send(junk)
            except ConnectionError:
                pass
            assert await closed_after(client) < 1.5
            assert refused(metrics, "garbage") == 1
            assert logged(logs, "refused connection", "garbage")

    run(scenario())


def test_endless_message_is_refused_without_unbounded_buffering(
    run: Any, logs: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        limit = 4096
        options = AcceptorOptions(max_logon_size=limit)
        async with Acceptor("127.0.0.1", 0, options=options, metrics=metrics) as a:
            a.add_session(pair()[1])
            client = await RawClient.connect(a.port)
            loop = asyncio.get_running_loop()
            start = loop.time()
            peak = 0
            try:
                await client.send(b"8=FIX.4.4\x019=5000000\x0135=A\x01")
                for _ in range(200):  # 200 kB offered: far beyond the limit
                    await client.send(b"58=" + b"z" * 1000 + b"\x01")
                    peak = max([peak, *(len(p.received) for p in a.pending)])
                    await asyncio.sleep(0)
            except ConnectionError:
                pass
            await closed_after(client)
            assert loop.time() - start < 2.0
            assert peak <= 2 * limit + 1100  # held at most about twice the limit
            assert refused(metrics, "oversize") == 1
            assert logged(logs, "refused connection", "oversize")
            assert not a.pending

    run(scenario())


def test_slow_trickle_is_dropped_at_the_logon_timeout_not_reset_by_partial_data(
    run: Any, logs: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        timeout = 0.5
        options = AcceptorOptions(logon_timeout=timeout)
        async with Acceptor("127.0.0.1", 0, options=options, metrics=metrics) as a:
            _, acc = pair()
            a.add_session(acc)
            client = await RawClient.connect(a.port)
            logon = logon_bytes("CLIENT", "SERVER")  # about 9 s at one byte per 100 ms
            sent = 0

            async def trickle() -> None:
                nonlocal sent
                for i in range(len(logon)):
                    client.writer.write(logon[i : i + 1])
                    sent += 1
                    await asyncio.sleep(0.1)

            task = asyncio.ensure_future(trickle())
            seconds = await closed_after(client)
            task.cancel()
            assert timeout - 0.05 <= seconds < timeout + 1.0
            assert 0 < sent < len(logon)
            assert refused(metrics, "logon_timeout") == 1
            assert logged(logs, "refused connection", "logon_timeout")
            assert acc.calls["connection_made"] == 0

    run(scenario())


@pytest.mark.parametrize("use_tls", [False, True], ids=["tcp", "tls"])
def test_pending_connections_beyond_max_pending_are_refused_at_accept(
    run: Any, pki: Any, logs: pytest.LogCaptureFixture, use_tls: bool
) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        options = AcceptorOptions(max_pending=3, logon_timeout=5.0)
        tls = _tls_server(pki, mutual=False) if use_tls else None
        async with Acceptor("127.0.0.1", 0, ssl=tls, options=options, metrics=metrics) as a:
            a.add_session(pair()[1])
            # plain TCP connections that never send a byte: on a TLS port they are
            # handshakes that never start, and count as pending all the same
            idle = [await RawClient.connect(a.port) for _ in range(3)]
            await eventually(lambda: len(a.pending) == 3)
            extra = await RawClient.connect(a.port)
            assert await closed_after(extra) < 1.0
            assert len(a.pending) == 3
            assert refused(metrics, "too_many_pending") == 1
            assert logged(logs, "refused connection", "too_many_pending")
            for c in idle:
                c.close()
            await eventually(lambda: not a.pending)
            # room again: a new connection is admitted
            late = await RawClient.connect(a.port)
            await eventually(lambda: len(a.pending) == 1)
            late.close()

    run(scenario())


# -- secrets --------------------------------------------------------------------------------------
_SECRETS_CHILD = textwrap.dedent(
    """
    import asyncio, json, logging, os, sys
    from fixengine.application import Application, Engine
    from fixengine.codec import Message
    from fixengine.errors import ConfigError
    from fixengine.settings import load_settings
    from fixengine.transport import load_passphrase, server_context
    from fixengine.transport.loop import run

    logging.basicConfig(
        level=logging.DEBUG, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
    settings_file, cert, key = sys.argv[1:4]

    class Nosy(Application):
        def on_admin_message(self, session, message):
            if message.msg_type == b"A":
                # an application that puts the Logon into an exception message
                raise RuntimeError(f"cannot handle {message!r}")

    def authenticator(logon):
        if logon.get(554) == os.environ["FIX_PASSWORD"].encode():
            return None
        return "Invalid username or password"

    async def main():
        settings = load_settings(settings_file)
        print("settings:", [repr(s) for s in settings])
        print("configs:", [repr(s.config) for s in settings])
        engine = Engine.from_settings(settings, Nosy(), authenticator=authenticator)
        await engine.start()
        good = engine.session("FIX.4.4:CLIENT->SERVER")
        await good.wait_logged_on(timeout=15)
        order = Message("D")
        order.append(11, "ORDER-1")
        await good.send(order)
        labels = {"reason": "authentication"}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while not engine.metrics.value("fix_connections_refused_total", labels):
            if loop.time() > deadline:
                raise SystemExit("the wrong password was never refused")
            await asyncio.sleep(0.05)
        refusals = engine.metrics.value("fix_connections_refused_total", labels)
        await asyncio.sleep(0.2)
        await engine.stop()
        return refusals

    refusals = run(main(), debug=True)
    # a wrong passphrase and an unset variable: their error messages go to the output
    try:
        server_context(cert_file=cert, key_file=key, password=os.environ["FIX_WRONG_KEY_PASS"])
    except ConfigError as exc:
        print("wrong passphrase:", exc)
    try:
        load_passphrase(env="FIX_NO_SUCH_VARIABLE")
    except ConfigError as exc:
        print("no passphrase:", exc)
    print(json.dumps({"logged_on": True, "refusals": refusals}))
    """
)


def test_secrets_never_appear_in_logs_output_or_exception_messages(
    pki: Any, tmp_path: Path
) -> None:
    password = f"pw-{secrets.token_hex(8)}"
    wrong_password = f"pw-{secrets.token_hex(8)}"
    wrong_passphrase = f"kp-{secrets.token_hex(8)}"
    passphrase = pki.server_key_passphrase
    port = free_port()
    work = tmp_path / "work"
    work.mkdir()
    common = textwrap.dedent(
        f"""
        [DEFAULT]
        BeginString=FIX.4.4
        FileStorePath={work / "store"}
        FileLogPath={work / "log"}
        UseDataDictionary=N
        HeartBtInt=30
        ReconnectInterval=1
        SocketUseSSL=Y
        """
    )
    acceptor = textwrap.dedent(
        f"""
        [SESSION]
        ConnectionType=acceptor
        SenderCompID=SERVER
        TargetCompID={{peer}}
        SocketAcceptHost=127.0.0.1
        SocketAcceptPort={port}
        SocketCertificateFile={pki.server_cert}
        SocketPrivateKeyFile={pki.server_key}
        SocketPrivateKeyPassword=${{{{env:FIX_KEY_PASS}}}}
        """
    )
    initiator = textwrap.dedent(
        f"""
        [SESSION]
        ConnectionType=initiator
        SenderCompID={{me}}
        TargetCompID=SERVER
        SocketConnectHost=127.0.0.1
        SocketConnectPort={port}
        SocketCAFile={pki.ca_cert}
        Username=trader
        Password=${{{{env:{{variable}}}}}}
        """
    )
    settings = (
        common
        + acceptor.format(peer="CLIENT")
        + acceptor.format(peer="INTRUDER")
        + initiator.format(me="CLIENT", variable="FIX_PASSWORD")
        + initiator.format(me="INTRUDER", variable="FIX_INTRUDER_PASSWORD")
    )
    settings_file = tmp_path / "engine.cfg"
    settings_file.write_text(settings)
    script = tmp_path / "child.py"
    script.write_text(_SECRETS_CHILD)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "FIX_PASSWORD": password,
        "FIX_INTRUDER_PASSWORD": wrong_password,
        "FIX_KEY_PASS": passphrase,
        "FIX_WRONG_KEY_PASS": wrong_passphrase,
    }
    env.pop("FIX_NO_SUCH_VARIABLE", None)
    proc = subprocess.run(
        [
            sys.executable,
            str(script),
            str(settings_file),
            str(pki.server_cert),
            str(pki.server_key),
        ],
        env=env,
        capture_output=True,
        timeout=60,
        cwd=tmp_path,
    )
    out, err = proc.stdout, proc.stderr
    assert proc.returncode == 0, err.decode(errors="replace")[-3000:]

    # the run did what the secrets are for: a TLS logon with the password, a refusal
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result["logged_on"] and result["refusals"] >= 1
    assert b"wrong passphrase:" in out and b"no passphrase:" in out
    assert b"cannot handle" in err  # the application's exception was logged
    assert b"logon refused" in err
    messages = [p for p in (work / "log").rglob("*") if p.is_file()]
    assert any(b"554=***" in p.read_bytes() for p in messages)  # the Logon was logged, masked

    files = [p for p in tmp_path.rglob("*") if p.is_file() and p != script]
    for secret in (password, wrong_password, passphrase, wrong_passphrase):
        blob = secret.encode()
        assert blob not in out, f"a secret reached stdout: {secret[:3]}..."
        assert blob not in err, f"a secret reached stderr: {secret[:3]}..."
        leaked = [str(p.relative_to(tmp_path)) for p in files if blob in p.read_bytes()]
        assert leaked == [], f"a secret reached {leaked}"
