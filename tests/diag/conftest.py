"""Fake host trees, canned command output, pty instruments and leak checks for diag tests."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from rpi_ess.diag.context import CommandResult, DiagContext, DiskUsage
from rpi_ess.simulation.instruments import create_simulator
from rpi_ess.simulation.pty import PtyInstrument
from rpi_ess.timex import KernelClock

GIB = 1 << 30
SETTLE = 10.0  # generous: a loaded CI machine may take a while to end threads


class FakeHost:
    """A directory standing in for ``/`` plus the output of the commands diag runs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.commands: dict[str, CommandResult] = {}
        root.mkdir(parents=True, exist_ok=True)

    def write(self, path: str, text: str = "") -> Path:
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def link(self, path: str, target: str, *, literal: bool = False) -> None:
        """A symlink; absolute targets are made relative, as sysfs and udev links are, unless
        ``literal`` (a /proc/PID/fd entry names the host path)."""
        link = self.root / path.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        if target.startswith("/") and not literal:
            target = os.path.relpath(target, os.path.dirname(path))
        link.symlink_to(target)

    def command(self, argv: str, stdout: str, returncode: int = 0) -> None:
        """Canned output for any command line starting with ``argv``."""
        self.commands[argv] = CommandResult(returncode, stdout)

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult | None:
        line = " ".join(argv)
        return next((result for prefix, result in self.commands.items() if line.startswith(prefix)), None)

    def context(self, **kwargs: Any) -> DiagContext:
        options: dict[str, Any] = {
            "root": self.root, "run": self.run,
            "disk_usage": lambda path: DiskUsage(32 * GIB, 8 * GIB, 24 * GIB),
            "kernel_clock": lambda: KernelClock(True, 37, 1000),
            **kwargs,
        }
        return DiagContext(**options)


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    return FakeHost(tmp_path / "root")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture
def real_ctx(tmp_path: Path, unused_port: int) -> DiagContext:
    """The real host, with no server anywhere: a status socket path and a port nobody uses."""
    return DiagContext(status_socket=str(tmp_path / "no-server.sock"), port=unused_port, listen=1.5, probe=0.8)


MakePty = Callable[..., PtyInstrument]


@pytest.fixture
def make_pty(tmp_path: Path) -> Iterator[MakePty]:
    """Pty instruments behind ``tmp_path/ess/<name>``; with ``sensor_type`` they stream its simulator."""
    made: list[PtyInstrument] = []

    def make(name: str, sensor_type: str | None = None, *, channels: int | None = None,
             source: Callable[[], bytes] | None = None, period: float | None = None) -> PtyInstrument:
        pty = PtyInstrument(name, link_dir=tmp_path / "ess")
        made.append(pty)
        if sensor_type is not None and source is None:
            simulator = create_simulator(sensor_type, channels, seed=7)
            source, period = simulator.next_bytes, period or simulator.period
        if source is not None:
            pty.start_stream(source, period or 0.2)
        return pty

    yield make
    for pty in made:
        pty.close()


@pytest.fixture(autouse=True)
def nothing_left_behind() -> Iterator[None]:
    """Every thread and descriptor a test (or diag) started is gone when the test ends."""
    before_threads = set(threading.enumerate())
    before_fds = set(os.listdir("/proc/self/fd"))
    yield
    deadline = time.monotonic() + SETTLE
    while True:
        threads = [t for t in threading.enumerate() if t not in before_threads and t.is_alive()]
        fds = set(os.listdir("/proc/self/fd")) - before_fds
        if (not threads and len(fds) <= 1) or time.monotonic() > deadline:  # 1: listdir's own descriptor
            break
        time.sleep(0.05)
    assert not threads, f"threads still running: {threads}"
    assert len(fds) <= 1, f"descriptors left open: {sorted(fds)}"
