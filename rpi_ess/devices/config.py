"""Device configuration as received in ``configure`` (PROTOCOL 2.6), and its validation.

The common fields (name, sensor_type, device_type, channels, the CSC's own keys) are
checked here; every backend checks its own fields (``Device.check_config``), so the valid
``device_type`` values are exactly the backend registry's names (python-can's ``BACKENDS``).
Validation collects every problem of every device, each naming the device and the field;
no ``assert`` (it vanishes under ``python -O``) and no exception escapes for bad input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ConfigError", "DeviceConfig", "FieldChecker", "parse_configuration"]


@dataclass(frozen=True)
class DeviceConfig:
    """One validated device entry. Keys the server does not use stay in ``extra``."""

    name: str
    sensor_type: str
    device_type: str
    baud_rate: int = 19200
    channels: int | None = None
    serial_port: str | None = None  # device path or pyserial URL (Serial, Sensirion)
    ftdi_id: str | None = None  # USB serial number of the adapter (FTDI)
    chip: str | None = None  # I2C chip name, e.g. "SHT4x" (I2C)
    i2c_bus: int = 1  # /dev/i2c-N (I2C)
    address: int | None = None  # I2C address; None = the chip's default
    poll_interval: float | None = None  # seconds between polls of a polled device (I2C, SPS30)
    power_relay_pin: int | None = None  # BCM pin of a relay that can power-cycle the instrument
    silence_timeout: float | None = None  # seconds without a record that count as a fault
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def identity(self) -> str:
        """What the instrument is, independent of any connection: name and where it is attached.

        A failure episode (and its error budget, PROTOCOL Appendix C) belongs to this, so it
        survives client reconnects and re-configures of the same instrument.
        """
        where = self.ftdi_id if self.device_type == "FTDI" else self.serial_port
        if self.device_type == "I2C":
            where = f"{self.i2c_bus}:{self.chip}@{self.address}"
        return f"{self.name}|{self.device_type}|{where}"


MAX_CHANNELS = 64
MAX_BAUD = 4_000_000
MAX_SHOWN = 40  # characters of a bad value echoed back, so an error never outgrows the request
MAX_ERRORS = 20  # errors listed in one response; the rest are counted
#: keys the CSC sends for its own use; checked for type only (PROTOCOL 2.6, 6.1)
_ABSENT: Any = object()  # marks a key that is not in the entry (null is a value)

_CSC_KEYS: dict[str, tuple[type, ...]] = {
    "location": (str,),
    "num_samples": (int,),
    "safe_interval": (int, float),
    "threshold": (int, float),
}
#: keys the common checker consumes; backends declare theirs in ``Device.config_keys``
_COMMON_KEYS = frozenset({"name", "sensor_type", "device_type", "channels", "power_relay_pin", "silence_timeout"})


class ConfigError(ValueError):
    """Invalid ``configure`` payload; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]) -> None:
        shown = errors[:MAX_ERRORS]
        more = f"; ... and {len(errors) - MAX_ERRORS} more error(s)" if len(errors) > MAX_ERRORS else ""
        super().__init__("; ".join(shown) + more)
        self.errors = errors


