"""Pseudo-terminal instruments in a process of their own, writing numbered Temperature lines.

Why a separate process: a line's send time must be taken right after its last byte is
written, and the client's arrival time right after the telemetry arrives. In one process
the two would wait for each other's GIL and the benchmark would measure itself.

Each line is an 8-channel SEL Temperature line (PROTOCOL 4.1) whose first channel carries
the line's sequence number (``C01=0000123.0000`` parses to ``123.0``), so the client can
match every telemetry line to the instant its instrument line was written.

The ptys behave like a UART, not like a pipe: writes never wait. When the server does not
drain the tty buffer (about 19 KB on Linux), the lines that do not fit are *lost* (an overrun) and
counted, and the write that hit the full buffer is counted as a stall.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import time
import tty
from array import array
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["CHANNELS", "Burst", "InstrumentProcess", "sequence_of"]

CHANNELS = 8
#: the writer never sleeps less than this: at high rates lines go out in batches per tick
TICK = 0.001
_FIELDS = b",".join(b"C%02d=%09.4f" % (i, 20.0 + i / 8) for i in range(2, CHANNELS + 1))
_LINE = b"C01=%07d.0000," + _FIELDS + b"\r\n"
SYNC = b"\r\n"  # ends whatever partial line the server's framer holds after an open


def sequence_of(values: list[Any]) -> int:
    """The sequence number carried by a telemetry line's ``sensor_telemetry``."""
    return int(values[0])


@dataclass
class Burst:
    """What one run of the writer did, per instrument: first sequence number and send times."""

    first_seq: list[int]
    sent: list[array]  # monotonic send time of each line; NaN = lost to an overrun
    overruns: int  # lines that did not fit in the tty buffer
    stalls: int  # writes that found the tty buffer full
    started: float
    ended: float

    @property
    def lines(self) -> int:
        return sum(len(times) for times in self.sent)


class _Pty:
    """One instrument: the master side written here, the slave path opened by the server."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        for fd in (self.master, self._slave):
            tty.setraw(fd)  # bytes pass unchanged, no echo
        os.set_blocking(self.master, False)
        # Keeping the slave open, like a UART that exists whether or not anyone reads it,
        # means master writes never fail with EIO while the server has the port closed.
        self.path = os.ttyname(self._slave)
        self.next_seq = 0

    def send(self, count: int, times: array) -> tuple[int, int]:
        """Write the next ``count`` lines at once; return (lines lost, stalls)."""
        first = self.next_seq
        self.next_seq += count
        data = b"".join(_LINE % seq for seq in range(first, first + count))
        try:
            written = os.write(self.master, data)
        except BlockingIOError:
            written = 0
        now = time.monotonic()
        if written == len(data):
            times.extend([now] * count)
            return 0, 0
        line_length = len(data) // count
        whole, partial = divmod(written, line_length)
        times.extend([now] * whole)
        if partial:  # finish the line in progress so the stream stays framed
            self._finish(data[written : (whole + 1) * line_length])
            times.append(time.monotonic())
            whole += 1
        times.extend([float("nan")] * (count - whole))
        return count - whole, 1

    def _finish(self, rest: bytes) -> None:
        deadline = time.monotonic() + 1.0
        while rest:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.path}: the server stopped reading this tty")
            select.select([], [self.master], [], 0.1)
            try:
                rest = rest[os.write(self.master, rest) :]
            except BlockingIOError:
                pass

    def close(self) -> None:
        os.close(self.master)
        os.close(self._slave)


def _burst(ptys: list[_Pty], rate: float, seconds: float) -> Burst:
    """Write ``rate`` lines/s on every pty for ``seconds``; instruments are evenly phased."""
    total = max(1, round(rate * seconds))
    count = len(ptys)
    offsets = [i / (count * rate) for i in range(count)]
    sent = [array("d") for _ in ptys]
    first = [p.next_seq for p in ptys]
    overruns = stalls = 0
    start = time.monotonic()
    while True:
        now = time.monotonic()
        next_due = float("inf")
        for pty, offset, times in zip(ptys, offsets, sent, strict=True):
            due = min(total, int((now - start - offset) * rate) + 1) if now >= start + offset else 0
            if due > len(times):
                lost, stalled = pty.send(due - len(times), times)
                overruns += lost
                stalls += stalled
            if len(times) < total:
                next_due = min(next_due, start + offset + len(times) / rate)
        if next_due == float("inf"):
            return Burst(first, sent, overruns, stalls, start, time.monotonic())
        time.sleep(max(next_due - time.monotonic(), TICK))


def _main(conn: Connection, count: int) -> None:
    ptys = [_Pty() for _ in range(count)]
    conn.send([p.path for p in ptys])
    try:
        while (request := conn.recv()) is not None:
            command, instruments, *args = request
            if command == "sync":
                for pty in ptys[:instruments]:
                    os.write(pty.master, SYNC)
                conn.send(None)
            else:
                conn.send(_burst(ptys[:instruments], *args))
    finally:
        for pty in ptys:
            pty.close()


class InstrumentProcess:
    """Handle on the writer process; blocking calls (run them in an executor from asyncio)."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_main, args=(child, count), name="bench-instruments", daemon=True)
        self._process.start()
        child.close()
        self.ports: list[str] = self._conn.recv()

    def sync(self, instruments: int) -> None:
        """Send a bare terminator on each instrument, so the next line is framed from its start."""
        self._conn.send(("sync", instruments))
        self._conn.recv()

    def run(self, instruments: int, rate: float, seconds: float) -> Burst:
        """Write ``rate`` lines/s on each of the first ``instruments`` ptys for ``seconds``."""
        self._conn.send(("run", instruments, rate, seconds))
        return self._conn.recv()

    def close(self) -> None:
        try:
            self._conn.send(None)
        except OSError:
            pass
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()
