"""Campbell CSAT3B at 10 Hz: turbulent wind components, sonic temperature, a 0-63
record counter that wraps, and the signature over the text up to ``diag`` (as in the
manufacturer's example line)."""

from __future__ import annotations

import math

from ...sensors.csat3b import signature
from .base import InstrumentSimulator

__all__ = ["CSAT3BSimulator"]

COUNTER_MODULO = 64


class CSAT3BSimulator(InstrumentSimulator):
    sensor_type = "CSAT3B"

    def __init__(self, channels: int | None = None, seed: int | None = None) -> None:
        super().__init__(channels, seed)
        self.counter = self.rng.randrange(COUNTER_MODULO)

    def record(self) -> bytes:
        weather, gauss = self.weather, self.rng.gauss
        heading = math.radians(weather.direction)
        gust = 0.1 + 0.1 * weather.wind_speed  # turbulence grows with the mean wind
        ux = weather.wind_speed * math.cos(heading) + gauss(0.0, gust)
        uy = weather.wind_speed * math.sin(heading) + gauss(0.0, gust)
        uz = gauss(0.0, gust / 2)
        sonic_temperature = weather.temperature + gauss(0.0, 0.05)
        signed = f"{ux:.5f},{uy:.5f},{uz:.5f},{sonic_temperature:.5f},0".encode("iso-8859-1")
        self.counter = (self.counter + 1) % COUNTER_MODULO
        return signed + b",%d,%04x\r\n" % (self.counter, signature(signed))
