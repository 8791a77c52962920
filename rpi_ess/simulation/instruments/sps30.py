"""Sensirion SPS30: the 40-byte payload of a "read measured values" reply (no SHDLC
framing; the serial-level emulator is :mod:`rpi_ess.simulation.sps30_emulator`).

Concentrations are cumulative like the sensor's: PM1 <= PM2.5 <= PM4 <= PM10 for mass
and PM0.5 <= ... <= PM10 for number.
"""

from __future__ import annotations

from ...sensors.sps30 import PAYLOAD
from .base import InstrumentSimulator, RandomWalk

__all__ = ["Sps30Simulator"]

#: Mass PM1, PM2.5, PM4, PM10 relative to PM2.5 for typical fine dust.
MASS_SHAPE = (0.8, 1.0, 1.05, 1.08)
#: Number PM0.5 ... PM10 (#/cm3) per ug/m3 of PM2.5.
NUMBER_SHAPE = (3.5, 4.0, 4.05, 4.06, 4.065)


class Sps30Simulator(InstrumentSimulator):
    sensor_type = "Sps30"

    def __init__(self, channels: int | None = None, seed: int | None = None) -> None:
        super().__init__(channels, seed)
        self.pm25 = RandomWalk(self.rng, self.rng.uniform(1.0, 8.0), 0.2, 0.3, 60.0)
        self.typical_size = RandomWalk(self.rng, self.rng.uniform(0.4, 0.8), 0.01, 0.3, 1.5)

    def record(self) -> bytes:
        pm25 = self.pm25.step(self.period)
        mass = [pm25 * factor for factor in MASS_SHAPE]
        number = [pm25 * factor for factor in NUMBER_SHAPE]
        return PAYLOAD.pack(*mass, *number, self.typical_size.step(self.period))
