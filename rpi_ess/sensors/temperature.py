"""SEL multi-channel RTD / thermocouple reader (PROTOCOL 4.1).

Line: ``C01=0032.1443,C02=0033.0320,...`` + CRLF, one field every ~1/6 s. Position is
what counts (labels are ignored, like the reference), and a short line is padded with
NaN at the front because it is the tail of a line whose start was missed.

Differences from the reference, all so that the CSC always sees ``channels`` values:

* Exactly ``channels`` values: missing ones are NaN-padded at the front, extra ones are
  dropped (the first ``channels`` are kept; logged at debug level).
* Both documented sentinels, RTD ``9999.9990`` and thermocouple ``-201.0000``, become NaN.
* An unreadable field (non-numeric text, two ``=``) is NaN for that channel only; the
  reading is still sent. Only a line in which no field could be read is an error.
* ``channels`` None/0 sends as many values as the line has (at least one).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from .base import NAN, Field, Reading, Sensor
from .fields import decode, snippet, to_float

__all__ = ["DISCONNECTED", "FIELD_INTERVAL", "Temperature"]

log = logging.getLogger(__name__)

#: Seconds between two fields on the wire (a line of N channels takes N of these).
FIELD_INTERVAL = 1.0 / 6.0
#: Values the instrument writes for a disconnected probe: RTD, thermocouple.
DISCONNECTED = (9999.999, -201.0)
#: A line of plain ``label=number`` fields (what the instrument sends); anything else takes
#: the field-by-field path, which gives the same values for such a line.
_FIELD = r"[^=,]*=[+-]?[0-9]{1,30}(?:\.[0-9]{0,30})?"
_WELL_FORMED = re.compile(rf"{_FIELD}(?:,{_FIELD})*\s*", re.ASCII)
_NUMBER = re.compile(r"=([+-]?[0-9.]+)", re.ASCII)


class Temperature(Sensor):
    sensor_type = "Temperature"
    baud_rate = 19200
    #: One element per channel, all alike.
    fields: ClassVar[tuple[Field, ...]] = (Field("temperature", unit="°C", decimals=2),)

    def __init__(self, channels: int | None = None) -> None:
        super().__init__(channels)
        self.period = FIELD_INTERVAL * max(channels or 1, 1)

    @classmethod
    def fields_for(cls, values: Sequence[Any]) -> tuple[Field, ...]:
        return cls.fields * len(values)

    def parse(self, record: bytes) -> Reading:
        text = decode(record, self.charset)
        if _WELL_FORMED.fullmatch(text):  # nearly every line: one regex instead of one per field
            values = [float(number) for number in _NUMBER.findall(text)]
            return Reading(self._shape([NAN if value in DISCONNECTED else value for value in values]))
        fields = [_read_field(field) for field in text.split(",")]
        if all(value is None for value in fields):
            return self.error_reading(f"no readable temperature field in {snippet(record)}")
        return Reading(self._shape([NAN if value is None else value for value in fields]))

    def from_values(self, values: Sequence[float]) -> Reading:
        floats = [float(value) for value in values]
        if not any(math.isfinite(value) for value in floats):
            return self.error_reading("the chip returned no valid temperature")
        return Reading(self._shape(floats))

    def error_values(self) -> list[Any]:
        return [NAN] * (self.channels or 1)

    def _shape(self, values: list[float]) -> list[float]:
        wanted = self.channels or len(values)
        if len(values) > wanted:
            log.debug("Temperature line has %d values, %d channels configured; extra dropped",
                      len(values), wanted)
            return values[:wanted]
        return [NAN] * (wanted - len(values)) + values


def _read_field(field: str) -> float | None:
    """``Cnn=value`` -> float, NaN for a sentinel, None if unreadable."""
    _label, equals, text = field.partition("=")
    if not equals or "=" in text:
        return None
    value = to_float(text)
    if value is not None and value in DISCONNECTED:
        return NAN
    return value
