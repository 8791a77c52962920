"""A client that behaves like the CSC's ``ControllerDataClient`` (PROTOCOL 6.2), speaking the wire itself.

Heartbeat right after connecting and every second, ``configure``, wait for the response
(skipping other lines), then read telemetry: either as fast as it comes, noting when each
line arrived (``read_all``), or one line per ``rate_limit`` seconds like the CSC's default
0.5 s (``read_slowly``). Both use an asyncio ``StreamReader`` with its default 64 KiB limit,
as the CSC does, so a slow reader pushes back on the server exactly as the CSC would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from typing import Any

from .instruments import CHANNELS, sequence_of

__all__ = ["CscClient", "device_config", "query_status"]

HEARTBEAT = b"heartbeat\r\n"
HEARTBEAT_INTERVAL = 1.0
CONNECT_TIMEOUT = 10.0
READ_CHUNK = 1 << 16


def device_config(index: int, port: str) -> dict[str, Any]:
    """What the CSC would send for one SEL temperature reader on ``port`` (PROTOCOL 2.6)."""
    return {"name": f"T{index}", "sensor_type": "Temperature", "channels": CHANNELS, "device_type": "Serial",
            "serial_port": port, "baud_rate": 115200, "location": "benchmark", "safe_interval": 10}


def _command(name: str, **parameters: Any) -> bytes:
    return json.dumps({"command": name, "parameters": parameters}).encode() + b"\r\n"


class CscClient:
    """One connection. ``arrivals[name][seq]`` is the monotonic time telemetry line ``seq`` arrived."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._heartbeat = asyncio.create_task(self._send_heartbeats())
        self.arrivals: defaultdict[str, dict[int, float]] = defaultdict(dict)
        self.lines = 0
        self.error_lines = 0  # response_code != 0 (e.g. silent devices)
        self.bad_lines = 0  # not a well-formed telemetry line (PROTOCOL 6.3)
        self.changed = asyncio.Event()
        self._reading: asyncio.Task[None] | None = None
        self._slow = False

    @classmethod
    async def connect(cls, port: int, devices: list[dict[str, Any]]) -> CscClient:
        """Connect and configure, retrying while the server still closes the previous client."""
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while True:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            client = cls(reader, writer)
            try:
                await client._configure(devices)
                return client
            except (ConnectionError, asyncio.IncompleteReadError):
                await client.close()
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

    async def _configure(self, devices: list[dict[str, Any]]) -> None:
        self._writer.write(_command("configure", configuration={"devices": devices}))
        while True:
            line = await asyncio.wait_for(self._reader.readuntil(b"\r\n"), CONNECT_TIMEOUT)
            message = json.loads(line)
            if "response" in message:
                if message["response"] != 0:
                    raise RuntimeError(f"configure refused: {message}")
                return
            self._note(line, time.monotonic())

    async def _send_heartbeats(self) -> None:
        while True:
            self._writer.write(HEARTBEAT)
            await asyncio.sleep(HEARTBEAT_INTERVAL)

    def _note(self, line: bytes, now: float) -> None:
        self.lines += 1
        try:
            telemetry = json.loads(line)["telemetry"]
            if telemetry["response_code"] != 0:
                self.error_lines += 1
                return
            self.arrivals[telemetry["name"]][sequence_of(telemetry["sensor_telemetry"])] = now
        except (ValueError, KeyError, TypeError, IndexError):
            self.bad_lines += 1

    def start_reading(self, rate_limit: float | None = None) -> None:
        """Read everything as it comes (None), or one line per ``rate_limit`` seconds like the CSC."""
        self._slow = rate_limit is not None
        self._reading = asyncio.create_task(self._read_all() if rate_limit is None else self._read_slowly(rate_limit))

    async def _read_all(self) -> None:
        """Read until EOF, timestamping each chunk as it arrives."""
        pending = b""
        while chunk := await self._reader.read(READ_CHUNK):
            now = time.monotonic()
            *lines, pending = (pending + chunk).split(b"\r\n")
            for line in lines:
                self._note(line, now)
            self.changed.set()

    async def _read_slowly(self, rate_limit: float) -> None:
        while True:
            started = time.monotonic()
            self._note(await self._reader.readuntil(b"\r\n"), started)
            await asyncio.sleep(max(0.0, rate_limit - (time.monotonic() - started)))

    async def disconnect(self) -> None:
        """Ask the server to close us, read what is left at full speed, wait for its EOF."""
        self._writer.write(_command("disconnect"))
        reading = self._reading
        if reading is None or self._slow:
            if reading is not None:
                reading.cancel()
                await asyncio.gather(reading, return_exceptions=True)
            reading = asyncio.create_task(self._read_all())
        with contextlib.suppress(ConnectionError, TimeoutError):
            await asyncio.wait_for(reading, CONNECT_TIMEOUT)
        await self.close()

    async def close(self) -> None:
        self._heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._heartbeat
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


async def query_status(path: str) -> dict[str, Any]:
    """The server's ``status`` report from its local status socket (what ``rpi-ess diag`` reads)."""
    reader, writer = await asyncio.open_unix_connection(path)
    try:
        writer.write(_command("status"))
        reply = json.loads(await asyncio.wait_for(reader.readuntil(b"\r\n"), CONNECT_TIMEOUT))
        return reply["status"]
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
