"""Raw bytes of one running device, for whoever wants to watch them (tap, raw ports).

The device's reader thread calls :meth:`ByteMonitor.publish` with every chunk it reads
("rx", instrument -> server) or writes ("tx", server -> instrument). With nobody watching
that is one attribute check, so the telemetry path pays nothing for the feature. Each
watcher gets a :class:`Subscription` with its own bounded buffer: a watcher that falls
behind loses the chunks that do not fit (counted, and reported on its next take) and the
reader thread never waits for it. Writes from watchers of writable raw ports go the other
way: :meth:`ByteMonitor.submit_write` queues them (bounded), the reader thread sends them
between reads (:meth:`ByteMonitor.take_writes`), so only that thread ever touches the port.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["DIRECTIONS", "Batch", "ByteMonitor", "Chunk", "Subscription"]

DIRECTIONS = ("rx", "tx")
#: most bytes that writers may have queued for the instrument at once
MAX_PENDING_WRITES = 4096
#: seconds between looks at a subscription by an event-loop watcher (see Subscription.next_batch)
POLL = 0.1


class Chunk(NamedTuple):
    time: float  # clock() when the reader thread saw the bytes
    direction: str  # "rx" instrument -> server, "tx" server -> instrument
    data: bytes


@dataclass(frozen=True, slots=True)
class Batch:
    """What one :meth:`Subscription.take` returns: the chunks, and what was lost before them."""

    chunks: list[Chunk]
    dropped_bytes: int  # bytes that did not fit since the previous take
    closed: bool  # the monitor went away (device stopped): no more chunks will come


class Subscription:
    """One watcher's bounded buffer; filled by the reader thread, emptied by the watcher."""

    def __init__(self, max_bytes: int, directions: Iterable[str]) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes
        self.directions = frozenset(directions)
        self.dropped_bytes = 0  # total, for counters
        self.dropped_chunks = 0
        self.closed = False
        self._chunks: collections.deque[Chunk] = collections.deque()
        self._size = 0
        self._dropped_since_take = 0
        self._lock = threading.Lock()

    def _put(self, chunk: Chunk) -> None:
        """Reader thread: keep the chunk if it fits, else count it as dropped. Never blocks long."""
        if chunk.direction not in self.directions:
            return
        size = len(chunk.data)
        with self._lock:
            if self._size + size > self.max_bytes:
                self.dropped_bytes += size
                self.dropped_chunks += 1
                self._dropped_since_take += size
            else:
                self._chunks.append(chunk)
                self._size += size

    def _close(self) -> None:
        with self._lock:
            self.closed = True

    def take(self) -> Batch:
        """Everything buffered, the bytes dropped since the last take, and whether it ended."""
        with self._lock:
            chunks = list(self._chunks)
            self._chunks.clear()
            self._size = 0
            dropped, self._dropped_since_take = self._dropped_since_take, 0
            return Batch(chunks, dropped, self.closed)

    async def next_batch(self, timeout: float, poll: float = POLL) -> Batch:
        """Wait (in the event loop) up to ``timeout`` for chunks; maybe an empty batch.

        Polls every ``poll`` seconds instead of being woken per chunk: the reader thread then
        never makes a system call for a watcher, and a busy device costs the loop 1/poll
        wake-ups per second whatever its rate (a wake-up per chunk cost ~30 % CPU per line
        at 8 x 144 lines/s on a 2-core VM). Bytes therefore reach a watcher up to ``poll`` late.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = self.take()
            remaining = deadline - loop.time()
            if batch.chunks or batch.dropped_bytes or batch.closed or remaining <= 0:
                return batch
            await asyncio.sleep(min(poll, remaining))


class ByteMonitor:
    """The raw byte stream of one device, fanned out to any number of bounded subscriptions."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._subscriptions: tuple[Subscription, ...] = ()  # replaced, never mutated: publish reads it unlocked
        self._lock = threading.Lock()
        self._writes: list[bytes] = []
        self._pending = 0
        self.writes_refused = 0  # bytes refused because the write queue was full

    @property
    def watched(self) -> bool:
        return bool(self._subscriptions)

    def publish(self, direction: str, data: bytes) -> None:
        """Reader thread: one chunk seen on the port. Free when nobody watches; never blocks long."""
        subscriptions = self._subscriptions
        if not subscriptions or not data:
            return
        chunk = Chunk(self.clock(), direction, data)
        for subscription in subscriptions:
            subscription._put(chunk)

    def subscribe(self, max_bytes: int, directions: Iterable[str] = DIRECTIONS) -> Subscription:
        """A new watcher buffering at most ``max_bytes`` bytes of the given directions."""
        subscription = Subscription(max_bytes, directions)
        with self._lock:
            self._subscriptions = (*self._subscriptions, subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop filling ``subscription``; safe to call twice."""
        with self._lock:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

    def close(self) -> None:
        """The device is going away: end every subscription (their watchers learn it on the next take)."""
        with self._lock:
            subscriptions, self._subscriptions = self._subscriptions, ()
        for subscription in subscriptions:
            subscription._close()

    def submit_write(self, data: bytes) -> bool:
        """Any thread: queue bytes for the instrument. False (nothing queued) if the queue is full."""
        with self._lock:
            if self._pending + len(data) > MAX_PENDING_WRITES:
                self.writes_refused += len(data)
                return False
            self._writes.append(bytes(data))
            self._pending += len(data)
        return True

    def take_writes(self) -> bytes:
        """Reader thread, between reads: the queued bytes to send to the instrument (b"" if none)."""
        if not self._pending:
            return b""
        with self._lock:
            data = b"".join(self._writes)
            self._writes.clear()
            self._pending = 0
        return data
