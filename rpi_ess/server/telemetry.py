"""Telemetry lines and the queue that carries them to the client: where numbers leave.

Reader threads format their own lines (:func:`encode_telemetry`) and push them here; the
event loop writes them to the client's transport. When the client reads slowly (the CSC
reads at most ``1/rate_limit`` lines per second, PROTOCOL 6.2), each device keeps only
its newest ``max_per_device`` lines: older ones are dropped and counted, so memory stays
bounded, instrument reading never blocks, and the client always gets fresh data. Queues
are drained round-robin, so a 10 Hz anemometer cannot starve a 1 Hz thermometer.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from collections.abc import Sequence
from typing import Any

__all__ = ["DeviceQueue", "TelemetryQueue", "encode_telemetry"]

log = logging.getLogger(__name__)

#: stop handing lines to the transport above this many buffered bytes; wait for drain
WRITE_BUFFER_LIMIT = 32 * 1024
DEFAULT_MAX_PER_DEVICE = 200

_dumps = json.dumps


def encode_telemetry(name_json: str, timestamp: float, response_code: int, values: Sequence[Any]) -> bytes:
    """One telemetry line exactly as PROTOCOL 3.1 (``name_json`` is ``json.dumps(name)``)."""
    return (
        f'{{"telemetry": {{"name": {name_json}, "timestamp": {timestamp!r}, '
        f'"response_code": {response_code}, "sensor_telemetry": {_dumps(values)}}}}}\r\n'
    ).encode()


class DeviceQueue:
    """Bounded line queue of one device. ``push`` may be called from any thread."""

    __slots__ = ("_lines", "_owner", "dropped", "name")

    def __init__(self, owner: TelemetryQueue, name: str, maxlen: int) -> None:
        self._owner = owner
        self._lines: collections.deque[bytes] = collections.deque(maxlen=maxlen)
        self.name = name
        self.dropped = 0

    def push(self, line: bytes) -> None:
        lines = self._lines
        if len(lines) == lines.maxlen:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.warning("Client too slow: dropped %d old telemetry lines of %s", self.dropped, self.name)
        lines.append(line)
        self._owner.wake()


class TelemetryQueue:
    """Per-device queues drained round-robin into one ``asyncio.StreamWriter``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_per_device: int = DEFAULT_MAX_PER_DEVICE) -> None:
        self._loop = loop
        self._max_per_device = max_per_device
        self._queues: list[DeviceQueue] = []
        self._writer: asyncio.StreamWriter | None = None
        self._wake_pending = False
        self._drain_task: asyncio.Task[None] | None = None
        self.lines_sent = 0

    @property
    def lines_dropped(self) -> int:
        return sum(q.dropped for q in self._queues)

    def add_device(self, name: str) -> DeviceQueue:
        queue = DeviceQueue(self, name, self._max_per_device)
        self._queues.append(queue)
        return queue

    def attach(self, writer: asyncio.StreamWriter | None) -> None:
        """Send to ``writer`` from now on (None: hold lines until a writer is attached)."""
        self._writer = writer
        self.wake()

    def clear(self) -> None:
        """Forget all devices and their pending lines (client gone or devices stopped)."""
        self._queues = []
        self._writer = None
        if self._drain_task is not None:
            self._drain_task.cancel()
            self._drain_task = None

    def wake(self) -> None:
        """Schedule a flush on the event loop; cheap and safe from any thread."""
        if not self._wake_pending:
            self._wake_pending = True
            try:
                self._loop.call_soon_threadsafe(self._flush)
            except RuntimeError:  # event loop already closed: the server is gone
                return

    def _flush(self) -> None:
        self._wake_pending = False
        writer = self._writer
        if writer is None or self._drain_task is not None:
            return
        transport = writer.transport
        if transport.is_closing():
            return
        queues = self._queues
        while transport.get_write_buffer_size() < WRITE_BUFFER_LIMIT:
            batch = [q._lines.popleft() for q in queues if q._lines]  # one per device: round-robin
            if not batch:
                return
            self.lines_sent += len(batch)
            transport.write(b"".join(batch))
        self._drain_task = self._loop.create_task(self._wait_drain(writer))

    async def _wait_drain(self, writer: asyncio.StreamWriter) -> None:
        try:
            await writer.drain()
        except (ConnectionError, RuntimeError):
            return  # the client is gone; close_client() clears the queue
        finally:
            self._drain_task = None
        self._flush()
