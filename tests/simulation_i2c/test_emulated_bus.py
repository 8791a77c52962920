"""The emulated bus behaves like Linux i2c-dev under Blinka: locking, NACKs, buffer slices."""

from __future__ import annotations

import errno

import pytest

from rpi_ess.devices.chips.crc import CrcError, crc8, strip_crc, words_with_crc
from rpi_ess.simulation.i2c import EmulatedBuses, EmulatedI2C, Mcp9808Emulator, Sht4xEmulator


def test_crc_matches_the_sensirion_datasheet_example() -> None:
    assert crc8(b"\xbe\xef") == 0x92


def test_words_with_crc_round_trip_and_corruption() -> None:
    framed = words_with_crc(b"\xbe\xef\x01\x02")
    assert framed[:3] == b"\xbe\xef\x92"
    assert strip_crc(framed) == b"\xbe\xef\x01\x02"
    with pytest.raises(CrcError, match="word 1"):
        strip_crc(framed[:5] + bytes([framed[5] ^ 1]))
    with pytest.raises(ValueError):
        words_with_crc(b"\x01")


@pytest.fixture
def bus() -> EmulatedI2C:
    bus = EmulatedI2C({0x18: Mcp9808Emulator(), 0x44: Sht4xEmulator()})
    assert bus.try_lock()
    return bus


def _nack(exc: pytest.ExceptionInfo[OSError]) -> bool:
    return exc.value.errno == errno.EREMOTEIO


def test_scan_lists_connected_chips(bus: EmulatedI2C) -> None:
    assert bus.scan() == [0x18, 0x44]
    bus.chips[0x44].unplug()
    assert bus.scan() == [0x18]


def test_lock_is_exclusive_and_required() -> None:
    bus = EmulatedI2C({0x18: Mcp9808Emulator()})
    with pytest.raises(RuntimeError, match="lock"):
        bus.writeto(0x18, b"\x05")
    assert bus.try_lock()
    assert not bus.try_lock()
    bus.unlock()
    assert bus.try_lock()


def test_empty_address_nacks_like_linux(bus: EmulatedI2C) -> None:
    with pytest.raises(OSError) as exc:
        bus.writeto(0x50, b"")
    assert _nack(exc)


def test_unplugged_and_glitching_chips_nack(bus: EmulatedI2C) -> None:
    chip = bus.chips[0x18]
    chip.nack_next(2)
    for _ in range(2):
        with pytest.raises(OSError) as exc:
            bus.writeto(0x18, b"")
        assert _nack(exc)
    bus.writeto(0x18, b"")  # recovered
    chip.unplug()
    with pytest.raises(OSError):
        bus.writeto(0x18, b"")
    chip.plug()
    bus.writeto(0x18, b"")


def test_buffer_slices_are_honoured(bus: EmulatedI2C) -> None:
    buffer = bytearray(b"\x07\xaa\xaa\xaa")
    # as adafruit_mcp9808 does: register number and reply share one buffer
    bus.writeto_then_readfrom(0x18, buffer, buffer, out_end=1, in_start=1, in_end=3)
    assert buffer == b"\x07\x04\x00\xaa"  # device ID register 0x0400
    reply = bytearray(4)
    bus.readfrom_into(0x18, reply)  # longer than the register: the bus reads 0xFF
    assert reply == b"\x04\x00\xff\xff"
    reply = bytearray(4)
    bus.writeto(0x18, b"\x00\x06\x00", start=1, end=2)  # pointer 0x06 (manufacturer ID)
    bus.readfrom_into(0x18, reply, start=2)
    assert reply == b"\x00\x00\x00\x54"


def test_closed_handle_refuses_transfers() -> None:
    with EmulatedI2C({0x18: Mcp9808Emulator()}) as bus:
        assert bus.try_lock()
    with pytest.raises(OSError):
        bus.writeto(0x18, b"\x05")


def test_buses_share_chips_between_handles() -> None:
    buses = EmulatedBuses()
    chip = buses.attach(1, Sht4xEmulator(), 0x45)
    assert buses.present(1) and not buses.present(0)
    first, second = buses(1), buses(1)
    assert first is not second and first.chips[0x45] is second.chips[0x45] is chip
    first.deinit()
    assert second.try_lock() and second.scan() == [0x45]
    with pytest.raises(FileNotFoundError, match="/dev/i2c-0"):
        buses(0)
