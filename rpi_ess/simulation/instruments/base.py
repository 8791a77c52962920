"""What every simulated instrument shares: a clock-driven record generator and a sky.

Values are random walks (Brownian drift reflected into physical bounds) stepped by the
instrument's own period, so a 10 Hz anemometer and a 2 s cloud sensor see the same kind
of slowly changing night, and a fixed seed gives the same byte stream every time.
"""

from __future__ import annotations

import abc
import math
import random
from typing import ClassVar

from ...sensors import create_sensor
from ...sensors.dewpoint import relative_humidity

__all__ = ["InstrumentSimulator", "RandomWalk", "Weather"]


class RandomWalk:
    """A value drifting by ``sigma`` per sqrt(second), reflected into [low, high]."""

    def __init__(self, rng: random.Random, start: float, sigma: float, low: float, high: float) -> None:
        self.rng = rng
        self.value = start
        self.sigma = sigma
        self.low = low
        self.high = high

    def step(self, dt: float) -> float:
        value = self.value + self.rng.gauss(0.0, self.sigma * math.sqrt(dt))
        if value < self.low:
            value = 2 * self.low - value
        elif value > self.high:
            value = 2 * self.high - value
        self.value = min(max(value, self.low), self.high)
        return self.value


class Weather:
    """A slowly varying night at a high, dry site (Cerro Pachon, ~2700 m, ~740 mbar)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.air = RandomWalk(rng, rng.uniform(2.0, 14.0), 0.02, -10.0, 25.0)
        self.dew_depression = RandomWalk(rng, rng.uniform(3.0, 15.0), 0.02, 0.5, 30.0)
        self.barometer = RandomWalk(rng, rng.uniform(738.0, 748.0), 0.01, 700.0, 1000.0)
        #: Below zero the air is calm: speed 0 and, for the Windsonic, no direction.
        self.wind = RandomWalk(rng, rng.uniform(0.5, 6.0), 0.15, -1.0, 20.0)
        self.direction = rng.uniform(0.0, 360.0)  # degrees the wind comes from

    def advance(self, dt: float) -> None:
        for walk in (self.air, self.dew_depression, self.barometer, self.wind):
            walk.step(dt)
        self.direction = (self.direction + self.rng.gauss(0.0, 3.0 * math.sqrt(dt))) % 360.0

    @property
    def temperature(self) -> float:
        return self.air.value

    @property
    def dew_point(self) -> float:
        return self.air.value - self.dew_depression.value

    @property
    def relative_humidity(self) -> float:
        return relative_humidity(self.temperature, self.dew_point)

    @property
    def pressure(self) -> float:
        return self.barometer.value

    @property
    def wind_speed(self) -> float:
        return max(self.wind.value, 0.0)


class InstrumentSimulator(abc.ABC):
    """Produces, one call per record, the exact bytes the instrument would send."""

    sensor_type: ClassVar[str]

    def __init__(self, channels: int | None = None, seed: int | None = None) -> None:
        self.channels = channels
        self.rng = random.Random(seed)
        self.weather = Weather(self.rng)
        #: Seconds between records, the same nominal period the parser announces.
        self.period: float = create_sensor(self.sensor_type, channels).period

    def next_bytes(self) -> bytes:
        """The next record, terminator and charset included."""
        self.weather.advance(self.period)
        return self.record()

    @abc.abstractmethod
    def record(self) -> bytes:
        """Format one record from the current state."""
