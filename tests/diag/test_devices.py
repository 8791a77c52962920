"""Device checks against pseudo-terminal instruments and an emulated I2C bus.

The instruments write the exact bytes the real ones send; diag opens the tty like
/dev/ttyUSB0, frames and parses what arrives. The wrong-baud-rate instrument looks at the
speed the reader set with termios and garbles its lines at any other speed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rpi_ess.diag.config import parse_devices
from rpi_ess.diag.context import DiagContext
from rpi_ess.diag.devices import plan_device_checks
from rpi_ess.diag.model import CheckResult, Status
from rpi_ess.diag.simulate import BaudSensitiveSource, garble
from rpi_ess.simulation.i2c import EmulatedBuses, Sht4xEmulator
from rpi_ess.simulation.instruments import create_simulator


def entry(name: str, sensor_type: str, port: str, baud_rate: int = 19200, **extra: Any) -> dict[str, Any]:
    return {"name": name, "sensor_type": sensor_type, "device_type": "Serial", "serial_port": port,
            "baud_rate": baud_rate, **extra}


def check(ctx: DiagContext, *entries: dict[str, Any]) -> dict[str, CheckResult]:
    found = parse_devices(list(entries), "test")
    assert not found.errors
    ctx.devices, ctx.config_source = found.devices, found.source
    results = [function(ctx) for function in plan_device_checks(ctx)]
    return {result.name: result for result in results}


def test_healthy_instrument_shows_raw_lines_values_and_rate(real_ctx: DiagContext, make_pty: Any) -> None:
    pty = make_pty("temp", "Temperature", channels=4, period=0.2)
    results = check(real_ctx, entry("TempDome", "Temperature", pty.port, channels=4))
    assert results["configuration"].summary == "1 device from test"
    result = results["TempDome"]
    assert result.status is Status.PASS, result
    assert result.summary.startswith("Temperature at 19200 baud: ")
    assert "good lines in" in result.summary
    assert result.data["source"] == "listen"
    assert result.data["good"] >= 2
    assert result.data["errors"] == 0
    assert result.data["rate_hz"] > 0
    assert len(result.data["values"]) == 4
    assert result.data["raw_samples"][0].startswith("'C01=")
    assert result.details[0] == f"port: Serial {pty.port}"
    assert any(line.startswith("parsed: [") for line in result.details)


def test_silent_instrument_fails_with_a_wiring_hint(real_ctx: DiagContext, make_pty: Any) -> None:
    pty = make_pty("quiet")
    result = check(real_ctx, entry("LightningMast", "LD250", pty.port))["LightningMast"]
    assert result.status is Status.FAIL
    assert "SILENT, no byte in" in result.summary
    assert result.data["bytes"] == 0
    assert "TX goes to our RX" in result.hint


def test_wrong_baud_rate_is_found_by_probing(real_ctx: DiagContext, make_pty: Any) -> None:
    pty = make_pty("mirror")
    source = BaudSensitiveSource("HX85A", None, 19200, pty.slave_path)
    try:
        pty.start_stream(source, 0.3)
        result = check(real_ctx, entry("HumidityMirror", "HX85A", pty.port, baud_rate=9600))["HumidityMirror"]
    finally:
        pty.stop_stream()
        source.close()
    assert result.status is Status.FAIL
    assert result.summary.startswith("HX85A at 9600 baud: ")
    assert result.summary.endswith("no valid line; it answers at 19200 baud")
    assert result.data["working_baud_rate"] == 19200
    assert result.data["good"] == 0 and result.data["bytes"] > 0
    assert "set baud_rate: 19200 for HumidityMirror" in result.hint
    assert any(line.startswith("first bytes: ") for line in result.details)


def test_garbage_at_every_rate_says_so(real_ctx: DiagContext, make_pty: Any) -> None:
    simulator = create_simulator("EFM100C", seed=3)
    pty = make_pty("mill", source=lambda: garble(simulator.next_bytes()), period=0.05)
    result = check(real_ctx, entry("FieldMill", "EFM100C", pty.port))["FieldMill"]
    assert result.status is Status.FAIL
    assert result.summary.endswith("no valid line at any common baud rate")
    assert result.data["working_baud_rate"] is None
    assert "sensor_type is right" in result.hint


def test_some_unparsable_lines_warn(real_ctx: DiagContext, make_pty: Any) -> None:
    simulator = create_simulator("Windsonic", seed=5)
    count = iter(range(10**6))
    pty = make_pty("wind", source=lambda: simulator.next_bytes() if next(count) % 2 else b"\x02Q,?,?\r\n",
                   period=0.1)
    result = check(real_ctx, entry("WindTower", "Windsonic", pty.port, baud_rate=9600))["WindTower"]
    assert result.status is Status.WARN, result
    assert result.data["good"] > 0 and result.data["errors"] > 0
    assert any(line.startswith("error: ") for line in result.details)
    assert "loose connector" in result.hint


def test_port_busy_in_another_process_is_not_opened(real_ctx: DiagContext, make_pty: Any) -> None:
    pty = make_pty("held", "Temperature", channels=2, period=0.2)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY); "
         "print('open', flush=True); sys.stdin.read()", pty.slave_path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        result = check(real_ctx, entry("TempDome", "Temperature", pty.port, channels=2))["TempDome"]
    finally:
        holder.communicate("")
    assert result.status is Status.FAIL
    assert result.summary.startswith(f"Serial {pty.port} is busy, held by pid {holder.pid} (python")
    assert result.data["holders"] == [holder.pid]
    assert result.hint.startswith("Stop ")


def test_missing_port_fails_to_open(real_ctx: DiagContext, tmp_path: Path) -> None:
    port = str(tmp_path / "ess" / "unplugged")
    result = check(real_ctx, entry("TempDome", "Temperature", port, channels=2))["TempDome"]
    assert result.status is Status.FAIL
    assert result.summary == f"cannot open Serial {port}"
    assert "port does not exist" in result.details[0]
    assert "USB cable" in result.hint


def test_i2c_chip_on_an_emulated_bus(real_ctx: DiagContext) -> None:
    buses = EmulatedBuses()
    chip = buses.attach(1, Sht4xEmulator(temperature=12.5, humidity=61.0))
    real_ctx.i2c_buses = buses
    i2c = {"name": "HumidityEnclosure", "sensor_type": "HX85A", "device_type": "I2C", "chip": "SHT4x",
           "i2c_bus": 1, "poll_interval": 0.2}
    result = check(real_ctx, i2c)["HumidityEnclosure"]
    assert result.status is Status.PASS, result
    assert result.data["bytes"] is None  # chips give numbers, not bytes
    assert result.data["values"][:2] == [pytest.approx(61.0, abs=0.1), pytest.approx(12.5, abs=0.1)]
    assert result.details[0] == "port: I2C SHT4x @0x44 on /dev/i2c-1"
    chip.unplug()
    unplugged = check(real_ctx, i2c)["HumidityEnclosure"]
    assert unplugged.status is Status.FAIL
    assert unplugged.summary == "cannot open I2C SHT4x @0x44 on /dev/i2c-1"
    assert "no device answers at 0x44" in unplugged.details[0]
    assert "wiring" in unplugged.hint


def test_bad_entries_are_reported_and_the_rest_checked(real_ctx: DiagContext, make_pty: Any) -> None:
    pty = make_pty("temp", "Temperature", channels=1, period=0.2)
    found = parse_devices([{"name": "Nope", "sensor_type": "Barometer", "device_type": "Serial"},
                           entry("T1", "Temperature", pty.port, channels=1)], "node.yaml")
    real_ctx.devices, real_ctx.config_source, real_ctx.config_errors = found.devices, found.source, found.errors
    results = {r.name: r for r in (function(real_ctx) for function in plan_device_checks(real_ctx))}
    assert list(results) == ["configuration", "T1"]
    configuration = results["configuration"]
    assert configuration.status is Status.FAIL
    assert configuration.details[0].startswith("devices[0]")
    assert "Barometer" in " ".join(configuration.details)
    assert results["T1"].status is Status.PASS


def test_nothing_configured_is_skipped(real_ctx: DiagContext) -> None:
    results = check(real_ctx)
    assert results["configuration"].status is Status.SKIP
    assert "node.yaml" in results["configuration"].hint


def test_server_ports_match_through_stable_names(tmp_path: Path) -> None:
    """The server may name an adapter by its by-id link; the node config by its tty: same port."""
    from rpi_ess.diag.status import port_keys, server_device_on

    tty = tmp_path / "ttyUSB0"
    tty.write_text("")
    link = tmp_path / "usb-FTDI_FT232R_USB_UART_A10K1234-if00-port0"
    link.symlink_to(tty)
    device = {"name": "TempDome", "port": f"FTDI A10K1234 ({link})"}
    ctx = DiagContext(server_status={"server": {}, "devices": [device]})
    assert server_device_on(ctx, port_keys(f"Serial {tty}")) is device
    assert server_device_on(ctx, port_keys(f"Serial {tmp_path / 'ttyUSB1'}")) is None


@pytest.fixture(scope="session")
def libusb_context() -> None:
    """libusb keeps a process-wide context (a few descriptors) from its first use on: not a leak."""
    from rpi_ess.devices.interfaces.ftdi import list_usb_adapters

    list_usb_adapters()


@pytest.mark.usefixtures("libusb_context")
def test_ftdi_adapter_that_is_not_plugged_in(real_ctx: DiagContext) -> None:
    ftdi = {"name": "TempDome", "sensor_type": "Temperature", "channels": 4, "device_type": "FTDI",
            "ftdi_id": "NOPE1234", "baud_rate": 19200}
    result = check(real_ctx, ftdi)["TempDome"]
    assert result.status is Status.FAIL
    assert result.summary == "cannot open FTDI NOPE1234"
    assert "adapter not found" in result.details[0]
    assert "ftdi_id" in result.hint
