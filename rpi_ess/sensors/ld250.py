"""Boltek LD-250 lightning detector (PROTOCOL 4.6).

Three sentences, each ``$<body>*cc`` + CRLF:
status ``$WIMST,csr,tsr,ca,sa,hhh.h`` -> ``["WIMST", csr, tsr, ca, sa, heading]``;
strike ``$WIMLI,csd,usd,bbb.b`` -> ``["WIMLI", csd, usd, bearing]``;
noise ``$WIMLN`` -> ``["WIMLN"]``.

Differences from the reference:

* The checksum is verified (either hex case); see :mod:`rpi_ess.sensors.checksums` for
  why three conventions are accepted.
* A line that cannot be read is an error reading whose payload is an all-zero status
  sentence with a NaN heading, ``["WIMST", 0, 0, 0, 0, NaN]``: the reference sent ``[]``,
  which the CSC's schema rejects (minItems 1) and counts as a read failure.
* Field widths are not enforced beyond what the manual allows (1-3 digit rates, 1-2
  digit alarms); values are range-checked instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from .base import NAN, Field, Reading, Sensor
from .checksums import boltek_checksum_ok, split_sentence
from .fields import snippet, to_float, to_int

__all__ = ["LD250"]

_Field = Callable[[str], int | float | None]


def _bounded_int(high: int) -> _Field:
    def read(text: str) -> int | None:
        value = to_int(text)
        return value if value is not None and 0 <= value <= high else None

    return read


def _angle(text: str) -> float | None:
    value = to_float(text)
    return value if value is not None and 0.0 <= value < 360.0 else None


_rate, _alarm, _distance = _bounded_int(999), _bounded_int(1), _bounded_int(300)
#: Sentence id -> readers of its fields.
_SENTENCES: dict[str, tuple[_Field, ...]] = {
    "WIMST": (_rate, _rate, _alarm, _alarm, _angle),
    "WIMLI": (_distance, _distance, _angle),
    "WIMLN": (),
}
#: Sentence id -> description of the telemetry payload it gives (the id included).
SENTENCE_FIELDS: dict[str, tuple[Field, ...]] = {
    "WIMST": (
        Field("sentence id", "status", show="label"),
        Field("close strike rate", "close", "/min"),
        Field("total strike rate", "total", "/min"),
        Field("close alarm", "alarm"),
        Field("severe alarm", "severe"),
        Field("heading", "heading", "°", 1),
    ),
    "WIMLI": (
        Field("sentence id", "strike", show="label"),
        Field("corrected strike distance", "", "mi"),
        Field("uncorrected strike distance", "uncorrected", "mi"),
        Field("bearing", "bearing", "°", 1),
    ),
    "WIMLN": (Field("sentence id", "noise too high", show="label"),),
}


class LD250(Sensor):
    sensor_type = "LD250"
    baud_rate = 19200
    period = 1.0
    #: The status sentence's layout, which error readings also have.
    fields: ClassVar[tuple[Field, ...]] = SENTENCE_FIELDS["WIMST"]

    @classmethod
    def fields_for(cls, values: Sequence[Any]) -> tuple[Field, ...]:
        """Told apart by the first element, the sentence id (unknown ids: no fields)."""
        return SENTENCE_FIELDS.get(values[0], ()) if values and isinstance(values[0], str) else ()

    def parse(self, record: bytes) -> Reading:
        sentence = split_sentence(record)
        if sentence is None or sentence[1] is None:
            return self.error_reading(f"not an LD-250 sentence: {snippet(record)}")
        body, given = sentence
        if not boltek_checksum_ok(body, given):
            return self.error_reading(f"checksum mismatch (sent {given:02X}) in {snippet(record)}")
        name, *texts = body.decode("ascii", errors="replace").split(",")
        readers = _SENTENCES.get(name)
        if readers is None or len(texts) != len(readers):
            return self.error_reading(f"unknown LD-250 sentence or wrong field count: {snippet(record)}")
        values = [read(text) for read, text in zip(readers, texts, strict=True)]
        if None in values:
            return self.error_reading(f"LD-250 value out of range in {snippet(record)}")
        return Reading([name, *values])

    def error_values(self) -> list[Any]:
        return ["WIMST", 0, 0, 0, 0, NAN]
