"""Everything a check reads from the host, in one injectable place.

Checks never touch ``/proc``, ``/sys``, ``/dev``, ``/run`` or ``/etc`` directly, nor run
commands themselves: they go through :class:`DiagContext`, so tests can point them at a
fake tree and canned command output.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..server.status_paths import find_status_socket
from ..timex import KernelClock, read_kernel_clock

if TYPE_CHECKING:
    from ..devices.config import DeviceConfig
    from ..devices.interfaces.i2c import BusFactory

__all__ = ["CommandResult", "CommandRunner", "DiagContext", "DiskUsage", "run_command"]

log = logging.getLogger(__name__)

DEFAULT_PORT = 5000
DEFAULT_UNIT = "rpi-ess.service"
MAX_SYMLINKS = 16


@dataclass(frozen=True, slots=True)
class CommandResult:
    returncode: int
    stdout: str


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


#: Runs argv with a timeout; None when the program is missing, hangs or cannot start.
CommandRunner = Callable[[Sequence[str], float], CommandResult | None]


def run_command(argv: Sequence[str], timeout: float) -> CommandResult | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except (OSError, subprocess.SubprocessError) as e:
        log.debug("%s failed: %s", argv[0], e)
        return None
    return CommandResult(done.returncode, done.stdout)


@dataclass
class DiagContext:
    """Options and host access for one diagnostic run."""

    root: Path = Path("/")
    run: CommandRunner = run_command
    disk_usage: Callable[[Path], DiskUsage] = shutil.disk_usage
    kernel_clock: Callable[[], KernelClock | None] = read_kernel_clock
    devices: list[DeviceConfig] = field(default_factory=list)
    config_source: str = "no configuration"  # where ``devices`` came from, for the report
    config_errors: list[str] = field(default_factory=list)
    listen: float = 3.0  # seconds each device is listened to
    probe: float = 1.5  # seconds per baud rate when probing
    status_socket: str = field(default_factory=find_status_socket)
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    unit: str = DEFAULT_UNIT
    simulated: bool = False
    #: Serial ports to list (None: every tty with a device in /sys/class/tty)
    serial_ports: list[str] | None = None
    #: Directories of stable serial names: udev's by-id links and our own rule's /dev/ess
    alias_dirs: list[str] = field(default_factory=lambda: ["/dev/serial/by-id", "/dev/ess"])
    #: I2C bus opener (None: the backend's module-wide factory, i.e. /dev/i2c-N through Blinka)
    i2c_buses: BusFactory | None = None
    #: I2C bus numbers to scan (None: every /dev/i2c-N)
    i2c_bus_numbers: list[int] | None = None
    #: STATUS object of the running server (PROTOCOL of the status command), fetched once.
    server_status: dict[str, Any] | None = None
    #: Where ``server_status`` came from, or why it could not be fetched.
    status_source: str = "not queried"

    def i2c_factory(self) -> BusFactory:
        if self.i2c_buses is not None:
            return self.i2c_buses
        from ..devices.interfaces import i2c

        return i2c.bus_factory

    def path(self, absolute: str) -> Path:
        """Host path ``absolute`` (e.g. ``/proc/uptime``) under this context's root."""
        return self.root / absolute.lstrip("/")

    def resolve(self, absolute: str) -> str:
        """Follow the symlinks of host path ``absolute`` (e.g. a /dev/serial/by-id name) inside root."""
        path = absolute
        for _ in range(MAX_SYMLINKS):
            try:
                target = os.readlink(self.path(path))
            except OSError:
                break
            path = os.path.normpath(os.path.join(os.path.dirname(path), target))
        return path

    def read_text(self, absolute: str) -> str | None:
        """File contents, or None if it is missing or unreadable (a check reports that)."""
        try:
            return self.path(absolute).read_text(errors="replace")
        except OSError:
            return None
