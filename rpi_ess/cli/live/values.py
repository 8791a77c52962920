"""A ``sensor_telemetry`` payload as compact text with units, for the table."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .wire import is_number

__all__ = ["format_values"]

#: (label, index, number format, unit) per value shown; units carry their own leading space.
Layout = tuple[tuple[str, int, str, str], ...]

_LAYOUTS: dict[str, Layout] = {
    "HX85A": (("RH", 0, ".1f", " %"), ("T", 1, ".1f", " °C"), ("DP", 2, ".1f", " °C")),
    "HX85BA": (("RH", 0, ".1f", " %"), ("T", 1, ".1f", " °C"), ("P", 2, ".1f", " mbar"), ("DP", 3, ".1f", " °C")),
    "Windsonic": (("", 0, ".2f", " m/s"), ("dir", 1, "", "°")),
    "CSAT3B": (("u", 0, ".2f", ""), ("v", 1, ".2f", ""), ("w", 2, ".2f", " m/s"), ("Ts", 3, ".1f", " °C"),
               ("diag", 4, "", "")),
    "EFM100C": (("E", 0, "+.2f", " kV/m"), ("fault", 1, "", "")),
    "Aurora": (("#", 0, "", ""), ("ambient", 1, ".1f", " °C"), ("sky", 2, ".1f", " °C"), ("clarity", 3, ".1f", ""),
               ("light", 4, ".1f", ""), ("rain", 5, ".1f", ""), ("alarm", 6, "", "")),
}

#: LD-250 lines are told apart by their first element (PROTOCOL 4.6).
_LD250_LAYOUTS: dict[str, tuple[str, Layout]] = {
    "WIMST": ("status", (("close", 1, "", "/min"), ("total", 2, "", "/min"), ("alarm", 3, "", ""),
                         ("severe", 4, "", ""), ("heading", 5, ".1f", "°"))),
    "WIMLI": ("strike", (("", 1, "", " mi"), ("uncorrected", 2, "", " mi"), ("bearing", 3, ".1f", "°"))),
    "WIMLN": ("noise too high", ()),
}


def _number(value: Any, fmt: str) -> str:
    """A measurement as text; raises TypeError for a non-number so the payload is shown plainly."""
    if not is_number(value):
        raise TypeError(f"{value!r} is not a number")
    return "—" if math.isnan(value) else format(value, fmt)


def _plain(value: Any) -> str:
    return _number(value, "g") if is_number(value) else str(value)


def _apply(layout: Layout, values: list[Any]) -> str:
    parts = []
    for label, index, fmt, unit in layout:
        text = _number(values[index], fmt) + unit
        parts.append(f"{label} {text}" if label else text)
    return " ".join(parts)


def _temperature(values: list[Any]) -> str:
    return " ".join(_number(value, ".2f") for value in values) + " °C"


def _ld250(values: list[Any]) -> str:
    title, layout = _LD250_LAYOUTS[values[0]]
    return " ".join(filter(None, (title, _apply(layout, values))))


def _sps30(values: list[Any]) -> str:
    """Mass concentration per size class plus typical particle size (CSC layout, PROTOCOL 4.9)."""
    sizes, masses = values[2:7], values[7:12]
    parts = [f"PM{_number(size, 'g')} {_number(mass, '.1f')}" for size, mass in zip(sizes, masses, strict=True)
             if not (isinstance(mass, float) and math.isnan(mass))]
    return " ".join([*parts, "µg/m³", f"typical {_number(values[17], '.2f')} µm"])


_SPECIAL: dict[str, Callable[[list[Any]], str]] = {
    "Temperature": _temperature,
    "LD250": _ld250,
    "Sps30": _sps30,
}


def format_values(sensor_type: str, values: list[Any]) -> str:
    """Compact text with units for a ``sensor_telemetry`` payload; never raises.

    Payloads that do not have the sensor's usual shape are shown as a plain list, so a
    server bug is visible rather than hidden.
    """
    if not values:
        return "(empty)"
    try:
        if sensor_type in _SPECIAL:
            return _SPECIAL[sensor_type](values)
        if sensor_type in _LAYOUTS:
            return _apply(_LAYOUTS[sensor_type], values)
    except (IndexError, KeyError, TypeError, ValueError):
        pass
    return ", ".join(_plain(value) for value in values)
