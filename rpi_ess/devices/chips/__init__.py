"""The I2C chips rpi_ess reads, and which telemetry layouts each can feed.

A chip measures some quantities; a ``sensor_type`` layout (PROTOCOL 4.2, 4.3, 4.1, 4.9)
needs some. A chip can feed every layout whose quantities it measures, so an SHT4x can
stand in for an HX85A (RH, T, computed dew point) and a BME280 for an HX85BA (plus
pressure). Importing this package needs no hardware library; the drivers load on open.
"""

from __future__ import annotations

from dataclasses import dataclass

from .adapters import (
    Bme280Adapter,
    ChipAdapter,
    Mcp9808Adapter,
    Sht3xAdapter,
    Sht4xAdapter,
    Sps30Adapter,
    Tmp117Adapter,
)
from .sps30 import SPS30_FIELDS

__all__ = ["CHIPS", "LAYOUTS", "ChipInfo", "chip_info", "validate_chip"]

T, RH, P = "temperature", "relative_humidity", "pressure"

#: sensor_type -> the quantities, in order, that its ``Sensor.from_values`` takes
LAYOUTS: dict[str, tuple[str, ...]] = {
    "HX85A": (RH, T),
    "HX85BA": (RH, T, P),
    "Temperature": (T,),
    "Sps30": SPS30_FIELDS,
}


@dataclass(frozen=True)
class ChipInfo:
    name: str
    default_address: int
    addresses: tuple[int, ...]  # addresses the chip can be strapped to
    measures: frozenset[str]
    adapter: type[ChipAdapter]
    poll_interval: float = 1.0  # default seconds between reads

    @property
    def sensor_types(self) -> tuple[str, ...]:
        """Layouts this chip can feed."""
        return tuple(sensor_type for sensor_type, needs in LAYOUTS.items() if self.measures.issuperset(needs))


CHIPS: dict[str, ChipInfo] = {
    info.name: info
    for info in (
        ChipInfo("SHT4x", 0x44, (0x44, 0x45, 0x46), frozenset({T, RH}), Sht4xAdapter),
        ChipInfo("SHT3x", 0x44, (0x44, 0x45), frozenset({T, RH}), Sht3xAdapter),
        ChipInfo("BME280", 0x77, (0x76, 0x77), frozenset({T, RH, P}), Bme280Adapter),
        ChipInfo("MCP9808", 0x18, tuple(range(0x18, 0x20)), frozenset({T}), Mcp9808Adapter),
        ChipInfo("TMP117", 0x48, (0x48, 0x49, 0x4A, 0x4B), frozenset({T}), Tmp117Adapter),
        ChipInfo("SPS30", 0x69, (0x69,), frozenset(SPS30_FIELDS), Sps30Adapter),
    )
}


def chip_info(name: str) -> ChipInfo | None:
    """Look a chip up by name, ignoring case ("sht4x" is the SHT4x)."""
    return CHIPS.get(name) or next((info for key, info in CHIPS.items() if key.lower() == name.lower()), None)


def validate_chip(chip: str, sensor_type: str, address: int | None) -> list[str]:
    """Problems with an I2C device entry, each a readable sentence; empty when it is fine."""
    info = chip_info(chip)
    if info is None:
        return [f"chip {chip!r} is not supported; supported chips: {', '.join(CHIPS)}"]
    problems = []
    if sensor_type not in info.sensor_types:
        problems.append(
            f"chip {info.name} cannot provide sensor_type {sensor_type!r}; "
            f"it can provide: {', '.join(info.sensor_types)}")
    if address is not None and address not in info.addresses:
        problems.append(
            f"address {address:#04x} is not a {info.name} address; "
            f"allowed: {', '.join(f'{a:#04x}' for a in info.addresses)}")
    return problems
