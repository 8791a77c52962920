"""Instrument parsers, one per ``sensor_type`` (PROTOCOL section 4), and their registry."""

from __future__ import annotations

from .aurora import Aurora
from .base import NAN, Field, Reading, Sensor
from .csat3b import CSAT3B
from .efm100c import EFM100C
from .hx85a import HX85A
from .hx85ba import HX85BA
from .ld250 import LD250
from .sps30 import Sps30
from .temperature import Temperature
from .windsonic import Windsonic

__all__ = ["NAN", "SENSOR_TYPES", "Field", "Reading", "Sensor", "create_sensor"]

#: sensor_type string (as in the configuration) -> parser class.
SENSOR_TYPES: dict[str, type[Sensor]] = {
    cls.sensor_type: cls
    for cls in (Temperature, HX85A, HX85BA, Windsonic, CSAT3B, LD250, EFM100C, Aurora, Sps30)
}


def create_sensor(sensor_type: str, channels: int | None = None) -> Sensor:
    """The parser for ``sensor_type``; ValueError naming the known types otherwise."""
    try:
        cls = SENSOR_TYPES[sensor_type]
    except KeyError:
        raise ValueError(f"unknown sensor_type {sensor_type!r}; known: {', '.join(SENSOR_TYPES)}") from None
    return cls(channels)
