"""Aurora cloud sensor, a 56-character LF-terminated line every ~2 s (PROTOCOL 4.8).

Line: ``$20,FF,seq,ambient,sky,clarity,light,rain,xxxx,xxxx,alarm,00!``; temperatures
are deg C x100, light and rain x10. Output
``[seq, ambient, sky, clarity, light, rain, alarm]`` with the reference's plain float
multiplications (so ``2458`` -> ``24.580000000000002``, exactly as the reference sends).

Difference from the reference: the field count and every number are checked, and a bad
line is an error reading; the reference indexed blindly and died with IndexError on
any short line.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .base import NAN, Field, Reading, Sensor
from .fields import decode, snippet, to_float, to_int

__all__ = ["Aurora"]

_FIELD_COUNT = 12
_HUNDREDTHS, _TENTHS = (3, 4, 5), (6, 7)


class Aurora(Sensor):
    sensor_type = "Aurora"
    terminator = b"\n"
    baud_rate = 9600
    period = 2.0
    fields: ClassVar[tuple[Field, ...]] = (
        Field("sequence number", "#"),
        Field("ambient temperature", "ambient", "°C", 1),
        Field("sky temperature", "sky", "°C", 1),
        Field("clarity", "clarity", decimals=1),
        Field("light", "light", decimals=1),
        Field("rain", "rain", decimals=1),
        Field("alarm", "alarm"),
    )

    def parse(self, record: bytes) -> Reading:
        fields = decode(record, self.charset).strip().split(",")
        if len(fields) != _FIELD_COUNT or not fields[0].startswith("$"):
            return self.error_reading(f"Aurora line needs {_FIELD_COUNT} fields: {snippet(record)}")
        seq = to_int(fields[2])
        scaled = [to_float(fields[i]) for i in (*_HUNDREDTHS, *_TENTHS)]
        alarm = to_int(fields[10].partition("!")[0])
        if seq is None or alarm is None or None in scaled:
            return self.error_reading(f"unreadable Aurora value in {snippet(record)}")
        factors = [0.01] * len(_HUNDREDTHS) + [0.1] * len(_TENTHS)
        return Reading([seq, *(value * factor for value, factor in zip(scaled, factors, strict=True)), alarm])

    def error_values(self) -> list[Any]:
        return [0, NAN, NAN, NAN, NAN, NAN, 0]
