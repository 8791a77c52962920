"""Omega HX85BA humidity / air temperature / barometric pressure transmitter (PROTOCOL 4.3).

Same line format as the HX85A with ``Pmb=`` (mbar) in place of the dew point; the dew
point is appended from the Magnus formula. Unlike the reference, RH <= 0 (a humidity
fault) gives a NaN dew point instead of killing the device loop.
"""

from __future__ import annotations

from typing import ClassVar

from .base import Field
from .hx85a import HX85A, QUANTITY_FIELDS

__all__ = ["HX85BA"]


class HX85BA(HX85A):
    sensor_type = "HX85BA"
    sends: ClassVar[tuple[str, ...]] = ("rh", "t", "p")
    outputs: ClassVar[tuple[str, ...]] = ("rh", "t", "p", "dp")
    fields: ClassVar[tuple[Field, ...]] = tuple(QUANTITY_FIELDS[quantity] for quantity in outputs)