def _show(value: Any) -> str:
    """Short, always-printable repr of a client-supplied value for an error message (JSON spelling)."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    try:
        text = repr(value)
    except ValueError:  # an int too large to print
        text = f"<{type(value).__name__} too large to show>"
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN - 3]}..."


def _is_int(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer()
    )


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool)


class FieldChecker:
    """Collects every error of one device entry, each naming the device and the field.

    An absent key takes the default (the CSC's defaults, PROTOCOL Appendix C) or is reported
    as required; a key present with ``null`` is a wrong type like any other ("got null"): the
    CSC's schema never allows null for these fields. Fields the server ignores (``host``,
    ``port``, which the CSC's ``as_dict`` emits as null) are not checked.
    """

    def __init__(self, index: int, entry: Mapping[str, Any]) -> None:
        name = entry.get("name")
        self.label = f"devices[{index}]" + (f" ({_show(name)})" if isinstance(name, str) else "")
        self.entry = entry
        self.errors: list[str] = []

    def error(self, key: str, problem: str) -> None:
        self.errors.append(f"{self.label}: {key} {problem}")

    def string(self, key: str, required: bool = False, default: str | None = None) -> str | None:
        value = self.entry.get(key, _ABSENT)
        if value is _ABSENT:
            if required:
                self.error(key, "is required")
            return default
        if not isinstance(value, str) or not value.strip():
            self.error(key, f"must be a non-empty string, got {_show(value)}")
            return None
        return value

    def integer(self, key: str, low: int, high: int, default: int | None = None) -> int | None:
        value = self.entry.get(key, _ABSENT)
        if value is _ABSENT:
            return default
        if not _is_int(value) or not low <= value <= high:
            self.error(key, f"must be an integer from {low} to {high}, got {_show(value)}")
            return None
        return int(value)

    def number(self, key: str, low: float, high: float) -> float | None:
        value = self.entry.get(key, _ABSENT)
        if value is _ABSENT:
            return None
        if not _is_number(value) or not low <= value <= high:
            self.error(key, f"must be a number from {low:g} to {high:g}, got {_show(value)}")
            return None
        return float(value)

    def choice(self, key: str, choices: tuple[str, ...] | list[str]) -> str | None:
        value = self.string(key, required=True)
        if value is not None and value not in choices:
            self.error(key, f"must be one of {', '.join(choices)}; got {_show(value)}")
            return None
        return value

    def baud_rate(self, default: int = 19200, zero_means_default: bool = False) -> int | None:
        """``baud_rate``; absent gives ``default`` (the CSC schema's 19200)."""
        if zero_means_default and _is_int(self.entry.get("baud_rate")) and self.entry["baud_rate"] == 0:
            return default
        return self.integer("baud_rate", 50, MAX_BAUD, default=default)


def _parse_device(index: int, entry: Any, sensor_types: tuple[str, ...]) -> DeviceConfig | list[str]:
    from .backends import BACKENDS, backend_class

    if not isinstance(entry, dict):
        return [f"devices[{index}]: must be an object, got {type(entry).__name__}"]
    check = FieldChecker(index, entry)
    name = check.string("name", required=True)
    device_type = check.choice("device_type", tuple(BACKENDS))
    backend = backend_class(device_type) if device_type is not None else None
    sensor_type = check.choice("sensor_type", backend.sensor_types(sensor_types) if backend else sensor_types)
    channels = check.integer("channels", 1, MAX_CHANNELS)
    if sensor_type == "Temperature" and channels is None and not check.errors:
        check.error("channels", "is required for sensor_type Temperature")
    common: dict[str, Any] = {
        "power_relay_pin": check.integer("power_relay_pin", 0, 53),
        "silence_timeout": check.number("silence_timeout", 0.1, 3600.0),
    }
    for key, types in _CSC_KEYS.items():
        value = entry.get(key, _ABSENT)
        if value is not _ABSENT and (not isinstance(value, types) or isinstance(value, bool)):
            check.error(key, f"must be of type {'/'.join(t.__name__ for t in types)}, got {_show(value)}")
    own = backend.check_config(check, sensor_type) if backend is not None else {}
    if check.errors or name is None or sensor_type is None or device_type is None or backend is None:
        return check.errors or [f"{check.label}: invalid device"]
    known = _COMMON_KEYS | backend.config_keys
    values = {"name": name, "sensor_type": sensor_type, "device_type": device_type, "channels": channels,
              **common, **own}
    return DeviceConfig(**values, extra={key: value for key, value in entry.items() if key not in known})


def parse_configuration(
    configuration: Any, sensor_types: tuple[str, ...], max_devices: int = 32
) -> list[DeviceConfig]:
    """Validate a whole ``configure`` payload (every device, unlike the reference).

    Raises ConfigError listing every problem, each naming the device and field.
    """
    if not isinstance(configuration, dict):
        raise ConfigError([f"configuration must be an object, got {type(configuration).__name__}"])
    errors = [f"configuration: unexpected key {_show(key)} (only 'devices' is allowed)"
              for key in configuration if key != "devices"]
    devices = configuration.get("devices")
    if not isinstance(devices, list) or not devices:
        raise ConfigError([*errors, "configuration: devices must be a non-empty list"])
    if len(devices) > max_devices:
        raise ConfigError([*errors, f"configuration: {len(devices)} devices exceed this node's limit of {max_devices}"])
    configs: list[DeviceConfig] = []
    for index, entry in enumerate(devices):
        result = _parse_device(index, entry, sensor_types)
        if isinstance(result, DeviceConfig):
            configs.append(result)
        else:
            errors.extend(result)
    seen: set[str] = set()
    for config in configs:
        if config.name in seen:
            errors.append(f"configuration: duplicate device name {_show(config.name)}")
        seen.add(config.name)
    if errors:
        raise ConfigError(errors)
    return configs
