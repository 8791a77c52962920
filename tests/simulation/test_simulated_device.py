"""SimulatedDevice: simulator bytes through the real LineFramer at the instrument's rate."""

from __future__ import annotations

import itertools
import threading

import pytest

from rpi_ess.devices.base import DeviceError, Record
from rpi_ess.devices.config import DeviceConfig
from rpi_ess.devices.interfaces.simulated import SimulatedDevice
from rpi_ess.sensors import SENSOR_TYPES, Reading, Sensor, create_sensor

WAIT = 10.0  # generous: a loaded CI machine may be slow


def make_device(sensor_type: str, seed: int | None = 1, **kwargs) -> SimulatedDevice:
    channels = 4 if sensor_type == "Temperature" else None
    config = DeviceConfig(name=f"sim-{sensor_type}", sensor_type=sensor_type, device_type="FTDI", channels=channels)
    return SimulatedDevice(config, create_sensor(sensor_type, channels), seed=seed, **kwargs)


def read_records(device: SimulatedDevice, count: int) -> list[Record]:
    records: list[Record] = []
    for _ in range(count * 5):
        records += device.read(WAIT)
        if len(records) >= count:
            return records
    raise AssertionError(f"{device.describe} gave {len(records)} records")


@pytest.mark.parametrize("sensor_type", list(SENSOR_TYPES))
def test_open_read_close(sensor_type: str) -> None:
    device = make_device(sensor_type)
    device.open()
    try:
        records = read_records(device, 2)
    finally:
        device.close()
        device.close()  # idempotent
    readings: list[Reading] = [device.sensor.parse(record.data) for record in records]
    assert all(reading.ok for reading in readings), readings
    assert all(isinstance(record.data, bytes) and record.error is None for record in records)
    assert records[0].timestamp <= records[1].timestamp


def test_sps30_records_are_the_measurement_payload() -> None:
    device = make_device("Sps30")
    device.open()
    try:
        (record, *_) = read_records(device, 1)
    finally:
        device.close()
    assert len(record.data) == 40


def test_hx85_records_arrive_by_idle_flush_with_the_last_byte_time() -> None:
    ticks = itertools.count(5000.0, 0.01)
    device = make_device("HX85BA", clock=lambda: next(ticks))
    device.open()
    try:
        first, second = read_records(device, 2)[:2]
    finally:
        device.close()
    assert first.data.startswith(b"%RH=") and second.data.startswith(b"%RH=")
    assert 5000.0 <= first.timestamp < second.timestamp


def test_timestamps_come_from_the_device_clock() -> None:
    ticks = itertools.count(1234.0)
    device = make_device("Windsonic", clock=lambda: next(ticks))
    device.open()
    try:
        (record, *_) = read_records(device, 1)
    finally:
        device.close()
    assert record.timestamp >= 1234.0


def test_same_seed_same_data() -> None:
    def first_record(seed: int) -> bytes:
        device = make_device("CSAT3B", seed=seed)
        device.open()
        try:
            return bytes(read_records(device, 1)[0].data)
        finally:
            device.close()

    assert first_record(3) == first_record(3)


def test_interrupt_wakes_a_blocked_read() -> None:
    device = make_device("Aurora")  # one record every 2 s
    device.open()
    read_records(device, 1)
    result: list[list[Record]] = []
    reader = threading.Thread(target=lambda: result.append(device.read(60.0)))
    reader.start()
    device.interrupt()
    reader.join(WAIT)
    device.close()
    assert not reader.is_alive()
    assert len(result) == 1  # returned well before its 60 s timeout


def test_interrupt_before_read_is_not_lost() -> None:
    device = make_device("Aurora")
    device.open()
    read_records(device, 1)
    device.interrupt()
    assert device.read(60.0) == []
    device.close()


def test_read_timeout_returns_nothing() -> None:
    device = make_device("Aurora")
    device.open()
    read_records(device, 1)
    assert device.read(0.01) == []
    device.close()


def test_read_when_closed_names_the_device() -> None:
    device = make_device("LD250")
    with pytest.raises(DeviceError, match=r"sim-LD250.*not open"):
        device.read(0.1)


def test_describe_and_presence() -> None:
    device = make_device("Windsonic")
    assert device.describe == "Simulated Windsonic (FTDI)"
    assert device.present() is True


def test_reopen_after_close() -> None:
    device = make_device("EFM100C")
    for _ in range(2):
        device.open()
        assert read_records(device, 3)
        device.close()


class Barometer(Sensor):
    sensor_type = "Barometer"

    def parse(self, record: bytes) -> Reading:
        return Reading([0.0])

    def error_values(self) -> list:
        return [0.0]


def test_sensor_without_simulator_fails_to_open_with_context() -> None:
    config = DeviceConfig(name="baro", sensor_type="Barometer", device_type="Serial")
    device = SimulatedDevice(config, Barometer())
    with pytest.raises(DeviceError, match=r"baro.*Barometer"):
        device.open()
