"""Each event is logged once, each message names its device (and port) once, and a refusal
names the setting that refused (issue 15 item 3).

A real server on loopback, a pty instrument that streams, one that is unplugged while it is
read and a port that does not exist: everything a node logs in its first seconds.
"""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from rpi_ess.server.node_config import NodeConfig

from ..reliability.conftest import (
    WAIT,
    configure_line,
    make_instrument,
    make_server,
    raw_connect,
    received_until_closed,
    serial_entry,
    wait_until,
)

__all__ = ["make_instrument", "make_server"]  # fixtures


@pytest.fixture
def records(caplog) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def messages(records: pytest.LogCaptureFixture, pattern: str) -> list[str]:
    return [m for m in records.messages if re.search(pattern, m)]


async def test_one_connection_logs_one_connect_and_one_listen(make_server, records):
    server = await make_server(simulation_mode=0, node_config=NodeConfig(heartbeat_timeout=30.0))
    _reader, writer = await raw_connect(server.port)
    writer.write(b"heartbeat\r\n")
    await wait_until(lambda: bool(messages(records, "Client connected")), what="the connect to be logged")
    writer.close()
    await wait_until(lambda: not server.connected, what="the client to be gone")
    assert len(messages(records, r"Client connected from 127\.0\.0\.1")) == 1
    assert len(messages(records, r"^Listening on ")) == 1
    assert messages(records, r"Serving on") == []


async def test_device_messages_name_the_device_and_port_once(make_server, make_instrument, records, tmp_path):
    server = await make_server(simulation_mode=0, node_config=NodeConfig(heartbeat_timeout=30.0))
    good, _ = make_instrument("Good", 0.05)
    pulled, _ = make_instrument("Pulled", 0.05)
    missing = str(tmp_path / "ess" / "Missing")
    reader, writer = await raw_connect(server.port)
    writer.write(b"heartbeat\r\n" + configure_line(serial_entry("Good", good.port), serial_entry("Pulled", pulled.port),
                                                   serial_entry("Missing", missing)))
    await asyncio.wait_for(reader.readuntil(b'{"response": 0}\r\n'), WAIT)
    await wait_until(lambda: bool(messages(records, "Missing")), what="the missing port to be logged")
    pulled.unplug()
    await wait_until(lambda: bool(messages(records, r"failing.*Pulled")), what="the unplug to be logged")
    pulled.replug()
    await wait_until(lambda: bool(messages(records, r"Pulled.*recovered")), what="the re-plug to be logged")
    writer.close()
    await wait_until(lambda: not server.command_handler.runners, what="the devices to stop")

    device_lines = messages(records, r"Good|Pulled|Missing")
    assert device_lines
    for name, port in (("Good", good.port), ("Pulled", pulled.port), ("Missing", missing)):
        for line in device_lines:
            if name in line:  # the port path ends in the name (a /dev/ess link): count the name outside it
                assert line.count(port) <= 1, f"{port} named twice: {line}"
                assert line.replace(port, "").count(name) <= 1, f"{name} named twice: {line}"
    assert len(messages(records, r"Missing.*failing \(open\)|failing \(open\).*Missing")) == 1  # once, not per retry
    assert len(messages(records, r"Pulled.*recovered|recovered.*Pulled")) == 1


async def test_refused_address_names_the_setting(make_server, records):
    server = await make_server(simulation_mode=0, node_config=NodeConfig(allowed_clients=("192.0.2.0/24",)))
    reader, writer = await raw_connect(server.port)
    assert await received_until_closed(reader) == b""
    writer.close()
    refused = messages(records, r"Rejecting connection from 127\.0\.0\.1")
    assert len(refused) == 1
    assert "server.allowed_clients" in refused[0]
    assert "client_filter" not in records.text
