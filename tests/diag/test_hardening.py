"""diag from a field trial (issue 15): --simulate judges only what it simulates, redirected output is not
wrapped, one verdict per device, and a hand-started ``serve`` is found without options."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from rpi_ess.cli.main import main
from rpi_ess.diag.config import parse_devices
from rpi_ess.diag.context import DiagContext
from rpi_ess.diag.devices import plan_device_checks
from rpi_ess.diag.model import CheckResult, Report, Status
from rpi_ess.diag.report import render_text, text_console
from rpi_ess.diag.runner import diagnose
from rpi_ess.server.status_paths import find_status_socket, serve_status_socket, status_socket_candidates
from rpi_ess.timex import KernelClock

WAIT = 20.0


def test_simulate_does_not_fail_on_the_hosts_clock(host: Any) -> None:
    unsynchronised = {"kernel_clock": lambda: KernelClock(False, 0, 16_000_000)}
    real = diagnose(host.context(**unsynchronised), ("node",))
    assert {r.name: r.status for r in real.results}["clock_sync"] is Status.FAIL  # a real node: FAIL
    simulated = diagnose(host.context(simulated=True, **unsynchronised), ("node",))
    clock = next(r for r in simulated.results if r.name == "clock_sync")
    assert clock.status is Status.WARN and simulated.exit_code == 0
    assert clock.hint.startswith("Not judged by --simulate, which checks simulated instruments and a simulated "
                                 "server, not this host; on a real node this would be a FAIL. Telemetry timestamps")


def test_redirected_report_is_not_wrapped() -> None:
    raw = "raw: '" + ",".join(f"C{n:02}=0002.{n:04}" for n in range(1, 17)) + "'"
    report = Report([CheckResult("devices", "TempDomeWithALongName", Status.PASS, "Temperature at 19200 baud",
                                 details=[raw, "port: Serial /dev/serial/by-id/" + "x" * 90])],
                    host="node", generated=0.0, duration_s=1.0)
    out = io.StringIO()
    render_text(report, text_console(file=out))
    lines = out.getvalue().splitlines()
    assert any(line.endswith(raw) for line in lines)  # one line, never split mid-sample
    assert any(line.endswith("x" * 90) for line in lines)
    assert all(line == line.rstrip() for line in lines)


def test_one_verdict_per_device_against_a_simulating_server(tmp_path: Path) -> None:
    """serve --simulate holds TempDome on no port: the configured /dev/ttyUSB0 is not a second, failing check."""
    config = {"name": "TempDome", "sensor_type": "Temperature", "channels": 4, "device_type": "Serial",
              "serial_port": str(tmp_path / "ttyUSB0")}
    ctx = DiagContext(devices=parse_devices([config], "dev.yaml").devices, config_source="dev.yaml")
    ctx.server_status = {"server": {"simulation_mode": 1}, "devices": [
        {"name": "TempDome", "sensor_type": "Temperature", "port": "Simulated Temperature (Serial)",
         "state": "streaming", "lines": 5, "errors": 0, "dropped": 0, "reopens": 0}]}
    results = [check(ctx) for check in plan_device_checks(ctx)]
    assert [(r.name, r.status) for r in results] == [("configuration", Status.PASS), ("TempDome", Status.PASS)]
    assert results[1].summary.startswith("Temperature, simulated by rpi-ess: streaming")
    assert results[1].details[-1] == (f"the server simulates it (serve --simulate); Serial {tmp_path}/ttyUSB0 "
                                      "is not read")
    ctx.server_status["server"]["simulation_mode"] = 0  # a real server reading another port: one WARN
    results = [check(ctx) for check in plan_device_checks(ctx)]
    assert [(r.name, r.status) for r in results] == [("configuration", Status.PASS), ("TempDome", Status.WARN)]
    assert "name different ports" in results[1].hint


def test_default_status_socket_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert status_socket_candidates() == ["/run/rpi-ess/status.sock", f"{tmp_path}/rpi-ess/status.sock",
                                          f"/tmp/rpi-ess-{os.getuid()}/status.sock"]
    if not os.access("/run/rpi-ess", os.W_OK):
        assert serve_status_socket() == f"{tmp_path}/rpi-ess/status.sock"
        assert (tmp_path / "rpi-ess").stat().st_mode & 0o777 == 0o700
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(f"{tmp_path}/rpi-ess/status.sock")
            assert find_status_socket() == f"{tmp_path}/rpi-ess/status.sock"
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path / "service"))
    assert status_socket_candidates()[0] == f"{tmp_path}/service/status.sock"


def test_someone_elses_directory_is_never_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "rpi-ess").mkdir(mode=0o777)
    (tmp_path / "rpi-ess").chmod(0o777)  # writable by anyone: another user could plant a socket
    assert serve_status_socket() != f"{tmp_path}/rpi-ess/status.sock"


def test_diag_finds_a_hand_started_serve(tmp_path: Path, unused_port: int, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    if os.access("/run/rpi-ess", os.W_OK):
        pytest.skip("/run/rpi-ess exists and is writable here: serve would use it")
    serve = subprocess.Popen([sys.executable, "-m", "rpi_ess", "serve", "--simulate", "--host", "127.0.0.1",
                              "--port", str(unused_port)], stderr=subprocess.PIPE, text=True)
    try:
        expected = f"{tmp_path}/rpi-ess/status.sock"
        deadline = time.monotonic() + WAIT
        while not os.path.exists(expected) and time.monotonic() < deadline and serve.poll() is None:
            time.sleep(0.05)
        (tmp_path / "node.yaml").write_text("{}\n")
        code = main(["diag", "--json", "--only", "service", "--port", str(unused_port),
                     "--node-config", str(tmp_path / "node.yaml")])
        checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    finally:
        serve.send_signal(signal.SIGTERM)
        _, log = serve.communicate(timeout=WAIT)
    assert f"Status socket at {expected}" in log
    assert checks["status"]["data"]["source"] == f"status socket {expected}"
    assert code == 0
