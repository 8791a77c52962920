"""``sim://`` ports through the real serial backend: SerialLink, LineReader or Sps30Poller,
the framers and the parsers, exactly as a configured node runs them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import serial

from rpi_ess.devices.base import DeviceError, Record
from rpi_ess.devices.config import DeviceConfig
from rpi_ess.devices.interfaces.serial import SerialDevice
from rpi_ess.devices.sps30_uart import Sps30Poller
from rpi_ess.sensors import create_sensor
from rpi_ess.simulation.configs import register, sim_url
from rpi_ess.simulation.instruments import SIMULATORS
from rpi_ess.simulation.urlhandler.protocol_sim import parse_url

WAIT = 10.0  # generous: CI machines are slow and loaded
MakeDevice = Callable[..., SerialDevice]


@pytest.fixture(autouse=True)
def _registered() -> None:
    register()


@pytest.fixture
def make_device() -> Iterator[MakeDevice]:
    """A real SerialDevice on a sim:// URL (``time.monotonic`` timestamps); closed at teardown."""
    devices: list[SerialDevice] = []

    def make(url: str, sensor_type: str | None = None, **kwargs: Any) -> SerialDevice:
        sensor_type = sensor_type or parse_url(url)[0]
        channels = kwargs.pop("channels", 4 if sensor_type == "Temperature" else None)
        kwargs.setdefault("baud_rate", create_sensor(sensor_type, channels).baud_rate)
        config = DeviceConfig(name="sim", sensor_type=sensor_type, device_type="Serial", serial_port=url,
                              channels=channels, **kwargs)
        device = SerialDevice(config, create_sensor(sensor_type, channels), clock=time.monotonic)
        devices.append(device)
        return device

    yield make
    for device in devices:
        device.close()


def read_until(device: SerialDevice, done: Callable[[list[Record]], bool], limit: float = WAIT) -> list[Record]:
    """Read as the runner does until ``done(records)``; fail after ``limit`` seconds."""
    records: list[Record] = []
    deadline = time.monotonic() + limit
    while not done(records):
        assert time.monotonic() < deadline, f"{device.describe}: gave up with {len(records)} records"
        records += device.read(0.1)
    return records


def read_records(device: SerialDevice, count: int) -> list[Record]:
    return read_until(device, lambda records: len(records) >= count)


def read_for(device: SerialDevice, seconds: float) -> list[Record]:
    end = time.monotonic() + seconds
    return read_until(device, lambda _: time.monotonic() >= end, seconds + WAIT)


@pytest.mark.parametrize("sensor_type", list(SIMULATORS))
def test_every_instrument_through_the_real_backend(sensor_type: str, make_device: MakeDevice) -> None:
    channels = 4 if sensor_type == "Temperature" else None
    device = make_device(sim_url(sensor_type, channels, seed=1), sensor_type)
    device.open()
    # the open lands inside a record: its cut first record is marked first (the runner drops it)
    records = [r for r in read_until(device, lambda rs: any(not r.first for r in rs)) if not r.first]
    readings = [device.sensor.parse(record.data) for record in records]
    assert all(record.error is None for record in records)
    assert all(reading.ok for reading in readings), readings
    if sensor_type == "Sps30":
        assert isinstance(device._reader, Sps30Poller)  # polled over SHDLC, not streamed


def test_same_seed_same_records(make_device: MakeDevice) -> None:
    streams = []
    for _ in range(2):
        device = make_device("sim://CSAT3B?seed=7")
        device.open()
        # the cut first record depends on when, within a USB packet time, the open lands (wall clock)
        streams.append([record.data for record in read_records(device, 4) if not record.first][:3])
        device.close()
    assert streams[0] == streams[1]


