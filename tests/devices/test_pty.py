"""PtyInstrument: a raw tty that passes every byte, streams, and can be unplugged."""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import select
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpi_ess.simulation.pty import PtyInstrument

pytestmark = pytest.mark.usefixtures("no_leaks")

EVERY_BYTE = bytes(range(256))


@contextlib.contextmanager
def host_side(instrument: PtyInstrument) -> Iterator[int]:
    """The port opened as a program would open it (through the stable name)."""
    fd = os.open(instrument.port, os.O_RDWR | os.O_NOCTTY)
    try:
        yield fd
    finally:
        os.close(fd)


def read_exactly(fd: int, size: int, timeout: float = 10.0) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < size and select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
        data += os.read(fd, size - len(data))
    return data


def test_every_byte_passes_unchanged_both_ways(instrument: PtyInstrument) -> None:
    """No echo, no CR/LF mapping, no XON/XOFF or ^C handling: an 8-bit clean line."""
    with host_side(instrument) as fd:
        instrument.write(EVERY_BYTE * 4)
        assert read_exactly(fd, 1024) == EVERY_BYTE * 4
        os.write(fd, EVERY_BYTE)
        received = b""
        deadline = time.monotonic() + 10.0
        while len(received) < 256 and time.monotonic() < deadline:
            received += instrument.read(0.5)
        assert received == EVERY_BYTE


def test_read_times_out_empty(instrument: PtyInstrument) -> None:
    assert instrument.read(0.05) == b""


def test_stable_name_points_at_the_tty(instrument: PtyInstrument, link_dir: Path) -> None:
    assert instrument.port == str(link_dir / "inst")
    assert os.path.realpath(instrument.port) == instrument.slave_path


def test_without_link_dir_port_is_the_slave() -> None:
    with PtyInstrument("bare") as instrument:
        assert instrument.port == instrument.slave_path and instrument.link is None


def test_stream_writes_records_at_a_period(instrument: PtyInstrument) -> None:
    counter = itertools.count()
    with host_side(instrument) as fd:
        instrument.start_stream(lambda: b"%03d\r\n" % next(counter), 0.01)
        with pytest.raises(RuntimeError, match="already streaming"):
            instrument.start_stream(lambda: b"", 1.0)
        data = read_exactly(fd, 5 * 10)
        instrument.stop_stream()
    assert data.split(b"\r\n")[:10] == [b"%03d" % i for i in range(10)]
    assert instrument.records_written >= 10


def test_stream_without_reader_drops_instead_of_blocking(instrument: PtyInstrument) -> None:
    instrument.start_stream(lambda: b"x" * 65536, 0.01)  # nobody drains the tty
    deadline = time.monotonic() + 10.0
    while instrument.records_dropped == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    instrument.stop_stream()
    assert instrument.records_dropped > 0


def test_write_with_full_buffer_times_out(instrument: PtyInstrument) -> None:
    with pytest.raises(TimeoutError, match="tty buffer full"):
        instrument.write(b"y" * (1 << 20), timeout=0.2)


def test_unplug_and_replug(instrument: PtyInstrument) -> None:
    with host_side(instrument) as fd:
        instrument.unplug()
        assert not instrument.plugged and not os.path.lexists(instrument.port)
        with pytest.raises(OSError, match="unplugged"):
            instrument.write(b"lost")
        assert instrument.read(0.01) == b""
        assert select.select([fd], [], [], 5.0)[0]  # hang-up: readable, but nothing to read
        try:
            outcome: bytes | int | None = os.read(fd, 1)
        except OSError as e:
            outcome = e.errno
        assert outcome in (b"", errno.EIO)  # EOF or EIO, as after a USB adapter is pulled
    instrument.replug()
    assert instrument.plugged and os.path.realpath(instrument.port) == instrument.slave_path
    with host_side(instrument) as fd:
        instrument.write(b"back\r\n")
        assert read_exactly(fd, 6) == b"back\r\n"


def test_close_twice(link_dir: Path) -> None:
    instrument = PtyInstrument("twice", link_dir)
    instrument.start_stream(lambda: b".", 0.01)
    instrument.close()
    instrument.close()
    assert not os.path.lexists(link_dir / "twice")
