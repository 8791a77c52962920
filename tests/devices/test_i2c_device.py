"""I2cDevice end to end on emulated chips: emulator -> real driver -> I2cDevice -> parser.

Nothing here stubs a driver: the values set in an emulator travel over the emulated bus
in the chip's own protocol, through the Adafruit driver (or our SPS30 driver), and come
out of ``sensor.from_values`` in the telemetry layout the CSC expects.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rpi_ess.devices import create_device
from rpi_ess.devices.base import DeviceError, Record
from rpi_ess.devices.config import DeviceConfig
from rpi_ess.devices.interfaces import i2c
from rpi_ess.devices.interfaces.i2c import I2cDevice, validate_chip
from rpi_ess.devices.runner import DeviceRunner, RunnerSettings
from rpi_ess.sensors import create_sensor
from rpi_ess.server.telemetry import encode_telemetry
from rpi_ess.simulation.i2c import (
    Bme280Emulator,
    ChipEmulator,
    EmulatedBuses,
    Mcp9808Emulator,
    Sht3xEmulator,
    Sht4xEmulator,
    Sps30Emulator,
    Tmp117Emulator,
    emulate_devices,
)

WAIT = 10.0  # generous: CI machines are slow and loaded


def magnus_dew_point(rh: float, t: float) -> float:
    """PROTOCOL 4.3, written out independently of rpi_ess.sensors.dewpoint."""
    f = math.log(rh / 100.0) + 17.62 * t / (243.12 + t)
    return 243.12 * f / (17.62 - f)


def i2c_config(chip: str, sensor_type: str, **kwargs: Any) -> DeviceConfig:
    kwargs.setdefault("name", "i2c1")
    return DeviceConfig(sensor_type=sensor_type, device_type="I2C", chip=chip, **kwargs)


@pytest.fixture
def buses() -> EmulatedBuses:
    return EmulatedBuses()


@pytest.fixture
def make_device(buses: EmulatedBuses) -> Iterator[Callable[..., I2cDevice]]:
    """Build an I2cDevice on the emulated buses with the real parser; closed at teardown."""
    devices: list[I2cDevice] = []

    def make(chip: str, sensor_type: str, channels: int | None = None, **kwargs: Any) -> I2cDevice:
        device = I2cDevice(i2c_config(chip, sensor_type, channels=channels, **kwargs),
                           create_sensor(sensor_type, channels), bus_factory=buses)
        devices.append(device)
        return device

    yield make
    for device in devices:
        device.close()


def read_one(device: I2cDevice) -> Record:
    """Read as the runner does (short slices) until a record comes."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        records = device.read(0.25)
        if records:
            assert len(records) == 1
            return records[0]
    raise AssertionError(f"no record from {device.describe} within {WAIT} s")


def telemetry(device: I2cDevice) -> list[Any]:
    reading = device.sensor.from_values(read_one(device).data)
    assert reading.ok, reading.error
    return reading.values


# --- values through the whole chain -------------------------------------------------------

@pytest.mark.parametrize(("chip", "emulator"), [("SHT4x", Sht4xEmulator), ("SHT3x", Sht3xEmulator)])
def test_sht_chips_feed_the_hx85a_layout(buses: EmulatedBuses, make_device: Callable[..., I2cDevice],
                                         chip: str, emulator: type[Sht4xEmulator]) -> None:
    sht = buses.attach(1, emulator(temperature=24.32, humidity=38.86))
    device = make_device(chip, "HX85A", poll_interval=0.05)
    device.open()
    rh, t, dp = telemetry(device)
    assert (rh, t) == pytest.approx((38.86, 24.32), abs=0.005)
    assert dp == pytest.approx(magnus_dew_point(rh, t), abs=1e-9)
    assert dp == pytest.approx(9.4177, abs=0.01)  # PROTOCOL 4.3 example
    sht.temperature, sht.humidity = -8.0, 85.0
    rh, t, _ = telemetry(device)
    assert (rh, t) == pytest.approx((85.0, -8.0), abs=0.005)


def test_bme280_feeds_the_hx85ba_layout(buses: EmulatedBuses, make_device: Callable[..., I2cDevice]) -> None:
    buses.attach(1, Bme280Emulator(temperature=24.32, humidity=38.86, pressure=911.4), 0x76)
    device = make_device("BME280", "HX85BA", address=0x76)
    device.open()
    rh, t, p, dp = telemetry(device)
    assert (rh, t, p) == pytest.approx((38.86, 24.32, 911.4), abs=0.01)
    assert dp == pytest.approx(magnus_dew_point(rh, t), abs=1e-9)
    assert dp == pytest.approx(9.4177, abs=0.02)


@pytest.mark.parametrize(("chip", "emulator"),
                         [("MCP9808", Mcp9808Emulator), ("TMP117", Tmp117Emulator), ("BME280", Bme280Emulator)])
