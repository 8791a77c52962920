"""Aurora cloud sensor: the fixed 56-character LF-terminated line every ~2 s.

Sky temperature follows cloud cover (a clear sky is ~25 K colder than the air), clarity
is ambient minus sky, as in the manufacturer's example. The alarm field's bit meanings
are not documented; here bit 0 = cloudy, bit 1 = rain, bit 2 = daylight (synthetic).
"""

from __future__ import annotations

from .base import InstrumentSimulator, RandomWalk

__all__ = ["AuroraSimulator"]

CLEAR_SKY_DEPRESSION = 25.0  # K below ambient
SEQUENCE_MODULO = 100_000
CLOUDY_CLARITY, DAYLIGHT = 10.0, 20.0


class AuroraSimulator(InstrumentSimulator):
    sensor_type = "Aurora"

    def __init__(self, channels: int | None = None, seed: int | None = None) -> None:
        super().__init__(channels, seed)
        self.sequence = self.rng.randrange(SEQUENCE_MODULO)
        self.clouds = RandomWalk(self.rng, self.rng.uniform(0.0, 0.5), 0.02, 0.0, 1.0)
        self.light = RandomWalk(self.rng, self.rng.uniform(0.0, 2.0), 0.05, 0.0, 50.0)
        self.rain = RandomWalk(self.rng, -5.0, 0.2, -10.0, 20.0)  # below 0 = dry

    def record(self) -> bytes:
        self.sequence = (self.sequence + 1) % SEQUENCE_MODULO
        ambient = self.weather.temperature
        sky = ambient - CLEAR_SKY_DEPRESSION * (1.0 - self.clouds.step(self.period))
        clarity = ambient - sky
        light, rain = self.light.step(self.period), max(self.rain.step(self.period), 0.0)
        alarm = (clarity < CLOUDY_CLARITY) | (rain > 0) << 1 | (light > DAYLIGHT) << 2
        line = (f"$20,FF,{self.sequence:05d},{round(ambient * 100):05d},{round(sky * 100):05d},"
                f"{round(clarity * 100):05d},{round(light * 10):03d},{round(rain * 10):03d},"
                f"8FFF,0104,{alarm:02d},00!\n")
        return line.encode("ascii")
