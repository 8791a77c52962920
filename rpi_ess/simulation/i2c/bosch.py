"""Bosch BME280 humidity, pressure and temperature chip: register map and raw ADC values.

The chip stores factory calibration constants and reports raw ADC counts; the host
compensates them with Bosch's formulas (datasheet section 4.2.3 / 8.1). The emulator picks
typical calibration constants and, for the true T/P/RH it holds, searches the integer ADC
counts whose compensated values come closest, so the driver's own arithmetic is exercised.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from .bus import ChipEmulator

__all__ = ["Bme280Calibration", "Bme280Emulator"]

CHIP_ID, RESET, CALIB_TP, CALIB_H1, CALIB_H = 0xD0, 0xE0, 0x88, 0xA1, 0xE1
CTRL_HUM, STATUS, CTRL_MEAS, CONFIG, DATA = 0xF2, 0xF3, 0xF4, 0xF5, 0xF7
RESET_WORD = 0xB6
WRITABLE = frozenset({RESET, CTRL_HUM, CTRL_MEAS, CONFIG})
SKIPPED_20BIT, SKIPPED_16BIT = 0x80000, 0x8000  # what a skipped measurement reads


class Bme280Calibration:
    """Trimming constants (typical values of a real part) and the datasheet's float formulas."""

    def __init__(self) -> None:
        self.t = (27504, 26435, -1000)
        self.p = (36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
        self.h = (75, 362, 0, 313, 50, 30)

    def registers(self) -> dict[int, bytes]:
        """Register contents at 0x88..0x9F, 0xA1 and 0xE1..0xE7 (H4/H5 are 12-bit, nibble-packed)."""
        h1, h2, h3, h4, h5, h6 = self.h
        packed_h = struct.pack("<hB", h2, h3) + bytes(
            [(h4 >> 4) & 0xFF, (h4 & 0x0F) | ((h5 & 0x0F) << 4), (h5 >> 4) & 0xFF, h6 & 0xFF])
        return {CALIB_TP: struct.pack("<HhhHhhhhhhhh", *self.t, *self.p),
                CALIB_H1: bytes([h1]), CALIB_H: packed_h}

    def t_fine(self, adc_t: int) -> int:
        t1, t2, t3 = self.t
        var1 = (adc_t / 16384.0 - t1 / 1024.0) * t2
        var2 = (adc_t / 131072.0 - t1 / 8192.0) ** 2 * t3
        return int(var1 + var2)

    def pressure_pa(self, adc_p: int, t_fine: int) -> float:
        p1, p2, p3, p4, p5, p6, p7, p8, p9 = self.p
        var1 = t_fine / 2.0 - 64000.0
        var2 = var1 * var1 * p6 / 32768.0 + var1 * p5 * 2.0
        var2 = var2 / 4.0 + p4 * 65536.0
        var1 = (p3 * var1 * var1 / 524288.0 + p2 * var1) / 524288.0
        var1 = (1.0 + var1 / 32768.0) * p1
        pressure = (1048576.0 - adc_p - var2 / 4096.0) * 6250.0 / var1
        return pressure + (p9 * pressure * pressure / 2147483648.0 + pressure * p8 / 32768.0 + p7) / 16.0

    def humidity(self, adc_h: int, t_fine: int) -> float:
        h1, h2, h3, h4, h5, h6 = self.h
        x = t_fine - 76800.0
        x = (adc_h - (h4 * 64.0 + h5 / 16384.0 * x)) * (
            h2 / 65536.0 * (1.0 + h6 / 67108864.0 * x * (1.0 + h3 / 67108864.0 * x)))
        return x * (1.0 - h1 * x / 524288.0)


def _closest_count(compensate: Callable[[int], float], target: float, bits: int) -> int:
    """The ADC count whose compensated value is nearest ``target`` (compensation is monotonic)."""
    top = (1 << bits) - 1
    sign = 1.0 if compensate(top) >= compensate(0) else -1.0
    lo, hi = 0, top
    while lo < hi:  # first count whose (sign-adjusted) value reaches the target
        mid = (lo + hi) // 2
        if sign * compensate(mid) < sign * target:
            lo = mid + 1
        else:
            hi = mid
    return min((max(lo - 1, 0), lo), key=lambda count: abs(compensate(count) - target))


class Bme280Emulator(ChipEmulator):
    """BME280 at 0x76 (SDO low) or 0x77 (SDO high). ``pressure`` is in hPa (= mbar).

    Forced mode (ctrl_meas mode 01/10) measures once and returns to sleep; normal mode
    (11) measures before every data read. Conversions are instantaneous, so the status
    register never shows "measuring".
    """

    chip = "BME280"
    default_address = 0x77

    def __init__(self, temperature: float = 20.0, humidity: float = 50.0, pressure: float = 1013.25,
                 chip_id: int = 0x60) -> None:
        super().__init__()
        self.temperature = temperature
        self.humidity = humidity
        self.pressure = pressure
        self.calibration = Bme280Calibration()
        self.registers = bytearray(256)
        self.registers[CHIP_ID] = chip_id  # 0x58 would be a BMP280 (no humidity)
        for start, block in self.calibration.registers().items():
            self.registers[start : start + len(block)] = block
        self._pointer = 0
        self._ctrl_hum_latched = 0
        self._power_on_reset()

    def _power_on_reset(self) -> None:
        for register in (CTRL_HUM, STATUS, CTRL_MEAS, CONFIG):
            self.registers[register] = 0
        self._ctrl_hum_latched = 0
        self._store(SKIPPED_20BIT, SKIPPED_20BIT, SKIPPED_16BIT)

    def _store(self, adc_p: int, adc_t: int, adc_h: int) -> None:
        self.registers[DATA : DATA + 8] = (
            (adc_p << 4).to_bytes(3, "big") + (adc_t << 4).to_bytes(3, "big") + adc_h.to_bytes(2, "big"))

    def raw_counts(self) -> tuple[int, int, int]:
        """ADC counts (pressure, temperature, humidity) that compensate to the true values."""
        cal = self.calibration
        adc_t = _closest_count(lambda c: cal.t_fine(c) / 5120.0, self.temperature, 20)
        t_fine = cal.t_fine(adc_t)
        adc_p = _closest_count(lambda c: cal.pressure_pa(c, t_fine) / 100.0, self.pressure, 20)
        adc_h = _closest_count(lambda c: cal.humidity(c, t_fine), self.humidity, 16)
        return adc_p, adc_t, adc_h

    def _measure(self) -> None:
        adc_p, adc_t, adc_h = self.raw_counts()
        ctrl_meas = self.registers[CTRL_MEAS]
        self._store(adc_p if ctrl_meas & 0x1C else SKIPPED_20BIT,  # osrs_p == 0: skipped
                    adc_t if ctrl_meas & 0xE0 else SKIPPED_20BIT,  # osrs_t == 0: skipped
                    adc_h if self._ctrl_hum_latched & 0x07 else SKIPPED_16BIT)

    def on_write(self, data: bytes) -> None:
        self._pointer = data[0]
        for register, value in zip(data[::2], data[1::2], strict=False):  # (register, value) pairs
            self._write_register(register, value)

    def _write_register(self, register: int, value: int) -> None:
        if register not in WRITABLE:
            return  # read-only registers ignore writes
        if register == RESET:
            if value == RESET_WORD:
                self._power_on_reset()
            return
        self.registers[register] = value
        if register == CTRL_MEAS:  # ctrl_hum takes effect only with a ctrl_meas write
            self._ctrl_hum_latched = self.registers[CTRL_HUM]
            if value & 0x03 in (0x01, 0x02):  # forced mode: one measurement, then sleep
                self._measure()
                self.registers[CTRL_MEAS] = value & ~0x03

    def on_read(self, length: int) -> bytes:
        start = self._pointer
        if self.registers[CTRL_MEAS] & 0x03 == 0x03 and start + length > DATA:
            self._measure()  # normal mode: a fresh conversion is always waiting
        reply = bytes(self.registers[start : start + length])
        self._pointer = min(start + length, 0xFF)  # burst reads auto-increment
        return reply
