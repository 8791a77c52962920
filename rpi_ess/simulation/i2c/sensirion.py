"""Sensirion chips on I2C: SHT4x, SHT3x and the SPS30, with their command sets and CRC-8.

They share the Sensirion habits modelled here: a command is written, the reply is read
afterwards as 2-byte words each followed by a CRC, a read with nothing to send is NACKed,
and so is a command the chip does not know or does not allow in its current state.
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Callable, Sequence

from ...devices.chips.crc import CrcError, strip_crc, words_with_crc
from .bus import ChipEmulator, Nack

__all__ = ["SensirionChip", "Sht3xEmulator", "Sht4xEmulator", "Sps30Emulator"]


def _ticks(value: float, offset: float, span: float) -> int:
    """Invert the datasheet conversion ``value = offset + span * ticks / 65535``."""
    return min(0xFFFF, max(0, round((value - offset) * 0xFFFF / span)))


class SensirionChip(ChipEmulator):
    """Reply buffer, CRC framing and CRC fault injection common to Sensirion chips."""

    #: Whether a reply can be read once only (SHT: yes; SPS30 re-reads its pointer).
    reply_read_once = True

    def __init__(self) -> None:
        super().__init__()
        self._reply = b""
        self._corrupt = 0

    def corrupt_next_crc(self, count: int = 1) -> None:
        """Send a wrong CRC in the next ``count`` replies (noise on SDA)."""
        self._corrupt += count

    def _answer(self, data: bytes) -> None:
        self._reply = words_with_crc(data)

    def on_read(self, length: int) -> bytes:
        if not self._reply:
            raise Nack  # no measurement or reply pending: the read header is not acknowledged
        reply = bytearray(self._reply)
        if self.reply_read_once:
            self._reply = b""
        if self._corrupt:
            self._corrupt -= 1
            reply[2] ^= 0xFF  # CRC of the first word
        return bytes(reply)


class _HumiditySensor(SensirionChip):
    """SHT-style temperature and humidity chip holding the "true" air values."""

    #: (offset, span) of the RH conversion in the datasheet
    rh_scale: tuple[float, float] = (0.0, 100.0)

    def __init__(self, temperature: float = 20.0, humidity: float = 50.0, serial: int = 0x1A2B3C4D) -> None:
        super().__init__()
        self.temperature = temperature
        self.humidity = humidity
        self.serial = serial

    def _measure(self) -> None:
        self._answer(struct.pack(">HH", _ticks(self.temperature, -45.0, 175.0),
                                 _ticks(self.humidity, *self.rh_scale)))


class Sht4xEmulator(_HumiditySensor):
    """SHT40/41/45: one-byte commands, T = -45 + 175 t/65535, RH = -6 + 125 h/65535."""

    chip = "SHT4x"
    default_address = 0x44
    rh_scale = (-6.0, 125.0)
    #: measure commands: no heater (high, medium, low precision) and the heater variants
    MEASURE = frozenset({0xFD, 0xF6, 0xE0, 0x39, 0x32, 0x2F, 0x24, 0x1E, 0x15})
    READ_SERIAL = 0x89
    SOFT_RESET = 0x94

    def on_write(self, data: bytes) -> None:
        if len(data) != 1:
            raise Nack
        command = data[0]
        self._reply = b""
        if command in self.MEASURE:
            self._measure()
        elif command == self.READ_SERIAL:
            self._answer(self.serial.to_bytes(4, "big"))
        elif command != self.SOFT_RESET:
            raise Nack


class Sht3xEmulator(_HumiditySensor):
    """SHT30/31/35: 16-bit commands, single shot or periodic, status register with flags."""

    chip = "SHT3x"
    default_address = 0x44
    SINGLE_SHOT = frozenset({0x2400, 0x240B, 0x2416, 0x2C06, 0x2C0D, 0x2C10})
    PERIODIC = frozenset({0x2032, 0x2024, 0x202F, 0x2130, 0x2126, 0x212D, 0x2236, 0x2220, 0x222B,
                          0x2334, 0x2322, 0x2329, 0x2737, 0x2721, 0x272A, 0x2B32})
    FETCH, BREAK, SOFT_RESET = 0xE000, 0x3093, 0x30A2
    READ_STATUS, CLEAR_STATUS = 0xF32D, 0x3041
    HEATER_ON, HEATER_OFF = 0x306D, 0x3066
    READ_SERIAL = 0x3780
    # status bits
    ALERT_PENDING, HEATER, RESET_DETECTED, COMMAND_FAILED = 1 << 15, 1 << 13, 1 << 4, 1 << 1

    def __init__(self, temperature: float = 20.0, humidity: float = 50.0, serial: int = 0x1A2B3C4D) -> None:
        super().__init__(temperature, humidity, serial)
        self.status = self.ALERT_PENDING | self.RESET_DETECTED  # power-up state
        self.periodic = False

    def on_write(self, data: bytes) -> None:
        if len(data) != 2:
            raise Nack
        command = int.from_bytes(data, "big")
        self._reply = b""
        if self._run(command):
            self.status &= ~self.COMMAND_FAILED
        else:
            self.status |= self.COMMAND_FAILED
            raise Nack

    def _run(self, command: int) -> bool:
        if command == self.BREAK:
            self.periodic = False
        elif command == self.SOFT_RESET:
            self.periodic = False
            self.status = self.ALERT_PENDING | self.RESET_DETECTED
        elif command == self.FETCH and self.periodic:
            self._measure()
        elif command in self.PERIODIC:
            self.periodic = True
        elif command in self.SINGLE_SHOT and not self.periodic:
            self._measure()
        elif command == self.READ_STATUS:
            self._answer(self.status.to_bytes(2, "big"))
        elif command == self.CLEAR_STATUS:
            self.status &= ~(self.ALERT_PENDING | self.RESET_DETECTED)
        elif command in (self.HEATER_ON, self.HEATER_OFF):
            self.status = (self.status | self.HEATER) if command == self.HEATER_ON else (self.status & ~self.HEATER)
        elif command == self.READ_SERIAL:
            self._answer(self.serial.to_bytes(4, "big"))
        else:
            return False
        return True


class Sps30Emulator(SensirionChip):
    """SPS30 particulate sensor in I2C mode (SEL pin grounded), address 0x69.

    ``values`` are the ten true readings in datasheet order (mass PM1.0/2.5/4.0/10 µg/m³,
    number PM0.5/1.0/2.5/4.0/10 #/cm³, typical particle size µm). A new measurement is
    ready every ``sample_interval`` seconds of ``clock`` after start (0: always ready).
    """

    chip = "SPS30"
    default_address = 0x69
    reply_read_once = False
    START, STOP, DATA_READY, READ_VALUES = 0x0010, 0x0104, 0x0202, 0x0300
    PRODUCT_TYPE, SERIAL, VERSION, RESET = 0xD002, 0xD033, 0xD100, 0xD304
    FLOAT, UINT16 = 0x03, 0x05  # output formats of the start command

    def __init__(
        self,
        values: Sequence[float] = (0.7, 5.8, 9.8, 11.9, 0.0, 0.2, 5.1, 6.0, 6.1, 1.6),
        serial: str = "9A1B2C3D4E5F6071",
        sample_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.values = tuple(values)
        self.serial = serial
        self.sample_interval = sample_interval
        self.clock = clock
        self.measuring = False
        self.output_format = self.FLOAT
        self._started = 0.0
        self._samples_read = 0

    def on_write(self, data: bytes) -> None:
        if len(data) < 2:
            raise Nack
        command, args = int.from_bytes(data[:2], "big"), data[2:]
        try:
            arguments = strip_crc(args)
        except CrcError:
            raise Nack from None  # the SPS30 takes written data only with a correct CRC
        self._reply = b""
        if command == self.START:
            ok = self._start(arguments)
        else:
            handler = {
                self.STOP: self._stop, self.DATA_READY: self._data_ready,
                self.READ_VALUES: self._read_values, self.PRODUCT_TYPE: self._product_type,
                self.SERIAL: self._serial, self.VERSION: self._version, self.RESET: self._reset,
            }.get(command)
            ok = handler is not None and not arguments and handler()
        if not ok:
            raise Nack

    def _start(self, arguments: bytes) -> bool:
        if self.measuring or len(arguments) != 2 or arguments[0] not in (self.FLOAT, self.UINT16):
            return False
        self.measuring, self.output_format = True, arguments[0]
        self._started, self._samples_read = self.clock(), 0
        return True

    def _stop(self) -> bool:
        was_measuring, self.measuring = self.measuring, False
        return was_measuring

    def _reset(self) -> bool:
        self.measuring = False
        return True

    def _samples_taken(self) -> int:
        if self.sample_interval <= 0:
            return self._samples_read + 1
        return math.floor((self.clock() - self._started) / self.sample_interval)

    def _data_ready(self) -> bool:
        ready = self.measuring and self._samples_taken() > self._samples_read
        self._answer(bytes([0, int(ready)]))
        return True

    def _read_values(self) -> bool:
        if not self.measuring:
            return False
        self._samples_read = max(self._samples_read, self._samples_taken())
        if self.output_format == self.FLOAT:
            self._answer(struct.pack(">10f", *self.values))
        else:  # integers: µg/m³, #/cm³ and the typical size in nm
            scaled = [*self.values[:9], self.values[9] * 1000.0]
            self._answer(struct.pack(">10H", *(min(0xFFFF, max(0, round(v))) for v in scaled)))
        return True

    def _text(self, text: str, size: int) -> bool:
        """ASCII text NUL-padded to ``size`` bytes."""
        self._answer(text.encode("ascii")[:size].ljust(size, b"\0"))
        return True

    def _product_type(self) -> bool:
        return self._text("00080000", 8)

    def _serial(self) -> bool:
        return self._text(self.serial, 32)

    def _version(self) -> bool:
        self._answer(bytes([2, 3]))  # firmware 2.3
        return True
