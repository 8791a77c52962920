"""simulated_device_config: simulation chosen by configuration, run on the real backends."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from rpi_ess.devices import create_device
from rpi_ess.devices.base import DeviceError
from rpi_ess.devices.config import DeviceConfig, parse_configuration
from rpi_ess.devices.interfaces.i2c import I2cDevice
from rpi_ess.devices.interfaces.serial import SerialDevice
from rpi_ess.diag.simulate import LiveServer
from rpi_ess.diag.status import query_status
from rpi_ess.sensors import SENSOR_TYPES, create_sensor
from rpi_ess.simulation.configs import register, simulated_configuration, simulated_device_config
from rpi_ess.simulation.demo_config import DEMO_DEVICES, demo_devices

WAIT = 30.0  # generous: CI machines are slow and loaded
SHT4X = {"name": "HumidityEnclosure", "sensor_type": "HX85A", "device_type": "I2C", "chip": "SHT4x", "i2c_bus": 3}


def configs(entries: list[Any]) -> list[DeviceConfig]:
    return parse_configuration(simulated_configuration({"devices": entries}), tuple(SENSOR_TYPES))


def test_demo_entries_become_sim_ports_and_keep_everything_else() -> None:
    for original, config in zip(DEMO_DEVICES, configs(demo_devices()), strict=True):
        assert config.device_type == "Serial"
        assert config.serial_port is not None and config.serial_port.startswith(f"sim://{original['sensor_type']}")
        assert (config.name, config.sensor_type, config.baud_rate, config.channels) == (
            original["name"], original["sensor_type"], original["baud_rate"], original.get("channels"))
        assert config.extra.get("location") == original["location"]


def test_ftdi_entry_becomes_a_serial_sim_port() -> None:
    entry = {"name": "Wind", "sensor_type": "CSAT3B", "device_type": "FTDI", "ftdi_id": "A10K1XYZ",
             "baud_rate": 115200, "num_samples": 50}
    simulated = simulated_device_config(entry)
    assert "ftdi_id" not in simulated and simulated["device_type"] == "Serial"
    assert simulated["serial_port"].startswith("sim://CSAT3B?seed=")
    assert simulated_device_config(entry) == simulated  # the seed follows the name: same values every run
    assert entry["device_type"] == "FTDI"  # the caller's entry is not changed


def test_temperature_channels_reach_the_instrument() -> None:
    (config,) = configs([{"name": "T", "sensor_type": "Temperature", "device_type": "Serial", "channels": 6,
                          "serial_port": "/dev/ess/t"}])
    assert config.serial_port is not None and "channels=6" in config.serial_port


def test_a_sim_port_with_faults_is_kept() -> None:
    entry = {"name": "T", "sensor_type": "LD250", "device_type": "Serial", "serial_port": "sim://LD250?silent=1"}
    assert simulated_device_config(entry) == entry


@pytest.mark.parametrize("entry", [
    None,
    "TempDome",
    {"name": "x", "sensor_type": "Radar", "device_type": "Serial", "serial_port": "/dev/ttyUSB0"},
    {"name": "x", "sensor_type": "CSAT3B", "device_type": "RS485", "serial_port": "/dev/ttyUSB0"},
    {"name": "x", "sensor_type": "CSAT3B", "device_type": "Serial"},
    {"name": "x", "sensor_type": "CSAT3B", "device_type": "FTDI", "ftdi_id": ""},
    {"name": "x", "sensor_type": ["CSAT3B"], "device_type": {"Serial": 1}, "serial_port": "/dev/ttyUSB0"},
])
def test_what_is_not_a_simulatable_entry_is_left_for_the_configuration_check(entry: Any) -> None:
    assert simulated_device_config(entry) is entry


@pytest.mark.parametrize("payload", [None, [], {"devices": "all"}, {"device": []}])
def test_a_malformed_payload_is_left_for_the_configuration_check(payload: Any) -> None:
    assert simulated_configuration(payload) is payload


def test_i2c_entry_runs_the_real_driver_on_the_emulated_bus() -> None:
    (config,) = configs([SHT4X])
    device = create_device(config, create_sensor(config.sensor_type, config.channels))
    assert isinstance(device, I2cDevice) and device.present()
    device.open()
    try:
        records = []
        deadline = time.monotonic() + WAIT
        while not records and time.monotonic() < deadline:
            records = device.read(1.0)
    finally:
        device.close()
    humidity, temperature = records[0].data
    weather = device.factory.before_transfer.weather  # type: ignore[attr-defined]
    assert temperature == pytest.approx(weather.temperature, abs=0.1)  # the chip measured the simulated night
    assert humidity == pytest.approx(weather.relative_humidity, abs=0.1)
    assert (temperature, humidity) != (20.0, 50.0)  # not the emulator's constants


def test_unknown_bus_factory_is_a_readable_error() -> None:
    register()
    config = DeviceConfig("x", "HX85A", "I2C", chip="SHT4x", extra={"i2c_bus_factory": "qemu"})
    with pytest.raises(DeviceError, match=r"x: unknown i2c_bus_factory 'qemu'; known: .*sim"):
        I2cDevice(config, create_sensor("HX85A"))


def test_serial_entries_run_the_serial_backend() -> None:
    for config in configs(demo_devices()):
        assert type(create_device(config, create_sensor(config.sensor_type, config.channels))) is SerialDevice


def test_a_real_server_streams_the_simulated_demo_node(tmp_path: Path) -> None:
    """The demo configuration plus an I2C chip, configured on a real (non-simulating) server."""
    entries = [simulated_device_config(entry) for entry in [*demo_devices(), SHT4X]]
    server = LiveServer(entries, str(tmp_path / "status.sock")).start()
    try:
        server.wait_streaming(1, WAIT)
        devices = query_status(str(tmp_path / "status.sock"))["devices"]
    finally:
        server.stop()
    assert {device["name"] for device in devices} == {entry["name"] for entry in entries}
    assert all(device["lines"] >= 1 and device["errors"] == 0 for device in devices), devices
    assert {device["port"].split()[0] for device in devices} == {"Serial", "I2C"}
