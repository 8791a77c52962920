"""I2C chips (SHT4x, SHT3x, BME280, MCP9808, TMP117, SPS30) read through their real drivers.

The device polls its chip every ``poll_interval`` seconds and returns the numbers in the
order the configured ``sensor_type`` expects (see :data:`rpi_ess.devices.chips.LAYOUTS`).
The bus comes from a swappable factory, as gpiozero does with its pin factory: by default
``/dev/i2c-N`` through Blinka; tests and simulation put an emulated bus in its place::

    from rpi_ess.devices.interfaces import i2c
    i2c.bus_factory = EmulatedBuses()      # every I2cDevice now opens emulated buses

or a device entry names a registered factory (``"i2c_bus_factory": "sim"``, see
:data:`BUS_FACTORIES`), as gpiozero lets a configuration name its pin factory.
"""

from __future__ import annotations

import errno
import os
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ...tai import tai_time
from ..base import Device, DeviceError, Record
from ..chips import CHIPS, LAYOUTS, ChipInfo, chip_info, validate_chip
from ..chips.adapters import ChipAdapter

if TYPE_CHECKING:
    from ...sensors.base import Sensor
    from ..config import DeviceConfig, FieldChecker

__all__ = ["BUS_FACTORIES", "CHIPS", "BusFactory", "I2cDevice", "LinuxBuses", "bus_factory", "validate_chip"]

NOT_READY_RETRY = 0.1  # seconds before asking again a chip that had no new data
NACK_ERRNOS = frozenset({errno.EREMOTEIO, errno.ENXIO, errno.EIO})
INSTALL_HINT = "pip install 'rpi-ess[i2c]'"


class BusFactory(Protocol):
    """Opens bus N and returns a ``busio.I2C``-like object; may offer ``present(N)``."""

    def __call__(self, bus: int) -> Any: ...


class LinuxBuses:
    """The real buses: ``/dev/i2c-N`` opened with Blinka's ``adafruit_extended_bus``."""

    def __call__(self, bus: int) -> Any:
        try:
            from adafruit_extended_bus import ExtendedI2C
        except ImportError as e:
            raise DeviceError(f"I2C needs Adafruit Blinka: {INSTALL_HINT} ({e})") from e
        # Blinka warns on every open that Linux ignores the bus frequency argument.
        warnings.filterwarnings("ignore", "I2C frequency is not settable", RuntimeWarning)
        return ExtendedI2C(bus)

    def present(self, bus: int) -> bool:
        return os.path.exists(f"/dev/i2c-{bus}")


#: Where every I2cDevice without its own factory gets its bus from (module-wide, swappable).
bus_factory: BusFactory = LinuxBuses()
#: Factories a device entry may choose by name with ``i2c_bus_factory``, each built from the
#: device's configuration; other packages register theirs (rpi_ess.simulation: "sim").
BUS_FACTORIES: dict[str, Callable[[DeviceConfig], BusFactory]] = {}


