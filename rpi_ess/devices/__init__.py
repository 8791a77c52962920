"""Device backends, one per bus kind, chosen by the configuration's ``device_type`` string.

Backends are imported lazily so that optional hardware stacks (pyftdi, Blinka) are needed
only on nodes that use them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .base import Device, DeviceError, Record

if TYPE_CHECKING:
    from ..sensors.base import Sensor
    from ..server.config import DeviceConfig

__all__ = ["DEVICE_TYPES", "Device", "DeviceError", "Record", "create_device", "device_class"]

#: device_type string -> "module:Class". "Simulated" is what every device becomes with --simulate.
DEVICE_TYPES: dict[str, str] = {
    "Serial": "rpi_ess.devices.interfaces.serial:SerialDevice",
    "FTDI": "rpi_ess.devices.interfaces.ftdi:FtdiDevice",
    "I2C": "rpi_ess.devices.interfaces.i2c:I2cDevice",
    "Simulated": "rpi_ess.devices.interfaces.simulated:SimulatedDevice",
}


def device_class(device_type: str) -> type[Device]:
    try:
        target = DEVICE_TYPES[device_type]
    except KeyError:
        raise DeviceError(f"unknown device_type {device_type!r}; known: {', '.join(DEVICE_TYPES)}") from None
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise DeviceError(f"device_type {device_type!r} needs an optional package that is missing: {e}") from e
    return getattr(module, class_name)


def create_device(config: DeviceConfig, sensor: Sensor, simulate: bool = False) -> Device:
    """Build (not open) the backend for ``config``; with ``simulate`` every device is simulated."""
    return device_class("Simulated" if simulate else config.device_type)(config, sensor)
