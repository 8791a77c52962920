"""The device interface: where bytes enter.

A :class:`Device` is one instrument connection on one bus kind (python-can style: one
interface, a backend per ``device_type`` in :mod:`rpi_ess.devices.interfaces`). All its
methods block and are called only from the device's own reader thread, except
:meth:`Device.interrupt`, which any thread may call to make a blocked :meth:`Device.read`
return promptly.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..tai import tai_time

if TYPE_CHECKING:
    from ..sensors.base import Sensor
    from ..server.config import DeviceConfig

__all__ = ["Device", "DeviceError", "Record"]


class DeviceError(Exception):
    """An I/O failure of one device; the message names the device and its port."""


@dataclass(frozen=True, slots=True)
class Record:
    """One complete record from an instrument.

    ``data`` is the line without terminator (bytes), or numbers from a chip driver (tuple).
    ``error`` marks a record that could not be framed or decoded (too long, bad checksum):
    it becomes a response_code 10 telemetry line with that message.
    """

    timestamp: float  # TAI unix seconds at which the record's last byte arrived
    data: bytes | tuple[float, ...]
    error: str | None = None


class Device(abc.ABC):
    """One open-able instrument connection."""

    def __init__(self, config: DeviceConfig, sensor: Sensor, clock: Callable[[], float] = tai_time) -> None:
        self.config = config
        self.sensor = sensor
        self.clock = clock

    @property
    @abc.abstractmethod
    def describe(self) -> str:
        """Human-readable bus and address, e.g. ``Serial /dev/ttyUSB0`` (used in every error)."""

    @abc.abstractmethod
    def open(self) -> None:
        """Open the port; raise :class:`DeviceError` with a readable reason on failure.

        Input that was waiting before the open is discarded (it would carry a fresh timestamp).
        """

    @abc.abstractmethod
    def read(self, timeout: float) -> list[Record]:
        """Block up to ``timeout`` seconds; return the complete records received (maybe none).

        Raise :class:`DeviceError` when the port fails (unplugged, I/O error).
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Close the port. Must not raise; safe to call twice."""

    def interrupt(self) -> None:  # noqa: B027 - optional hook
        """Make a blocked :meth:`read` return soon (called from another thread)."""

    def present(self) -> bool | None:
        """Whether the port currently exists (e.g. its /dev path); None if unknown.

        The runner polls this while waiting to reopen, so a re-plugged instrument is
        picked up at once instead of at the next backoff step.
        """
        return None
