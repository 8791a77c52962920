"""Pointer-register temperature chips: Microchip MCP9808 and TI TMP117.

Both use the classic scheme: the first written byte selects a register, further written
bytes are its new value (MSB first), and a read returns the selected register.
"""

from __future__ import annotations

from .bus import ChipEmulator, Nack

__all__ = ["Mcp9808Emulator", "RegisterChip", "Tmp117Emulator"]


def _twos_complement(value: int, bits: int) -> int:
    return value & ((1 << bits) - 1)


class RegisterChip(ChipEmulator):
    """Register file with an address pointer; subclasses add side effects of reads and writes."""

    #: register -> power-on value
    DEFAULTS: dict[int, int] = {}
    #: registers the host may write
    WRITABLE: frozenset[int] = frozenset()
    #: register -> width in bytes when not 2
    WIDTHS: dict[int, int] = {}

    def __init__(self) -> None:
        super().__init__()
        self.registers = dict(self.DEFAULTS)
        self._pointer = 0

    def width(self, register: int) -> int:
        return self.WIDTHS.get(register, 2)

    def on_write(self, data: bytes) -> None:
        register, value = data[0], data[1:]
        if register not in self.registers:
            raise Nack  # no such register
        self._pointer = register
        if value:
            if len(value) != self.width(register):
                raise Nack
            if register in self.WRITABLE:  # read-only registers ignore writes
                self.write_register(register, int.from_bytes(value, "big"))

    def on_read(self, length: int) -> bytes:
        return self.read_register(self._pointer).to_bytes(self.width(self._pointer), "big")

    def read_register(self, register: int) -> int:
        return self.registers[register]

    def write_register(self, register: int, value: int) -> None:
        self.registers[register] = value


class Mcp9808Emulator(RegisterChip):
    """MCP9808 at 0x18..0x1F: ambient temperature in register 0x05, 13-bit two's complement
    in 1/16 °C, quantised to the resolution register (0x08: 0.5, 0.25, 0.125, 0.0625 °C)."""

    chip = "MCP9808"
    default_address = 0x18
    CONFIG, UPPER, LOWER, CRITICAL, AMBIENT, MANUFACTURER, DEVICE, RESOLUTION = range(1, 9)
    DEFAULTS = {CONFIG: 0, UPPER: 0, LOWER: 0, CRITICAL: 0, AMBIENT: 0,
                MANUFACTURER: 0x0054, DEVICE: 0x0400, RESOLUTION: 0x03}
    WRITABLE = frozenset({CONFIG, UPPER, LOWER, CRITICAL, RESOLUTION})
    WIDTHS = {RESOLUTION: 1}

    def __init__(self, temperature: float = 20.0) -> None:
        super().__init__()
        self.temperature = temperature

    def read_register(self, register: int) -> int:
        if register == self.AMBIENT:
            step_sixteenths = 8 >> (self.registers[self.RESOLUTION] & 0x03)  # 0.5 °C = 8/16
            sixteenths = round(self.temperature * 16 / step_sixteenths) * step_sixteenths
            return _twos_complement(sixteenths, 13)
        return super().read_register(register)


class Tmp117Emulator(RegisterChip):
    """TMP117 at 0x48..0x4B: temperature result (0x00) in 7.8125 m°C steps, configuration
    (0x01) with mode bits, data-ready flag and soft reset, device ID 0x0117 at 0x0F.

    Conversions are instantaneous: in continuous mode each result read is a fresh one.
    """

    chip = "TMP117"
    default_address = 0x48
    RESULT, CONFIG, HIGH_LIMIT, LOW_LIMIT, EEPROM_UL, EEPROM1, EEPROM2, OFFSET, EEPROM3 = range(9)
    DEVICE_ID = 0x0F
    DEFAULTS = {RESULT: 0x8000, CONFIG: 0x0220, HIGH_LIMIT: 0x6000, LOW_LIMIT: 0x8000, EEPROM_UL: 0,
                EEPROM1: 0x1A2B, EEPROM2: 0x3C4D, OFFSET: 0, EEPROM3: 0x5E6F, DEVICE_ID: 0x0117}
    WRITABLE = frozenset({CONFIG, HIGH_LIMIT, LOW_LIMIT, OFFSET})
    DATA_READY, SOFT_RESET = 1 << 13, 1 << 1
    MODE_MASK, ONE_SHOT, SHUTDOWN = 0x0C00, 0x0C00, 0x0400
    LSB = 0.0078125  # °C

    def __init__(self, temperature: float = 20.0) -> None:
        super().__init__()
        self.temperature = temperature

    def _continuous(self) -> bool:
        return self.registers[self.CONFIG] & self.MODE_MASK in (0x0000, 0x0800)

    def _convert(self) -> None:
        offset = self.registers[self.OFFSET] - (0x10000 if self.registers[self.OFFSET] & 0x8000 else 0)
        counts = max(-0x8000, min(0x7FFF, round(self.temperature / self.LSB) + offset))
        self.registers[self.RESULT] = _twos_complement(counts, 16)
        self.registers[self.CONFIG] |= self.DATA_READY

    def read_register(self, register: int) -> int:
        if register == self.RESULT and self._continuous():
            self._convert()
        value = super().read_register(register)
        if register in (self.RESULT, self.CONFIG):  # reading either clears the data-ready flag
            self.registers[self.CONFIG] &= ~self.DATA_READY
        return value

    def write_register(self, register: int, value: int) -> None:
        if register != self.CONFIG:
            super().write_register(register, value)
        elif value & self.SOFT_RESET:
            self.registers = dict(self.DEFAULTS)
        else:
            flags = self.registers[self.CONFIG] & 0xF000  # status bits are read-only
            self.registers[self.CONFIG] = flags | (value & 0x0FFC)
            if self._continuous() or value & self.MODE_MASK == self.ONE_SHOT:
                self._convert()
            if value & self.MODE_MASK == self.ONE_SHOT:  # one conversion, then shutdown
                self.registers[self.CONFIG] = (self.registers[self.CONFIG] & ~self.MODE_MASK) | self.SHUTDOWN
