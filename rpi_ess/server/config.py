"""Device configuration as received in ``configure`` (PROTOCOL 2.6), after validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DeviceConfig"]


@dataclass(frozen=True)
class DeviceConfig:
    """One validated device entry. Keys the server does not use stay in ``extra``."""

    name: str
    sensor_type: str
    device_type: str
    baud_rate: int = 19200
    channels: int | None = None
    serial_port: str | None = None  # device path or pyserial URL (Serial)
    ftdi_id: str | None = None  # USB serial number of the adapter (FTDI)
    chip: str | None = None  # I2C chip name, e.g. "SHT4x" (I2C)
    i2c_bus: int = 1  # /dev/i2c-N (I2C)
    address: int | None = None  # I2C address; None = the chip's default
    poll_interval: float | None = None  # seconds between polls of a polled device (I2C, SPS30)
    power_relay_pin: int | None = None  # BCM pin of a relay that can power-cycle the instrument
    extra: Mapping[str, Any] = field(default_factory=dict)
