"""The parser interface: where instrument bytes become numbers.

One subclass per ``sensor_type`` (PROTOCOL section 4). A parser never raises on bad input:
anything it cannot read becomes a :class:`Reading` with ``ok=False``, which the device
runner sends as ``response_code`` 10 with NaNs of the sensor's usual length.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = ["NAN", "Reading", "Sensor"]

NAN = math.nan


@dataclass(slots=True)
class Reading:
    """The ``sensor_telemetry`` payload of one record; ``values`` is never empty."""

    values: list[Any]
    ok: bool = True
    error: str | None = None


class Sensor(abc.ABC):
    """Turns one record (an instrument line without its terminator) into a :class:`Reading`.

    Class attributes describe the instrument's wire format so that the device layer can
    frame its byte stream without knowing the instrument.
    """

    sensor_type: ClassVar[str]
    #: Record terminator as the instrument sends it (HX85: b"\n\r", Aurora: b"\n").
    terminator: ClassVar[bytes] = b"\r\n"
    #: Character set the instrument writes in.
    charset: ClassVar[str] = "ascii"
    #: Baud rate of the instrument's factory setting (informational; config wins).
    baud_rate: ClassVar[int] = 19200
    #: Nominal seconds between records; silence detection is based on it.
    period: ClassVar[float] = 1.0
    #: If set, a pending record is complete after this many seconds without a byte
    #: (HX85 sends its terminator only just before the next line).
    idle_flush: ClassVar[float | None] = None
    #: "lines" for text instruments, "shdlc" for the polled binary SPS30 protocol.
    protocol: ClassVar[str] = "lines"

    def __init__(self, channels: int | None = None) -> None:
        self.channels = channels

    @abc.abstractmethod
    def parse(self, record: bytes) -> Reading:
        """Parse one record (terminator removed). Must never raise."""

    def from_values(self, values: Sequence[float]) -> Reading:
        """Build a reading from numbers a chip driver returned (I2C backends)."""
        raise NotImplementedError(f"{self.sensor_type} readings cannot be built from driver values")

    @abc.abstractmethod
    def error_values(self) -> list[Any]:
        """Payload sent with response_code 10: NaNs (and neutral ints) of the usual length."""

    def error_reading(self, message: str) -> Reading:
        return Reading(self.error_values(), ok=False, error=message)
