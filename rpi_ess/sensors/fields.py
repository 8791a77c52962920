"""Text helpers shared by the parsers: lenient decoding, strict numbers.

Python's ``int``/``float`` accept far more than an instrument ever sends (``"1_000"``,
``"inf"``, non-ASCII digits, 5000-digit integers that raise). The parsers use these
helpers instead, so that anything unexpected becomes ``None`` rather than a surprise
value or an exception.
"""

from __future__ import annotations

import math
import re

__all__ = ["decode", "snippet", "to_float", "to_int"]

_FLOAT = re.compile(r"\s*[+-]?(?:[0-9]{1,30}\.?[0-9]{0,30}|\.[0-9]{1,30})(?:[eE][+-]?[0-9]{1,3})?\s*", re.ASCII)
_INT = re.compile(r"\s*[+-]?[0-9]{1,18}\s*", re.ASCII)


def decode(record: bytes, charset: str) -> str:
    """Decode without ever raising: a bad byte becomes U+FFFD, which no number accepts."""
    return record.decode(charset, errors="replace")


def to_float(text: str) -> float | None:
    """A finite decimal number, ``nan`` (any case) as NaN, else None."""
    if _FLOAT.fullmatch(text):
        value = float(text)
        return value if math.isfinite(value) else None
    if text.strip().lower() == "nan":
        return math.nan
    return None


def to_int(text: str) -> int | None:
    """A decimal integer of at most 18 digits, else None."""
    return int(text) if _INT.fullmatch(text) else None


def snippet(record: bytes, limit: int = 60) -> str:
    """A short printable form of a record for error messages."""
    shown = repr(record[:limit])
    return shown + "..." if len(record) > limit else shown
