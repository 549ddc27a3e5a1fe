"""Test PKI made at test time: a CA, a server certificate and a client certificate.

Nothing here is committed as key material: every key is generated into a temporary
directory by :func:`make_pki` and thrown away with it. The ``cryptography`` package
is used when installed, else the ``openssl`` command; :data:`AVAILABLE` says whether
either is there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import shutil
import subprocess
from pathlib import Path
from typing import Any

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    HAVE_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_CRYPTOGRAPHY = False

OPENSSL = shutil.which("openssl")
AVAILABLE = HAVE_CRYPTOGRAPHY or OPENSSL is not None


@dataclasses.dataclass(frozen=True)
class Pki:
    ca_cert: Path
    server_cert: Path
    server_key: Path  # encrypted with ``server_key_passphrase``
    server_key_passphrase: str
    client_cert: Path
    client_key: Path
    other_ca_cert: Path  # an unrelated CA
    rogue_client_cert: Path  # signed by the unrelated CA
    rogue_client_key: Path


def _name(cn: str) -> Any:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    key: Any,
    issuer: str,
    issuer_key: Any,
    *,
    ca: bool = False,
    server: bool = False,
) -> Any:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
    return builder.sign(issuer_key, hashes.SHA256())


def _write_cert(path: Path, cert: Any) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _write_key(path: Path, key: Any, passphrase: str | None = None) -> Path:
    enc: Any = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    )
    path.chmod(0o600)
    return path


def make_pki(directory: Path) -> Pki:
    """Generate the whole PKI into ``directory``."""
    if not HAVE_CRYPTOGRAPHY:
        return _make_pki_openssl(directory)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("test-ca", ca_key, "test-ca", ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert("localhost", server_key, "test-ca", ca_key, server=True)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("CLIENT", client_key, "test-ca", ca_key)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = _cert("other-ca", other_key, "other-ca", other_key, ca=True)
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue = _cert("ROGUE", rogue_key, "other-ca", other_key)
    passphrase = "test-only-" + ca.serial_number.to_bytes(20, "big").hex()[:12]
    return Pki(
        ca_cert=_write_cert(directory / "ca.pem", ca),
        server_cert=_write_cert(directory / "server.pem", server),
        server_key=_write_key(directory / "server.key", server_key, passphrase),
        server_key_passphrase=passphrase,
        client_cert=_write_cert(directory / "client.pem", client),
        client_key=_write_key(directory / "client.key", client_key),
        other_ca_cert=_write_cert(directory / "other-ca.pem", other),
        rogue_client_cert=_write_cert(directory / "rogue.pem", rogue),
        rogue_client_key=_write_key(directory / "rogue.key", rogue_key),
    )


def _openssl(*args: str, cwd: Path) -> None:
    assert OPENSSL is not None
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _openssl_cert(
    d: Path, name: str, cn: str, ca: str | None, ext: str, passphrase: str | None = None
) -> None:
    key_args = ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    if passphrase:
        key_args += ["-aes256", "-pass", f"pass:{passphrase}"]
    _openssl(*key_args, "-out", f"{name}.key", cwd=d)
    (d / f"{name}.ext").write_text(ext)
    pass_in = ["-passin", f"pass:{passphrase}"] if passphrase else []
    if ca is None:
        _openssl(
            "req",
            "-x509",
            "-new",
            "-key",
            f"{name}.key",
            *pass_in,
            "-subj",
            f"/CN={cn}",
            "-days",
            "1",
            "-out",
            f"{name}.pem",
            "-extensions",
            "v3",
            "-config",
            f"{name}.ext",
            cwd=d,
        )
        return
    _openssl(
        "req",
        "-new",
        "-key",
        f"{name}.key",
        *pass_in,
        "-subj",
        f"/CN={cn}",
        "-out",
        f"{name}.csr",
        cwd=d,
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        f"{ca}.pem",
        "-CAkey",
        f"{ca}.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-out",
        f"{name}.pem",
        "-extfile",
        f"{name}.ext",
        "-extensions",
        "v3",
        cwd=d,
    )


_CA_EXT = """[req]
distinguished_name = dn
[dn]
[v3]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
"""
_SERVER_EXT = """[v3]
basicConstraints = critical, CA:false
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
"""
_CLIENT_EXT = """[v3]
basicConstraints = critical, CA:false
extendedKeyUsage = clientAuth
"""


def _make_pki_openssl(d: Path) -> Pki:
    passphrase = "test-only-" + d.name[-12:]
    _openssl_cert(d, "ca", "test-ca", None, _CA_EXT)
    _openssl_cert(d, "server", "localhost", "ca", _SERVER_EXT, passphrase)
    _openssl_cert(d, "client", "CLIENT", "ca", _CLIENT_EXT)
    _openssl_cert(d, "other-ca", "other-ca", None, _CA_EXT)
    _openssl_cert(d, "rogue", "ROGUE", "other-ca", _CLIENT_EXT)
    for key in d.glob("*.key"):
        key.chmod(0o600)
    return Pki(
        ca_cert=d / "ca.pem",
        server_cert=d / "server.pem",
        server_key=d / "server.key",
        server_key_passphrase=passphrase,
        client_cert=d / "client.pem",
        client_key=d / "client.key",
        other_ca_cert=d / "other-ca.pem",
        rogue_client_cert=d / "rogue.pem",
        rogue_client_key=d / "rogue.key",
    )
