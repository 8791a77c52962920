"""Gill Windsonic: STX/ETX framed polar wind, no direction while calm (< 0.05 m/s)."""

from __future__ import annotations

from ...sensors.windsonic import windsonic_line
from .base import InstrumentSimulator

__all__ = ["WindsonicSimulator"]

CALM = 0.05  # m/s; below this the Windsonic leaves the direction empty


class WindsonicSimulator(InstrumentSimulator):
    sensor_type = "Windsonic"

    def record(self) -> bytes:
        speed = round(self.weather.wind_speed, 2)
        direction = "" if speed < CALM else f"{round(self.weather.direction) % 360:03d}"
        return windsonic_line(f"Q,{direction},{speed:06.2f},M,00,".encode("ascii"))
