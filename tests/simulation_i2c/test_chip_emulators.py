"""Each emulator, driven by the real Adafruit driver (or our SPS30 driver), returns the true
values it holds to within the chip's resolution, and fails where the real chip fails."""

from __future__ import annotations

import errno
import struct

import adafruit_mcp9808
import adafruit_sht4x
import adafruit_sht31d
import adafruit_tmp117
import pytest
from adafruit_bme280 import basic as adafruit_bme280

from rpi_ess.devices.chips.crc import CrcError, strip_crc, words_with_crc
from rpi_ess.devices.chips.sps30 import Sps30I2c
from rpi_ess.simulation.i2c import (
    Bme280Emulator,
    ChipEmulator,
    EmulatedI2C,
    Mcp9808Emulator,
    Sht3xEmulator,
    Sht4xEmulator,
    Sps30Emulator,
    Tmp117Emulator,
)

SHT_STEP = 175 / 65535  # one count of an SHT temperature


def on_bus(chip: ChipEmulator, address: int | None = None) -> EmulatedI2C:
    return EmulatedI2C({chip.default_address if address is None else address: chip})


def raw(bus: EmulatedI2C, address: int, write: bytes, read: int = 0) -> bytes:
    """One controller transfer without a driver, for protocol details drivers never touch."""
    assert bus.try_lock()
    try:
        bus.writeto(address, write)
        reply = bytearray(read)
        if read:
            bus.readfrom_into(address, reply)
        return bytes(reply)
    finally:
        bus.unlock()


# --- SHT4x ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("temperature", "humidity"), [(24.32, 38.86), (-39.5, 2.0), (80.0, 99.5)])
def test_sht4x_measurements(temperature: float, humidity: float) -> None:
    sht = adafruit_sht4x.SHT4x(on_bus(Sht4xEmulator(temperature, humidity)))
    t, rh = sht.measurements
    assert t == pytest.approx(temperature, abs=SHT_STEP)
    assert rh == pytest.approx(humidity, abs=125 / 65535)


def test_sht4x_serial_and_crc_fault() -> None:
    chip = Sht4xEmulator(serial=0xCAFE1234)
    sht = adafruit_sht4x.SHT4x(on_bus(chip))
    assert sht.serial_number == 0xCAFE1234
    chip.corrupt_next_crc()
    with pytest.raises(RuntimeError, match="CRC"):
        sht.measurements  # noqa: B018 - the property performs the measurement
    assert sht.measurements[0] == pytest.approx(20.0, abs=SHT_STEP)  # only one reply was corrupted


def test_sht4x_nacks_a_read_without_command_and_unknown_commands() -> None:
    bus = on_bus(Sht4xEmulator())
    with pytest.raises(OSError) as exc:
        raw(bus, 0x44, b"\x94", read=6)  # soft reset has no reply
    assert exc.value.errno == errno.EREMOTEIO
    with pytest.raises(OSError):
        raw(bus, 0x44, b"\x42")
    reply = raw(bus, 0x44, b"\xfd", read=6)
    assert strip_crc(reply)  # a measurement reply with valid CRCs


# --- SHT3x ---------------------------------------------------------------------------------

def test_sht3x_single_shot_status_and_serial() -> None:
    chip = Sht3xEmulator(-5.5, 90.0, serial=0x00C0FFEE)
    sht = adafruit_sht31d.SHT31D(on_bus(chip, 0x45), address=0x45)
    assert sht.temperature == pytest.approx(-5.5, abs=SHT_STEP)
    assert sht.relative_humidity == pytest.approx(90.0, abs=100 / 65535)
    assert sht.serial_number == 0x00C0FFEE
    assert sht.status & Sht3xEmulator.RESET_DETECTED  # the driver's soft reset
    sht.heater = True
    assert sht.heater


def test_sht3x_periodic_mode_fetches() -> None:
    chip = Sht3xEmulator(12.0, 30.0)
    sht = adafruit_sht31d.SHT31D(on_bus(chip))
    sht.mode = adafruit_sht31d.MODE_PERIODIC
    assert chip.periodic
    assert sht.temperature == pytest.approx(12.0, abs=SHT_STEP)
    sht.mode = adafruit_sht31d.MODE_SINGLE
    assert not chip.periodic


def test_sht3x_crc_fault_and_unknown_command() -> None:
    chip = Sht3xEmulator()
    bus = on_bus(chip)
    sht = adafruit_sht31d.SHT31D(bus)
    chip.corrupt_next_crc()
    with pytest.raises(RuntimeError, match="CRC"):
        sht.temperature  # noqa: B018
    with pytest.raises(OSError):
        raw(bus, 0x44, b"\x12\x34")
    assert chip.status & Sht3xEmulator.COMMAND_FAILED


# --- BME280 --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("temperature", "humidity", "pressure"),
    [(24.32, 38.86, 911.4), (-40.0, 5.0, 300.0), (85.0, 95.0, 1100.0), (0.0, 50.0, 750.0)],
)
def test_bme280_compensated_values(temperature: float, humidity: float, pressure: float) -> None:
    bme = adafruit_bme280.Adafruit_BME280_I2C(on_bus(Bme280Emulator(temperature, humidity, pressure)))
    assert bme.temperature == pytest.approx(temperature, abs=0.01)
    assert bme.pressure == pytest.approx(pressure, abs=0.01)
    assert bme.relative_humidity == pytest.approx(humidity, abs=0.01)


