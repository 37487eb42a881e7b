"""The upstream client over TLS: certificates are verified against the trusted CAs (a private
CA is trusted through SSL_CERT_FILE, as OpenSSL's default paths read it), and an untrusted
certificate is a clear upstream error naming the problem, not a bare "unreachable"."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.providers.test_http1 import OK, Scripted, exchange
from tripoint.config.schema import Timeouts
from tripoint.errors import UpstreamError
from tripoint.providers.auth import NoAuth
from tripoint.providers.http1 import Pool, UntrustedCertificateError
from tripoint.providers.upstream import Upstream


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key (its own CA), and that key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tripoint test upstream")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "upstream.pem", folder / "upstream.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[Scripted, Path]]:

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    script = Scripted([OK, OK])
    server = await asyncio.start_server(script.handle, "127.0.0.1", 0, ssl=context)
    script.port = server.sockets[0].getsockname()[1]
    async with server:
        yield script, cert


async def test_a_certificate_no_trusted_ca_signed_is_refused(
    tls_server: tuple[Scripted, Path],
) -> None:
    script, _ = tls_server
    pool = Pool("https", "127.0.0.1", script.port, limit=2, connect_timeout=2.0)

    with pytest.raises(UntrustedCertificateError, match=r"self.signed|unable to get"):
        await exchange(pool)

    pool.close()
    assert script.requests == [], "nothing was sent before the certificate was checked"


async def test_a_private_ca_is_trusted_through_ssl_cert_file(
    tls_server: tuple[Scripted, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    script, cert = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    pool = Pool("https", "127.0.0.1", script.port, limit=2, connect_timeout=2.0)

    answers = [await exchange(pool), await exchange(pool)]

    pool.close()
    assert answers == [(200, b'{"a": true}')] * 2
    assert script.connections == 1, "the TLS connection is kept alive and reused"


async def test_the_gateway_names_an_untrusted_certificate(
    tls_server: tuple[Scripted, Path],
) -> None:
    script, _ = tls_server
    timeouts = Timeouts(connect=2, first_byte=2, idle=2, total=5)
    upstream = Upstream("internal", f"https://127.0.0.1:{script.port}/v1", NoAuth(), timeouts)
    await upstream.start()

    with pytest.raises(UpstreamError, match=r"TLS certificate is not trusted.*SSL_CERT_FILE"):
        async with upstream.post("/chat/completions", {"model": "m"}):
            pass

    await upstream.close()
