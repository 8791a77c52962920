"""Security controls of docs/security.md: device allow-list, client allow-list, bind address,
limits (line length, devices, command rate), optional TLS with optional client certificates,
and no secrets in the logs. Defaults stay compatible with the existing CSC.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from rpi_ess.server.node_config import DeviceAllowList, NodeConfig, TlsSettings
from rpi_ess.server.socket_server import SocketServer

from .conftest import (
    assert_contiguous,
    client_gone,
    configure_line,
    raw_connect,
    received_until_closed,
    serial_entry,
    telemetry_until,
    vm_rss_kib,
)


def fds_on(path: str) -> int:
    """How many descriptors of this process point at ``path`` (the pty itself holds one)."""
    count = 0
    for entry in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{entry}") == path
        except OSError:
            continue
    return count


# --- devices: only what the node configuration lists ------------------------------------------

async def test_default_allows_local_ports_but_not_network_urls(make_instrument, make_server, connect):
    server = await make_server(simulation_mode=0)  # no node.yaml: the CSC's configurations work unchanged
    pty, _ = make_instrument("T", 0.02)
    client = await connect(server.port)
    for url in ("socket://127.0.0.1:22", "rfc2217://10.0.0.1:7000", "spy://" + pty.port):
        await client.send(configure_line(serial_entry("N", url)))
        _, message = await client.response()
        assert message["response"] == 12 and "network ports must be listed" in message["message"], url
    await client.send(configure_line(serial_entry("T", pty.port)))
    assert (await client.response())[1] == {"response": 0}


@pytest.mark.parametrize("port", [
    "/dev/sda",
    "{ess}/../../../../etc/shadow",
    "{ess}/./../T",
    "{ess}-evil/T",
    "{ess}",
    "ess/T",
    "loop://",
    "{slave}",  # the right instrument, but not by its listed name
])
async def test_allow_list_refuses_serial_ports_not_listed(make_instrument, make_server, connect, tmp_path, port):
    pty, _ = make_instrument("T", 0.02)
    ess = str(tmp_path / "ess")
    node = NodeConfig(allowed_devices=DeviceAllowList(serial_ports=(f"{ess}/*",), ftdi_ids=(), i2c=()))
    server = await make_server(simulation_mode=0, node_config=node)
    client = await connect(server.port)
    port = port.format(ess=ess, slave=pty.slave_path)
    await client.send(configure_line(serial_entry("T", pty.port), serial_entry("X", port)))
    _, message = await client.response()
    assert message["response"] == 12
    assert "X: serial_port" in message["message"] and "T:" not in message["message"]
    assert fds_on(pty.slave_path) == 1, "nothing was opened, not even the allowed device"
    assert not server.command_handler.runners
    await client.send(configure_line(serial_entry("T", pty.port)))
    assert (await client.response())[1] == {"response": 0}


@pytest.mark.parametrize(("entry", "field"), [
    ({"device_type": "FTDI", "ftdi_id": "FT999999"}, "ftdi_id"),
    ({"device_type": "I2C", "chip": "SHT4x", "i2c_bus": 1, "address": "0x45"}, "I2C device 1:0x45"),
    ({"device_type": "I2C", "chip": "SHT4x", "i2c_bus": 2, "address": "0x44"}, "I2C device 2:0x44"),
])
async def test_allow_list_refuses_ftdi_ids_and_i2c_addresses_not_listed(make_server, connect, entry, field):
    node = NodeConfig(allowed_devices=DeviceAllowList(serial_ports=(), ftdi_ids=("FT12*",), i2c=("1:0x44",)))
    server = await make_server(simulation_mode=0, node_config=node)
    client = await connect(server.port)
    device = {"name": "X", "sensor_type": "Temperature", "channels": 1, **entry}
    await client.send(configure_line(device))
    _, message = await client.response()
    assert message["response"] == 12 and field in message["message"], message


# --- who may connect, and where -----------------------------------------------------------------

@pytest.mark.parametrize(("allowed", "served"), [(("10.0.0.0/8", "192.168.1.7"), False),
                                                 (("10.0.0.0/8", "127.0.0.0/30"), True)])
async def test_client_allow_list(make_server, connect, allowed, served):
    server = await make_server(node_config=NodeConfig(allowed_clients=allowed))
    client = await connect(server.port)
    await client.command("status")
    if served:
        assert (await client.response())[1]["response"] == 0
    else:
        assert await received_until_closed(client.reader) == b""
        assert not server.connected


async def test_bind_address_limits_where_the_port_is_reachable(connect):
    server = SocketServer(name="bind", host="127.0.0.2", port=0, log=logging.getLogger("test.bind"))
    try:
        await server.start_task  # e.g. only the instrument network's interface, not 0.0.0.0
        with pytest.raises(ConnectionRefusedError):
            await raw_connect(server.port, host="127.0.0.1")
        client = await connect(server.port, host="127.0.0.2")
        await client.command("status")
        assert (await client.response())[1]["response"] == 0
        await client.close()
    finally:
        await server.close()


# --- limits -------------------------------------------------------------------------------------

async def test_endless_client_line_is_bounded_and_discarded(make_server, connect):
    server = await make_server(node_config=NodeConfig(max_line_length=4096))
    client = await connect(server.port, heartbeat=None)
    before = vm_rss_kib()
    chunk = b"x" * 65536
    for _ in range(320):  # 20 MiB in one line
        await client.send(chunk)
    grown = vm_rss_kib() - before
    await client.send(b"\r\nheartbeat\r\n")
    _, message = await client.response()
    assert message["response"] == 24 and "4096" in message["message"]
    assert grown < 10 * 1024, f"memory grew by {grown} KiB while a 20 MiB line arrived"
    await client.command("status")
    assert (await client.response())[1]["response"] == 0


async def test_device_count_limit(make_server, connect):
    server = await make_server(node_config=NodeConfig(max_devices=2))
    client = await connect(server.port)
    devices = [{"name": f"T{i}", "sensor_type": "Temperature", "device_type": "FTDI", "ftdi_id": "A",
                "channels": 1} for i in range(3)]
    await client.send(configure_line(*devices))
    _, message = await client.response()
    assert message["response"] == 4 and "limit of 2" in message["message"]
    await client.send(configure_line(*devices[:2]))
    assert (await client.response())[1] == {"response": 0}


async def test_command_rate_limit_answers_25_and_keeps_the_client(make_server, connect):
    server = await make_server(node_config=NodeConfig(max_commands_per_second=5.0, heartbeat_timeout=2.0))
    client = await connect(server.port, heartbeat=0.05)  # heartbeats are never rate limited
    await client.send(b'{"command": "status", "parameters": {}}\r\n' * 40)
    codes = [(await client.response())[1]["response"] for _ in range(40)]
    assert codes.count(0) >= 5 and codes.count(25) >= 20 and set(codes) == {0, 25}
    await asyncio.sleep(2.5)  # longer than the heartbeat limit: the client must still be there
    await client.command("status")
    assert (await client.response())[1]["response"] == 0
    assert server.connected


# --- TLS ------------------------------------------------------------------------------------------

class Pki:
    """A throw-away CA with a server certificate (127.0.0.1) and a client certificate."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.openssl = shutil.which("openssl")
        if self.openssl is None:
            pytest.skip("openssl command not available")
        self.ca = self.authority("ca")
        self.other_ca = self.authority("other-ca")
        self.server = self.issue("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth")
        self.client = self.issue("client", "extendedKeyUsage=clientAuth")
        self.stranger = self.issue("stranger", "extendedKeyUsage=clientAuth", ca=self.other_ca)

    def run(self, *args: str) -> None:
        subprocess.run([self.openssl, *args], check=True, capture_output=True, timeout=60, cwd=self.folder)

    def key_args(self, name: str) -> list[str]:
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f"{name}.key"]

    def authority(self, name: str) -> tuple[Path, Path]:
        self.run("req", "-x509", *self.key_args(name), "-out", f"{name}.pem", "-days", "1", "-subj", f"/CN={name}")
        return self.folder / f"{name}.pem", self.folder / f"{name}.key"

    def issue(self, name: str, extensions: str, ca: tuple[Path, Path] | None = None) -> tuple[Path, Path]:
        cert, key = ca or self.ca
        (self.folder / f"{name}.ext").write_text(extensions + "\n")
        self.run("req", *self.key_args(name), "-out", f"{name}.csr", "-subj", f"/CN={name}")
        self.run("x509", "-req", "-in", f"{name}.csr", "-CA", str(cert), "-CAkey", str(key), "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext")
        return self.folder / f"{name}.pem", self.folder / f"{name}.key"

    def settings(self, client_ca: bool) -> TlsSettings:
        return TlsSettings(str(self.server[0]), str(self.server[1]), str(self.ca[0]) if client_ca else None)

    def client_context(self, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca[0]))
        if cert is not None:
            context.load_cert_chain(*cert)
        return context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


