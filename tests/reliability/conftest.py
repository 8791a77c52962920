"""Fault-injection kit: the real server on loopback, pty instruments that number their lines,
resource snapshots for leak checks, and a loop exception handler that fails the test.

The wire client and the server factory are the ones of ``tests/server`` (byte-for-byte
protocol client); this file adds what the reliability tests need on top.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rpi_ess.simulation.pty import PtyInstrument

from ..server.conftest import WireClient, make_server

__all__ = ["WireClient", "make_server"]

#: Generous limit for any single wait; the happy path takes milliseconds.
WAIT = 15.0


class NumberedLines:
    """A SEL temperature reader whose every channel reads the line's sequence number.

    A client that sees the numbers can tell exactly which lines were lost, duplicated or
    mangled on the way through framer, parser, queue and socket.
    """

    def __init__(self, channels: int = 2, start: int = 1) -> None:
        self.channels = channels
        self.next = start

    def line(self, number: int) -> bytes:
        fields = ",".join(f"C{i + 1:02d}={number:09.4f}" for i in range(self.channels))
        return fields.encode() + b"\r\n"

    def next_bytes(self) -> bytes:
        data = self.line(self.next)
        self.next += 1
        return data


def serial_entry(name: str, port: str, channels: int = 2, **extra: Any) -> dict[str, Any]:
    """A ``configure`` device entry for a Temperature reader on a serial port (as the CSC sends it)."""
    return {"name": name, "sensor_type": "Temperature", "device_type": "Serial", "serial_port": port,
            "channels": channels, "baud_rate": 19200, **extra}


def configure_line(*devices: dict[str, Any]) -> bytes:
    return json.dumps({"command": "configure", "parameters": {"configuration": {"devices": list(devices)}}}
                      ).encode() + b"\r\n"


def numbers(telemetry: dict[str, Any]) -> int | None:
    """The sequence number carried by a NumberedLines reading (None: not a number, e.g. NaN)."""
    value = telemetry["sensor_telemetry"][-1]
    return int(value) if isinstance(value, float) and math.isfinite(value) else None


MakeInstrument = Callable[..., tuple[PtyInstrument, NumberedLines]]


@pytest.fixture
def make_instrument(tmp_path: Path) -> Iterator[MakeInstrument]:
    """Pty instruments behind ``tmp_path/ess/<name>`` (like udev's /dev/ess links).

    With ``period`` they stream numbered lines from a background thread.
    """
    made: list[PtyInstrument] = []

    def make(name: str, period: float | None = None, channels: int = 2) -> tuple[PtyInstrument, NumberedLines]:
        pty = PtyInstrument(name, link_dir=tmp_path / "ess")
        made.append(pty)
        source = NumberedLines(channels)
        if period is not None:
            pty.start_stream(source.next_bytes, period)
        return pty, source

    yield make
    for pty in made:
        pty.close()


async def wait_until(predicate: Callable[[], bool], timeout: float = WAIT, what: str = "condition",
                     interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


async def telemetry_until(
    client: WireClient, done: Callable[[list[dict[str, Any]]], bool], timeout: float = WAIT
) -> list[dict[str, Any]]:
    """Collect telemetry lines until ``done(lines)`` holds."""
    lines: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not done(lines):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out; got {len(lines)} telemetry lines, last: {lines[-3:]}")
        lines.append(await client.telemetry(remaining))
    return lines


async def client_gone(server: Any, interval: float = 0.02) -> None:
    """Wait until the previous client is fully closed, so a new connection will be accepted."""
    await wait_until(lambda: not server._has_client, what="the server to finish closing its client",
                     interval=interval)


async def received_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent before closing: FIN, RST (our data was left unread) or a TLS alert."""
    data = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), WAIT):
            data += chunk
    except (ConnectionResetError, ssl.SSLError):
        pass
    return data


def by_name(lines: list[dict[str, Any]], name: str, code: int | None = None) -> list[dict[str, Any]]:
    return [t for t in lines if t["name"] == name and (code is None or t["response_code"] == code)]


