"""Listen to one instrument for a few seconds and keep what a technician needs to see.

Text instruments on a serial port are read through a raw :class:`SerialLink`, so the bytes
are counted even when no line ever forms (wrong baud rate, missing terminator); everything
else (I2C chips, the polled SPS30) is read through its device backend, which yields records.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..devices.base import DeviceError, Record
from ..devices.framing import LineFramer

if TYPE_CHECKING:
    from ..devices.base import Device
    from ..devices.serial_link import SerialLink
    from ..sensors.base import Sensor

__all__ = ["Capture", "listen_device", "listen_link"]

MAX_SAMPLES = 3
MAX_ERRORS = 3
RAW_HEAD = 48
READ_SLICE = 0.25


@dataclass
class Capture:
    """What one listen window produced."""

    seconds: float
    bytes_received: int | None = None  # None: the backend does not show bytes (I2C, polled)
    records: int = 0
    good: int = 0
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    samples: list[bytes | tuple[float, ...]] = field(default_factory=list)
    values: list[Any] | None = None  # the last good reading
    raw_head: bytes = b""  # first bytes received, to show garbage
    first_time: float | None = None
    last_time: float | None = None
    failure: str | None = None  # the port failed during the window

    @property
    def rate_hz(self) -> float | None:
        """Lines (good or not) per second between the first and the last one (needs two)."""
        if self.records < 2 or self.first_time is None or self.last_time is None or self.last_time <= self.first_time:
            return None
        return (self.records - 1) / (self.last_time - self.first_time)

    @property
    def garbage(self) -> bool:
        """Bytes arrived but none made a valid reading: the classic wrong-baud-rate symptom."""
        return self.good == 0 and (bool(self.bytes_received) or self.records > 0)

    def add(self, sensor: Sensor, record: Record) -> None:
        self.records += 1
        self.first_time = record.timestamp if self.first_time is None else self.first_time
        self.last_time = record.timestamp
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(record.data)
        if record.error is not None:
            self._error(record.error)
            return
        reading = sensor.from_values(record.data) if isinstance(record.data, tuple) else sensor.parse(record.data)
        if not reading.ok:
            self._error(reading.error or "unparsable record")
            return
        self.good += 1
        self.values = reading.values

    def _error(self, message: str) -> None:
        self.error_count += 1
        if message not in self.errors and len(self.errors) < MAX_ERRORS:
            self.errors.append(message)


def listen_link(
    link: SerialLink, sensor: Sensor, seconds: float, clock: Callable[[], float], stop_after: int | None = None
) -> Capture:
    """Read raw bytes for ``seconds`` (or until ``stop_after`` good records) and frame them."""
    capture = Capture(seconds)
    received = 0
    framer = LineFramer(sensor.terminator, idle_flush=sensor.idle_flush, synced=False)
    start = time.monotonic()
    deadline = start + seconds
    try:
        while time.monotonic() < deadline and (stop_after is None or capture.good < stop_after):
            chunk = link.read_chunk()
            now = clock()
            if chunk and received < RAW_HEAD:
                capture.raw_head = (capture.raw_head + chunk)[:RAW_HEAD]
            received += len(chunk)
            for record in framer.feed(chunk, now) + framer.flush_idle(now):
                capture.add(sensor, record)
    except DeviceError as e:
        capture.failure = str(e)
    capture.bytes_received = received
    capture.seconds = time.monotonic() - start
    return capture


def listen_device(device: Device, seconds: float) -> Capture:
    """Open the backend, collect its records for ``seconds``, close it. Open errors propagate."""
    capture = Capture(seconds)
    start = time.monotonic()
    deadline = start + seconds
    device.open()
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            for record in device.read(min(remaining, READ_SLICE)):
                capture.add(device.sensor, record)
    except DeviceError as e:
        capture.failure = str(e)
    finally:
        device.close()
    capture.seconds = time.monotonic() - start
    return capture