def test_bme280_follows_changed_values_and_rejects_other_chip_ids() -> None:
    chip = Bme280Emulator()
    bme = adafruit_bme280.Adafruit_BME280_I2C(on_bus(chip, 0x76), address=0x76)
    chip.temperature, chip.humidity, chip.pressure = 30.0, 20.0, 700.0
    assert (bme.temperature, bme.relative_humidity, bme.pressure) == pytest.approx((30.0, 20.0, 700.0), abs=0.01)
    with pytest.raises(RuntimeError, match="Chip ID 0x58"):
        adafruit_bme280.Adafruit_BME280_I2C(on_bus(Bme280Emulator(chip_id=0x58)))  # a BMP280


def test_bme280_registers_follow_the_datasheet() -> None:
    chip = Bme280Emulator()
    bus = on_bus(chip)
    assert raw(bus, 0x77, b"\xd0", read=1) == b"\x60"
    assert raw(bus, 0x77, b"\xf7", read=8) == b"\x80\x00\x00\x80\x00\x00\x80\x00"  # reset: nothing measured
    raw(bus, 0x77, b"\xf2\x00\xf4\x25")  # humidity skipped, T and P x1, forced mode
    data = raw(bus, 0x77, b"\xf7", read=8)
    assert data[6:] == b"\x80\x00" and data[:6] != b"\x80\x00\x00\x80\x00\x00"
    assert raw(bus, 0x77, b"\xf4", read=1) == b"\x24"  # back to sleep after the forced measurement
    raw(bus, 0x77, b"\xe0\xb6")  # soft reset
    assert raw(bus, 0x77, b"\xf4", read=1) == b"\x00"


# --- MCP9808 -------------------------------------------------------------------------------

@pytest.mark.parametrize("temperature", [21.3, -5.3, 0.0, 124.9, -39.97])
def test_mcp9808_temperature(temperature: float) -> None:
    mcp = adafruit_mcp9808.MCP9808(on_bus(Mcp9808Emulator(temperature)))
    assert mcp.temperature == pytest.approx(temperature, abs=1 / 32)


def test_mcp9808_resolution_and_identity() -> None:
    mcp = adafruit_mcp9808.MCP9808(on_bus(Mcp9808Emulator(21.3), 0x1C), address=0x1C)
    mcp.resolution = 0  # 0.5 °C steps
    assert mcp.temperature == 21.5
    with pytest.raises(ValueError, match="MCP9808"):
        adafruit_mcp9808.MCP9808(on_bus(Tmp117Emulator(), 0x18))  # wrong chip at the address


# --- TMP117 --------------------------------------------------------------------------------

def test_tmp117_continuous_offset_one_shot_and_identity() -> None:
    chip = Tmp117Emulator(23.456)
    tmp = adafruit_tmp117.TMP117(on_bus(chip))  # resets and waits for the first conversion
    assert tmp.temperature == pytest.approx(23.456, abs=0.0078125)
    tmp.temperature_offset = 1.5
    assert tmp.temperature == pytest.approx(24.956, abs=0.0078125)
    tmp.temperature_offset = 0.0
    chip.temperature = -20.0
    assert tmp.take_single_measurement() == pytest.approx(-20.0, abs=0.0078125)
    assert tmp.measurement_mode == adafruit_tmp117.MeasurementMode.SHUTDOWN
    assert tmp.serial_number == 0x1A2B3C4D5E6F
    bad = Tmp117Emulator()
    bad.registers[Tmp117Emulator.DEVICE_ID] = 0x0118  # some other TI part
    with pytest.raises(AttributeError, match="TMP117"):
        adafruit_tmp117.TMP117(on_bus(bad))


# --- SPS30 ---------------------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


VALUES = (0.729, 5.759, 9.827, 11.911, 0.0, 0.245, 5.054, 6.003, 6.148, 1.63)


def test_sps30_start_data_ready_read_stop() -> None:
    clock = FakeClock()
    chip = Sps30Emulator(VALUES, serial="ABCDEF0123456789", clock=clock)
    sps = Sps30I2c(on_bus(chip))
    assert sps.serial_number == "ABCDEF0123456789"
    assert not sps.data_ready  # idle
    sps.start_measurement()
    assert chip.measuring and not sps.data_ready
    clock.now += 1.0
    assert sps.data_ready
    assert sps.read_values() == pytest.approx(VALUES, rel=1e-6)
    assert not sps.data_ready  # read clears the flag until the next sample
    sps.stop_measurement()
    assert not chip.measuring


def test_sps30_refuses_commands_out_of_state() -> None:
    sps = Sps30I2c(on_bus(Sps30Emulator(sample_interval=0)))
    with pytest.raises(OSError):
        sps.read_values()  # idle: not allowed
    with pytest.raises(OSError):
        sps.stop_measurement()
    sps.start_measurement()
    with pytest.raises(OSError):
        sps.start_measurement()  # already measuring


def test_sps30_checks_the_crc_of_written_arguments() -> None:
    chip = Sps30Emulator()
    bus = on_bus(chip)
    with pytest.raises(OSError):
        raw(bus, 0x69, b"\x00\x10\x03\x00\x00")  # wrong CRC for the format word
    with pytest.raises(OSError):
        raw(bus, 0x69, b"\x00\x10" + words_with_crc(b"\x07\x00"))  # unknown output format
    assert not chip.measuring
    raw(bus, 0x69, b"\x00\x10" + words_with_crc(b"\x05\x00"))  # unsigned 16-bit integers
    values = struct.unpack(">10H", strip_crc(raw(bus, 0x69, b"\x03\x00", read=30)))
    assert values[1] == 6 and values[9] == 1600  # 5.8 µg/m³, typical size 1.6 µm in nm


def test_sps30_crc_fault_is_detected() -> None:
    chip = Sps30Emulator(VALUES, sample_interval=0)
    sps = Sps30I2c(on_bus(chip))
    sps.start_measurement()
    chip.corrupt_next_crc()
    with pytest.raises(CrcError):
        sps.read_values()
    assert sps.read_values() == pytest.approx(VALUES, rel=1e-6)
