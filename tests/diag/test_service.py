"""Service checks and the status client, against the real rpi-ess server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rpi_ess.diag.buses import check_serial_ports
from rpi_ess.diag.config import parse_devices
from rpi_ess.diag.context import DiagContext
from rpi_ess.diag.devices import plan_device_checks
from rpi_ess.diag.model import Status
from rpi_ess.diag.service import check_client, check_listening, check_status, check_systemd, check_telemetry
from rpi_ess.diag.simulate import LiveServer
from rpi_ess.diag.status import StatusError, fetch_status, query_status
from rpi_ess.server.socket_server import SocketServer

WAIT = 15.0


def serial(name: str, sensor_type: str, port: str, baud_rate: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "sensor_type": sensor_type, "device_type": "Serial", "serial_port": port,
            "baud_rate": baud_rate, **extra}


@pytest.fixture
def live(tmp_path: Path, make_pty: Any) -> Iterator[tuple[LiveServer, DiagContext, Any]]:
    """The server holds a streaming Windsonic on a pty, configured by a CSC-like client."""
    pty = make_pty("wind", "Windsonic", period=0.1)
    server = LiveServer([serial("WindTower", "Windsonic", pty.port, 9600)], str(tmp_path / "status.sock")).start()
    server.wait_streaming(2, WAIT)
    ctx = DiagContext(status_socket=server.status_socket, port=server.port, listen=1.0)
    try:
        yield server, ctx, pty
    finally:
        server.stop()


def test_service_checks_against_a_live_server(live: tuple[LiveServer, DiagContext, Any]) -> None:
    server, ctx, _ = live
    fetch_status(ctx)
    assert ctx.status_source == f"status socket {server.status_socket}"
    status = check_status(ctx)
    assert status.status is Status.PASS
    assert status.summary.startswith("rpi-ess 0.1.0, pid ")
    assert status.data["configured"] is True
    client = check_client(ctx)
    assert client.status is Status.PASS
    assert client.summary.startswith("127.0.0.1:")
    telemetry = check_telemetry(ctx)
    assert telemetry.status is Status.PASS, telemetry
    assert telemetry.data["lines"] >= 1
    port = check_listening(ctx)
    assert port.status is Status.PASS
    assert port.summary.startswith(f"listening on 127.0.0.1:{server.port}")
    assert port.data["pids"]  # the owner of the listening socket is found through /proc


def test_port_busy_in_the_running_server_is_read_from_its_status(
    live: tuple[LiveServer, DiagContext, Any], tmp_path: Path
) -> None:
    _, ctx, pty = live
    fetch_status(ctx)
    found = parse_devices([serial("WindTower", "Windsonic", pty.port, 9600)], "node.yaml")
    ctx.devices = found.devices
    results = {r.name: r for r in (function(ctx) for function in plan_device_checks(ctx))}
    wind = results["WindTower"]
    assert wind.status is Status.PASS, wind
    assert wind.data["source"] == "server"
    assert wind.summary.startswith("Windsonic, held by rpi-ess: streaming")
    assert wind.details[0] == f"port: Serial {pty.port}"
    assert wind.data["server"]["lines"] >= 1
    ctx.serial_ports, ctx.alias_dirs = [pty.slave_path], [str(tmp_path / "ess")]
    [port] = check_serial_ports(ctx)
    assert port.summary == f"{pty.slave_path}: in use by rpi-ess (WindTower)"


def test_server_devices_nobody_configured_here_are_listed(live: tuple[LiveServer, DiagContext, Any]) -> None:
    ctx = live[1]
    fetch_status(ctx)
    results = {r.name: r for r in (function(ctx) for function in plan_device_checks(ctx))}
    assert results["WindTower"].summary.startswith("Windsonic, held by rpi-ess (configured by the client): ")


def _wait_for_state(ctx: DiagContext, state: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        devices = query_status(ctx.status_socket)["devices"]
        if devices and devices[0]["state"] == state:
            return
        time.sleep(0.1)
    pytest.fail(f"device never became {state}")


def test_silent_device_in_the_server_fails(tmp_path: Path, make_pty: Any) -> None:
    pty = make_pty("quiet")
    entry = serial("LightningMast", "LD250", pty.port, 19200, silence_timeout=0.5)
    server = LiveServer([entry], str(tmp_path / "status.sock")).start()
    try:
        ctx = DiagContext(status_socket=server.status_socket, port=server.port)
        _wait_for_state(ctx, "silent")
        fetch_status(ctx)
        ctx.devices = parse_devices([entry], "node.yaml").devices
        results = {r.name: r for r in (function(ctx) for function in plan_device_checks(ctx))}
        telemetry = check_telemetry(ctx)
    finally:
        server.stop()
    mast = results["LightningMast"]
    assert mast.status is Status.FAIL
    assert mast.summary.startswith("LD250, held by rpi-ess: silent"), mast
    assert "TX goes to our RX" in mast.hint
    assert telemetry.status is Status.FAIL


async def test_status_over_tcp_when_no_client_is_connected(tmp_path: Path) -> None:
    server = SocketServer(name="diag-test", host="127.0.0.1", port=0, log=logging.getLogger("diag-test"))
    await server.start_task
    ctx = DiagContext(status_socket=str(tmp_path / "none.sock"), port=server.port)
    try:
        await asyncio.to_thread(fetch_status, ctx)
    finally:
        await server.close()
    assert ctx.status_source == f"TCP 127.0.0.1:{server.port}"
    assert ctx.server_status is not None
    assert ctx.server_status["client"] is None
    assert ctx.server_status["devices"] == []
    assert check_client(ctx).status is Status.WARN
    telemetry = check_telemetry(ctx)
    assert (telemetry.status, telemetry.summary) == (
        Status.PASS, "idle: no device configured until a client configures one")


def test_no_server_anywhere(real_ctx: DiagContext) -> None:
    fetch_status(real_ctx)
    assert real_ctx.server_status is None
    assert "no-server.sock" in real_ctx.status_source
    assert f"TCP 127.0.0.1:{real_ctx.port}" in real_ctx.status_source
    status = check_status(real_ctx)
    assert status.status is Status.FAIL
    assert "--status-socket" in status.hint
    assert check_listening(real_ctx).status is Status.FAIL
    assert check_client(real_ctx).status is Status.SKIP
    assert check_telemetry(real_ctx).status is Status.SKIP


# /proc/net/tcp: a listener on 0.0.0.0:5000 and the CSC (10.0.0.5) connected to 10.0.0.7:5000
PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 31337 1 0 100 0 0 10 0
   1: 0700000A:1388 0500000A:D431 01 00000000:00000000 02:000A7D5B 00000000   999        0 31338 2 0 20 4 30 10 -1
"""
ANY6 = "0" * 32
PROC_NET_TCP6 = (f"  sl  local_address remote_address st tx_queue rx_queue tr tm->when retrnsmt uid timeout inode\n"
                 f"   0: {ANY6}:1388 {ANY6}:0000 0A 00000000:00000000 00:00000000 00000000   999        0 31339 1\n")


