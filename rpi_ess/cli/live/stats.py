"""Per-device counters and rates of one ``demo`` or ``client`` run: what the table shows."""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .wire import Telemetry, describe_code

__all__ = ["RATE_WINDOW", "DeviceStats", "TelemetryStats"]

log = logging.getLogger(__name__)

#: Seconds over which the line rate is averaged.
RATE_WINDOW = 10.0


@dataclass
class DeviceStats:
    """What the table shows for one device; times are ``time.monotonic()`` seconds."""

    name: str
    sensor_type: str
    lines: int = 0
    errors: int = 0
    values: list[Any] | None = None
    timestamp: float | None = None
    last_seen: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    first_seen: float | None = None
    arrivals: collections.deque[float] = field(default_factory=collections.deque)

    def rate(self, now: float, window: float = RATE_WINDOW) -> float:
        """Lines per second over the last ``window`` seconds, or since the first line if that is sooner.

        The span is at least one second, so the first line of a device does not read as a burst.
        """
        self._forget(now, window)
        if self.first_seen is None:
            return 0.0
        return len(self.arrivals) / max(1.0, min(window, now - self.first_seen))

    def record(self, telemetry: Telemetry, now: float) -> None:
        self.lines += 1
        self.values = telemetry.values
        self.timestamp = telemetry.timestamp
        self.last_seen = now
        if self.first_seen is None:
            self.first_seen = now
        self.arrivals.append(now)
        self._forget(now, RATE_WINDOW)
        error = telemetry.problem or describe_code(telemetry.response_code)
        if error is not None:
            self.errors += 1
            self.last_error = error
            self.last_error_at = now

    def _forget(self, now: float, window: float) -> None:
        while self.arrivals and self.arrivals[0] <= now - window:
            self.arrivals.popleft()


class TelemetryStats:
    """Per-device counters, in configuration order; names nobody configured are appended."""

    def __init__(self, devices: Iterable[Mapping[str, Any]], clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.devices: dict[str, DeviceStats] = {}
        for device in devices:
            name = str(device.get("name", "?"))
            self.devices[name] = DeviceStats(name, str(device.get("sensor_type", "?")))

    def add(self, telemetry: Telemetry) -> DeviceStats:
        now = self.clock()
        stats = self.devices.get(telemetry.name)
        if stats is None:
            log.warning("telemetry from unconfigured device %r", telemetry.name)
            stats = self.devices[telemetry.name] = DeviceStats(telemetry.name, "?")
        stats.record(telemetry, now)
        return stats

    @property
    def total_lines(self) -> int:
        return sum(device.lines for device in self.devices.values())

    @property
    def total_errors(self) -> int:
        return sum(device.errors for device in self.devices.values())

    def summary(self, bad_lines: int = 0) -> str:
        elapsed = self.clock() - self.started
        reporting = sum(1 for device in self.devices.values() if device.lines)
        text = (
            f"{self.total_lines} telemetry lines from {reporting} of {len(self.devices)} devices "
            f"in {elapsed:.1f} s, {self.total_errors} error lines"
        )
        return text + (f", {bad_lines} unreadable lines" if bad_lines else "")