async def tls_session_works(server, connect, pki: Pki, pty, cert=None) -> None:
    client = await connect(server.port, ssl=pki.client_context(cert), server_hostname="127.0.0.1")
    await client.send(configure_line(serial_entry("T", pty.port)))
    assert (await client.response())[1] == {"response": 0}
    assert_contiguous(await telemetry_until(client, lambda lines: len(lines) >= 5))
    await client.command("disconnect")
    assert await client.at_eof()


async def test_tls_client_works_and_plain_client_is_refused(make_instrument, make_server, connect, pki):
    pty, _ = make_instrument("T", 0.02)
    server = await make_server(simulation_mode=0, node_config=NodeConfig(tls=pki.settings(client_ca=False)))
    plain = await connect(server.port)
    await plain.command("status")
    assert await received_until_closed(plain.reader) == b""
    await tls_session_works(server, connect, pki, pty)


async def test_client_certificate_required_when_client_ca_is_set(make_instrument, make_server, connect, pki):
    pty, _ = make_instrument("T", 0.02)
    server = await make_server(simulation_mode=0, node_config=NodeConfig(tls=pki.settings(client_ca=True)))
    for cert in (None, pki.stranger):
        try:
            client = await connect(server.port, ssl=pki.client_context(cert), server_hostname="127.0.0.1")
        except (ssl.SSLError, ConnectionResetError):
            continue  # refused during the handshake (TLS 1.2)
        await client.send(configure_line(serial_entry("T", pty.port)))
        assert await received_until_closed(client.reader) == b""  # TLS 1.3: refused right after it
        assert not server.command_handler.runners
    await client_gone(server)
    await tls_session_works(server, connect, pki, pty, cert=pki.client)


async def test_no_secrets_in_logs(make_instrument, make_server, connect, pki, caplog):
    caplog.set_level(logging.DEBUG)
    pty, _ = make_instrument("T", 0.02)
    server = await make_server(simulation_mode=0, node_config=NodeConfig(tls=pki.settings(client_ca=True)))
    await tls_session_works(server, connect, pki, pty, cert=pki.client)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Configured 1 device(s)" in logged  # the log was captured
    for key in (pki.server[1], pki.client[1], pki.ca[1]):
        body = "".join(line for line in key.read_text().splitlines() if "-----" not in line)
        assert body[:40] not in logged and "PRIVATE KEY" not in logged
