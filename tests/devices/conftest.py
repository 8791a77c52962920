"""Fixtures for the serial-family backends: pseudo-terminal instruments, devices that are
always closed, and a leak check (fds and threads) for tests that open real ttys."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rpi_ess.devices.base import Device, Record
from rpi_ess.devices.config import DeviceConfig
from rpi_ess.devices.interfaces.serial import SerialDevice
from rpi_ess.sensors import create_sensor
from rpi_ess.simulation.pty import PtyInstrument
from rpi_ess.tai import tai_time

WAIT = 10.0  # generous: CI machines are slow and loaded


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Every tty, pipe and thread a test opened is gone when it ends."""
    fds, threads = _open_fds(), set(threading.enumerate())
    yield
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        extra_threads = [t for t in threading.enumerate() if t not in threads and t.is_alive()]
        if not extra_threads:
            break
        time.sleep(0.05)
    assert not extra_threads, f"threads left running: {extra_threads}"
    leaked = {fd: _target(fd) for fd in _open_fds() - fds}
    leaked = {fd: target for fd, target in leaked.items() if target is not None}
    assert not leaked, f"file descriptors left open: {leaked}"


def _target(fd: str) -> str | None:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # the fd listdir itself used
        return None


@pytest.fixture
def link_dir(tmp_path: Path) -> Path:
    """Stands in for /dev/ess: stable names that follow re-plugged instruments."""
    return tmp_path / "ess"


@pytest.fixture
def instrument(link_dir: Path) -> Iterator[PtyInstrument]:
    with PtyInstrument("inst", link_dir) as inst:
        yield inst


def serial_config(port: str, sensor_type: str = "Temperature", **kwargs: Any) -> DeviceConfig:
    kwargs.setdefault("name", "dev1")
    return DeviceConfig(sensor_type=sensor_type, device_type="Serial", serial_port=port, **kwargs)


@pytest.fixture
def make_device() -> Iterator[Callable[..., SerialDevice]]:
    """Build (not open) a SerialDevice with the real parser for ``sensor_type``; closed at teardown."""
    devices: list[Device] = []

    def make(port: str, sensor_type: str = "Temperature", channels: int | None = None,
             clock: Callable[[], float] = tai_time, **kwargs: Any) -> SerialDevice:
        device = SerialDevice(serial_config(port, sensor_type, channels=channels, **kwargs),
                              create_sensor(sensor_type, channels), clock)
        devices.append(device)
        return device

    yield make
    for device in devices:
        device.close()


def _read_records(device: Device, count: int, timeout: float = WAIT) -> list[Record]:
    records: list[Record] = []
    deadline = time.monotonic() + timeout
    while len(records) < count:
        assert time.monotonic() < deadline, f"only {len(records)} of {count} records: {records}"
        records += device.read(0.25)
    return records


@pytest.fixture
def read_records() -> Callable[..., list[Record]]:
    """``read_records(device, count)``: read as the runner does until ``count`` records came."""
    return _read_records
