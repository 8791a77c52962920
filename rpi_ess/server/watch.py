"""Following one device's raw bytes by name, across configures (tap and raw ports).

A device exists only while a CSC has it configured; every ``configure`` builds new device
objects with new :class:`~rpi_ess.devices.monitor.ByteMonitor` s. A watcher (a technician's
tap, a raw-port reader) names the device instead, and :class:`DeviceWatch` attaches to
whichever running device has that name, detaches when it stops and re-attaches when it is
configured again, so a CSC reconnect does not end the watch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..devices.monitor import DIRECTIONS, Batch, ByteMonitor, Subscription

__all__ = ["Attached", "Detached", "DeviceWatch", "find_runner"]

POLL = 0.5  # seconds between looks for a device that is not running, or has stopped


@dataclass(frozen=True)
class Attached:
    port: str  # the device's bus and port, e.g. "Serial /dev/ess/T1"


@dataclass(frozen=True)
class Detached:
    reason: str


def find_runner(runners: Iterable[Any], name: str) -> Any | None:
    """The running device called ``name`` that has a byte monitor, or None."""
    for runner in runners:
        if runner.name == name and isinstance(getattr(runner.device, "monitor", None), ByteMonitor):
            return runner
    return None


class DeviceWatch:
    """Yields :class:`Attached`, :class:`Batch` and :class:`Detached` for device ``name``."""

    def __init__(self, runners: Callable[[], Sequence[Any]], name: str, max_bytes: int,
                 directions: Iterable[str] = DIRECTIONS, poll: float = POLL) -> None:
        self.runners = runners
        self.name = name
        self.max_bytes = max_bytes
        self.directions = tuple(directions)
        self.poll = poll
        self.monitor: ByteMonitor | None = None  # the one attached now (writable raw ports write to it)
        self._subscription: Subscription | None = None
        self._dropped_before = 0  # by subscriptions of devices that have stopped since

    @property
    def dropped_bytes(self) -> int:
        """Bytes this watcher lost so far, up to now (a stuck watcher's count grows while it is stuck)."""
        current = self._subscription
        return self._dropped_before + (current.dropped_bytes if current is not None else 0)

    def _current(self) -> Any | None:
        return find_runner(self.runners(), self.name)

    async def events(self) -> AsyncIterator[Attached | Batch | Detached]:
        while True:
            runner = self._current()
            if runner is None:
                await asyncio.sleep(self.poll)
                continue
            monitor: ByteMonitor = runner.device.monitor
            subscription = monitor.subscribe(self.max_bytes, self.directions)
            self.monitor, self._subscription = monitor, subscription
            try:
                yield Attached(runner.device.describe)
                async for batch in self._batches(runner, subscription):
                    yield batch
            finally:
                self.monitor = self._subscription = None
                self._dropped_before += subscription.dropped_bytes
                monitor.unsubscribe(subscription)
            yield Detached("device stopped (the CSC disconnected or reconfigured); waiting for it to come back")

    async def _batches(self, runner: Any, subscription: Subscription) -> AsyncIterator[Batch]:
        while True:
            batch = await subscription.next_batch(self.poll)
            if batch.chunks or batch.dropped_bytes:
                yield batch
            if batch.closed or runner not in self.runners():
                return
