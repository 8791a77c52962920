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

from .bosch import Bme280Emulator
from .bus import ChipEmulator, EmulatedBuses, EmulatedI2C, Nack
from .node import EMULATORS, DriftingValues, emulate_devices, register, simulated_bus
from .registers import Mcp9808Emulator, Tmp117Emulator
from .sensirion import SensirionChip, Sht3xEmulator, Sht4xEmulator, Sps30Emulator

__all__ = [
    "EMULATORS",
    "Bme280Emulator",
    "ChipEmulator",
    "DriftingValues",
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
