"""Omega HX85A / HX85BA: ISO-8859-1 lines with a 0xF8 degree sign, and the ``\\n\\r``
terminator sent just before the next line rather than after its own."""

from __future__ import annotations

from .base import InstrumentSimulator

__all__ = ["HX85ASimulator", "HX85BASimulator"]

DEGREE = "\xf8"  # what the instrument sends; ISO-8859-1 shows it as a slashed o


class HX85ASimulator(InstrumentSimulator):
    sensor_type = "HX85A"

    def __init__(self, channels: int | None = None, seed: int | None = None) -> None:
        super().__init__(channels, seed)
        self._started = False

    def record(self) -> bytes:
        weather = self.weather
        fields = [f"%RH={weather.relative_humidity:.2f}", f"AT{DEGREE}C={weather.temperature:.2f}",
                  self.third_field()]
        prefix = b"\n\r" if self._started else b""  # the previous line's terminator
        self._started = True
        return prefix + ",".join(fields).encode("iso-8859-1")

    def third_field(self) -> str:
        return f"DP{DEGREE}C={self.weather.dew_point:.2f}"


class HX85BASimulator(HX85ASimulator):
    sensor_type = "HX85BA"

    def third_field(self) -> str:
        return f"Pmb={self.weather.pressure:.2f}"
