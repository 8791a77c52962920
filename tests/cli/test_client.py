"""``rpi-ess client`` end to end against an in-process simulated ``SocketServer``.

The command runs in a worker thread (it starts its own event loop, as from a shell) while
the server runs in the test's loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from rpi_ess import SocketServer
from rpi_ess.cli.live import TelemetrySession
from rpi_ess.cli.main import main
from rpi_ess.server.node_config import NodeConfig

WAIT = 60.0  # generous: CI machines are slow
DEVICES = [
    {"name": "TempRack", "sensor_type": "Temperature", "channels": 4, "device_type": "Serial",
     "serial_port": "/dev/ess/temperature-rack", "baud_rate": 19200, "location": "a, b, c, d"},
    {"name": "HumidityRack", "sensor_type": "HX85BA", "device_type": "Serial", "serial_port": "/dev/ess/hx85ba",
     "baud_rate": 19200, "location": "Rack"},
    {"name": "FieldMill", "sensor_type": "EFM100C", "device_type": "FTDI", "ftdi_id": "EFM1", "baud_rate": 19200,
     "location": "Roof"},
]


@pytest.fixture
async def server() -> AsyncIterator[SocketServer]:
    server = SocketServer(name="test", host="127.0.0.1", port=0, log=logging.getLogger("test"), simulation_mode=1)
    await asyncio.wait_for(server.start_task, WAIT)
    yield server
    await server.close()


def devices_file(tmp_path: Path, devices: list[dict]) -> Path:
    path = tmp_path / "devices.yaml"
    path.write_text(yaml.safe_dump({"devices": devices}), encoding="utf-8")
    return path


async def run_client(server: SocketServer, config: Path, *args: str) -> int:
    argv = ["client", "--host", "127.0.0.1", "--port", str(server.port), "--config", str(config), *args]
    return await asyncio.wait_for(asyncio.to_thread(main, argv), WAIT)


async def test_configures_the_server_and_prints_its_telemetry(
    server: SocketServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    assert await run_client(server, devices_file(tmp_path, DEVICES), "--duration", "3", "--json") == 0
    captured = capsys.readouterr()
    messages = [json.loads(line)["telemetry"] for line in captured.out.splitlines()]
    assert {message["name"] for message in messages} == {device["name"] for device in DEVICES}
    assert all(len(m["sensor_telemetry"]) == 4 for m in messages if m["name"] in ("TempRack", "HumidityRack"))
    assert "RH " in captured.err and " mbar" in captured.err
    assert "from 3 of 3 devices" in captured.err


async def test_slow_reader_like_the_csc(
    server: SocketServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = devices_file(tmp_path, DEVICES[2:])
    assert await run_client(server, config, "--duration", "2", "--rate-limit", "0.5") == 0
    assert "FieldMill" in capsys.readouterr().out


async def test_refused_configuration_shows_code_and_server_message(
    server: SocketServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = [*DEVICES[:1], {**DEVICES[1], "sensor_type": "Barometer"}]
    assert await run_client(server, devices_file(tmp_path, bad), "--duration", "3") == 1
    err = capsys.readouterr().err
    assert f"server 127.0.0.1:{server.port} refused the configuration: response code 4 (INVALID_CONFIGURATION)" in err
    assert "Barometer" in err


async def test_cannot_connect(tmp_path: Path, capsys: pytest.CaptureFixture[str], server: SocketServer) -> None:
    port = server.port
    await server.close()  # nobody listens there any more
    argv = ["client", "--host", "127.0.0.1", "--port", str(port), "--config", str(devices_file(tmp_path, DEVICES))]
    assert await asyncio.wait_for(asyncio.to_thread(main, argv), WAIT) == 1
    assert f"error: cannot connect to 127.0.0.1:{port}: Connection refused" in capsys.readouterr().err


async def test_connection_lost_when_the_server_goes_away(
    server: SocketServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = asyncio.create_task(run_client(server, devices_file(tmp_path, DEVICES), "--duration", "50"))
    async with asyncio.timeout(WAIT):
        while not (info := server.client_info()) or info["lines_sent"] == 0:  # noqa: ASYNC110 (no event for it)
            await asyncio.sleep(0.05)
    await server.close()
    assert await client == 1
    captured = capsys.readouterr()
    assert f"error: connection to 127.0.0.1:{server.port} lost" in captured.err
    assert "TempRack" in captured.out  # what arrived before is still summarised


async def test_a_busy_server_is_explained(
    server: SocketServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = TelemetrySession("127.0.0.1", server.port, DEVICES[:1])
    try:
        await asyncio.wait_for(first.start(), WAIT)
        assert await run_client(server, devices_file(tmp_path, DEVICES), "--duration", "3") == 1
    finally:
        await first.close()
    err = capsys.readouterr().err
    assert "a server closes a new connection at once when it already has a client" in err


async def test_an_address_the_allow_list_refuses_is_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server closes at once without a word either way; the hint names both causes and this address."""
    node = NodeConfig(allowed_clients=("192.0.2.0/24",))
    server = SocketServer(name="test", host="127.0.0.1", port=0, log=logging.getLogger("test"), simulation_mode=1,
                          node_config=node)
    try:
        await asyncio.wait_for(server.start_task, WAIT)
        assert await run_client(server, devices_file(tmp_path, DEVICES), "--duration", "3") == 1
    finally:
        await server.close()
    err = capsys.readouterr().err
    assert "already has a client" in err
    assert "this client's address 127.0.0.1 is not in its server.allowed_clients" in err
