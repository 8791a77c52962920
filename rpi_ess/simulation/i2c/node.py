"""Emulated chips for configured I2C devices: ``diag --simulate`` and simulation mode."""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ...devices.chips import chip_info
from ...devices.interfaces import i2c as i2c_backend
from ..instruments.base import Weather
from .bosch import Bme280Emulator
from .bus import ChipEmulator, EmulatedBuses
from .registers import Mcp9808Emulator, Tmp117Emulator
from .sensirion import Sht3xEmulator, Sht4xEmulator, Sps30Emulator

if TYPE_CHECKING:
    from ...devices.config import DeviceConfig

__all__ = ["EMULATORS", "DriftingValues", "emulate_devices", "register", "simulated_bus"]

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


class DriftingValues:
    """Moves a chip's physical values (temperature, humidity, pressure) along the same kind of
    night the serial instrument simulators see, so a simulated I2C device does not read a
    constant; called before each transfer (``before_transfer``)."""

    QUANTITIES = ("temperature", "humidity", "pressure")

    def __init__(self, seed: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.weather = Weather(random.Random(seed))
        self.clock = clock
        self._last = clock()

    def __call__(self, chip: ChipEmulator) -> None:
        now = self.clock()
        self.weather.advance(max(0.0, now - self._last))
        self._last = now
        values = (self.weather.temperature, self.weather.relative_humidity, self.weather.pressure)
        for quantity, value in zip(self.QUANTITIES, values, strict=True):
            if hasattr(chip, quantity):
                setattr(chip, quantity, value)


def simulated_bus(config: DeviceConfig) -> EmulatedBuses:
    """The ``sim`` bus factory: a bus with an emulator of the configured chip at its address,
    whose values drift (seeded by the device name, so a simulated node repeats itself)."""
    return emulate_devices([config], EmulatedBuses(DriftingValues(zlib.crc32(config.name.encode()))))


def register() -> None:
    """Let device entries choose ``"i2c_bus_factory": "sim"``; idempotent."""
    i2c_backend.BUS_FACTORIES.setdefault("sim", simulated_bus)