@pytest.mark.parametrize("sensor_type", ["CSAT3B", "EFM100C"])
def test_rate_is_the_instruments(sensor_type: str, make_device: MakeDevice) -> None:
    """Records counted over a 2 s window match the instrument's period (the window is
    measured by the same monotonic clock the instrument runs on)."""
    device = make_device(sim_url(sensor_type, seed=2))
    device.open()
    read_records(device, 1)
    count = len(read_for(device, 2.0))
    expected = 2.0 / device.sensor.period
    assert expected * 0.85 <= count <= expected * 1.1 + 1


def test_interrupt_wakes_a_blocked_read(make_device: MakeDevice) -> None:
    device = make_device("sim://LD250?silent=1")
    device.open()
    result: list[list[Record]] = []
    reader = threading.Thread(target=lambda: result.append(device.read(WAIT)))
    started = time.monotonic()
    reader.start()
    time.sleep(0.2)
    device.interrupt()
    reader.join(WAIT)
    assert result == [[]]
    assert time.monotonic() - started < WAIT / 2


def test_port_timeout_and_cancel_read() -> None:
    with serial.serial_for_url("sim://Aurora?silent=1", timeout=0.2) as port:
        started = time.monotonic()
        assert port.read(10) == b""
        assert 0.2 <= time.monotonic() - started < WAIT / 2
        port.timeout = None  # block until cancelled
        timer = threading.Timer(0.2, port.cancel_read)
        timer.start()
        assert port.read(10) == b""
        timer.join()
        port.timeout = 0  # non-blocking
        assert port.read(10) == b"" and port.in_waiting == 0


def test_partial_records_and_in_waiting() -> None:
    """Bytes come in packets at the baud rate: a reader sees a line grow."""
    with serial.serial_for_url("sim://Temperature?channels=8&seed=1", baudrate=9600, timeout=WAIT) as port:
        first = port.read(1)
        assert first and port.in_waiting < 100
        time.sleep(0.05)
        assert 0 < port.in_waiting < 100  # 8 channels: 112 bytes take 117 ms at 9600 baud


def test_silent_sps30_fails_to_open(make_device: MakeDevice) -> None:
    device = make_device("sim://Sps30?silent=1")
    with pytest.raises(DeviceError, match="did not start measuring"):
        device.open()


def test_fail_after_is_a_lost_port_and_reopen_works(make_device: MakeDevice) -> None:
    device = make_device("sim://EFM100C?fail_after=0.5&seed=3")
    device.open()
    read_records(device, 1)
    with pytest.raises(DeviceError, match="port lost"):
        read_for(device, WAIT)
    device.open()
    assert read_records(device, 1)


def test_wrong_baud_rate_gives_no_readings(make_device: MakeDevice) -> None:
    device = make_device("sim://HX85A?baud=19200&seed=1", baud_rate=9600)
    device.open()
    records = read_for(device, 3.0)
    assert not any(device.sensor.parse(record.data).ok for record in records if record.error is None)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sim://Radar", "no simulated instrument 'Radar'"),
        ("sim://CSAT3B?speed=3", "unknown parameter 'speed'"),
        ("sim://CSAT3B?garbage=2", "garbage: must be from 0 to 1"),
        ("sim://Temperature?channels=x", "channels"),
    ],
)
def test_bad_url_is_one_readable_error(url: str, message: str, make_device: MakeDevice) -> None:
    device = make_device(url, "CSAT3B")
    with pytest.raises(DeviceError, match="invalid port or setting") as error:
        device.open()
    assert message in str(error.value)


def test_sensor_type_is_case_insensitive() -> None:
    assert parse_url("sim://csat3b?seed=1") == ("CSAT3B", {"seed": 1})


def test_sps30_noise_gives_error_records_and_polling_goes_on(make_device: MakeDevice) -> None:
    device = make_device("sim://Sps30?garbage=0.3&seed=4", poll_interval=0.1)
    device.open()  # noise may hit the start handshake too: the poller's retries get through (seeded)
    records = read_until(device, lambda records: {bool(record.error) for record in records} == {True, False})
    assert all(device.sensor.parse(record.data).ok for record in records if not record.error)
