"""Device configuration as received in ``configure`` (PROTOCOL 2.6), after validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ConfigError", "DeviceConfig", "parse_configuration"]


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


# --- validation -------------------------------------------------------------------------------

DEVICE_KINDS = ("Serial", "FTDI", "I2C")
MAX_CHANNELS = 64
MAX_BAUD = 4_000_000
#: keys the CSC sends for its own use; checked for type only (PROTOCOL 2.6, 6.1)
_CSC_KEYS: dict[str, tuple[type, ...]] = {
    "location": (str,),
    "num_samples": (int,),
    "safe_interval": (int, float),
    "threshold": (int, float),
}


class ConfigError(ValueError):
    """Invalid ``configure`` payload; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]) -> None:
        shown = errors[:MAX_ERRORS]
        more = f"; ... and {len(errors) - MAX_ERRORS} more error(s)" if len(errors) > MAX_ERRORS else ""
        super().__init__("; ".join(shown) + more)
        self.errors = errors


MAX_SHOWN = 40  # characters of a bad value echoed back, so an error never outgrows the request
MAX_ERRORS = 20  # errors listed in one response; the rest are counted


def _show(value: Any) -> str:
    """Short, always-printable repr of a client-supplied value for an error message."""
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
    return isinstance(value, int | float) and not isinstance(value, bool)


class _DeviceChecker:
    """Collects every error of one device entry, each naming the device and the field."""

    def __init__(self, index: int, entry: dict[str, Any]) -> None:
        name = entry.get("name")
        self.label = f"devices[{index}]" + (f" ({_show(name)})" if isinstance(name, str) else "")
        self.entry = entry
        self.errors: list[str] = []

    def error(self, key: str, problem: str) -> None:
        self.errors.append(f"{self.label}: {key} {problem}")

    def string(self, key: str, required: bool) -> str | None:
        value = self.entry.get(key)
        if value is None:
            if required:
                self.error(key, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(key, f"must be a non-empty string, got {_show(value)}")
            return None
        return value

    def integer(self, key: str, low: int, high: int, default: int | None = None) -> int | None:
        value = self.entry.get(key, default)
        if value is None:
            return None
        if not _is_int(value) or not low <= value <= high:
            self.error(key, f"must be an integer from {low} to {high}, got {_show(value)}")
            return None
        return int(value)

    def number(self, key: str, low: float, high: float) -> float | None:
        value = self.entry.get(key)
        if value is None:
            return None
        if not _is_number(value) or not low <= value <= high:
            self.error(key, f"must be a number from {low} to {high}, got {_show(value)}")
            return None
        return float(value)

    def choice(self, key: str, choices: tuple[str, ...] | list[str]) -> str | None:
        value = self.string(key, required=True)
        if value is not None and value not in choices:
            self.error(key, f"must be one of {', '.join(choices)}; got {_show(value)}")
            return None
        return value


_KNOWN_KEYS = frozenset(
    {"name", "sensor_type", "device_type", "baud_rate", "channels", "serial_port", "ftdi_id", "chip",
     "i2c_bus", "address", "poll_interval", "power_relay_pin"}
)


def _parse_device(index: int, entry: Any, sensor_types: tuple[str, ...]) -> tuple[DeviceConfig | None, list[str]]:
    if not isinstance(entry, dict):
        return None, [f"devices[{index}]: must be an object, got {type(entry).__name__}"]
    check = _DeviceChecker(index, entry)
    name = check.string("name", required=True)
    sensor_type = check.choice("sensor_type", sensor_types)
    device_type = check.choice("device_type", DEVICE_KINDS)
    baud_rate = check.integer("baud_rate", 50, MAX_BAUD, default=19200)
    channels = check.integer("channels", 1, MAX_CHANNELS)
    if sensor_type == "Temperature" and "channels" not in entry:
        check.error("channels", "is required for sensor_type Temperature")
    serial_port = check.string("serial_port", required=device_type == "Serial")
    ftdi_id = check.string("ftdi_id", required=device_type == "FTDI")
    chip = check.string("chip", required=device_type == "I2C")
    i2c_bus = check.integer("i2c_bus", 0, 255, default=1)
    address = _address(check)
    poll_interval = check.number("poll_interval", 0.05, 3600.0)
    relay_pin = check.integer("power_relay_pin", 0, 53)
    for key, types in _CSC_KEYS.items():
        if key in entry and (not isinstance(entry[key], types) or isinstance(entry[key], bool)):
            check.error(key, f"must be of type {'/'.join(t.__name__ for t in types)}, got {_show(entry[key])}")
    if device_type == "I2C" and chip is not None and sensor_type is not None:
        check.errors.extend(f"{check.label}: {problem}" for problem in _i2c_problems(chip, sensor_type, address))
    if check.errors:
        return None, check.errors
    assert name is not None and sensor_type is not None and device_type is not None and baud_rate is not None
    extra = {key: value for key, value in entry.items() if key not in _KNOWN_KEYS}
    return DeviceConfig(
        name=name, sensor_type=sensor_type, device_type=device_type, baud_rate=baud_rate, channels=channels,
        serial_port=serial_port, ftdi_id=ftdi_id, chip=chip, i2c_bus=i2c_bus if i2c_bus is not None else 1,
        address=address, poll_interval=poll_interval, power_relay_pin=relay_pin, extra=extra,
    ), []


def _address(check: _DeviceChecker) -> int | None:
    """I2C address as an integer or a hex string such as ``"0x44"``."""
    value = check.entry.get("address")
    if isinstance(value, str):
        try:
            value = int(value, 0)
        except ValueError:
            check.error("address", f"must be an integer or a hex string like '0x44', got {_show(value)}")
            return None
        check.entry = {**check.entry, "address": value}
    return check.integer("address", 0x03, 0x77)


def _i2c_problems(chip: str, sensor_type: str, address: int | None) -> list[str]:
    """Chip-specific checks live with the I2C backend (imported only when I2C is used)."""
    try:
        from ..devices.interfaces.i2c import validate_chip
    except ImportError:  # backend module not installed in this build
        return []
    return validate_chip(chip, sensor_type, address)


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
        config, problems = _parse_device(index, entry, sensor_types)
        errors.extend(problems)
        if config is not None:
            configs.append(config)
    seen: set[str] = set()
    for config in configs:
        if config.name in seen:
            errors.append(f"configuration: duplicate device name {_show(config.name)}")
        seen.add(config.name)
    if errors:
        raise ConfigError(errors)
    return configs
