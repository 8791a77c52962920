"""Campbell CSAT3B 3-D sonic anemometer, unprompted output at 10 Hz (PROTOCOL 4.5).

Line: ``ux,uy,uz,Ts,diag,counter,sig`` + CRLF, e.g. ``0.08945,0.06552,0.05726,19.69336,0,5,c3a6``.
The signature is sent to the CSC as an int (``c3a6`` -> 50086), like the reference.

Differences from the reference:

* The signature is verified (the reference never checked it), with the 8-bit carry
  wrap of Campbell's C routine. Which bytes it covers is disputed: the documented
  example signs the text up to and including ``diag`` (no trailing comma), the manual's
  wording says up to the counter. A signature matching *either* span is accepted; a
  mismatch is an error reading.
* A line without the signature field (6 fields) is accepted unverified, signature 0.
* A ``0x`` prefix on the signature is accepted (the reference's mock wrote one).
* The error payload is a fresh list each time (the reference shared one module list).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from .base import NAN, Field, Reading, Sensor
from .fields import decode, snippet, to_float, to_int

__all__ = ["CSAT3B", "SIGNATURE_SEED", "signature"]

SIGNATURE_SEED = 0xAAAA
_HEX_SIGNATURE = re.compile(r"(?:0[xX])?([0-9A-Fa-f]{1,4})", re.ASCII)
_UNSIGNED_FIELDS = 6


def signature(data: bytes, seed: int = SIGNATURE_SEED) -> int:
    """Campbell's 16-bit signature of ``data`` (CSAT3B manual)."""
    msb, lsb = seed >> 8 & 0xFF, seed & 0xFF
    for byte in data:
        new = ((lsb << 1) + msb + byte + (1 if lsb & 0x80 else 0)) & 0xFF
        msb, lsb = lsb, new
    return msb << 8 | lsb


def signature_matches(record: bytes, given: int) -> bool:
    """Whether ``given`` signs the record's text up to ``diag`` or up to ``counter``."""
    parts = record.split(b",")
    return given in (signature(b",".join(parts[:5])), signature(b",".join(parts[:6])))


class CSAT3B(Sensor):
    sensor_type = "CSAT3B"
    charset = "iso-8859-1"
    baud_rate = 115200
    period = 0.1
    fields: ClassVar[tuple[Field, ...]] = (
        Field("wind velocity", "u", "m/s", 2),
        Field("wind velocity", "v", "m/s", 2),
        Field("wind velocity", "w", "m/s", 2),
        Field("sonic temperature", "Ts", "°C", 1),
        Field("diagnostic word", "diag"),
        Field("record counter", "counter", show="none"),
        Field("signature", "sig", show="none"),
    )

    def parse(self, record: bytes) -> Reading:
        fields = decode(record, self.charset).split(",")
        if len(fields) not in (_UNSIGNED_FIELDS, _UNSIGNED_FIELDS + 1):
            return self.error_reading(f"CSAT3B line needs 7 fields, got {len(fields)}: {snippet(record)}")
        winds = [to_float(text) for text in fields[:4]]
        counts = [to_int(text) for text in fields[4:6]]
        sig = 0
        if len(fields) > _UNSIGNED_FIELDS:
            match = _HEX_SIGNATURE.fullmatch(fields[6].strip())
            if match is None:
                return self.error_reading(f"bad CSAT3B signature field: {snippet(record)}")
            sig = int(match.group(1), 16)
        if None in winds or None in counts:
            return self.error_reading(f"unreadable CSAT3B value in {snippet(record)}")
        if len(fields) > _UNSIGNED_FIELDS and not signature_matches(record, sig):
            return self.error_reading(f"CSAT3B signature {sig:04x} does not match {snippet(record)}")
        return Reading([*winds, *counts, sig])

    def error_values(self) -> list[Any]:
        return [NAN, NAN, NAN, NAN, 0, 0, 0]
