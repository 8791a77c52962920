"""The server under test: ``python -m rpi_ess serve`` as a child process, watched through /proc.

Start-up time is process creation to the first accepted TCP connection (connect polled
every 5 ms on a port picked beforehand). CPU time is the kernel's per-process CPU clock
(all threads, nanoseconds; ``/proc/PID/stat`` ticks are 10 ms, too coarse for idle CPU),
with ``/proc/PID/stat`` as the fallback. Memory is ``VmRSS``/``VmHWM`` from
``/proc/PID/status``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["FloorProcess", "ServerProcess", "free_port", "import_floor_rss_mb"]

POLL = 0.005
START_TIMEOUT = 20.0
_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(f"{key} not in /proc/{pid}/status")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) used so far by process ``pid``."""
    try:
        return time.clock_gettime(((~pid) << 3) | 2)  # Linux CPUCLOCK_SCHED process clock of pid
    except OSError:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def import_floor_rss_mb() -> float:
    """Peak RSS of a bare interpreter that only imports the server module: the import cost."""
    code = ("import rpi_ess.server.socket_server, pathlib; print([l for l in pathlib.Path('/proc/self/status')"
            ".read_text().splitlines() if l.startswith('VmHWM')][0].split()[1])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return int(out.stdout.strip()) / 1024


class ServerProcess:
    """One ``rpi-ess serve`` on 127.0.0.1 with its log in ``workdir``."""

    def __init__(self, workdir: Path, name: str = "server", node_config: Path | None = None) -> None:
        self.node_config = node_config  # --config FILE (the --ops run's metrics_port)
        self.port = free_port()
        self.status_socket = str(workdir / f"{name}.sock")
        self.log_path = workdir / f"{name}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.startup_seconds = float("nan")
        self.pid = 0

    def command(self) -> list[str]:
        config = ["--config", str(self.node_config)] if self.node_config is not None else []
        return [sys.executable, "-m", "rpi_ess", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--status-socket", self.status_socket, *config]

    def start(self) -> float:
        """Start the server; return seconds from process start to accepting a connection."""
        command = self.command()
        with open(self.log_path, "wb") as log:
            started = time.monotonic()
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.pid = self._process.pid
        while time.monotonic() - started < START_TIMEOUT:
            if self._process.poll() is not None:
                raise RuntimeError(f"server exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    self.startup_seconds = time.monotonic() - started
                    return self.startup_seconds
            except OSError:
                time.sleep(POLL)
        raise TimeoutError(f"server not accepting connections after {START_TIMEOUT} s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def rss_mb(self) -> float:
        return _status_kb(self.pid, "VmRSS") / 1024

    def peak_rss_mb(self) -> float:
        return _status_kb(self.pid, "VmHWM") / 1024

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.stop()


class FloorProcess(ServerProcess):
    """The minimal forwarder of ``floor.py``, run and measured exactly like the server."""

    def command(self) -> list[str]:
        return [sys.executable, str(Path(__file__).with_name("floor.py")), str(self.port)]