def test_temperature_chips_feed_the_temperature_layout(
    buses: EmulatedBuses, make_device: Callable[..., I2cDevice], chip: str, emulator: type[ChipEmulator]
) -> None:
    buses.attach(2, emulator(temperature=-6.1234))  # type: ignore[call-arg]
    device = make_device(chip, "Temperature", channels=1, i2c_bus=2)
    device.open()
    (t,) = telemetry(device)
    assert t == pytest.approx(-6.1234, abs=0.04)


def test_sps30_over_i2c_starts_reads_and_stops(buses: EmulatedBuses,
                                               make_device: Callable[..., I2cDevice]) -> None:
    values = (0.729, 5.759, 9.827, 11.911, 0.0, 0.245, 5.054, 6.003, 6.148, 1.63)
    sps = buses.attach(1, Sps30Emulator(values, sample_interval=0))
    device = make_device("SPS30", "Sps30")
    device.open()
    assert sps.measuring
    line = telemetry(device)
    assert len(line) == 19 and line[0] == "SPS30"
    assert line[8:18] == pytest.approx(values, abs=0.06)  # the parser may round to 1 decimal
    device.close()
    assert not sps.measuring


def test_sps30_without_new_data_returns_nothing(buses: EmulatedBuses,
                                                make_device: Callable[..., I2cDevice]) -> None:
    sps = buses.attach(1, Sps30Emulator(sample_interval=3600.0))  # next sample in an hour
    device = make_device("SPS30", "Sps30")
    device.open()
    assert device.read(0.2) == []
    sps.sample_interval = 0
    assert len(read_one(device).data) == 10


# --- faults --------------------------------------------------------------------------------

def test_crc_corruption_is_a_device_error_then_reopen_recovers(
    buses: EmulatedBuses, make_device: Callable[..., I2cDevice]
) -> None:
    sht = buses.attach(1, Sht4xEmulator())
    device = make_device("SHT4x", "HX85A")
    device.open()
    sht.corrupt_next_crc()
    with pytest.raises(DeviceError, match=r"i2c1: I2C SHT4x @0x44 on /dev/i2c-1: RuntimeError: Invalid CRC"):
        device.read(WAIT)
    device.close()
    device.open()
    assert telemetry(device)[1] == pytest.approx(20.0, abs=0.005)


def test_sps30_crc_corruption_is_a_device_error(buses: EmulatedBuses,
                                                make_device: Callable[..., I2cDevice]) -> None:
    sps = buses.attach(1, Sps30Emulator(sample_interval=0))
    device = make_device("SPS30", "Sps30")
    device.open()
    sps.corrupt_next_crc(2)  # the data-ready reply and the values
    with pytest.raises(DeviceError, match="CRC mismatch"):
        device.read(WAIT)


def test_nack_and_unplug_are_device_errors_naming_the_address(
    buses: EmulatedBuses, make_device: Callable[..., I2cDevice]
) -> None:
    sht = buses.attach(1, Sht4xEmulator())
    device = make_device("SHT4x", "HX85A")
    device.open()
    sht.nack_next()
    with pytest.raises(DeviceError, match="no device answers at 0x44 on /dev/i2c-1"):
        device.read(WAIT)
    device.close()
    sht.unplug()
    with pytest.raises(DeviceError, match="no device answers at 0x44 on /dev/i2c-1"):
        device.open()
    sht.plug()
    device.open()
    assert len(telemetry(device)) == 3


def test_wrong_address_and_wrong_chip_give_clear_messages(
    buses: EmulatedBuses, make_device: Callable[..., I2cDevice]
) -> None:
    buses.attach(1, Bme280Emulator(chip_id=0x58))  # a BMP280 at the BME280 address
    device = make_device("SHT3x", "HX85A", address=0x45)
    with pytest.raises(DeviceError) as exc:
        device.open()
    assert str(exc.value) == ("i2c1: I2C SHT3x @0x45 on /dev/i2c-1: no device answers at 0x45 on /dev/i2c-1 "
                              "(check wiring and address: i2cdetect -y 1)")
    with pytest.raises(DeviceError, match="Failed to find BME280! Chip ID 0x58"):
        make_device("BME280", "HX85BA").open()


def test_missing_bus(make_device: Callable[..., I2cDevice]) -> None:
    device = make_device("SHT4x", "HX85A", i2c_bus=7)
    assert device.present() is False
    with pytest.raises(DeviceError, match="cannot open /dev/i2c-7"):
        device.open()


def test_real_bus_factory_reports_a_missing_bus() -> None:
    device = I2cDevice(i2c_config("SHT4x", "HX85A", i2c_bus=250), create_sensor("HX85A"))
    assert device.present() is False
    with pytest.raises(DeviceError, match="cannot open /dev/i2c-250"):
        device.open()
    device.close()


