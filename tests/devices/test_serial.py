"""SerialDevice on real ttys (pseudo-terminals in raw mode) and pyserial URL ports.

The instrument side writes the exact bytes real instruments send; the device opens the tty
like /dev/ttyUSB0 and its records go through the real parsers.
"""

from __future__ import annotations

import errno
import grp
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rpi_ess.devices import create_device
from rpi_ess.devices.base import DeviceError, Record
from rpi_ess.devices.framing import DEFAULT_MAX_RECORD
from rpi_ess.devices.interfaces.serial import SerialDevice
from rpi_ess.devices.serial_link import open_error_reason
from rpi_ess.simulation.instruments import create_simulator
from rpi_ess.simulation.pty import PtyInstrument

pytestmark = pytest.mark.usefixtures("no_leaks")

MakeDevice = Callable[..., SerialDevice]
ReadRecords = Callable[..., list[Record]]

T4 = b"C01=0032.1443,C02=0033.0320,C03=-001.3020,C04=9999.9990"
T4_VALUES = [32.1443, 33.032, -1.302]


def test_registered_as_serial(instrument: PtyInstrument, make_device: MakeDevice) -> None:
    device = make_device(instrument.port)
    assert isinstance(create_device(device.config, device.sensor), SerialDevice)
    assert device.describe == f"Serial {instrument.port}"


def test_crlf_lines_are_parsed(instrument: PtyInstrument, make_device: MakeDevice,
                               read_records: ReadRecords) -> None:
    device = make_device(instrument.port, channels=4)
    device.open()
    instrument.write(b"3.0320,C03=-001.3020\r\n" + T4 + b"\r\n" + T4 + b"\r\n")
    records = read_records(device, 3)
    # the tail of a line begun before the open is kept, marked first; its parser pads it with NaN
    assert [(r.data, r.first) for r in records] == [(b"3.0320,C03=-001.3020", True), (T4, False), (T4, False)]
    reading = device.sensor.parse(records[1].data)
    assert reading.ok and reading.values[:3] == T4_VALUES


def test_records_split_across_reads(instrument: PtyInstrument, make_device: MakeDevice,
                                    read_records: ReadRecords) -> None:
    device = make_device(instrument.port, channels=4)
    device.open()
    instrument.write(T4[:10])
    assert device.read(0.3) == []
    instrument.write(T4[10:] + b"\r")
    assert device.read(0.3) == []  # CR alone does not end a CRLF record
    instrument.write(b"\n")
    assert [r.data for r in read_records(device, 1)] == [T4]


def test_stale_input_is_discarded_on_open(instrument: PtyInstrument, make_device: MakeDevice,
                                          read_records: ReadRecords) -> None:
    instrument.write(b"OLD1\r\nOLD2\r\nOLD3")  # waited in the tty buffer before anybody opened it
    device = make_device(instrument.port, channels=4)
    device.open()
    instrument.write(T4 + b"\r\n")  # without the discard: OLD1, OLD2, OLD3C01=...
    records = read_records(device, 1)
    assert [(r.data, r.first) for r in records] == [(T4, True)]  # the first record after open is kept
    assert device.read(0.3) == []


def test_hx85_late_terminator_flushed_when_idle(instrument: PtyInstrument, make_device: MakeDevice,
                                                read_records: ReadRecords) -> None:
    """HX85 sends LF CR just before the *next* line; a record must not wait 1.35 s for it."""
    simulator = create_simulator("HX85A", seed=3)
    lines = [simulator.next_bytes() for _ in range(4)]  # lines[1:] begin with the previous "\n\r"
    device = make_device(instrument.port, "HX85A", clock=time.monotonic)
    device.open()
    received: list[Record] = []
    for line in lines:
        instrument.write(line)
        received += read_records(device, 1)
        # complete after idle_flush of silence, stamped with the arrival of its last byte
        assert received[-1].timestamp <= time.monotonic() - device.sensor.idle_flush
    assert [r.data for r in received] == [line.removeprefix(b"\n\r") for line in lines]
    assert all(device.sensor.parse(r.data).ok for r in received)