def assert_contiguous(lines: list[dict[str, Any]]) -> None:
    """Code-0 lines of one NumberedLines instrument carry consecutive numbers (nothing lost)."""
    got = [numbers(t) for t in lines if t["response_code"] == 0]
    assert None not in got, f"a reading of a healthy instrument was mangled: {lines}"
    assert got, "no good reading at all"
    assert got == list(range(got[0], got[0] + len(got))), f"gap or duplicate in {got}"


# --- leak checks --------------------------------------------------------------------------------

#: Worker threads of the event loop's default executor: reused, bounded by its max_workers.
EXECUTOR_PREFIX = "asyncio_"


@dataclass(frozen=True)
class Resources:
    fds: dict[int, str]
    threads: frozenset[str]
    tasks: int

    @classmethod
    def now(cls) -> Resources:
        fds: dict[int, str] = {}
        for entry in os.listdir("/proc/self/fd"):
            try:
                fds[int(entry)] = os.readlink(f"/proc/self/fd/{entry}")
            except OSError:  # the descriptor listdir itself used
                continue
        threads = frozenset(f"{t.name}#{t.ident}" for t in threading.enumerate()
                            if t.is_alive() and not t.name.startswith(EXECUTOR_PREFIX))
        return cls(fds, threads, len(asyncio.all_tasks()))

    def leaks_since(self, before: Resources, same_fds: bool = True) -> list[str]:
        """What is open now and was not ``before``; ``same_fds`` False compares only the fd count
        (for tests that re-plug instruments, whose own ttys then change)."""
        if same_fds:
            problems = [f"fd {fd} -> {target}" for fd, target in self.fds.items() if before.fds.get(fd) != target]
        else:
            problems = [f"{len(self.fds) - len(before.fds)} more fds"] if len(self.fds) > len(before.fds) else []
        problems += [f"thread {name}" for name in self.threads - before.threads]
        if self.tasks > before.tasks:
            problems.append(f"{self.tasks - before.tasks} more asyncio task(s)")
        return problems


async def settle_to(before: Resources, timeout: float = WAIT, same_fds: bool = True) -> Resources:
    """Wait until nothing is left beyond ``before``; fail listing what leaked."""
    deadline = time.monotonic() + timeout
    while True:
        now = Resources.now()
        leaks = now.leaks_since(before, same_fds)
        if not leaks:
            return now
        if time.monotonic() > deadline:
            raise AssertionError(f"leaked: {leaks}")
        await asyncio.sleep(0.05)


def vm_rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


# --- event-loop hygiene ---------------------------------------------------------------------------

@pytest.fixture(autouse=True)
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """Anything the event loop reports (unretrieved task exceptions, failing callbacks) fails the test."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    yield reported
    loop.set_exception_handler(previous)
    assert not reported, f"event loop reported: {[c.get('message') for c in reported]}"


# --- raw sockets ------------------------------------------------------------------------------------

async def raw_connect(port: int, host: str = "127.0.0.1", rcvbuf: int | None = None,
                      **kwargs: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A plain connection; ``rcvbuf`` shrinks the receive buffer (a slow or stalled reader)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except OSError:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock, limit=1 << 20, **kwargs)


async def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a crashed client or a pulled cable after a timeout."""
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    await asyncio.sleep(0)


Connect = Callable[..., Awaitable[WireClient]]


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """``await connect(port, heartbeat=0.2, rcvbuf=None, ssl=None)``: a WireClient closed after the test."""
    opened: list[WireClient] = []

    async def factory(port: int, heartbeat: float | None = 0.2, **kwargs: Any) -> WireClient:
        reader, writer = await raw_connect(port, **kwargs)
        client = WireClient(reader, writer)
        if heartbeat:
            client._heartbeat = asyncio.create_task(client._beat(heartbeat))
        opened.append(client)
        return client

    yield factory
    for client in opened:
        await client.close()
