"""A small SPS30 driver for its I2C mode (Adafruit has none), on ``adafruit_bus_device``.

Every command is a 16-bit pointer; data in both directions travels as 2-byte words each
followed by Sensirion's CRC-8. The sensor needs a few milliseconds between a command and
the read of its reply, so write and read are separate transfers with a pause between.
"""

from __future__ import annotations

import struct
import time
from typing import Any

from .crc import strip_crc, words_with_crc

__all__ = ["SPS30_ADDRESS", "SPS30_FIELDS", "Sps30I2c"]

SPS30_ADDRESS = 0x69
#: the ten measured values in datasheet order (mass µg/m³, number #/cm³, size µm)
SPS30_FIELDS: tuple[str, ...] = (
    "mass_pm1_0", "mass_pm2_5", "mass_pm4_0", "mass_pm10",
    "number_pm0_5", "number_pm1_0", "number_pm2_5", "number_pm4_0", "number_pm10",
    "typical_particle_size",
)

START, STOP, DATA_READY, READ_VALUES, SERIAL, RESET = 0x0010, 0x0104, 0x0202, 0x0300, 0xD033, 0xD304
FLOAT_FORMAT = 0x03  # big-endian IEEE-754 floats (0x05 would be unsigned 16-bit integers)
REPLY_DELAY = 0.005  # datasheet: command execution time before the reply can be read
START_DELAY = 0.02


class Sps30I2c:
    """Start/stop measurement, data-ready flag, measured values and serial number."""

    def __init__(self, i2c: Any, address: int = SPS30_ADDRESS) -> None:
        from adafruit_bus_device.i2c_device import I2CDevice

        self._device = I2CDevice(i2c, address)  # probes the address: ValueError if nobody answers

    def start_measurement(self) -> None:
        self._command(START, bytes([FLOAT_FORMAT, 0x00]))
        time.sleep(START_DELAY)

    def stop_measurement(self) -> None:
        self._command(STOP)

    def reset(self) -> None:
        self._command(RESET)

    @property
    def data_ready(self) -> bool:
        return self._query(DATA_READY, 1)[1] == 1

    def read_values(self) -> tuple[float, ...]:
        """The ten values of :data:`SPS30_FIELDS`; CrcError (a ValueError) on a corrupted word."""
        return struct.unpack(">10f", self._query(READ_VALUES, 20))

    @property
    def serial_number(self) -> str:
        return self._query(SERIAL, 16).split(b"\0", 1)[0].decode("ascii", "replace")

    def _command(self, command: int, data: bytes = b"") -> None:
        with self._device as i2c:
            i2c.write(command.to_bytes(2, "big") + words_with_crc(data))

    def _query(self, command: int, words: int) -> bytes:
        reply = bytearray(3 * words)
        with self._device as i2c:
            i2c.write(command.to_bytes(2, "big"))
            time.sleep(REPLY_DELAY)
            i2c.readinto(reply)
        return strip_crc(bytes(reply))
