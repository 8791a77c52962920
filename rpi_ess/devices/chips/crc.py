"""Sensirion's CRC-8 (polynomial 0x31, init 0xFF), which guards every 2-byte word on the wire.

Shared by the SPS30 I2C driver and the chip emulators; the Adafruit SHT drivers carry their
own copy, so an error here shows up as CRC failures in their tests.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["CrcError", "crc8", "strip_crc", "words_with_crc"]


class CrcError(ValueError):
    """A received word does not match its CRC byte."""


def crc8(data: Iterable[int]) -> int:
    """CRC of the bytes of one word (datasheet check value: crc8(b"\\xbe\\xef") == 0x92)."""
    crc = 0xFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) if crc & 0x80 else (crc << 1)
            crc &= 0xFF
    return crc


def words_with_crc(data: bytes) -> bytes:
    """Interleave a CRC after every 2-byte word, as Sensirion chips send and expect data."""
    if len(data) % 2:
        raise ValueError(f"Sensirion data must be whole 2-byte words, got {len(data)} bytes")
    out = bytearray()
    for i in range(0, len(data), 2):
        word = data[i : i + 2]
        out += word
        out.append(crc8(word))
    return bytes(out)


def strip_crc(data: bytes) -> bytes:
    """Check and drop the CRC after every word; raise :class:`CrcError` naming the bad word."""
    if len(data) % 3:
        raise CrcError(f"Sensirion data must be whole 3-byte groups, got {len(data)} bytes")
    out = bytearray()
    for i in range(0, len(data), 3):
        word, crc = data[i : i + 2], data[i + 2]
        if crc8(word) != crc:
            raise CrcError(f"CRC mismatch in word {i // 3}: {word.hex()} has CRC {crc:#04x}, "
                           f"expected {crc8(word):#04x}")
        out += word
    return bytes(out)
