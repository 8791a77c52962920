"""The backend registry: one ``Device`` class per ``device_type`` (python-can's ``BACKENDS``).

The valid ``device_type`` values of a configuration are exactly this registry's names.
Backends are imported when first used, so optional hardware stacks (pyftdi, Blinka) are
needed only on nodes that use them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .base import DeviceError

if TYPE_CHECKING:
    from ..sensors.base import Sensor
    from .base import Device
    from .config import DeviceConfig

__all__ = ["BACKENDS", "backend_class", "create_device"]

#: device_type string -> "module:Class"
BACKENDS: dict[str, str] = {
    "Serial": "rpi_ess.devices.interfaces.serial:SerialDevice",
    "FTDI": "rpi_ess.devices.interfaces.ftdi:FtdiDevice",
    "Sensirion": "rpi_ess.devices.interfaces.sensirion:SensirionDevice",
    "I2C": "rpi_ess.devices.interfaces.i2c:I2cDevice",
}


def backend_class(device_type: str) -> type[Device]:
    try:
        target = BACKENDS[device_type]
    except KeyError:
        raise DeviceError(f"unknown device_type {device_type!r}; known: {', '.join(BACKENDS)}") from None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_device(config: DeviceConfig, sensor: Sensor) -> Device:
    """Build (not open) the backend for ``config``."""
    return backend_class(config.device_type)(config, sensor)
