"""Boltek LD-250 lightning detector and EFM-100C field mill, with the checksums the
Boltek documentation's examples use (see :mod:`rpi_ess.sensors.checksums`)."""

from __future__ import annotations

from collections import deque

from ...sensors.checksums import efm100c_checksum, ld250_checksum
from .base import InstrumentSimulator, RandomWalk

__all__ = ["EFM100CSimulator", "LD250Simulator"]

#: Chance that a record slot carries a strike sentence instead of the status sentence.
STRIKE_PROBABILITY = 0.05
CLOSE_STRIKE_MILES = 30
SEVERE_RATE = 10  # strikes/min that raise the severe alarm
RATE_WINDOW = 60.0  # s


def _sentence(body: str, checksum: int) -> bytes:
    return b"$%s*%02X\r\n" % (body.encode("ascii"), checksum)


class LD250Simulator(InstrumentSimulator):
    """Status once a period; now and then a strike, which also raises the strike rates."""

    sensor_type = "LD250"

    def __init__(self, channels: int | None = None, seed: int | None = None) -> None:
        super().__init__(channels, seed)
        self.heading = self.rng.randrange(3600) / 10  # compass heading of the antenna
        self.clock = 0.0
        self.strikes: deque[tuple[float, int]] = deque()  # (time, corrected distance)

    def record(self) -> bytes:
        self.clock += self.period
        while self.strikes and self.strikes[0][0] < self.clock - RATE_WINDOW:
            self.strikes.popleft()
        if self.rng.random() < STRIKE_PROBABILITY:
            distance = self.rng.randint(0, 300)
            uncorrected = min(300, distance + self.rng.randint(0, 5))
            self.strikes.append((self.clock, distance))
            body = f"WIMLI,{distance},{uncorrected},{self.rng.randrange(3600) / 10:05.1f}"
        else:
            total = len(self.strikes)
            close = sum(1 for _, distance in self.strikes if distance <= CLOSE_STRIKE_MILES)
            body = f"WIMST,{close},{total},{int(close > 0)},{int(total >= SEVERE_RATE)},{self.heading:05.1f}"
        return _sentence(body, ld250_checksum(body.encode("ascii")))


class EFM100CSimulator(InstrumentSimulator):
    """Fair-weather field near +0.5 kV/m drifting within the instrument's +-20 kV/m."""

    sensor_type = "EFM100C"

    def __init__(self, channels: int | None = None, seed: int | None = None) -> None:
        super().__init__(channels, seed)
        self.field = RandomWalk(self.rng, self.rng.uniform(-0.5, 1.5), 0.1, -20.0, 20.0)

    def record(self) -> bytes:
        body = f"{self.field.step(self.period):+06.2f},0"
        return _sentence(body, efm100c_checksum(body.encode("ascii")))
