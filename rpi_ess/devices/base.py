"""The device interface: where bytes enter.

A :class:`Device` is one instrument connection on one bus kind (python-can style: one
interface, a backend per ``device_type`` in :mod:`rpi_ess.devices.interfaces`).

Threading contract: ``open``, ``read`` and ``close`` are called only by the thread that owns
the device (its :class:`~rpi_ess.devices.runner.DeviceRunner` thread, or a test).
:meth:`Device.interrupt` is the one method any thread may call: it makes a blocked
:meth:`Device.read` return promptly. The deadline/interrupt loop lives once, in
:meth:`Device.read`; each backend implements one short attempt, :meth:`_read_internal`.
"""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..tai import tai_time

if TYPE_CHECKING:
    from ..sensors.base import Sensor
    from .config import DeviceConfig, FieldChecker

__all__ = ["Device", "DeviceError", "Record"]


class DeviceError(Exception):
    """An I/O failure of one device; the message names the device and its port.

    ``kind`` is the error class shown to operators (status, diag, metrics, log):
    ``open`` (cannot open), ``read`` (I/O error, unplug), ``timeout`` (silent too long).
    """

    def __init__(self, message: str, kind: str = "read") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Record:
    """One complete record from an instrument.

    ``data`` is the line without terminator (bytes), or numbers from a chip driver (tuple).
    ``error`` marks a record that could not be framed or decoded (too long, bad checksum):
    it becomes a response_code 10 telemetry line with that message; ``error_kind`` is its
    class (``overflow`` for an over-long record, ``parse`` otherwise). ``first`` marks the
    first record after an open, which may have been cut by it (see ``framing.py``).
    """

    timestamp: float  # TAI unix seconds at which the record's last byte arrived
    data: bytes | tuple[float, ...]
    error: str | None = None
    error_kind: str = "parse"
    first: bool = False


class Device(abc.ABC):
    """One open-able instrument connection."""

    #: configuration keys this backend consumes (besides the common ones in ``config.py``)
    config_keys: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: DeviceConfig, sensor: Sensor, clock: Callable[[], float] = tai_time) -> None:
        self.config = config
        self.sensor = sensor
        self.clock = clock
        self._interrupted = threading.Event()

    # --- configuration (class level: runs before any device exists) ------------------------

    @classmethod
    def sensor_types(cls, known: tuple[str, ...]) -> tuple[str, ...]:
        """The ``sensor_type`` values this backend can read (default: every parser)."""
        return known

    @classmethod
    def check_config(cls, check: FieldChecker, sensor_type: str | None) -> dict[str, Any]:
        """Validate this backend's own fields; return them as ``DeviceConfig`` keywords.

        Problems go to ``check.error`` (never raise): the client gets them all at once.
        """
        return {}

    # --- life cycle --------------------------------------------------------------------------

    @property
    @abc.abstractmethod
    def describe(self) -> str:
        """Human-readable bus and address, e.g. ``Serial /dev/ttyUSB0`` (used in every error)."""

    @property
    def where(self) -> str:
        """Prefix of every error and log message: device name, bus and port (said once)."""
        return f"{self.config.name}: {self.describe}"

    @abc.abstractmethod
    def open(self) -> None:
        """Open the port; raise :class:`DeviceError` (kind ``open``) with a readable reason.

        Input that was waiting before the open is discarded (it would carry a fresh timestamp).
        """

    def read(self, timeout: float) -> list[Record]:
        """Block up to ``timeout`` seconds; return the complete records received (maybe none).

        Returns early, with what it has, when :meth:`interrupt` is called. Raises
        :class:`DeviceError` when the port fails (unplugged, I/O error).
        """
        deadline = time.monotonic() + timeout
        while True:
            if self._interrupted.is_set():
                self._interrupted.clear()
                return []
            records = self._read_internal(max(0.0, deadline - time.monotonic()))
            if records or time.monotonic() >= deadline:
                return records

    @abc.abstractmethod
    def _read_internal(self, timeout: float) -> list[Record]:
        """One attempt of at most ``timeout`` seconds; may return early with nothing."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the port. Must not raise; safe to call twice."""

    def interrupt(self) -> None:
        """Make a blocked :meth:`read` return soon (any thread)."""
        self._interrupted.set()
        self._wake()

    def _wake(self) -> None:  # noqa: B027 - optional hook
        """Backend hook for :meth:`interrupt`: cut short a wait inside ``_read_internal``."""

    def _sleep(self, seconds: float) -> None:
        """Wait inside ``_read_internal``; returns early when interrupted."""
        if seconds > 0:
            self._interrupted.wait(seconds)

    def present(self) -> bool | None:
        """Whether the port currently exists (e.g. its /dev path); None if unknown.

        The runner polls this while waiting to reopen, so a re-plugged instrument is
        picked up at once instead of at the next backoff step.
        """
        return None
