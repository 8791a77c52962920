"""Gill Windsonic 2-D sonic anemometer (PROTOCOL 4.4).

Line: ``<STX>Q,ddd,sss.ss,M,nn,<ETX>cc`` + CRLF. ``ddd`` is empty when the speed is below
0.05 m/s; ``cc`` is the XOR of the bytes between STX and ETX.

Differences from the reference:

* The checksum decides: a mismatch, a partial line or any garbage is an error reading
  (``[NaN, NaN]``, response_code 10). The reference raised on anything unexpected,
  which killed the device loop.
* A status other than ``00`` is an error reading whose message names the fault (the
  reference only logged it and sent the suspect wind as good data).
* Units other than m/s (the Windsonic can be set to knots, mph, km/h, ft/min) are
  converted to m/s instead of being rejected.
* Any unit id letter is accepted (``Q`` is only the factory default).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from .base import NAN, Field, Reading, Sensor
from .checksums import xor8
from .fields import snippet

__all__ = ["STATUS_MEANINGS", "Windsonic", "windsonic_line"]

STX, ETX = b"\x02", b"\x03"
_FRAME = re.compile(rb"\x02([^\x02\x03]*)\x03([0-9A-Fa-f]{2})")
_BODY = re.compile(rb"([A-Z]),([0-9]{1,3})?,([0-9]{1,4}\.[0-9]{1,3}),([MNPKF]),([0-9]{2}),")
_TO_M_S = {b"N": 1852.0 / 3600.0, b"P": 0.44704, b"K": 1.0 / 3.6, b"F": 0.00508}
_NO_DIRECTION = 999

STATUS_MEANINGS = {
    "00": "OK",
    "01": "axis 1 failed",
    "02": "axis 2 failed",
    "04": "both axes failed",
    "08": "NVM checksum failed",
    "09": "ROM checksum failed",
}


def windsonic_line(body: bytes) -> bytes:
    """The bytes a Windsonic sends for ``body`` (between STX and ETX, trailing comma included)."""
    return STX + body + ETX + b"%02X\r\n" % xor8(body)


class Windsonic(Sensor):
    sensor_type = "Windsonic"
    baud_rate = 9600
    period = 1.0
    fields: ClassVar[tuple[Field, ...]] = (
        Field("wind speed", unit="m/s", decimals=2),
        Field("wind direction", "dir", "°"),
    )

    def parse(self, record: bytes) -> Reading:
        frame = _FRAME.fullmatch(record)
        if frame is None:
            return self.error_reading(f"not a Windsonic line: {snippet(record)}")
        body, given = frame.group(1), int(frame.group(2), 16)
        if xor8(body) != given:
            return self.error_reading(f"checksum mismatch (sent {given:02X}, computed {xor8(body):02X}) "
                                      f"in {snippet(record)}")
        fields = _BODY.fullmatch(body)
        if fields is None:
            return self.error_reading(f"unexpected Windsonic fields: {snippet(record)}")
        _unit_id, direction_text, speed_text, units, status = fields.groups()
        status_text = status.decode("ascii")
        if status_text != "00":
            meaning = STATUS_MEANINGS.get(status_text, "unknown status")
            return self.error_reading(f"Windsonic status {status_text}: {meaning}")
        speed = float(speed_text)
        if units != b"M":
            speed = round(speed * _TO_M_S[units], 3)
        direction: int | float = NAN
        if direction_text is not None and int(direction_text) != _NO_DIRECTION:
            direction = int(direction_text)
        return Reading([speed, direction])

    def error_values(self) -> list[Any]:
        return [NAN, NAN]
