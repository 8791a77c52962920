"""Property tests: no byte sequence makes a parser raise, and every reading has the shape
the CSC expects (non-empty, type-correct, the right length for its sensor type)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rpi_ess.sensors import SENSOR_TYPES, Reading, Sensor, create_sensor
from rpi_ess.simulation.instruments import create_simulator

LD250_SHAPES = {"WIMST": [str, int, int, int, int, float], "WIMLI": [str, int, int, float], "WIMLN": [str]}
SHAPES: dict[str, list[type]] = {
    "HX85A": [float] * 3,
    "HX85BA": [float] * 4,
    "Windsonic": [float, int | float],
    "CSAT3B": [float] * 4 + [int] * 3,
    "EFM100C": [float, int],
    "Aurora": [int, *[float] * 5, int],
    "Sps30": [str, *[float] * 17, str],
}


def check_shape(sensor: Sensor, reading: Reading) -> None:
    assert isinstance(reading, Reading)
    values = reading.values
    assert values, "values must never be empty (CSC schema minItems 1)"
    if sensor.sensor_type == "Temperature":
        expected = [float] * (sensor.channels or len(values))
    elif sensor.sensor_type == "LD250":
        expected = LD250_SHAPES[values[0]]
    else:
        expected = SHAPES[sensor.sensor_type]
    assert len(values) == len(expected), values
    for value, kind in zip(values, expected, strict=True):
        assert isinstance(value, kind) and not isinstance(value, bool), (values, kind)
        if isinstance(value, float):
            assert not math.isinf(value)
    assert reading.ok or reading.error


SENSORS = [create_sensor(name, 4 if name == "Temperature" else None) for name in SENSOR_TYPES]
SENSORS.append(create_sensor("Temperature"))


@pytest.mark.parametrize("sensor", SENSORS, ids=lambda s: f"{s.sensor_type}-{s.channels}")
@settings(max_examples=300, deadline=None)
@given(record=st.binary(max_size=120))
def test_random_bytes_never_raise(sensor: Sensor, record: bytes) -> None:
    check_shape(sensor, sensor.parse(record))


@st.composite
def damaged_records(draw: st.DrawFn, sensor_type: str) -> bytes:
    """A real record with a few bytes replaced, inserted or removed."""
    simulator = create_simulator(sensor_type, 4, seed=draw(st.integers(0, 2**16)))
    record = simulator.next_bytes()
    terminator = create_sensor(sensor_type).terminator
    if sensor_type != "Sps30":
        record = record.removesuffix(terminator)
    data = bytearray(record)
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(st.integers(0, 255))
        if action == "insert":
            data.insert(position, byte)
        elif data and position < len(data):
            if action == "replace":
                data[position] = byte
            else:
                del data[position]
    return bytes(data)


@pytest.mark.parametrize("sensor_type", list(SENSOR_TYPES))
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_damaged_real_records_never_raise(sensor_type: str, data: st.DataObject) -> None:
    sensor = create_sensor(sensor_type, 4 if sensor_type == "Temperature" else None)
    check_shape(sensor, sensor.parse(data.draw(damaged_records(sensor_type))))


@pytest.mark.parametrize("sensor_type", ["Temperature", "HX85A", "HX85BA", "Sps30"])
@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=False, width=32), max_size=12))
def test_from_values_never_raises(sensor_type: str, values: list[float]) -> None:
    sensor = create_sensor(sensor_type, 3 if sensor_type == "Temperature" else None)
    check_shape(sensor, sensor.from_values(values))