def test_socket_table_and_no_tcp_status_while_the_csc_is_connected(host: Any, tmp_path: Path) -> None:
    host.write("/proc/net/tcp", PROC_NET_TCP)
    host.write("/proc/net/tcp6", PROC_NET_TCP6)
    host.write("/proc/700/comm", "rpi-ess\n")
    host.link("/proc/700/fd/5", "socket:[31337]", literal=True)
    ctx = host.context(status_socket=str(tmp_path / "none.sock"), port=5000)
    port = check_listening(ctx)
    assert port.summary == "listening on 0.0.0.0:5000, :::5000 by pid 700 (rpi-ess)"
    fetch_status(ctx)
    assert ctx.status_source.endswith("TCP 5000 not tried: a client is connected")
    client = check_client(ctx)
    assert (client.status, client.summary) == (Status.PASS, "10.0.0.5:54321 connected (from the socket table)")


@pytest.mark.parametrize(
    ("show", "status", "hint"),
    [
        ("LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=700\nNRestarts=0\n", Status.PASS, None),
        ("LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=700\nNRestarts=3\n", Status.WARN,
         "crashed and was restarted"),
        ("LoadState=loaded\nActiveState=failed\nSubState=failed\nMainPID=0\nNRestarts=0\n", Status.FAIL,
         "journalctl -u rpi-ess"),
        ("LoadState=loaded\nActiveState=inactive\nSubState=dead\nMainPID=0\nNRestarts=0\n", Status.FAIL,
         "enable --now"),
        ("LoadState=not-found\nActiveState=inactive\nSubState=dead\n", Status.FAIL, "Install the service unit"),
    ],
)
def test_systemd_states(host: Any, show: str, status: Status, hint: str | None) -> None:
    host.command("systemctl show", show)
    result = check_systemd(host.context())
    assert result.status is status
    assert (result.hint is None) if hint is None else (hint in result.hint)


def test_no_systemd_is_skipped(host: Any) -> None:
    assert check_systemd(host.context()).status is Status.SKIP


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (b"hello\r\n", "not JSON"),
        (b'{"response": 22, "message": "unknown command"}\r\n', "status refused"),
        (b'{"response": 0, "status": {"devices": []}}\r\n', "no status.server"),
        (b'{"response": 0', "cut short"),
    ],
)
def test_status_replies_that_make_no_sense(tmp_path: Path, reply: bytes, error: str) -> None:
    path = str(tmp_path / "odd.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def answer() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(1024)
            connection.sendall(reply)

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        with pytest.raises(StatusError, match=error):
            query_status(path, timeout=WAIT)
    finally:
        thread.join()
        listener.close()
