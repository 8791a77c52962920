"""Emulated I2C hardware: a bus with the Blinka interface and chips that speak their real protocol.

Typical use (tests, ``diag --simulate``)::

    buses = EmulatedBuses()
    sht = buses.attach(1, Sht4xEmulator(temperature=21.5, humidity=40.0))
    device = I2cDevice(config, sensor, bus_factory=buses)   # or set i2c.bus_factory = buses
    sht.temperature = 25.0       # the next reading follows
    sht.unplug()                 # the next transfer NACKs

Simulation mode selects it by configuration instead: after :func:`register`, a device entry
with ``"i2c_bus_factory": "sim"`` gets a bus of its own with its chip's emulator attached.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ...devices.chips import chip_info
from .bosch import Bme280Emulator
from .bus import ChipEmulator, EmulatedBuses, EmulatedI2C, Nack
from .registers import Mcp9808Emulator, Tmp117Emulator
from .sensirion import SensirionChip, Sht3xEmulator, Sht4xEmulator, Sps30Emulator

if TYPE_CHECKING:
    from ...server.config import DeviceConfig

__all__ = [
    "EMULATORS",
    "Bme280Emulator",
    "ChipEmulator",
    "EmulatedBuses",
    "EmulatedI2C",
    "Mcp9808Emulator",
    "Nack",
    "SensirionChip",
    "Sht3xEmulator",
    "Sht4xEmulator",
    "Sps30Emulator",
    "Tmp117Emulator",
    "emulate_devices",
    "register",
    "simulated_bus",
]

#: chip name (as in a device configuration's ``chip``) -> emulator class
EMULATORS: dict[str, type[ChipEmulator]] = {
    cls.chip: cls
    for cls in (Sht4xEmulator, Sht3xEmulator, Bme280Emulator, Mcp9808Emulator, Tmp117Emulator, Sps30Emulator)
}


def emulate_devices(configs: Iterable[DeviceConfig], buses: EmulatedBuses | None = None) -> EmulatedBuses:
    """Attach a chip emulator with default values for every I2C entry (``diag --simulate``)."""
    buses = buses if buses is not None else EmulatedBuses()
    for config in configs:
        info = chip_info(config.chip or "") if config.device_type == "I2C" else None
        if info is not None:
            address = info.default_address if config.address is None else config.address
            buses.attach(config.i2c_bus, EMULATORS[info.name](), address)
    return buses


def simulated_bus(config: DeviceConfig) -> EmulatedBuses:
    """The ``sim`` bus factory: a bus with an emulator of the configured chip at its address."""
    return emulate_devices([config])


def register() -> None:
    """Let device entries choose ``"i2c_bus_factory": "sim"``; idempotent."""
    from ...devices.interfaces import i2c

    i2c.BUS_FACTORIES.setdefault("sim", simulated_bus)
