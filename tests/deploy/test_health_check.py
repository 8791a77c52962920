"""The roll-out's health check (deploy/ansible/roles/rpi_ess/files/rpi-ess-health.py) against a real
``rpi-ess serve --simulate`` with its status socket, configured by a real client; and its verdicts."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rpi_ess import __version__

HEALTH = Path(__file__).parents[2] / "deploy" / "ansible" / "roles" / "rpi_ess" / "files" / "rpi-ess-health.py"
DEVICE = {"name": "T", "sensor_type": "Temperature", "channels": 2, "device_type": "Serial",
          "serial_port": "/dev/null", "baud_rate": 19200}


def health(*args: str) -> tuple[int, dict]:
    done = subprocess.run([sys.executable, str(HEALTH), *args], capture_output=True, text=True, timeout=60,
                          check=False)
    return done.returncode, json.loads(done.stdout)


@pytest.fixture
def server(tmp_path):
    """A simulated server on a free port; yields (status socket, port)."""
    path = tmp_path / "status.sock"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "rpi_ess", "serve", "--simulate", "--host", "127.0.0.1",
                             "--port", str(port), "--status-socket", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if path.exists():
                break
            time.sleep(0.05)
        yield str(path), port
    finally:
        proc.terminate()
        proc.wait(10)


def test_healthy_server_without_instruments(server):
    code, result = health("--socket", server[0], "--expect-version", __version__)
    assert code == 0, result
    assert result["healthy"] and result["version"] == __version__ and result["devices"] == 0


def test_streaming_instrument_counted(server):
    path, port = server
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"heartbeat\r\n" + json.dumps({"command": "configure", "parameters": {
            "configuration": {"devices": [DEVICE]}}}).encode() + b"\r\n")
        reader = client.makefile("rb")
        while "telemetry" not in json.loads(reader.readline()):
            pass
        code, result = health("--socket", path, "--baseline", json.dumps({"streaming": 1}), "--timeout", "10")
    assert code == 0, result
    assert (result["devices"], result["streaming"]) == (1, 1)


def test_wrong_version_is_unhealthy(server):
    code, result = health("--socket", server[0], "--expect-version", "9.9.9")
    assert code == 1
    assert result["reason"] == f"version {__version__} is running, expected 9.9.9"


def test_no_server_is_unhealthy(tmp_path):
    code, result = health("--socket", str(tmp_path / "absent.sock"))
    assert code == 1 and result["reason"].startswith("no status:")


def load_health():
    import importlib.util

    spec = importlib.util.spec_from_file_location("rpi_ess_health", HEALTH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("now", "baseline", "reason"),
    [
        ({"version": "1", "devices": 3, "streaming": 3}, {"streaming": 3}, None),
        ({"version": "1", "devices": 3, "streaming": 2}, {"streaming": 2}, None),  # no worse than before
        ({"version": "1", "devices": 3, "streaming": 1}, {"streaming": 2},
         "1 of 3 instruments streaming, 2 before the update"),
        ({"version": "1", "devices": 3, "streaming": 0}, None, None),  # nothing streamed before either
    ],
)
def test_no_worse_than_before(now, baseline, reason):
    assert load_health().verdict(now, "1", baseline) == reason
