"""The same line exchange over TLS (the server's optional ``ssl`` context)."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from rpi_ess.tcpip import LOCALHOST_IPV4

WAIT = 10.0


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throw-away self-signed certificate for 127.0.0.1 and its key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl command not available")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=rpi-ess-test",
         "-addext", f"subjectAltName=IP:{LOCALHOST_IPV4}"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


async def test_lines_over_tls(make_server, make_client, open_raw, eof, certificate) -> None:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    server = await make_server(ssl=server_context)
    client = await make_client(server, ssl=ssl.create_default_context(cafile=str(cert)))
    await client.write_str("secret")
    assert await asyncio.wait_for(client.read_str(), WAIT) == "secret"

    reader, writer = await open_raw(LOCALHOST_IPV4, server.port)  # plain text is not a TLS handshake
    writer.write(b"hello\r\n")
    assert await eof(reader) == b""
    await client.write_str("still")
    assert await asyncio.wait_for(client.read_str(), WAIT) == "still"
