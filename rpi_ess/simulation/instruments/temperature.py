"""SEL RTD reader: ``C01=0032.1443,...`` with an occasional disconnected probe (``9999.9990``)."""

from __future__ import annotations

from ...sensors.temperature import DISCONNECTED
from .base import InstrumentSimulator

__all__ = ["TemperatureSimulator"]

#: Chance per line that one probe reads as disconnected (a loose connector).
DROPOUT_PROBABILITY = 0.02


class TemperatureSimulator(InstrumentSimulator):
    sensor_type = "Temperature"

    def __init__(self, channels: int | None = None, seed: int | None = None) -> None:
        super().__init__(channels, seed)
        count = max(channels or 1, 1)
        # Probes at different heights and surfaces differ by a degree or two from the air.
        self.offsets = [self.rng.gauss(0.0, 1.0) for _ in range(count)]

    def record(self) -> bytes:
        air = self.weather.temperature
        values = [air + offset + self.rng.gauss(0.0, 0.02) for offset in self.offsets]
        if self.rng.random() < DROPOUT_PROBABILITY:
            values[self.rng.randrange(len(values))] = DISCONNECTED[0]
        fields = (f"C{number:02d}={value:09.4f}" for number, value in enumerate(values, start=1))
        return ",".join(fields).encode("ascii") + b"\r\n"
