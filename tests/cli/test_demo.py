"""``rpi-ess demo`` end to end: in-process simulated server, CSC-like client, table or JSON lines."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from rpi_ess.cli.main import main
from rpi_ess.simulation.demo_config import DEMO_DEVICES

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0  # generous: CI machines are slow
#: what each sensor type's row shows once it has a reading (LD-250: status, strike or noise line)
MARKERS = {
    "Temperature": ("°C",), "HX85A": ("RH ",), "HX85BA": (" mbar",), "Windsonic": (" m/s dir ",), "CSAT3B": ("Ts ",),
    "LD250": ("status ", "strike ", "noise too high"), "EFM100C": (" kV/m",), "Aurora": ("sky ",), "Sps30": ("µg/m³",),
}


def table_rows(text: str) -> dict[str, list[str]]:
    """Cells of each table row, keyed by device name."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) == 8:
            rows[cells[0]] = cells
    return rows


def assert_every_device_reported(text: str) -> None:
    rows = table_rows(text)
    for device in DEMO_DEVICES:
        name, sensor_type, values, _rate, _age, lines, _errors, _last_error = rows[device["name"]]
        assert sensor_type == device["sensor_type"]
        assert any(marker in values for marker in MARKERS[sensor_type]), rows[name]
        assert int(lines) > 0


def test_demo_shows_telemetry_from_all_nine_sensor_types(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["demo", "--duration", "5"]) == 0
    out = capsys.readouterr().out
    assert_every_device_reported(out)
    assert "from 9 of 9 devices" in out
    assert "Ctrl-C" not in out  # printed once at the end, when there is nothing left to stop


def test_demo_json_prints_wire_lines_and_the_table_on_stderr(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["demo", "--duration", "5", "--json"]) == 0
    captured = capsys.readouterr()
    messages = [json.loads(line) for line in captured.out.splitlines()]
    assert all(list(message) == ["telemetry"] for message in messages)
    assert all(list(message["telemetry"]) == ["name", "timestamp", "response_code", "sensor_telemetry"]
               for message in messages)
    assert {message["telemetry"]["name"] for message in messages} == {device["name"] for device in DEMO_DEVICES}
    assert_every_device_reported(captured.err)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_signal_stops_the_demo_cleanly_with_a_summary(signum: int) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rpi_ess", "demo", "--log-level", "INFO", cwd=ROOT, env={**os.environ, "COLUMNS": "250"},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stderr is not None
        seen = b""
        async with asyncio.timeout(WAIT):
            while b"configured 9 devices" not in seen:
                line = await process.stderr.readline()
                assert line, seen.decode(errors="replace")
                seen += line
        process.send_signal(signum)
        out, err = await asyncio.wait_for(process.communicate(), WAIT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode(errors="replace")
    assert b"Traceback" not in seen + err
    assert "telemetry lines from" in out.decode()
    assert set(table_rows(out.decode())) == {device["name"] for device in DEMO_DEVICES}


def test_on_a_terminal_the_table_refreshes_live(tmp_path: Path) -> None:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 250, 0, 0))
    with (tmp_path / "stderr").open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "rpi_ess", "demo", "--duration", "4"], cwd=ROOT,
                                   env={**os.environ, "COLUMNS": "250"}, stdin=subprocess.DEVNULL, stdout=slave,
                                   stderr=stderr)
    os.close(slave)
    output = bytearray()
    try:
        while select.select([master], [], [], WAIT)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the demo closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(WAIT) == 0, (tmp_path / "stderr").read_text()
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
    text = output.decode(errors="replace")
    assert "\x1b[" in text  # cursor movement: the table was redrawn in place, not printed once
    assert text.count("rpi-ess telemetry from") > 1
    assert "Stops after 4 s; press Ctrl-C to stop sooner." in text
    for device in DEMO_DEVICES:
        assert device["name"] in text


def test_json_into_a_pipe_that_closes_early_ends_quietly() -> None:
    """``rpi-ess demo --json | head -1`` ends the demo with status 0 and no traceback."""
    process = subprocess.Popen([sys.executable, "-m", "rpi_ess", "demo", "--duration", "50", "--json"], cwd=ROOT,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stderr is not None
        assert json.loads(process.stdout.readline())["telemetry"]["name"]
        process.stdout.close()
        status = process.wait(WAIT)  # stderr stays tiny, so the pipe cannot fill up meanwhile
        err = process.stderr.read()
        assert status == 0, err.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    assert b"Traceback" not in err
