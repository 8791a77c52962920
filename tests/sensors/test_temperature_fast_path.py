"""The Temperature parser's one-regex path for well-formed lines gives exactly what the
field-by-field path gives (it exists for speed only: the benchmark's saturation scenario)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from rpi_ess.sensors.base import NAN
from rpi_ess.sensors.fields import decode
from rpi_ess.sensors.temperature import Temperature, _read_field

number = st.builds(lambda sign, whole, frac: f"{sign}{whole}{frac}", st.sampled_from(["", "-", "+"]),
                   st.integers(0, 99999), st.sampled_from(["", "."]) | st.integers(0, 9999).map(lambda f: f".{f:04d}"))
field = st.builds(lambda label, value: f"{label}={value}", st.sampled_from(["C01", "C12", "", "x y"]),
                  number | st.sampled_from(["9999.9990", "-201.0000", "nan", " 1.5", "1e3", "1=2", "abc"]))
line = st.lists(field, min_size=1, max_size=10).map(",".join) | st.text("C0123456789=,.+- \r\nxe", max_size=40)


def field_by_field(sensor: Temperature, record: bytes) -> list[float] | None:
    values = [_read_field(part) for part in decode(record, sensor.charset).split(",")]
    if all(value is None for value in values):
        return None
    return sensor._shape([NAN if value is None else value for value in values])


def same(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b, strict=True))


@given(line, st.sampled_from(["", "\r\n", " "]), st.sampled_from([None, 1, 4, 8]))
def test_fast_path_equals_the_field_by_field_path(text: str, ending: str, channels: int | None):
    sensor = Temperature(channels)
    record = (text + ending).encode()
    reading, expected = sensor.parse(record), field_by_field(sensor, record)
    if expected is None:
        assert not reading.ok
    else:
        assert reading.ok and same(reading.values, expected), (record, reading.values, expected)
