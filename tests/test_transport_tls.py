"""TLS and mutual TLS between initiator and acceptor (certificates made at test time)."""

from __future__ import annotations

import asyncio
import importlib.util
import ssl
import sys
from pathlib import Path
from typing import Any

import pytest
from test_transport_fakes import RawClient, eventually, logon_bytes, pair, run

from fixengine.errors import ConfigError
from fixengine.metrics import FixMetrics
from fixengine.transport import (
    Acceptor,
    Initiator,
    InitiatorOptions,
    client_context,
    load_passphrase,
    server_context,
)

__all__ = ["run"]

_spec = importlib.util.spec_from_file_location(
    "fixengine_test_pki", Path(__file__).parent / "tls" / "pki.py"
)
assert _spec is not None and _spec.loader is not None
pki_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = pki_module
_spec.loader.exec_module(pki_module)

FAST = InitiatorOptions(
    connect_timeout=2.0, reconnect_interval=0.05, max_reconnect_interval=0.2, jitter=0.0
)


@pytest.fixture(scope="module", params=["cryptography", "openssl"])
def pki(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Certificates made with the cryptography package and with the openssl command."""
    directory = tmp_path_factory.mktemp("pki")
    if request.param == "openssl":
        if pki_module.OPENSSL is None:
            pytest.skip("no openssl command")
        return pki_module._make_pki_openssl(directory)
    if not pki_module.HAVE_CRYPTOGRAPHY:
        pytest.skip("cryptography is not installed (the openssl variant covers TLS)")
    return pki_module.make_pki(directory)


def _server(pki: Any, *, mutual: bool) -> ssl.SSLContext:
    return server_context(
        cert_file=pki.server_cert,
        key_file=pki.server_key,
        password=pki.server_key_passphrase,
        ca_file=pki.ca_cert if mutual else None,
        require_client_cert=mutual,
    )


def test_initiator_logs_on_over_tls(run: Any, pki: Any) -> None:
    async def scenario() -> None:
        ini, acc = pair()
        async with Acceptor("127.0.0.1", 0, ssl=_server(pki, mutual=False)) as acceptor:
            acceptor.add_session(acc)
            tls = client_context(ca_file=pki.ca_cert)
            initiator = Initiator(ini, [("127.0.0.1", acceptor.port)], ssl=tls, options=FAST)
            await initiator.start()
            await eventually(lambda: ini.is_logged_on and acc.is_logged_on)
            conn = initiator.driver.connection
            assert conn is not None and conn.transport is not None
            assert conn.transport.get_extra_info("ssl_object") is not None
            await initiator.stop()
            assert not acc.is_logged_on or not ini.is_logged_on

    run(scenario())


def test_mutual_tls_logs_on_with_a_client_certificate(run: Any, pki: Any) -> None:
    async def scenario() -> None:
        ini, acc = pair()
        async with Acceptor("127.0.0.1", 0, ssl=_server(pki, mutual=True)) as acceptor:
            driver = acceptor.add_session(acc)
            tls = client_context(
                ca_file=pki.ca_cert, cert_file=pki.client_cert, key_file=pki.client_key
            )
            initiator = Initiator(ini, [("127.0.0.1", acceptor.port)], ssl=tls, options=FAST)
            await initiator.start()
            await eventually(lambda: acc.is_logged_on)
            conn = driver.connection
            assert conn is not None and conn.transport is not None
            peer_cert = conn.transport.get_extra_info("peercert")
            assert peer_cert["subject"] == ((("commonName", "CLIENT"),),)
            await initiator.stop()

    run(scenario())


async def _refused_tls_client(port: int, ctx: ssl.SSLContext) -> bool:
    """Try a Logon over TLS; True when the acceptor closed the connection without answering."""
    try:
        client = await RawClient.connect(port, ssl=ctx, server_hostname="localhost")
    except (ssl.SSLError, ConnectionError):
        return True
    try:
        await client.send(logon_bytes("CLIENT", "SERVER"))
        data = await client.wait_closed_by_peer(timeout=3.0)
    except (ssl.SSLError, ConnectionError):
        return True
    finally:
        client.close()
    return data == b""


def test_mutual_tls_refuses_a_client_without_a_certificate(run: Any, pki: Any) -> None:
    async def scenario() -> None:
        _, acc = pair()
        async with Acceptor("127.0.0.1", 0, ssl=_server(pki, mutual=True)) as acceptor:
            acceptor.add_session(acc)
            assert await _refused_tls_client(acceptor.port, client_context(ca_file=pki.ca_cert))
            assert acc.calls["connection_made"] == 0

    run(scenario())


def test_mutual_tls_refuses_a_certificate_from_another_ca(run: Any, pki: Any) -> None:
    async def scenario() -> None:
        _, acc = pair()
        async with Acceptor("127.0.0.1", 0, ssl=_server(pki, mutual=True)) as acceptor:
            acceptor.add_session(acc)
            rogue = client_context(
                ca_file=pki.ca_cert, cert_file=pki.rogue_client_cert, key_file=pki.rogue_client_key
            )
            assert await _refused_tls_client(acceptor.port, rogue)
            assert acc.calls["connection_made"] == 0

    run(scenario())


def test_initiator_refuses_an_acceptor_its_ca_did_not_sign(run: Any, pki: Any) -> None:
    async def scenario() -> None:
        metrics = FixMetrics()
        ini, acc = pair()
        async with Acceptor("127.0.0.1", 0, ssl=_server(pki, mutual=False)) as acceptor:
            acceptor.add_session(acc)
            tls = client_context(ca_file=pki.other_ca_cert)
            initiator = Initiator(
                ini, [("127.0.0.1", acceptor.port)], ssl=tls, options=FAST, metrics=metrics
            )
            await initiator.start()
            labels = {"session": str(ini.session_id), "outcome": "failed"}
            await eventually(
                lambda: (metrics.value("fix_connect_attempts_total", labels) or 0) >= 1
            )
            await initiator.stop()
            assert ini.calls["connection_made"] == 0
            assert acc.calls["connection_made"] == 0

    run(scenario())


def test_plain_client_on_a_tls_port_is_dropped(run: Any, pki: Any) -> None:
    async def scenario() -> None:
        _, acc = pair()
        async with Acceptor("127.0.0.1", 0, ssl=_server(pki, mutual=False)) as acceptor:
            acceptor.add_session(acc)
            client = await RawClient.connect(acceptor.port)
            await client.send(logon_bytes("CLIENT", "SERVER"))
            try:
                data = await client.wait_closed_by_peer(timeout=3.0)
            except ConnectionError:
                data = b""
            assert b"35=A" not in data
            assert acc.calls["connection_made"] == 0

    run(scenario())


def test_key_passphrase_comes_from_the_environment_or_a_file(
    pki: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIX_TEST_KEY_PASS", pki.server_key_passphrase)
    assert load_passphrase(env="FIX_TEST_KEY_PASS") == pki.server_key_passphrase
    secret_file = tmp_path / "pass.txt"
    secret_file.write_text(pki.server_key_passphrase + "\n")
    assert load_passphrase(file=secret_file) == pki.server_key_passphrase
    assert load_passphrase() is None
    ctx = server_context(
        cert_file=pki.server_cert,
        key_file=pki.server_key,
        password=load_passphrase(file=secret_file),
    )
    assert isinstance(ctx, ssl.SSLContext)


def test_tls_configuration_errors_are_clear_and_never_show_the_secret(
    pki: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FIX_TEST_MISSING", raising=False)
    with pytest.raises(ConfigError, match="FIX_TEST_MISSING"):
        load_passphrase(env="FIX_TEST_MISSING")
    with pytest.raises(ConfigError, match="passphrase file"):
        load_passphrase(file=tmp_path / "absent")
    wrong = "definitely-wrong-passphrase"
    with pytest.raises(ConfigError) as info:
        server_context(cert_file=pki.server_cert, key_file=pki.server_key, password=wrong)
    assert wrong not in str(info.value)
    with pytest.raises(ConfigError, match="not found"):
        server_context(cert_file=tmp_path / "nope.pem")
    with pytest.raises(ConfigError, match="CA file"):
        server_context(
            cert_file=pki.server_cert,
            key_file=pki.server_key,
            password=pki.server_key_passphrase,
            require_client_cert=True,
        )


def test_tls_handshake_timeout_frees_a_silent_client(run: Any, pki: Any) -> None:
    async def scenario() -> None:
        from fixengine.transport import AcceptorOptions

        options = AcceptorOptions(logon_timeout=0.3)
        ctx = _server(pki, mutual=False)
        async with Acceptor("127.0.0.1", 0, ssl=ctx, options=options) as acceptor:
            reader, writer = await asyncio.open_connection("127.0.0.1", acceptor.port)
            data = await asyncio.wait_for(reader.read(), 3.0)  # EOF once the handshake times out
            assert data == b""
            writer.close()

    run(scenario())