@pytest.mark.parametrize(
    ("chip", "sensor_type", "address", "message"),
    [
        ("SHT5x", "HX85A", None, "chip 'SHT5x' is not supported; supported chips: SHT4x, SHT3x, BME280"),
        ("SHT4x", "HX85BA", None, "chip SHT4x cannot provide sensor_type 'HX85BA'; it can provide: HX85A, Temperature"),
        ("MCP9808", "Windsonic", None, "cannot provide sensor_type 'Windsonic'; it can provide: Temperature"),
        ("TMP117", "Temperature", 0x18, "address 0x18 is not a TMP117 address; allowed: 0x48, 0x49, 0x4a, 0x4b"),
    ],
)
def test_invalid_configurations_are_refused(chip: str, sensor_type: str, address: int | None,
                                            message: str) -> None:
    assert any(message in problem for problem in validate_chip(chip, sensor_type, address))
    with pytest.raises(DeviceError, match=f"^i2c1: .*{message[:20]}"):
        I2cDevice(i2c_config(chip, sensor_type, address=address), create_sensor("HX85A"))


def test_valid_configurations_pass() -> None:
    assert validate_chip("bme280", "HX85BA", 0x76) == []  # chip names ignore case
    assert validate_chip("SPS30", "Sps30", None) == []


# --- scheduling, registry, factory ------------------------------------------------------

def test_polls_once_per_interval_and_interrupt_wakes_a_blocked_read(
    buses: EmulatedBuses, make_device: Callable[..., I2cDevice]
) -> None:
    buses.attach(1, Mcp9808Emulator())
    device = make_device("MCP9808", "Temperature", channels=1, poll_interval=3600.0)
    device.open()
    assert device.describe == "I2C MCP9808 @0x18 on /dev/i2c-1"
    assert len(device.read(WAIT)) == 1  # first poll at once
    assert device.read(0.05) == []  # next one is an hour away
    result: list[list[Record]] = []
    reader = threading.Thread(target=lambda: result.append(device.read(3600.0)))
    reader.start()
    device.interrupt()
    reader.join(WAIT)
    assert not reader.is_alive() and result == [[]]


def test_registry_and_module_bus_factory(buses: EmulatedBuses, monkeypatch: pytest.MonkeyPatch) -> None:
    config = i2c_config("SHT4x", "HX85A", address=0x45)
    emulate_devices([config, DeviceConfig("s", "HX85A", "Serial", serial_port="/dev/null")], buses)
    monkeypatch.setattr(i2c, "bus_factory", buses)
    device = create_device(config, create_sensor("HX85A"))
    assert isinstance(device, I2cDevice) and device.present()
    device.open()
    try:
        assert telemetry(device)[1] == pytest.approx(20.0, abs=0.005)
    finally:
        device.close()


# --- with the device runner --------------------------------------------------------------

class ListSink:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self.dropped = 0

    def send(self, readings: list[tuple[float, int, list[Any]]]) -> None:
        """The runner's sink interface; lines encoded as the server encodes them."""
        for timestamp, code, values in readings:
            self.push(encode_telemetry('"i2c1"', timestamp, code, values))

    def push(self, line: bytes) -> None:
        assert line.endswith(b"\r\n")
        self.lines.append(json.loads(line)["telemetry"])

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            found = [line for line in list(self.lines) if predicate(line)]
            if found:
                return found[-1]
            time.sleep(0.02)
        raise AssertionError(f"no matching telemetry line in {self.lines[-5:]}")


@pytest.mark.usefixtures("no_leaks")
def test_runner_reports_an_unplugged_chip_and_recovers(buses: EmulatedBuses,
                                                       make_device: Callable[..., I2cDevice]) -> None:
    sht = buses.attach(1, Sht4xEmulator(temperature=21.0, humidity=45.0))
    device = make_device("SHT4x", "HX85A", poll_interval=0.1)
    sink = ListSink()
    runner = DeviceRunner("i2c1", device, device.sensor, sink,
                          RunnerSettings(error_interval=0.05, backoff_min=0.05, backoff_max=0.2))
    runner.start()
    try:
        good = sink.wait_for(lambda line: line["response_code"] == 0)
        assert good["name"] == "i2c1" and good["sensor_telemetry"][1] == pytest.approx(21.0, abs=0.005)
        sht.unplug()
        bad = sink.wait_for(lambda line: line["response_code"] == 10)
        assert len(bad["sensor_telemetry"]) == 3 and all(math.isnan(v) for v in bad["sensor_telemetry"])
        sht.temperature = 22.0
        sht.plug()
        sink.wait_for(lambda line: line["response_code"] == 0 and abs(line["sensor_telemetry"][1] - 22.0) < 0.01)
    finally:
        runner.stop(timeout=WAIT)
