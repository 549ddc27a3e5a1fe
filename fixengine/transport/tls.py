"""TLS contexts for initiators and acceptors, built from certificate files.

FIX over TLS is plain FIX inside a TLS stream (the FIX Session Layer leaves
encryption to the transport; EncryptMethod(98) stays 0). Both helpers return a
standard :class:`ssl.SSLContext` handed to ``loop.create_connection`` /
``loop.create_server``.

* :func:`client_context` - the initiator side: verifies the acceptor's certificate
  against ``ca_file`` (or the system store) and its host name; presents a client
  certificate when ``cert_file`` is given (mutual TLS).
* :func:`server_context` - the acceptor side: presents ``cert_file``; with
  ``require_client_cert=True`` it refuses any client whose certificate does not chain
  to ``ca_file`` (mutual TLS).

TLS 1.2 is the minimum. A private key's passphrase never appears in settings files
or code: :func:`load_passphrase` reads it from an environment variable or a file.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from ..errors import ConfigError

__all__ = ["client_context", "load_passphrase", "server_context"]

PathLike = str | os.PathLike[str]


def load_passphrase(env: str | None = None, file: PathLike | None = None) -> str | None:
    """A private-key passphrase from the environment variable ``env`` or from ``file``.

    The file's content is used without its trailing newline. Returns None when
    neither is given; raises :class:`~fixengine.errors.ConfigError` (without the
    secret) when the variable is unset or the file unreadable.
    """
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ConfigError(f"TLS key passphrase: environment variable {env} is not set")
        return value
    if file is not None:
        try:
            return Path(file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"TLS key passphrase file {file}: {exc.strerror}") from None
    return None


def _load_chain(
    ctx: ssl.SSLContext, cert_file: PathLike, key_file: PathLike | None, password: str | None
) -> None:
    try:
        ctx.load_cert_chain(cert_file, key_file, password=password)
    except FileNotFoundError as exc:
        raise ConfigError(f"TLS certificate or key file not found: {exc.filename}") from None
    except ssl.SSLError as exc:
        # never include the password; the reason names what went wrong
        raise ConfigError(
            f"cannot load TLS certificate {cert_file} / key {key_file or cert_file}: "
            f"{exc.reason or exc}"
        ) from None


def _load_ca(ctx: ssl.SSLContext, ca_file: PathLike) -> None:
    try:
        ctx.load_verify_locations(cafile=ca_file)
    except FileNotFoundError:
        raise ConfigError(f"TLS CA file not found: {ca_file}") from None
    except ssl.SSLError as exc:
        raise ConfigError(f"cannot load TLS CA file {ca_file}: {exc.reason or exc}") from None


def client_context(
    *,
    ca_file: PathLike | None = None,
    cert_file: PathLike | None = None,
    key_file: PathLike | None = None,
    password: str | None = None,
    verify: bool = True,
    check_hostname: bool = True,
    minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
) -> ssl.SSLContext:
    """An initiator's TLS context.

    ``ca_file`` is the trust anchor for the acceptor's certificate (system store
    when None). ``cert_file``/``key_file`` add a client certificate for mutual TLS.
    ``verify=False`` disables certificate checks entirely (test setups only).
    """
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = minimum_version
    if ca_file is not None:
        _load_ca(ctx, ca_file)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.check_hostname = check_hostname
    if cert_file is not None:
        _load_chain(ctx, cert_file, key_file, password)
    return ctx


def server_context(
    *,
    cert_file: PathLike,
    key_file: PathLike | None = None,
    password: str | None = None,
    ca_file: PathLike | None = None,
    require_client_cert: bool = False,
    minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
) -> ssl.SSLContext:
    """An acceptor's TLS context.

    With ``require_client_cert=True`` a client must present a certificate signed by
    ``ca_file`` or the handshake fails (mutual TLS); ``ca_file`` is then required.
    """
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = minimum_version
    _load_chain(ctx, cert_file, key_file, password)
    if ca_file is not None:
        _load_ca(ctx, ca_file)
    if require_client_cert:
        if ca_file is None:
            raise ConfigError("mutual TLS needs a CA file to verify client certificates")
        ctx.verify_mode = ssl.CERT_REQUIRED
    elif ca_file is not None:
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx
