"""SocketServer over real loopback TCP, byte for byte against PROTOCOL sections 1-3."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import threading

import pytest

from rpi_ess.server.node_config import DeviceAllowList, NodeConfig

T4 = {"name": "T4", "channels": 4, "device_type": "FTDI", "ftdi_id": "ABC", "sensor_type": "Temperature",
      "baud_rate": 19200}
WS = {"name": "WS", "device_type": "FTDI", "ftdi_id": "ABC", "sensor_type": "Windsonic", "baud_rate": 9600}


def configure_line(*devices) -> bytes:
    return json.dumps({"command": "configure", "parameters": {"configuration": {"devices": list(devices)}}}).encode()


async def test_public_api_matches_the_reference(make_server):
    from rpi_ess import SocketServer

    for name in ("connected", "valid_simulation_modes", "basic_close_client", "close", "close_client",
                 "handle_received_heartbeat", "monitor_received_heartbeats", "read", "read_and_dispatch",
                 "read_into", "read_json", "read_loop", "read_str", "readexactly", "readline", "readuntil",
                 "set_command_handler", "start", "write", "write_from", "write_json", "write_str", "writelines"):
        assert hasattr(SocketServer, name), name
    assert SocketServer.valid_simulation_modes == (0, 1)
    with pytest.raises(ValueError, match="simulation_mode"):
        SocketServer(name="x", host="127.0.0.1", port=0, log=logging.getLogger("x"), simulation_mode=2)


async def test_appendix_a_session(make_server, clients):
    server = await make_server()
    client = await clients(server.port)
    await client.send(configure_line(T4, WS) + b"\r\n")
    raw, _ = await client.response()
    assert raw == b'{"response": 0}\r\n'
    names = set()
    while names != {"T4", "WS"}:
        telemetry = await client.telemetry()
        assert list(telemetry) == ["name", "timestamp", "response_code", "sensor_telemetry"]
        assert telemetry["response_code"] == 0
        if telemetry["name"] == "T4":
            assert len(telemetry["sensor_telemetry"]) == 4
        else:
            speed, direction = telemetry["sensor_telemetry"]
            assert isinstance(speed, float) and (isinstance(direction, int) or math.isnan(direction))
        names.add(telemetry["name"])
    await client.send(configure_line(T4) + b"\r\n")
    assert (await client.response())[0] == b'{"response": 3}\r\n'
    await client.command("disconnect")
    assert await client.at_eof()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"{not json\r\n", 20),
        (b"\xff\xfe\xfd\r\n", 20),
        (b"[1, 2, 3]\r\n", 21),
        (b'{"command": "configure"}\r\n', 21),
        (b'{"command": "start", "parameters": {}}\r\n', 22),
        (b'{"command": "configure", "parameters": {"configuration": {"devices": []}, "x": 1}}\r\n', 23),
        (b'{"command": "configure", "parameters": {}}\r\n', 23),
        (b'{"command": "configure", "parameters": {"configuration": {"devices": [{"name": "X"}]}}}\r\n', 4),
        (b"heartbeat \r\n", 20),
    ],
)
async def test_bad_input_gets_an_error_and_the_connection_stays(make_server, clients, payload, code):
    server = await make_server()
    client = await clients(server.port)
    await client.send(payload)
    _, message = await client.response()
    assert message["response"] == code and message["message"]
    await client.send(configure_line(T4) + b"\n")  # bare LF works too
    assert (await client.response())[1] == {"response": 0}
    assert (await client.telemetry())["name"] == "T4"


async def test_invalid_configuration_names_device_and_field(make_server, clients):
    server = await make_server()
    client = await clients(server.port)
    bad = dict(WS, name="Wind", sensor_type="Windsonicc")
    await client.send(configure_line(T4, bad) + b"\r\n")
    _, message = await client.response()
    assert message["response"] == 4
    assert "devices[1] ('Wind'): sensor_type must be one of" in message["message"]
    assert not server.command_handler.started
    await client.send(configure_line(T4) + b"\r\n")
    assert (await client.response())[1] == {"response": 0}


async def test_over_long_line_is_discarded_and_reading_continues(make_server, clients):
    server = await make_server(node_config=NodeConfig(max_line_length=1024))
    client = await clients(server.port)
    await client.send(b"x" * 5000 + b"\r\n")
    _, message = await client.response()
    assert message["response"] == 24 and "1024" in message["message"]
    await client.send(configure_line(T4) + b"\r\n")
    assert (await client.response())[1] == {"response": 0}


async def test_device_that_cannot_open_leaves_nothing_running(make_server, clients, tmp_path):
    """``open_failures: refuse``: code 11, and no thread, queue or descriptor is left behind."""
    fds, threads = set(os.listdir("/proc/self/fd")), set(threading.enumerate())
    server = await make_server(simulation_mode=0, node_config=NodeConfig(open_failures="refuse"))
    client = await clients(server.port)
    missing = {"name": "Gone", "sensor_type": "LD250", "device_type": "Serial",
               "serial_port": str(tmp_path / "no-such-tty")}
    await client.send(configure_line(missing) + b"\r\n")
    _, message = await client.response()
    assert message["response"] == 11
    assert "Gone" in message["message"] and "no-such-tty" in message["message"]
    assert server.command_handler.runners == []
    assert server.telemetry._queues == []
    assert [t for t in threading.enumerate() if t not in threads and t.name.startswith("rpi-ess-Gone")] == []
    socket_fds = {fd for fd in set(os.listdir("/proc/self/fd")) - fds if "tty" in _fd_target(fd)}
    assert socket_fds == set()
    await client.command("status")
    _, status = await client.response()
    assert status["status"]["configured"] is False and status["status"]["devices"] == []


@pytest.mark.parametrize(("entry", "silence"), [
    ({"sensor_type": "Sps30", "device_type": "Sensirion", "poll_interval": 8}, 24.0),  # 3 polls missed
    ({"sensor_type": "Sps30", "device_type": "Sensirion"}, 5.0),
    ({"sensor_type": "LD250", "device_type": "Serial", "silence_timeout": 2.5}, 2.5),
])
async def test_silence_limit_follows_the_poll_interval(make_server, clients, tmp_path, entry, silence):
    # found in review: an SPS30 polled every 8 s reported "no data for 5.0 s" between every two polls
    server = await make_server(simulation_mode=0)
    client = await clients(server.port)
    await client.send(configure_line({"name": "P", "serial_port": str(tmp_path / "absent"), **entry}) + b"\r\n")
    _, message = await client.response()
    assert message["response"] == 0, message
    assert server.command_handler.runners[0].settings.silence_timeout == silence


def _fd_target(fd: str) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


async def test_allow_list_refuses_unlisted_ports(make_server, clients):
    node = NodeConfig(allowed_devices=DeviceAllowList(serial_ports=("/dev/ess/*",)))
    server = await make_server(simulation_mode=0, node_config=node)
    client = await clients(server.port)
    await client.send(configure_line({"name": "Disk", "sensor_type": "LD250", "device_type": "Serial",
                                      "serial_port": "/dev/sda"}) + b"\r\n")
    _, message = await client.response()
    assert message["response"] == 12 and "/dev/sda" in message["message"]


async def test_second_client_is_rejected_without_a_byte(make_server, clients):
    server = await make_server()
    first = await clients(server.port)
    await first.send(configure_line(T4) + b"\r\n")
    assert (await first.response())[1] == {"response": 0}
    second = await clients(server.port, heartbeat=None)
    assert await asyncio.wait_for(second.reader.read(), 10) == b""
    assert (await first.telemetry())["name"] == "T4"


async def test_heartbeat_timeout_drops_client_and_next_client_gets_a_fresh_grace(make_server, clients):
    server = await make_server(node_config=NodeConfig(heartbeat_timeout=0.5))
    silent = await clients(server.port, heartbeat=None)
    assert await silent.at_eof()
    beating = await clients(server.port, heartbeat=0.1)
    await beating.send(configure_line(T4) + b"\r\n")
    assert (await beating.response())[1] == {"response": 0}
    await asyncio.sleep(1.0)
    assert server.connected
    assert (await beating.telemetry())["name"] == "T4"


async def test_disconnect_stops_devices_and_reconnect_configures_at_once(make_server, clients):
    server = await make_server()
    client = await clients(server.port)
    await client.send(configure_line(T4, WS) + b"\r\n")
    assert (await client.response())[1] == {"response": 0}
    await client.close()
    for _ in range(200):  # the server notices the EOF
        if not server.connected:
            break
        await asyncio.sleep(0.01)
    again = await clients(server.port)
    await again.send(configure_line(T4) + b"\r\n")
    assert (await again.response())[1] == {"response": 0}
    assert [r.name for r in server.command_handler.runners] == ["T4"]


async def test_status_over_tcp_and_unix_socket(make_server, clients, tmp_path):
    path = str(tmp_path / "status.sock")
    server = await make_server(status_socket=path)
    client = await clients(server.port)
    await client.send(configure_line(T4) + b"\r\n")
    await client.response()
    await client.telemetry()
    reader, writer = await asyncio.open_unix_connection(path)
    writer.write(b'{"command": "status", "parameters": {}}\r\n')
    status = json.loads(await asyncio.wait_for(reader.readuntil(b"\r\n"), 10))["status"]
    writer.write(b'{"command": "configure", "parameters": {}}\r\n')
    refused = json.loads(await asyncio.wait_for(reader.readuntil(b"\r\n"), 10))
    writer.close()
    await writer.wait_closed()
    assert refused["response"] == 22
    assert status["configured"] is True and status["client"]["address"].startswith("127.0.0.1:")
    (device,) = status["devices"]
    assert device["name"] == "T4" and device["lines"] >= 1 and device["state"] == "streaming"
    await client.command("status")
    _, message = await client.response()
    assert message["status"]["server"]["port"] == server.port


async def test_exit_stops_the_server(make_server, clients):
    server = await make_server()
    client = await clients(server.port)
    await client.command("exit")
    await asyncio.wait_for(server.done_task, 10)
    assert await client.at_eof()


async def test_connect_callback_on_both_edges(make_server, clients):
    edges = []
    server = await make_server(connect_callback=lambda s: edges.append(s.connected))
    client = await clients(server.port)
    await client.command("status")
    await client.response()
    await client.command("disconnect")
    await client.at_eof()
    for _ in range(100):
        if len(edges) == 2:
            break
        await asyncio.sleep(0.05)
    assert edges == [True, False]
