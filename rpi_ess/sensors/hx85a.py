"""Omega HX85A humidity / air temperature / dew point transmitter (PROTOCOL 4.2).

Line: ``%RH=38.86,AT\\xf8C=24.32,DP\\xf8C=9.57`` in ISO-8859-1. The ``\\n\\r`` terminator
arrives just before the *next* line, so records are completed by an idle gap
(``idle_flush``) rather than waiting 1.35 s for the terminator (PROTOCOL Appendix B).

Differences from the reference: fields are matched by their label (``%RH``, ``AT``,
``DP``, ``Pmb``) instead of position, so a truncated or doubled line cannot shift a
pressure into the dew-point slot; a missing or unreadable field is NaN (the reference
raised on non-numeric text); a line with no readable field is an error reading.
On the documented examples this gives the reference's results.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

from .base import NAN, Field, Reading, Sensor
from .dewpoint import dew_point
from .fields import decode, snippet, to_float

__all__ = ["HX85A", "QUANTITY_FIELDS", "read_labelled"]

_LABEL = re.compile(r"[^A-Z]*([A-Z]+)")
#: Leading letters of a label -> quantity name.
_QUANTITIES = {"RH": "rh", "AT": "t", "DP": "dp", "PMB": "p"}
#: Quantity name -> how its telemetry element is described.
QUANTITY_FIELDS = {
    "rh": Field("relative humidity", "RH", "%", 1),
    "t": Field("air temperature", "T", "°C", 1),
    "p": Field("barometric pressure", "P", "mbar", 1),
    "dp": Field("dew point", "DP", "°C", 1),
}


def read_labelled(text: str) -> dict[str, float]:
    """``label=value`` fields -> {quantity: value}; unknown labels and bad numbers are skipped."""
    found: dict[str, float] = {}
    for field in text.split(","):
        label, equals, value_text = field.partition("=")
        match = _LABEL.match(label.upper())
        quantity = _QUANTITIES.get(match.group(1)) if match else None
        value = to_float(value_text) if equals else None
        if quantity is not None and value is not None:
            found[quantity] = value
    return found


class HX85A(Sensor):
    sensor_type = "HX85A"
    terminator = b"\n\r"
    charset = "iso-8859-1"
    baud_rate = 19200
    period = 1.35
    idle_flush = 0.25
    #: Quantities the instrument writes on its line.
    sends: ClassVar[tuple[str, ...]] = ("rh", "t", "dp")
    #: Quantities in telemetry order; a dew point the instrument does not send is computed.
    outputs: ClassVar[tuple[str, ...]] = ("rh", "t", "dp")
    fields: ClassVar[tuple[Field, ...]] = tuple(QUANTITY_FIELDS[quantity] for quantity in outputs)

    def parse(self, record: bytes) -> Reading:
        found = read_labelled(decode(record, self.charset))
        if not any(quantity in found for quantity in self.sends):
            return self.error_reading(f"no readable {self.sensor_type} field in {snippet(record)}")
        if "dp" not in self.sends:
            found["dp"] = dew_point(found.get("rh", NAN), found.get("t", NAN))
        return Reading([found.get(quantity, NAN) for quantity in self.outputs])

    def from_values(self, values: Sequence[float]) -> Reading:
        """(rh, t) for the HX85A, (rh, t, p) for the HX85BA, from a chip; the dew point is computed."""
        inputs = [quantity for quantity in self.outputs if quantity != "dp"]
        if len(values) != len(inputs):
            return self.error_reading(f"{self.sensor_type} needs {len(inputs)} values, got {len(values)}")
        found = {name: float(value) for name, value in zip(inputs, values, strict=True)}
        found["dp"] = dew_point(found["rh"], found["t"])
        return Reading([found[quantity] for quantity in self.outputs])

    def error_values(self) -> list[Any]:
        return [NAN] * len(self.outputs)
