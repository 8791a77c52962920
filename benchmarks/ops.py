"""``--ops``: the scenarios again with the operator's tools on (issue 12).

The server runs with ``server.metrics_port`` set and is scraped every 15 s (Prometheus's
default), the first time at once; a technician's tap stays attached to the first instrument
for the whole run, read as fast as it comes. What one scrape costs the server is reported
too (``scrape_cpu_ms``: the server's CPU time across a scrape made while it is idle). Compare CPU per line and peak
RSS with a run without ``--ops``: the figures of the same scenarios, on the same machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["OpsLoad", "write_node_config"]

SCRAPE_INTERVAL = 15.0
TAP_DEVICE = "T1"


def write_node_config(path: Path, metrics_port: int) -> Path:
    path.write_text(f"server:\n  metrics_port: {metrics_port}\n")
    return path


class OpsLoad:
    """Scrapes and a tap, running beside a benchmark scenario; ``summary()`` for the JSON."""

    def __init__(self, metrics_port: int | None, tap: bool, status_socket: str, cpu_seconds: Callable[[], float]
                 ) -> None:
        self.metrics_port = metrics_port
        self.tap = tap
        self.status_socket = status_socket
        self.cpu_seconds = cpu_seconds  # of the server process
        self.scrape_cpu_ms = math.nan
        self.scrapes = 0
        self.scrape_failures = 0
        self.scrape_seconds_max = 0.0
        self.samples = 0
        self.tap_bytes = 0
        self.tap_dropped = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._tap_writer: asyncio.StreamWriter | None = None
        self._configured = False

    def start(self) -> None:
        if self.metrics_port is not None:
            self._tasks.append(asyncio.create_task(self._scrape_forever()))

    async def on_configured(self) -> None:
        """First configure: measure a scrape, attach the tap (it follows T1 across the scenarios' reconnects)."""
        if self._configured:
            return
        self._configured = True
        if self.metrics_port is not None:
            await self._measure_scrape()
        if not self.tap:
            return
        reader, writer = await asyncio.open_unix_connection(self.status_socket, limit=1 << 22)
        request = {"command": "tap", "parameters": {"device": TAP_DEVICE}}
        writer.write(json.dumps(request).encode() + b"\r\n")
        reply = json.loads(await reader.readline())
        if reply.get("response") != 0:
            raise RuntimeError(f"tap refused: {reply}")
        self._tap_writer = writer
        self._tasks.append(asyncio.create_task(self._read_tap(reader)))

    async def _read_tap(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            event = json.loads(line)
            self.tap_bytes += len(event.get("hex", "")) // 2
            self.tap_dropped += event.get("dropped_bytes", 0)

    def _scrape(self) -> None:
        started = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as response:
            body = response.read()
        self.scrape_seconds_max = max(self.scrape_seconds_max, time.monotonic() - started)
        self.samples = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))

    async def _measure_scrape(self, count: int = 20) -> None:
        """Server CPU per scrape, with the first scenario's devices configured and not yet streaming."""
        cpu = self.cpu_seconds()
        for _ in range(count):
            await asyncio.to_thread(self._scrape)
        self.scrape_cpu_ms = 1e3 * (self.cpu_seconds() - cpu) / count

    async def _scrape_forever(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self._scrape)
                self.scrapes += 1
            except OSError:
                self.scrape_failures += 1
            await asyncio.sleep(SCRAPE_INTERVAL)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._tap_writer is not None:
            self._tap_writer.close()
            with contextlib.suppress(ConnectionError):
                await self._tap_writer.wait_closed()

    def summary(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if self.metrics_port is not None:
            result["metrics"] = {
                "scrape_interval_s": SCRAPE_INTERVAL, "scrapes": self.scrapes, "scrape_failures": self.scrape_failures,
                "scrape_ms_max": round(1e3 * self.scrape_seconds_max, 1), "samples_per_scrape": self.samples,
                "scrape_cpu_ms": round(self.scrape_cpu_ms, 3)}
        if self.tap:
            result["tap"] = {"device": TAP_DEVICE, "bytes": self.tap_bytes, "dropped_bytes": self.tap_dropped}
        return result
