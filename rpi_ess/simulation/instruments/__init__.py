"""Instrument simulators: the exact bytes each sensor type sends, one record per call.

``create_simulator(sensor_type, channels, seed)`` returns an object with ``period``
(seconds between records) and ``next_bytes()``; used by the ``sim://`` serial ports,
the pseudo-terminal instruments, tests and benchmarks.
"""

from __future__ import annotations

from .aurora import AuroraSimulator
from .base import InstrumentSimulator
from .boltek import EFM100CSimulator, LD250Simulator
from .csat3b import CSAT3BSimulator
from .hx85 import HX85ASimulator, HX85BASimulator
from .sps30 import Sps30Simulator
from .temperature import TemperatureSimulator
from .windsonic import WindsonicSimulator

__all__ = ["SIMULATORS", "InstrumentSimulator", "create_simulator"]

SIMULATORS: dict[str, type[InstrumentSimulator]] = {
    cls.sensor_type: cls
    for cls in (
        TemperatureSimulator, HX85ASimulator, HX85BASimulator, WindsonicSimulator, CSAT3BSimulator,
        LD250Simulator, EFM100CSimulator, AuroraSimulator, Sps30Simulator,
    )
}


def create_simulator(sensor_type: str, channels: int | None = None, seed: int | None = None) -> InstrumentSimulator:
    """A simulator for ``sensor_type``; ValueError naming the known types otherwise."""
    try:
        cls = SIMULATORS[sensor_type]
    except KeyError:
        raise ValueError(f"no simulator for sensor_type {sensor_type!r}; known: {', '.join(SIMULATORS)}") from None
    return cls(channels, seed)
