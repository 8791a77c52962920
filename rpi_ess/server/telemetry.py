"""Telemetry lines and the queue that carries them to the client: where numbers leave.

Reader threads hand their readings to a :class:`DeviceQueue` (the runner's sink), which
encodes them (:func:`encode_telemetry`); the event loop writes them to the client's
transport. When the client reads slowly (the CSC reads at most ``1/rate_limit`` lines per
second, PROTOCOL 6.2), each device keeps only its newest ``max_per_device`` lines: older ones
are dropped and counted, so memory stays bounded, instrument reading never blocks, and the
client always gets fresh data. Queues are drained round-robin, so a 10 Hz anemometer cannot starve a 1 Hz thermometer.

Fast path: while nothing is waiting (no queued line, empty transport buffer), a reader
thread sends its line straight to the socket itself, under a lock that every write to the
client takes, instead of waking the event loop for it. That takes the thread-to-loop hop
(a self-pipe write, a loop wake-up, a GIL hand-off) out of every line's CPU cost and latency.
Anything that cannot be sent at once (partial send, slow client, TLS) takes the queued path.

The fast path writes to a descriptor this queue owns: a duplicate of the client socket's,
made at :meth:`TelemetryQueue.attach` and closed (under the lock) by :meth:`TelemetryQueue.clear`.
asyncio closes its own descriptor the moment the peer resets the connection; ours stays
valid until we close it, so a reader thread can never write into a descriptor number that
the process has meanwhile reused for a serial port or a file.

While a ``configure`` is being answered the queue is *held* (:meth:`TelemetryQueue.hold`): the
CSC skips every line that arrives before its configure response (PROTOCOL 6.2), so the first
readings, and the clearing line that must precede a session's first error line (Appendix C),
wait in the device queues and follow the response (:meth:`TelemetryQueue.release`).

Each :class:`DeviceQueue` belongs to one client session: :meth:`TelemetryQueue.clear` closes
every queue it forgets (under the same lock), and a closed queue discards what its runner
still hands it. A reader thread that finishes one last read after its client left can
therefore never put that line in front of the next client.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import threading
import time
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


def _worth_logging(before: int, after: int) -> bool:
    """Log drops at the 1st, 10th, 100th and every 1000th: visible, never a flood."""
    return any(before < mark <= after for mark in (1, 10, 100)) or after // 1000 > before // 1000


class DeviceQueue:
    """Bounded line queue of one device, the sink of its runner; thread-safe."""

    __slots__ = ("_lines", "_name_json", "_owner", "closed", "dropped", "name")

    def __init__(self, owner: TelemetryQueue, name: str, maxlen: int) -> None:
        self._owner = owner
        self._lines: collections.deque[bytes] = collections.deque(maxlen=maxlen)
        self._name_json = json.dumps(name)
        self.name = name
        self.dropped = 0
        self.closed = False  # set (under the owner's lock) when its session ends: lines are discarded

    @property
    def depth(self) -> int:
        return len(self._lines)

    def send(self, readings: Sequence[tuple[float, int, Sequence[Any]]]) -> None:
        """Encode the readings of one read and send or queue them (``TelemetrySink``)."""
        name = self._name_json
        self.push(*[encode_telemetry(name, timestamp, code, values) for timestamp, code, values in readings])

    def push(self, *new_lines: bytes) -> None:
        """Send or queue the lines of one read (several at once when the instrument is fast)."""
        lines = self._lines
        owner = self._owner
        if not lines and owner.send_now(b"".join(new_lines), len(new_lines), self):
            return
        dropped = 0
        with owner._lock:  # the event loop pops under the same lock: drops are counted exactly
            if self.closed:
                return
            for line in new_lines:
                dropped += len(lines) == lines.maxlen
                lines.append(line)
            self.dropped += dropped
        if dropped and _worth_logging(self.dropped - dropped, self.dropped):
            log.warning("Client too slow: dropped %d old telemetry lines of %s", self.dropped, self.name)
        owner.wake()


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
        self.bytes_sent = 0
        self.last_sent = time.monotonic()  # when a line last went to the client (keep-alive)
        # Every write to the client holds _lock, so lines never interleave mid-line.
        self._lock = threading.Lock()
        self._fd: int | None = None  # our duplicate of the client's plain TCP socket, for send_now
        self._direct = False  # send_now allowed: nothing of ours is waiting to be written
        self._remainder = b""  # tail of a partial direct send: must be written before anything else
        self._held = False  # a configure is being answered: lines wait in their queues

    @property
    def lines_dropped(self) -> int:
        return sum(q.dropped for q in self._queues)

    def add_device(self, name: str) -> DeviceQueue:
        queue = DeviceQueue(self, name, self._max_per_device)
        self._queues.append(queue)
        return queue

    @property
    def idle_seconds(self) -> float:
        """Seconds since the last line went to the client."""
        return time.monotonic() - self.last_sent

    def remove_devices(self, queues: list[DeviceQueue]) -> None:
        """Forget the queues of devices that were stopped (a refused configure)."""
        with self._lock:
            for queue in queues:
                queue.closed = True
            self._queues = [q for q in self._queues if q not in queues]

    def attach(self, writer: asyncio.StreamWriter) -> None:
        """Send to ``writer`` from now on."""
        sock = writer.get_extra_info("socket")
        plain = writer.get_extra_info("sslcontext") is None and sock is not None and sock.fileno() >= 0
        with self._lock:
            self._writer = writer
            self._fd = os.dup(sock.fileno()) if plain else None
            self._direct = self._fd is not None
            self.last_sent = time.monotonic()
        self.wake()

    def hold(self) -> None:
        """Keep every line in its queue until :meth:`release` (a configure is being answered)."""
        with self._lock:
            self._held = True
            self._direct = False

    def release(self) -> None:
        """Send what :meth:`hold` kept, after the response that was written meanwhile."""
        if not self._held:
            return
        with self._lock:
            self._held = False
        self.wake()

    def clear(self) -> None:
        """Forget all devices and their pending lines (client gone or devices stopped).

        The tail of a line already half sent is handed to the transport, which flushes it
        before closing: the client never sees a line cut in half.
        """
        with self._lock:
            writer = self._writer
            if writer is not None and not writer.transport.is_closing():
                self._take_remainder(writer.transport)
            for queue in self._queues:
                queue.closed = True
            self._queues = []
            self._writer = None
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._direct = False
            self._held = False
            self._remainder = b""
        if self._drain_task is not None:
            self._drain_task.cancel()
            self._drain_task = None

    def send_now(self, data: bytes, count: int, queue: DeviceQueue) -> bool:
        """Send ``count`` whole lines of ``queue`` from the calling thread if nothing is waiting.

        False: queue them. A closed queue's lines are never sent (True: nothing left to do).
        """
        if not self._direct:
            return False
        with self._lock:
            if queue.closed:
                return True
            writer = self._writer
            if not self._direct or writer is None or writer.transport.get_write_buffer_size():
                return False
            try:
                sent = os.write(self._fd, data)  # type: ignore[arg-type]
            except BlockingIOError:
                return False
            except OSError:  # client gone: the event loop notices and closes it
                self._direct = False
                return False
            self.lines_sent += count
            self.bytes_sent += sent
            self.last_sent = time.monotonic()
            if sent < len(data):
                self._direct = False
                self._remainder = data[sent:]
        if not self._direct:
            self.wake()
        return True

    def write_response(self, data: bytes) -> None:
        """Write a command response (event loop only), in line order with the telemetry."""
        with self._lock:
            transport = self._writer.transport if self._writer is not None else None
            if transport is None or transport.is_closing():
                return
            self._take_remainder(transport)
            transport.write(data)
            self._direct = not self._held and self._fd is not None and not transport.get_write_buffer_size()

    def _take_remainder(self, transport: asyncio.WriteTransport) -> None:
        if self._remainder:
            transport.write(self._remainder)
            self._remainder = b""

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
        if writer is None or self._drain_task is not None or self._held:
            return
        transport = writer.transport
        if transport.is_closing():
            return
        queues = self._queues
        with self._lock:
            self._take_remainder(transport)
            while transport.get_write_buffer_size() < WRITE_BUFFER_LIMIT:
                batch = [q._lines.popleft() for q in queues if q._lines]  # one per device: round-robin
                if not batch:
                    self._direct = self._fd is not None and not transport.get_write_buffer_size()
                    return
                data = b"".join(batch)
                self.lines_sent += len(batch)
                self.bytes_sent += len(data)
                self.last_sent = time.monotonic()
                transport.write(data)
            self._direct = False
        self._drain_task = self._loop.create_task(self._wait_drain(writer))

    async def _wait_drain(self, writer: asyncio.StreamWriter) -> None:
        try:
            await writer.drain()
        except (ConnectionError, RuntimeError):
            return  # the client is gone; close_client() clears the queue
        finally:
            self._drain_task = None
        self._flush()
