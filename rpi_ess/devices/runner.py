"""One reader thread per device: open, read, parse, hand on, and recover by itself.

The runner thread owns its device: it opens, reads and closes it, and nothing else does
(``stop()`` only asks and interrupts). Readings go to a sink as ``(timestamp, code, values)``;
the server encodes and sends them. Failures never end the thread (the reference's loop died
silently, PROTOCOL 3.3): a failed open, an I/O error, a silence longer than
``silence_timeout`` or an unreadable record is counted by class and reported to the CSC under
the error budget of PROTOCOL Appendix C:

* at most one ``response_code`` 10 line per ``error_interval``;
* the CSC's per-sensor error timer (started by the first code-10 line after a line that
  cleared it, and never reset by a reconnect) is cleared before it is ``error_budget`` old by
  a ``STILL_FAILING`` line (code 40, the sensor's error payload), which the CSC logs and
  ignores, so one dead instrument never makes the CSC reconnect; a new session starts with
  such a line too, since the CSC may hold a timer from an earlier session;
* reporting goes on for the whole outage, so the CSC keeps seeing which sensor is down.

The port is reopened with exponential backoff; ``Device.present()`` is polled while waiting
so a re-plugged instrument is picked up at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..sensors.base import Reading, Sensor
from .base import Device, DeviceError, Record
from .episodes import ERROR_CLASSES, EpisodeBook

__all__ = ["KEEPALIVE", "STILL_FAILING", "DeviceRunner", "DeviceStats", "RunnerSettings", "TelemetrySink"]

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.1  # seconds between checks for stop / re-plug while waiting to reopen
READ_SLICE = 1.0  # longest single read call; stop() interrupts it at once, silence is checked after it
#: telemetry response codes besides 0 (good) and 10 (read error); documented in docs/protocol.md
STILL_FAILING = 40  # the device is still failing: clears the CSC's error timer for this sensor
KEEPALIVE = 41  # nothing was sent for a long time: a line the CSC reads without error


class PowerCycler(Protocol):
    def power_cycle(self, reason: str) -> bool: ...


class TelemetrySink(Protocol):
    """Where a runner's readings go (the server's per-device queue); ``send`` is thread-safe."""

    dropped: int

    def send(self, readings: Sequence[tuple[float, int, list[Any]]]) -> None: ...


@dataclass(frozen=True)
class RunnerSettings:
    silence_timeout: float = 5.0  # no record for this long = a fault
    error_interval: float = 5.0  # at most one code-10 line per this many seconds while failing
    error_budget: float = 120.0  # the CSC's timer for this sensor is cleared before it is this old
    backoff_min: float = 0.5
    backoff_max: float = 30.0
    relay_after: int = 5  # consecutive failed reopens before power-cycling the instrument


@dataclass
class DeviceStats:
    """Health of one device, read by the ``status`` command, diagnostics and the metrics."""

    state: str = "opening"
    lines: int = 0  # records read (good or not)
    good: int = 0
    errors: int = 0
    error_classes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_CLASSES, 0))
    last_error_class: str | None = None
    reopens: int = 0
    restarts: int = 0  # crashes of the reader loop itself (bugs), each logged with a traceback
    last_line: float | None = None
    last_good_mono: float | None = None
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

    def count_error(self, kind: str, message: str) -> None:
        self.errors += 1
        self.error_classes[kind] = self.error_classes.get(kind, 0) + 1
        self.last_error_class = kind
        self.last_error = message

    def current_rate(self, now: float) -> float:
        return 0.0 if now - self._window_start > 10.0 else self.rate_hz


class DeviceRunner:
    """Runs one device in its own thread and sends its readings to ``sink``."""

    def __init__(
        self,
        name: str,
        device: Device,
        sensor: Sensor,
        sink: TelemetrySink,
        settings: RunnerSettings | None = None,
        relay: PowerCycler | None = None,
        episodes: EpisodeBook | None = None,
    ) -> None:
        self.name = name
        self.device = device
        self.sensor = sensor
        self.sink = sink
        self.settings = settings or RunnerSettings()
        self.relay = relay
        self.episodes = episodes if episodes is not None else EpisodeBook()
        self.identity = device.config.identity
        self.stats = DeviceStats()
        self.log = log  # every message names the device once, through device.where
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._opened = False  # touched by the runner thread only
        self._opens = 0
        self._first_open = threading.Event()
        self._first_open_error: str | None = None
        # CSC error-timer bookkeeping for this session (the runner lives as long as one configure)
        self._report_lock = threading.Lock()
        self._last_error_emit = float("-inf")
        self._timer_since: float | None = None  # first code-10 sent since the last clearing line
        self._cleared = False  # a line that clears the CSC's timer went out in this session

    # --- called by the command handler ---------------------------------------------------------

    def start(self) -> None:
        self.stats.state = "opening"  # "streaming" once records arrive
        self._thread = threading.Thread(target=self._run, name=f"rpi-ess-{self.name}", daemon=True)
        self._thread.start()

    def wait_first_open(self, timeout: float) -> str | None:
        """Block until the first open attempt is over; its error, or None if the port opened."""
        if not self._first_open.wait(timeout):
            return f"{self.device.where}: open timed out after {timeout:.0f} s"
        return self._first_open_error

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to stop and wait for it (blocking; run it off the event loop).

        The thread closes the device itself on its way out, so a read that is still running
        is never closed under: a thread that misses ``timeout`` closes it when it returns.
        """
        self._stop.set()
        self.device.interrupt()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self.log.warning("%s: reader thread did not stop within %.1f s; it closes the port when it returns",
                                 self.device.where, timeout)
                return
        self.stats.state = "closed"

    def attach(self, sink: TelemetrySink) -> None:
        """Send to a new client's sink (takeover); its session starts afresh (see ``_report``)."""
        with self._report_lock:
            self.sink = sink
            self._cleared, self._timer_since, self._last_error_emit = False, None, float("-inf")

    @property
    def failing(self) -> bool:
        return self.episodes.get(self.identity) is not None

    def budget_remaining(self, now: float) -> float | None:
        """Seconds before the CSC's timer for this sensor reaches the budget; None if not running."""
        since = self._timer_since
        return None if since is None else max(0.0, self.settings.error_budget - (now - since))

    def keepalive(self) -> None:
        """Send one line the CSC reads without error (nothing was sent for a long time).

        Called from the event loop; a failing device's line also clears the CSC's timer.
        """
        with self._report_lock:
            code = STILL_FAILING if self.failing else KEEPALIVE
            self._send_clear(code)

    # --- reader thread -------------------------------------------------------------------------

    def _run(self) -> None:
        """Supervisor: a crash of the read loop (a bug) is logged, counted and restarted with backoff."""
        delay = self.settings.backoff_min
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    self._read_loop()
                    return
                except Exception as e:
                    if time.monotonic() - started > 60.0:
                        delay = self.settings.backoff_min  # it had been running fine: a new fault
                    self.stats.restarts += 1
                    self.log.exception("%s: reader crashed; restart %d in %.1f s", self.device.where,
                                       self.stats.restarts, delay)
                    self._close()
                    try:
                        self._report("read", f"{self.device.where}: internal error: {e!r}"[:500])
                    except Exception:
                        self.log.exception("%s: could not report the crash", self.device.where)
                    self._stop.wait(delay)
                    delay = min(delay * 2, self.settings.backoff_max)
        finally:
            self._close()
            self._first_open.set()

    def _read_loop(self) -> None:
        last_data = last_open = time.monotonic()
        read_slice = min(READ_SLICE, self.settings.silence_timeout / 2)  # silence is noticed on time
        while not self._stop.is_set():
            if not self._opened:
                self._open_with_backoff()
                last_open = time.monotonic()
                if self.stats.state != "silent":  # a fresh port; a silent one stays silent
                    last_data = last_open
                continue
            try:
                records = self.device.read(read_slice)
            except DeviceError as e:
                self._report(e.kind, str(e))
                self._close()
                continue
            # any other exception is a bug: _run's supervisor logs it and restarts with backoff
            now = time.monotonic()
            if records:
                last_data = now
                self.stats.state = "streaming"
                self._handle(records, now)
            elif now - last_data >= self.settings.silence_timeout:
                self.stats.state = "silent"
                self._report("timeout", f"{self.device.where}: no data for {now - last_data:.1f} s")
                if now - last_open >= 2 * self.settings.silence_timeout:
                    self._close()  # maybe the port went stale: reopen it (at most once per 2 timeouts)

    def _handle(self, records: list[Record], now: float) -> None:
        """Parse the records of one read; send the good ones in one batch, report the bad."""
        good: list[tuple[float, int, list[Any]]] = []
        for record in records:
            reading = self._parse(record)
            self.stats.count_line(now)
            self.stats.last_line = record.timestamp
            if reading.ok:
                good.append((record.timestamp, 0, reading.values))
            elif record.first:
                self.log.debug("%s: dropped the first record after open, cut by the open: %s",
                               self.device.where, reading.error)
            else:
                if good:  # keep the order of the instrument's lines
                    self._send_good(good, now)
                    good = []
                self._report(record.error_kind if record.error else "parse",
                             f"{self.device.where}: {reading.error or 'bad record'}", record.timestamp, reading.values)
        if good:
            self._send_good(good, now)

    def _parse(self, record: Record) -> Reading:
        sensor = self.sensor
        try:
            if record.error is not None:
                return sensor.error_reading(record.error)
            if isinstance(record.data, bytes):
                return sensor.parse(record.data)
            return sensor.from_values(record.data)
        except Exception as e:
            self.log.exception("%s: %s parser raised on %r", self.device.where, sensor.sensor_type, record.data)
            return Reading(sensor.error_values(), ok=False, error=f"parser error: {e!r}")

    def _send_good(self, good: list[tuple[float, int, list[Any]]], now: float) -> None:
        self.sink.send(good)
        self.stats.good += len(good)
        self.stats.last_good_mono = now
        self._timer_since = None  # a code-0 line clears the CSC's timer (Appendix C, fact 1)
        self._cleared = True
        self.episodes.recover(self.identity, self.device.where, self.log)

    def _report(self, kind: str, message: str, timestamp: float | None = None,
                values: list[Any] | None = None) -> None:
        """A failure: count it, keep the episode, send a code-10 line within the error budget."""
        self.stats.count_error(kind, message)
        self.episodes.fail(self.identity, kind, message, self.log)
        self._emit_error(timestamp, values)

    def _emit_error(self, timestamp: float | None = None, values: list[Any] | None = None) -> None:
        """Send a code-10 line unless one went out less than ``error_interval`` ago."""
        now = time.monotonic()
        with self._report_lock:
            if now - self._last_error_emit < self.settings.error_interval:
                return
            self._last_error_emit = now
            since = self._timer_since
            if not self._cleared or (
                    since is not None and now - since >= self.settings.error_budget - self.settings.error_interval):
                self._send_clear(STILL_FAILING)  # the CSC's timer must never reach the budget
            stamp = self.device.clock() if timestamp is None else timestamp
            self.sink.send([(stamp, 10, values if values is not None else self.sensor.error_values())])
            if self._timer_since is None:
                self._timer_since = now

    def _send_clear(self, code: int) -> None:
        """A line the CSC processes without error, which clears its timer (caller holds the lock)."""
        self.sink.send([(self.device.clock(), code, self.sensor.error_values())])
        self._timer_since = None
        self._cleared = True

    def _close(self) -> None:
        if self._opened:
            self._opened = False
            try:
                self.device.close()
            except Exception:
                self.log.exception("%s: error while closing", self.device.where)

    def _open_with_backoff(self) -> None:
        """Open, retrying with exponential backoff; returns when open or stopping."""
        delay = self.settings.backoff_min
        failures = 0
        was_present = self.device.present()
        while not self._stop.is_set():
            try:
                self.device.open()
            except DeviceError as e:
                failures += 1
                self.stats.state = "reopening"
                if not self._first_open.is_set():
                    self._first_open_error = str(e)
                    self._first_open.set()
                self._report("open", str(e))
                if self.relay is not None and failures % self.settings.relay_after == 0:
                    self.relay.power_cycle(f"{self.name}: {failures} failed reopens ({e})")
            else:
                self._opened = True
                self._first_open.set()
                self._opens += 1
                self.stats.reopens = self._opens - 1
                if self._opens > 1 or failures:
                    self.log.info("%s: open after %d failed attempt(s)", self.device.where, failures)
                self.stats.state = "opening"  # "streaming" again once records arrive
                return
            deadline = time.monotonic() + delay
            while not self._stop.is_set() and time.monotonic() < deadline:
                present = self.device.present()
                if present and not was_present:
                    was_present = present
                    break  # re-plugged: try at once
                was_present = present
                self._emit_error()  # keeps the CSC informed while the instrument is away
                self._stop.wait(POLL_INTERVAL)
            delay = min(delay * 2, self.settings.backoff_max)
