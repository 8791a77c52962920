"""One reader thread per device: read, parse, emit, and recover by itself.

Each open device gets its own thread doing blocking reads of whole chunks, so a slow or
hung instrument never delays another device or the client. Failures never end the thread
(the reference's loop died silently, PROTOCOL 3.3): an I/O error or a silence longer than
``silence_timeout`` produces a ``response_code`` 10 line at most once per ``error_interval``
(so the CSC sees an error, not silence), and the port is reopened with exponential backoff.
While waiting, ``Device.present()`` is polled so a re-plugged instrument is picked up at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..sensors.base import Reading, Sensor
from ..server.telemetry import encode_telemetry
from .base import Device, DeviceError, Record

__all__ = ["DeviceRunner", "DeviceStats", "RunnerSettings"]

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.1  # seconds between checks for stop / re-plug while waiting to reopen
READ_SLICE = 1.0  # longest single read call; stop() interrupts it at once, silence is checked after it


class PowerCycler(Protocol):
    def power_cycle(self, reason: str) -> bool: ...


class LineSink(Protocol):
    """Where telemetry lines go (the device's queue to the client); ``push`` is thread-safe."""

    dropped: int

    def push(self, *lines: bytes) -> None: ...


@dataclass(frozen=True)
class RunnerSettings:
    silence_timeout: float = 5.0  # no record for this long = a fault
    error_interval: float = 5.0  # at most one code-10 line per this many seconds while failing
    backoff_min: float = 0.5
    backoff_max: float = 30.0
    relay_after: int = 5  # consecutive failed reopens before power-cycling the instrument


@dataclass
class DeviceStats:
    """Health of one device, read by the ``status`` command and diagnostics."""

    state: str = "opening"
    lines: int = 0
    errors: int = 0
    reopens: int = 0
    restarts: int = 0  # crashes of the reader loop itself (bugs), each logged with a traceback
    last_line: float | None = None
    last_error: str | None = None
    rate_hz: float = 0.0
    _window_start: float = field(default_factory=time.monotonic)
    _window_count: int = 0

    def count_line(self, now: float) -> None:
        self.lines += 1
        self._window_count += 1
        elapsed = now - self._window_start
        if elapsed >= 5.0:
            self.rate_hz = self._window_count / elapsed
            self._window_start = now
            self._window_count = 0

    def current_rate(self, now: float) -> float:
        return 0.0 if now - self._window_start > 10.0 else self.rate_hz


class DeviceRunner:
    """Runs one device in its own thread and pushes telemetry lines to ``sink``."""

    def __init__(
        self,
        name: str,
        device: Device,
        sensor: Sensor,
        sink: LineSink,
        settings: RunnerSettings | None = None,
        relay: PowerCycler | None = None,
    ) -> None:
        self.name = name
        self.device = device
        self.sensor = sensor
        self.sink = sink
        self.settings = settings or RunnerSettings()
        self.relay = relay
        self.stats = DeviceStats()
        self._name_json = json.dumps(name)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._opened = False
        self._last_error_emit = float("-inf")
        self.log = log.getChild(name)

    # --- called by the command handler, from its own short-lived threads ------------------

    def open(self) -> None:
        """First open, done by ``configure``; raises DeviceError so the client learns why."""
        self.device.open()
        self._opened = True

    def start(self) -> None:
        self.stats.state = "opening"  # "streaming" once records arrive
        self._thread = threading.Thread(target=self._run, name=f"rpi-ess-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread and close the port (blocking; run it in an executor)."""
        self._stop.set()
        self.device.interrupt()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self.log.warning("Reader thread of %s did not stop within %.1f s", self.device.describe, timeout)
        self._close()
        self.stats.state = "closed"

    # --- reader thread -------------------------------------------------------------------

    def _run(self) -> None:
        """Supervisor: a crash of the read loop (a bug) is logged, counted and restarted with backoff."""
        delay = self.settings.backoff_min
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._read_loop()
                return
            except Exception as e:
                if time.monotonic() - started > 60.0:
                    delay = self.settings.backoff_min  # it had been running fine: a new fault
                self.stats.restarts += 1
                self.log.exception("Reader of %s crashed; restart %d in %.1f s",
                                   self.device.describe, self.stats.restarts, delay)
                self._close()
                try:
                    self._fail(f"{self.device.describe}: internal error: {e!r}"[:500])
                except Exception:
                    self.log.exception("Could not report the crash of %s", self.device.describe)
                self._stop.wait(delay)
                delay = min(delay * 2, self.settings.backoff_max)

    def _read_loop(self) -> None:
        last_data = last_open = time.monotonic()
        read_slice = min(READ_SLICE, self.settings.silence_timeout / 2)  # silence is noticed on time
        while not self._stop.is_set():
            try:
                if not self._opened:
                    self._reopen()
                    last_open = time.monotonic()
                    if self.stats.state != "silent":  # a fresh port; a silent one stays silent
                        last_data = last_open
                    continue
                records = self.device.read(read_slice)
            except DeviceError as e:
                self._fail(str(e))
                self._close()
                continue
            # any other exception is a bug: _run's supervisor logs it and restarts with backoff
            now = time.monotonic()
            if records:
                last_data = now
                self.stats.state = "streaming"
                self.sink.push(*[self._line(record, now) for record in records])
            elif now - last_data >= self.settings.silence_timeout:
                self.stats.state = "silent"
                self._fail(f"{self.device.describe}: no data for {now - last_data:.1f} s")
                if now - last_open >= 2 * self.settings.silence_timeout:
                    self._close()  # maybe the port went stale: reopen it (at most once per 2 timeouts)

    def _line(self, record: Record, now: float) -> bytes:
        """Parse one record into its telemetry line (never raises for bad data)."""
        sensor = self.sensor
        try:
            if record.error is not None:
                reading = sensor.error_reading(f"{self.device.describe}: {record.error}")
            elif isinstance(record.data, bytes):
                reading = sensor.parse(record.data)
            else:
                reading = sensor.from_values(record.data)
        except Exception as e:
            self.log.exception("Parser for %s raised on %r", self.sensor.sensor_type, record.data)
            reading = Reading(sensor.error_values(), ok=False, error=f"parser error: {e!r}")
        self.stats.count_line(now)
        self.stats.last_line = record.timestamp
        if not reading.ok:
            self.stats.errors += 1
            self.stats.last_error = reading.error
            if self.stats.errors in (1, 10, 100) or self.stats.errors % 1000 == 0:
                self.log.warning("%s: bad record (%d so far): %s", self.name, self.stats.errors, reading.error)
        return encode_telemetry(self._name_json, record.timestamp, 0 if reading.ok else 10, reading.values)

    def _fail(self, message: str) -> None:
        """Record a fault; send a code-10 line unless one went out less than error_interval ago."""
        self.stats.last_error = message
        now = time.monotonic()
        if now - self._last_error_emit < self.settings.error_interval:
            return
        self._last_error_emit = now
        self.stats.errors += 1
        self.log.warning("%s", message)
        values: list[Any] = self.sensor.error_values()
        self.sink.push(encode_telemetry(self._name_json, self.device.clock(), 10, values))

    def _close(self) -> None:
        if self._opened:
            self._opened = False
            try:
                self.device.close()
            except Exception:
                self.log.exception("Error closing %s", self.device.describe)

    def _reopen(self) -> None:
        """Try to reopen with exponential backoff; returns when open or stopping."""
        delay = self.settings.backoff_min
        failures = 0
        was_present = self.device.present()
        message = self.stats.last_error or f"{self.device.describe}: closed"
        while not self._stop.is_set():
            try:
                self.device.open()
            except DeviceError as e:
                failures += 1
                self.stats.state = "reopening"
                message = str(e)
                self._fail(message)
                if self.relay is not None and failures % self.settings.relay_after == 0:
                    self.relay.power_cycle(f"{self.name}: {failures} failed reopens ({e})")
            else:
                self._opened = True
                self.stats.reopens += 1
                if failures:
                    self.stats.state = "opening"  # "streaming" again once records arrive
                self.log.info("%s reopened after %d failed attempt(s)", self.device.describe, failures)
                return
            deadline = time.monotonic() + delay
            while not self._stop.is_set() and time.monotonic() < deadline:
                present = self.device.present()
                if present and not was_present:
                    was_present = present
                    break  # re-plugged: try at once
                was_present = present
                self._fail(message)  # keeps the CSC informed while the instrument is away
                self._stop.wait(POLL_INTERVAL)
            delay = min(delay * 2, self.settings.backoff_max)
