"""SPS30 over its UART, end to end: SerialDevice -> Sps30Poller -> pty -> SHDLC emulator,
and the records through the real Sps30 parser."""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable, Iterator

import pytest
import serial

from rpi_ess.devices.base import DeviceError, Record
from rpi_ess.devices.interfaces.serial import SerialDevice
from rpi_ess.devices.sps30_uart import Sps30Poller
from rpi_ess.simulation.pty import PtyInstrument
from rpi_ess.simulation.sps30_emulator import DEFAULT_MEASUREMENT, Sps30ShdlcEmulator

pytestmark = pytest.mark.usefixtures("no_leaks")

MakeDevice = Callable[..., SerialDevice]
ReadRecords = Callable[..., list[Record]]
START, STOP, READ = 0x00, 0x01, 0x03
#: Values whose float32 bytes contain all four bytes that must be stuffed (7E, 7D, 11, 13).
STUFFED_MEASUREMENT = struct.unpack(">10f", bytes.fromhex(
    "3f8be4bf 410a3788 416bdbfb 418eed3a 00000000 3ebc2e00 40f2984a 41101216 41133c30 3f7e7d11"))


@pytest.fixture
def sps30(link_dir: object) -> Iterator[Sps30ShdlcEmulator]:
    with Sps30ShdlcEmulator(PtyInstrument("sps30", link_dir)) as emulator:  # type: ignore[arg-type]
        yield emulator


@pytest.fixture
def device(sps30: Sps30ShdlcEmulator, make_device: MakeDevice) -> SerialDevice:
    return make_device(sps30.port, "Sps30", baud_rate=115200, poll_interval=0.2)


def test_open_stops_then_starts_float_measurement(sps30: Sps30ShdlcEmulator, device: SerialDevice) -> None:
    device.open()
    assert sps30.requests == [(STOP, b""), (START, b"\x01\x03")]
    assert sps30.measuring


def test_open_when_already_measuring(sps30: Sps30ShdlcEmulator, device: SerialDevice) -> None:
    sps30.measuring = True  # the server restarted while the sensor kept measuring
    device.open()
    assert sps30.commands() == [STOP, START] and sps30.measuring


def test_measurement_records_parse(device: SerialDevice, read_records: ReadRecords) -> None:
    device.open()
    records = read_records(device, 2)
    assert all(r.data == struct.pack(">10f", *DEFAULT_MEASUREMENT) for r in records)
    reading = device.sensor.parse(records[0].data)
    assert reading.ok and len(reading.values) == 19
    assert reading.values[8:12] == [0.729, 5.759, 9.827, 11.911]  # PM1.0 .. PM10 mass


def test_stuffed_reply_is_unstuffed(sps30: Sps30ShdlcEmulator, device: SerialDevice, read_records: ReadRecords) -> None:
    payload = struct.pack(">10f", *STUFFED_MEASUREMENT)
    assert {0x7E, 0x7D, 0x11, 0x13} <= set(payload)  # the emulator must escape all four
    sps30.measurement = STUFFED_MEASUREMENT
    device.open()
    assert read_records(device, 1)[0].data == payload


def test_bad_checksum_gives_error_record_then_recovers(sps30: Sps30ShdlcEmulator, device: SerialDevice,
                                                       read_records: ReadRecords) -> None:
    device.open()
    sps30.corrupt_next_checksum = True
    bad, good = read_records(device, 2)
    assert bad.data == b"" and bad.error is not None
    assert bad.error.startswith("SPS30 frame checksum mismatch")
    assert good.error is None and len(good.data) == 40


def test_no_new_data_is_asked_again(sps30: Sps30ShdlcEmulator, device: SerialDevice,
                                    read_records: ReadRecords) -> None:
    sps30.no_data_replies = 3
    device.open()
    [record] = read_records(device, 1)
    assert record.error is None and len(record.data) == 40
    assert sps30.commands()[2:] == [READ] * 4


def test_power_cycled_sensor_is_restarted(sps30: Sps30ShdlcEmulator, device: SerialDevice,
                                          read_records: ReadRecords) -> None:
    device.open()
    read_records(device, 1)
    sps30.measuring = False  # a power cycle puts the sensor back in idle mode
    restarted, measured = read_records(device, 2)
    assert restarted.error == "SPS30 was not measuring; measurement restarted"
    assert measured.error is None and sps30.measuring


def test_close_stops_the_fan(sps30: Sps30ShdlcEmulator, device: SerialDevice) -> None:
    device.open()
    device.close()
    assert sps30.commands()[-1] == STOP and not sps30.measuring


