"""A ``sensor_telemetry`` payload as compact text with units, for the table.

What each element is (label, unit, decimals) comes from the sensor's own :class:`~rpi_ess.sensors.Field`
descriptions, so a sensor and its column in the table cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ...sensors import SENSOR_TYPES, Field
from .wire import is_number

__all__ = ["format_values"]

#: Units written straight after the number (``36°``, ``3/min``); all others after a space.
_ATTACHED_UNITS = ("°",)


def format_values(sensor_type: str, values: list[Any]) -> str:
    """Compact text with units for a ``sensor_telemetry`` payload; never raises.

    Payloads that do not have the sensor's usual shape are shown as a plain list, so a
    server bug is visible rather than hidden.
    """
    if not values:
        return "(empty)"
    sensor = SENSOR_TYPES.get(sensor_type)
    fields = sensor.fields_for(values) if sensor is not None else ()
    if len(fields) == len(values):
        try:
            return _describe(fields, values)
        except TypeError:  # an element that should be a number is not
            pass
    return ", ".join(_number(value, "g") if is_number(value) else str(value) for value in values)


def _describe(fields: Sequence[Field], values: Sequence[Any]) -> str:
    shown = [(field, value) for field, value in zip(fields, values, strict=True) if field.show != "none"]
    parts = []
    for index, (field, value) in enumerate(shown):
        if field.show == "label":
            parts.append(field.label)
            continue
        text = _number(value, _spec(field))
        following = shown[index + 1][0] if index + 1 < len(shown) else None
        if not _same_series(field, following):
            text = _with_unit(text, field.unit)
        parts.append(f"{field.label} {text}" if field.label else text)
    return " ".join(parts)


def _same_series(field: Field, following: Field | None) -> bool:
    """Whether the unit is left to the next element, which measures the same thing."""
    return (following is not None and following.show == "value" and following.quantity == field.quantity
            and following.unit == field.unit)


def _with_unit(text: str, unit: str) -> str:
    if not unit:
        return text
    return text + unit if unit in _ATTACHED_UNITS or unit.startswith("/") else f"{text} {unit}"


def _spec(field: Field) -> str:
    """The format spec of a field's value: ``+.2f`` for a signed field with two decimals, "" as sent."""
    return ("+" if field.signed else "") + ("" if field.decimals is None else f".{field.decimals}f")


def _number(value: Any, spec: str) -> str:
    """A measurement as text; raises TypeError for a non-number so the payload is shown plainly."""
    if not is_number(value):
        raise TypeError(f"{value!r} is not a number")
    return "—" if math.isnan(value) else format(value, spec)
