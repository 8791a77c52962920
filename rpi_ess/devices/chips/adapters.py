"""One adapter per chip: build the real driver on a bus, read it as named quantities.

The Adafruit driver modules are imported when an adapter is built, so nodes without
Blinka can still import and validate configurations; an ImportError then means the
``rpi-ess[i2c]`` extra is missing.
"""

from __future__ import annotations

import abc
import importlib
import logging
from typing import Any

from .sps30 import SPS30_FIELDS, Sps30I2c

__all__ = [
    "Bme280Adapter",
    "ChipAdapter",
    "Mcp9808Adapter",
    "Sht3xAdapter",
    "Sht4xAdapter",
    "Sps30Adapter",
    "Tmp117Adapter",
]

log = logging.getLogger(__name__)


class ChipAdapter(abc.ABC):
    """A chip's driver, opened on ``bus`` at ``address`` (raises whatever the driver raises)."""

    def __init__(self, bus: Any, address: int) -> None:
        self.address = address

    @abc.abstractmethod
    def read(self) -> dict[str, float] | None:
        """One measurement as quantity -> value; None if the chip has no new data yet."""

    def close(self) -> None:  # noqa: B027 - most chips need nothing
        """Leave the chip idle (must not raise)."""


class AdafruitAdapter(ChipAdapter):
    """Adapter around an Adafruit CircuitPython driver class ``module.driver``."""

    module: str
    driver: str

    def __init__(self, bus: Any, address: int) -> None:
        super().__init__(bus, address)
        self.chip = getattr(importlib.import_module(self.module), self.driver)(bus, address)


class Sht4xAdapter(AdafruitAdapter):
    module, driver = "adafruit_sht4x", "SHT4x"

    def read(self) -> dict[str, float]:
        temperature, humidity = self.chip.measurements  # one high-precision measurement
        return {"temperature": temperature, "relative_humidity": humidity}


class Sht3xAdapter(AdafruitAdapter):
    module, driver = "adafruit_sht31d", "SHT31D"

    def read(self) -> dict[str, float]:
        # single-shot mode: each property triggers its own measurement (about 15 ms)
        return {"temperature": self.chip.temperature, "relative_humidity": self.chip.relative_humidity}


class Bme280Adapter(AdafruitAdapter):
    module, driver = "adafruit_bme280.basic", "Adafruit_BME280_I2C"

    def read(self) -> dict[str, float]:
        return {"temperature": self.chip.temperature, "pressure": self.chip.pressure,  # hPa = mbar
                "relative_humidity": self.chip.relative_humidity}


class Mcp9808Adapter(AdafruitAdapter):
    module, driver = "adafruit_mcp9808", "MCP9808"

    def read(self) -> dict[str, float]:
        return {"temperature": self.chip.temperature}


class Tmp117Adapter(AdafruitAdapter):
    module, driver = "adafruit_tmp117", "TMP117"

    def __init__(self, bus: Any, address: int) -> None:
        try:
            super().__init__(bus, address)
        except AttributeError as e:  # the driver's way of saying "wrong device ID"
            raise ValueError(f"the chip at {address:#04x} is not a TMP117/TMP119 ({e})") from e

    def read(self) -> dict[str, float]:
        return {"temperature": self.chip.temperature}  # continuous mode: the latest conversion


class Sps30Adapter(ChipAdapter):
    """Starts measuring on open (after a stop, in case a previous run left it measuring)."""

    def __init__(self, bus: Any, address: int) -> None:
        super().__init__(bus, address)
        self.chip = Sps30I2c(bus, address)
        try:
            self.chip.stop_measurement()
        except OSError:
            pass  # already idle: the sensor NACKs a stop it cannot obey
        self.chip.start_measurement()

    def read(self) -> dict[str, float] | None:
        if not self.chip.data_ready:
            return None
        return dict(zip(SPS30_FIELDS, self.chip.read_values(), strict=True))

    def close(self) -> None:
        try:
            self.chip.stop_measurement()
        except (OSError, ValueError) as e:  # unplugged or glitching: nothing left to stop
            log.debug("SPS30 at %#04x: stop on close failed: %s", self.address, e)