@pytest.mark.parametrize(("configured", "used"), [(None, 1.0), (0.2, 0.2), (5.0, 5.0)])
def test_poll_interval(sps30: Sps30ShdlcEmulator, make_device: MakeDevice, configured: float | None,
                       used: float) -> None:
    device = make_device(sps30.port, "Sps30", baud_rate=115200, poll_interval=configured)
    device.open()
    poller = device._reader
    assert isinstance(poller, Sps30Poller) and poller.interval == used


def test_baud_rate_warning(sps30: Sps30ShdlcEmulator, make_device: MakeDevice,
                           caplog: pytest.LogCaptureFixture) -> None:
    device = make_device(sps30.port, "Sps30", baud_rate=19200)  # a pty ignores the baud rate
    with caplog.at_level(logging.WARNING):
        device.open()
    assert "SPS30 talks at 115200 baud, configured 19200" in caplog.text


@pytest.fixture
def impatient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Sps30Poller, "reply_timeout", 0.2)
    monkeypatch.setattr(Sps30Poller, "start_attempts", 2)


@pytest.mark.usefixtures("impatient")
def test_silent_port_fails_to_open(instrument: PtyInstrument, make_device: MakeDevice) -> None:
    device = make_device(instrument.port, "Sps30", baud_rate=115200)  # nothing answers on this tty
    with pytest.raises(DeviceError, match=r"dev1: Serial .*: SPS30 did not start measuring after 2 attempts "
                                          r"\(SPS30 did not answer within 0.2 s\)"):
        device.open()


@pytest.mark.usefixtures("impatient")
def test_hung_sensor_is_reported_then_given_up(sps30: Sps30ShdlcEmulator, device: SerialDevice,
                                               read_records: ReadRecords) -> None:
    device.open()
    read_records(device, 1)
    sps30.silent = True
    unanswered = read_records(device, 2)
    assert [r.error for r in unanswered] == ["SPS30 did not answer within 0.2 s"] * 2
    with pytest.raises(DeviceError, match="port lost: SPS30 did not answer 3 polls in a row"):
        read_records(device, 1)


def test_unplugged_sensor_is_a_lost_port(sps30: Sps30ShdlcEmulator, device: SerialDevice,
                                         read_records: ReadRecords) -> None:
    device.open()
    read_records(device, 1)
    sps30.instrument.unplug()
    with pytest.raises(DeviceError, match="port lost"):
        read_records(device, 1)


#: PROTOCOL 4.9's read reply from a real sensor; the emulator's default measurement.
MEASURED_FRAME = (
    "7e 00 03 00 28 3f 3a 86 54 40 b8 4a 0a 41 1d 3d 52 41 3e 91 a3 00 00 00 00 3e 7a e8 00 40 a1 ba dc"
    " 40 c0 18 1e 40 c4 ba ea 3f d0 a3 d7 17 7e"
)
START_REQUEST, STOP_REQUEST, READ_REQUEST = "7E 00 00 02 01 03 F9 7E", "7E 00 01 00 FE 7E", "7E 00 03 00 FC 7E"


@pytest.mark.parametrize(
    ("requests", "replies"),
    [
        ([STOP_REQUEST], ["7E 00 01 43 00 BB 7E"]),  # stop while idle: refused
        ([START_REQUEST, START_REQUEST], ["7E 00 00 00 00 FF 7E", "7E 00 00 43 00 BC 7E"]),  # ok, then refused
        ([START_REQUEST, READ_REQUEST], ["7E 00 00 00 00 FF 7E", MEASURED_FRAME]),
        ([START_REQUEST, STOP_REQUEST], ["7E 00 00 00 00 FF 7E", "7E 00 01 00 00 FE 7E"]),
        ([READ_REQUEST], ["7E 00 03 43 00 B9 7E"]),  # read while idle: refused
        (["7E 00 42 00 BD 7E"], ["7E 00 42 02 00 BB 7E"]),  # unknown command
        (["7E 00 03 00 00 7E", STOP_REQUEST], ["7E 00 01 43 00 BB 7E"]),  # bad checksum: ignored
    ],
)
def test_emulator_speaks_the_protocol_bytes(sps30: Sps30ShdlcEmulator, requests: list[str], replies: list[str]) -> None:
    """The emulator against PROTOCOL 4.9's exact bytes, through a plain pyserial port."""
    expected = b"".join(bytes.fromhex(reply) for reply in replies)
    with serial.Serial(sps30.port, 115200, timeout=0.3) as port:
        port.write(b"".join(bytes.fromhex(request) for request in requests))
        received = b""
        deadline = time.monotonic() + 10.0
        while len(received) < len(expected) and time.monotonic() < deadline:
            received += port.read(len(expected) - len(received))
        received += port.read(1)  # nothing more may follow
    assert received == expected
