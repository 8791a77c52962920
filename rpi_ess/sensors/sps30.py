"""Sensirion SPS30 particulate-matter sensor (PROTOCOL 4.9).

The sensor is polled over SHDLC (or I2C); the device layer hands over the 40-byte data
payload of a "read measured values" reply: ten big-endian float32 in datasheet order,
mass concentration PM1.0, PM2.5, PM4.0, PM10 (ug/m3), number concentration PM0.5, PM1.0,
PM2.5, PM4.0, PM10 (#/cm3), typical particle size (um).

The reference never produced a parsable SPS30 line, so the output layout is the one the
CSC's ``Sps30Processor`` reads (19 elements, it uses elements 2-17)::

    ["SPS30", NaN, 0.5, 1.0, 2.5, 4.0, 10.0,            # name, timestamp, 5 particle sizes (um)
     NaN, pm1, pm2.5, pm4, pm10,                        # mass per size; PM0.5 mass is not measured
     n0.5, n1, n2.5, n4, n10, typical_size, ""]         # number per size, typical size, location

Element 1 (the instrument timestamp, unread by the CSC) is NaN because the sensor sends
none; the telemetry line carries the real timestamp. Values are rounded to 3 decimals,
far below the sensor's accuracy, so that float32 noise digits are not sent.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any, ClassVar

from .base import NAN, Field, Reading, Sensor
from .fields import snippet

__all__ = ["PARTICLE_SIZES", "PAYLOAD", "Sps30"]

NAME = "SPS30"
LOCATION = ""
PARTICLE_SIZES = [0.5, 1.0, 2.5, 4.0, 10.0]
#: The read-measured-values payload: ten big-endian IEEE-754 float32.
PAYLOAD = struct.Struct(">10f")
_DECIMALS = 3


class Sps30(Sensor):
    sensor_type = "Sps30"
    baud_rate = 115200
    period = 1.0
    protocol = "shdlc"
    fields: ClassVar[tuple[Field, ...]] = (
        Field("name", show="none"),
        Field("instrument timestamp", show="none"),
        *(Field("particle size", unit="µm", show="none") for _ in PARTICLE_SIZES),
        Field("mass concentration PM0.5", "PM0.5", show="none"),  # not measured: always NaN
        *(Field("mass concentration", f"PM{size:g}", "µg/m³", 1) for size in PARTICLE_SIZES[1:]),
        *(Field("number concentration", f"N{size:g}", "#/cm³", show="none") for size in PARTICLE_SIZES),
        Field("typical particle size", "typical", "µm", 2),
        Field("location", show="none"),
    )

    def parse(self, record: bytes) -> Reading:
        if len(record) != PAYLOAD.size:
            return self.error_reading(f"SPS30 payload must be {PAYLOAD.size} bytes, got {len(record)}: "
                                      f"{snippet(record)}")
        return self.from_values(PAYLOAD.unpack(record))

    def from_values(self, values: Sequence[float]) -> Reading:
        """The ten measured values in datasheet order (also what the I2C driver returns)."""
        if len(values) != PAYLOAD.size // 4:
            return self.error_reading(f"SPS30 needs 10 values, got {len(values)}")
        numbers = [round(float(value), _DECIMALS) for value in values]
        if not all(math.isfinite(value) for value in numbers):
            return self.error_reading(f"SPS30 returned a non-finite value: {numbers}")
        mass, count, typical = numbers[:4], numbers[4:9], numbers[9]
        return Reading([NAME, NAN, *PARTICLE_SIZES, NAN, *mass, *count, typical, LOCATION])

    def error_values(self) -> list[Any]:
        return [NAME, NAN, *PARTICLE_SIZES, *[NAN] * 11, LOCATION]