def test_endless_line_gives_one_error_record(instrument: PtyInstrument, make_device: MakeDevice,
                                             read_records: ReadRecords) -> None:
    device = make_device(instrument.port, channels=4)
    device.open()
    junk = b"9" * 1000
    received: list[Record] = []
    for _ in range(3 * DEFAULT_MAX_RECORD // len(junk)):  # three buffers' worth, never terminated
        instrument.write(junk)
        received += device.read(0.05)
    instrument.write(b"\r\n" + T4 + b"\r\n")
    received += read_records(device, 2 - len(received))
    assert [r.error is not None for r in received] == [True, False]
    assert f"longer than {DEFAULT_MAX_RECORD}" in str(received[0].error)
    assert received[1].data == T4


def test_garbage_bytes_never_stop_the_stream(instrument: PtyInstrument, make_device: MakeDevice,
                                             read_records: ReadRecords) -> None:
    device = make_device(instrument.port, channels=4)
    device.open()
    garbage = bytes(range(256)).replace(b"\n", b"") + b"\x00\xff\r\r\x03\x11\x13"
    instrument.write(garbage + b"\r\n" + T4 + b"\r\n")
    records = read_records(device, 2)
    assert records[0].data == garbage  # bytes pass unchanged: no XON/XOFF, no CR/LF mapping
    assert not device.sensor.parse(records[0].data).ok
    assert device.sensor.parse(records[1].data).values[:3] == T4_VALUES


def test_streaming_simulator(instrument: PtyInstrument, make_device: MakeDevice,
                             read_records: ReadRecords) -> None:
    simulator = create_simulator("Temperature", 4, seed=1)
    device = make_device(instrument.port, channels=4)
    device.open()
    instrument.start_stream(simulator.next_bytes, 0.02)
    records = read_records(device, 20)
    instrument.stop_stream()
    assert all(device.sensor.parse(r.data).ok for r in records)
    assert [r.timestamp for r in records] == sorted(r.timestamp for r in records)


def test_unplug_and_replug_through_stable_name(instrument: PtyInstrument, make_device: MakeDevice,
                                               read_records: ReadRecords) -> None:
    device = make_device(instrument.port, channels=4)
    assert Path(instrument.port).is_symlink()
    device.open()
    assert device.present() is True
    instrument.unplug()
    with pytest.raises(DeviceError, match=r"dev1: Serial .*/ess/inst: port lost"):
        read_records(device, 1)
    device.close()
    assert device.present() is False
    with pytest.raises(DeviceError, match="port does not exist"):
        device.open()
    instrument.replug()
    assert device.present() is True
    device.open()
    instrument.write(T4 + b"\r\n")  # the first line after the re-plug is a reading
    assert [r.data for r in read_records(device, 1)] == [T4]


def test_missing_port(make_device: MakeDevice, tmp_path: Path) -> None:
    device = make_device(str(tmp_path / "ttyUSB9"))
    assert device.present() is False
    with pytest.raises(DeviceError) as error:
        device.open()
    assert str(error.value) == f"dev1: Serial {tmp_path / 'ttyUSB9'}: port does not exist"


def test_not_a_tty(make_device: MakeDevice, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a port")
    with pytest.raises(DeviceError, match="not a serial port"):
        make_device(str(tmp_path / "notes.txt")).open()


def test_no_port_configured(make_device: MakeDevice) -> None:
    with pytest.raises(DeviceError, match="no serial_port configured"):
        make_device("").open()


def test_busy_port(instrument: PtyInstrument, make_device: MakeDevice) -> None:
    make_device(instrument.port).open()
    with pytest.raises(DeviceError, match=r"dev1: Serial .*: port busy \(used by another process\)"):
        make_device(instrument.port).open()


def test_permission_denied(instrument: PtyInstrument, make_device: MakeDevice) -> None:
    os.chmod(instrument.slave_path, 0)
    device = make_device(instrument.port)
    message = _open_as_unprivileged(device) if os.geteuid() == 0 else _open_message(device)
    assert message.endswith("permission denied (is the service user in group dialout?)"), message


def test_permission_denied_names_the_file_group_and_user(instrument: PtyInstrument, make_device: MakeDevice) -> None:
    # issue 14.2: say what refused; the pty's own path, which user nobody can reach
    os.chmod(instrument.slave_path, 0o660)
    device = make_device(instrument.slave_path)
    if os.geteuid() != 0:
        pytest.skip("needs root to open as another user")
    message = _open_as_unprivileged(device)
    group = grp.getgrgid(os.stat(instrument.slave_path).st_gid).gr_name
    assert message.endswith(f"permission denied: {instrument.slave_path} is root:{group} rw-rw---- "
                            f"and user nobody is not in group {group}"), message


def test_a_sandbox_refusal_is_told_apart_from_file_permissions() -> None:
    # EPERM is the device cgroup (systemd DeviceAllow=); EACCES is the file's mode and group
    assert open_error_reason(OSError(errno.EPERM, "Operation not permitted")).startswith(
        "not permitted by the service's sandbox (the unit's DeviceAllow= does not list this device")
    assert open_error_reason(OSError(errno.EACCES, "Permission denied"), path="sim://x") == (
        "permission denied (is the service user in group dialout?)")


def _open_message(device: SerialDevice) -> str:
    try:
        device.open()
    except DeviceError as e:
        return str(e)
    return "opened"


def _open_as_unprivileged(device: SerialDevice) -> str:
    """As root (CI) no file is denied: open from a forked child that dropped to 'nobody'."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no pytest machinery, always _exit
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os.write(write_end, _open_message(device).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    return message


def test_invalid_url(make_device: MakeDevice) -> None:
    with pytest.raises(DeviceError, match="dev1: Serial nosuch://x: invalid port or setting"):
        make_device("nosuch://x").open()


def test_loop_url(make_device: MakeDevice, read_records: ReadRecords) -> None:
    """pyserial's loop:// echoes what is written: the whole read path without a tty."""
    device = make_device("loop://", channels=4)
    assert device.present() is None
    device.open()
    device._link.port.write(T4 + b"\r\n")  # type: ignore[union-attr]
    assert [r.data for r in read_records(device, 1)] == [T4]


def test_socket_url(make_device: MakeDevice, read_records: ReadRecords) -> None:
    """An instrument behind a terminal server (ser2net): socket://host:port."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        device = make_device(f"socket://127.0.0.1:{server.getsockname()[1]}", channels=4)
        device.open()
        connection, _ = server.accept()
        with connection:
            connection.sendall(T4 + b"\r\n")
            assert [r.data for r in read_records(device, 1)] == [T4]
            device.close()


def test_interrupt_wakes_a_blocked_read(instrument: PtyInstrument, make_device: MakeDevice) -> None:
    device = make_device(instrument.port)
    device.open()
    result: list[list[Record]] = []
    reader = threading.Thread(target=lambda: result.append(device.read(60.0)))
    reader.start()
    time.sleep(0.3)  # let it block (not an assertion: the test passes either way)
    device.interrupt()
    reader.join(10.0)
    assert not reader.is_alive() and result == [[]]


def test_close_twice_and_read_closed(instrument: PtyInstrument, make_device: MakeDevice) -> None:
    device = make_device(instrument.port)
    device.open()
    device.close()
    device.close()
    device.interrupt()  # harmless on a closed device: the next read returns at once
    assert device.read(0.1) == []
    with pytest.raises(DeviceError, match="not open"):
        device.read(0.1)


def test_reopen_is_clean(instrument: PtyInstrument, make_device: MakeDevice, read_records: ReadRecords) -> None:
    """open() on an open device first closes it (no second fd, no exclusive-lock clash)."""
    device = make_device(instrument.port, channels=4)
    device.open()
    device.open()
    instrument.write(T4 + b"\r\n")  # the first line after the re-plug is a reading
    assert [r.data for r in read_records(device, 1)] == [T4]
