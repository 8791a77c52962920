"""Boltek EFM-100C atmospheric electric-field monitor, ~20 Hz (PROTOCOL 4.7).

Line: ``$+00.65,0*CE`` + CRLF: sign, field in kV/m (2.2 digits), fault flag, checksum.
Output ``[field_kV_m, fault]``.

Differences from the reference: the checksum is verified when the line has one (see
:mod:`rpi_ess.sensors.checksums`); an unreadable line is an error reading
``[NaN, 1]`` with response_code 10 (the reference sent it with code 0).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from .base import NAN, Field, Reading, Sensor
from .checksums import boltek_checksum_ok, split_sentence
from .fields import snippet

__all__ = ["EFM100C"]

_BODY = re.compile(rb"([+-][0-9]{2}\.[0-9]{2}),([01])")


class EFM100C(Sensor):
    sensor_type = "EFM100C"
    baud_rate = 19200
    period = 0.05
    fields: ClassVar[tuple[Field, ...]] = (
        Field("electric field", "E", "kV/m", 2, signed=True),
        Field("fault", "fault"),
    )

    def parse(self, record: bytes) -> Reading:
        sentence = split_sentence(record)
        fields = _BODY.fullmatch(sentence[0]) if sentence is not None else None
        if sentence is None or fields is None:
            return self.error_reading(f"not an EFM-100C line: {snippet(record)}")
        body, given = sentence
        if given is not None and not boltek_checksum_ok(body, given):
            return self.error_reading(f"checksum mismatch (sent {given:02X}) in {snippet(record)}")
        return Reading([float(fields.group(1)), int(fields.group(2))])

    def error_values(self) -> list[Any]:
        return [NAN, 1]
