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
from typing import Any, ClassVar, Literal

__all__ = ["NAN", "Field", "Reading", "Sensor"]

NAN = math.nan


@dataclass(slots=True)
class Reading:
    """The ``sensor_telemetry`` payload of one record; ``values`` is never empty."""

    values: list[Any]
    ok: bool = True
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Field:
    """What one element of a ``sensor_telemetry`` payload is, for people reading it (tables, docs).

    Only descriptive: parsing never looks at it. Consecutive shown elements of the same
    ``quantity`` and ``unit`` are one series, written with the unit once
    (``u 0.09 v 0.07 w 0.06 m/s``).
    """

    #: What the element measures or says, e.g. "relative humidity", "sentence id".
    quantity: str
    #: Short name written before the value; "" for none.
    label: str = ""
    #: Unit symbol written after the value; "" for counts, flags and ratios.
    unit: str = ""
    #: Digits after the decimal point when shown; None shows the number as sent (counts, flags).
    decimals: int | None = None
    #: Write a "+" before positive values (a field's polarity matters).
    signed: bool = False
    #: "value": label and value; "label": the label alone (the element names the kind of line);
    #: "none": not shown (constant, never measured, or repeated elsewhere in the line).
    show: Literal["value", "label", "none"] = "value"


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
    #: The elements of a reading's payload, in order (see :meth:`fields_for`).
    fields: ClassVar[tuple[Field, ...]] = ()

    def __init__(self, channels: int | None = None) -> None:
        self.channels = channels

    @classmethod
    def fields_for(cls, values: Sequence[Any]) -> tuple[Field, ...]:
        """The fields that describe ``values``, a payload of this sensor.

        Most sensors have one layout; those whose layout depends on the line (the channel
        count, the sentence type) override this.
        """
        return cls.fields

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