class I2cDevice(Device):
    """One chip at one address on one bus, polled from the device's reader thread."""

    config_keys: ClassVar[frozenset[str]] = frozenset({"chip", "i2c_bus", "address", "poll_interval"})

    @classmethod
    def check_config(cls, check: FieldChecker, sensor_type: str | None) -> dict[str, Any]:
        chip = check.string("chip", required=True)
        address = _address(check)
        if chip is not None and sensor_type is not None:
            for problem in validate_chip(chip, sensor_type, address):
                check.errors.append(f"{check.label}: {problem}")
        return {
            "chip": chip,
            "i2c_bus": check.integer("i2c_bus", 0, 255, default=1),
            "address": address,
            "poll_interval": check.number("poll_interval", 0.05, 3600.0),
        }

    def __init__(
        self,
        config: DeviceConfig,
        sensor: Sensor,
        clock: Callable[[], float] = tai_time,
        *,
        bus_factory: BusFactory | None = None,
    ) -> None:
        super().__init__(config, sensor, clock)
        problems = validate_chip(config.chip or "", config.sensor_type, config.address)
        if problems:
            raise DeviceError(f"{config.name}: {'; '.join(problems)}")
        info = chip_info(config.chip or "")
        if info is None:  # validate_chip has reported it
            raise DeviceError(f"{config.name}: unknown I2C chip {config.chip!r}", "open")
        self.chip: ChipInfo = info
        self.address = info.default_address if config.address is None else config.address
        self.poll_interval = config.poll_interval or info.poll_interval
        self._layout = LAYOUTS[config.sensor_type]
        named = config.extra.get("i2c_bus_factory")
        if bus_factory is None and named is not None:
            if named not in BUS_FACTORIES:
                known = ", ".join(BUS_FACTORIES) or "none registered"
                raise DeviceError(f"{config.name}: unknown i2c_bus_factory {named!r}; known: {known}")
            bus_factory = BUS_FACTORIES[named](config)
        self._factory = bus_factory
        self._bus: Any = None
        self._adapter: ChipAdapter | None = None
        self._next_poll = 0.0

    @property
    def factory(self) -> BusFactory:
        return self._factory if self._factory is not None else bus_factory

    @property
    def bus_path(self) -> str:
        return f"/dev/i2c-{self.config.i2c_bus}"

    @property
    def describe(self) -> str:
        return f"I2C {self.chip.name} @{self.address:#04x} on {self.bus_path}"

    def open(self) -> None:
        self.close()
        try:
            self._bus = self.factory(self.config.i2c_bus)
        except Exception as e:
            raise self._error(f"cannot open {self.bus_path}: {e}", "open") from e
        try:
            self._adapter = self.chip.adapter(self._bus, self.address)
        except ImportError as e:
            self.close()
            raise self._error(f"the {self.chip.name} driver is missing: {INSTALL_HINT} ({e})", "open") from e
        except Exception as e:  # whatever the driver raises: NACK, wrong chip ID, CRC ...
            self.close()
            raise self._error(self._explain(e), "open") from e
        self._next_poll = time.monotonic()

    def _read_internal(self, timeout: float) -> list[Record]:
        if self._adapter is None:
            raise self._error("read while closed")
        wait = self._next_poll - time.monotonic()
        if wait > 0:
            self._sleep(min(wait, timeout))
            if time.monotonic() < self._next_poll:
                return []
        try:
            measured = self._adapter.read()
        except Exception as e:
            raise self._error(self._explain(e)) from e
        timestamp = self.clock()
        now = time.monotonic()
        if measured is None:  # polled before the chip had a new measurement
            self._next_poll = now + NOT_READY_RETRY
            return []
        self._next_poll += self.poll_interval
        if self._next_poll < now:  # fell behind (slow bus, busy machine): do not burst
            self._next_poll = now + self.poll_interval
        return [Record(timestamp, tuple(float(measured[quantity]) for quantity in self._layout))]

    def close(self) -> None:
        adapter, bus = self._adapter, self._bus
        self._adapter = self._bus = None
        if adapter is not None:
            adapter.close()
        if bus is not None:
            try:
                bus.deinit()
            except Exception:  # closing must not raise; the handle is dropped either way
                pass

    def present(self) -> bool | None:
        present = getattr(self.factory, "present", None)
        return present(self.config.i2c_bus) if present is not None else True

    def _error(self, detail: str, kind: str = "read") -> DeviceError:
        return DeviceError(f"{self.where}: {detail}", kind)

    def _explain(self, e: Exception) -> str:
        """Turn a driver exception into a sentence; a NACK says where nobody answered."""
        nack = (isinstance(e, OSError) and e.errno in NACK_ERRNOS) or (
            isinstance(e, ValueError) and str(e).startswith("No I2C device"))  # adafruit_bus_device probe
        if nack:
            return (f"no device answers at {self.address:#04x} on {self.bus_path} "
                    f"(check wiring and address: i2cdetect -y {self.config.i2c_bus})")
        return f"{type(e).__name__}: {e}"


def _address(check: FieldChecker) -> int | None:
    """I2C address as an integer or a hex string such as ``"0x44"``."""
    value = check.entry.get("address")
    if isinstance(value, str):
        try:
            value = int(value, 0)
        except ValueError:
            check.error("address", f"must be an integer or a hex string like '0x44', got {value[:40]!r}")
            return None
        check.entry = {**check.entry, "address": value}
    return check.integer("address", 0x03, 0x77)
