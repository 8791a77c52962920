"""One-byte checksums used by the line-oriented instruments.

Windsonic: XOR of the bytes between STX and ETX (Gill manual, verified on PROTOCOL 4.4).

Boltek (LD-250, EFM-100C): the manuals only say "checksum in hex". The documented
examples settle it for the EFM-100C: the 8-bit sum of every byte from ``$`` up to and
including ``*`` (``$+00.65,0*`` -> CE, ``$+00.64,0*`` -> CD). For the LD-250 the one
example whose checksum is not a copy-paste placeholder (``$WIMST,0,0,0,0,000.0*42``)
matches the 8-bit sum from ``$`` up to but excluding ``*``; the NMEA convention (XOR of
the bytes between ``$`` and ``*``) matches none of them. Because the evidence is this
thin, :func:`boltek_checksum_ok` accepts any of the three conventions: a corrupted line
still fails with probability ~253/256, and a real instrument using either convention is
not rejected wholesale.
"""

from __future__ import annotations

import re

__all__ = [
    "boltek_checksum_ok",
    "efm100c_checksum",
    "ld250_checksum",
    "split_sentence",
    "sum8",
    "xor8",
]

_SENTENCE = re.compile(rb"\$([^*]*)(?:\*([0-9A-Fa-f]{2}))?", re.DOTALL)


def xor8(data: bytes) -> int:
    result = 0
    for byte in data:
        result ^= byte
    return result


def sum8(data: bytes) -> int:
    return sum(data) & 0xFF


def ld250_checksum(body: bytes) -> int:
    """Checksum of ``$<body>*`` as the LD-250 documentation's example computes it."""
    return sum8(b"$" + body)


def efm100c_checksum(body: bytes) -> int:
    """Checksum of ``$<body>*`` as the EFM-100C documentation's examples compute it."""
    return sum8(b"$" + body + b"*")


def boltek_checksum_ok(body: bytes, given: int) -> bool:
    return given in (ld250_checksum(body), efm100c_checksum(body), xor8(body))


def split_sentence(record: bytes) -> tuple[bytes, int | None] | None:
    """Split ``$<body>[*cc]`` into body and checksum (None when absent); None if no match."""
    match = _SENTENCE.fullmatch(record)
    if match is None:
        return None
    body, given = match.groups()
    return body, None if given is None else int(given, 16)
