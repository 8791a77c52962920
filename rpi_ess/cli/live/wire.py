"""A telemetry line as the CSC checks it (PROTOCOL 3.1 and 6.3), and the meaning of a response code."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...server.response import ResponseCode

__all__ = ["TELEMETRY_KEYS", "Telemetry", "describe_code", "is_number", "parse_telemetry"]

#: The keys of a telemetry object, in the order the server must send them (PROTOCOL 3.1).
TELEMETRY_KEYS = ("name", "timestamp", "response_code", "sensor_telemetry")


@dataclass(frozen=True, slots=True)
class Telemetry:
    """One telemetry line. ``problem`` is set when the line breaks the CSC's schema (PROTOCOL 6.3)."""

    name: str
    timestamp: float
    response_code: int
    values: list[Any]
    raw: str
    problem: str | None = None


def parse_telemetry(message: Mapping[str, Any], raw: str) -> Telemetry:
    """Check a decoded ``{"telemetry": ...}`` message the way the CSC does.

    Raises ValueError when the line cannot be attributed to a device (no usable ``name``);
    other schema violations are reported through ``Telemetry.problem`` so they count as
    that device's errors.
    """
    body = message.get("telemetry")
    if not isinstance(body, Mapping):
        raise ValueError("'telemetry' is not an object")
    name = body.get("name")
    if not isinstance(name, str):
        raise ValueError("telemetry has no string 'name'")
    problems = []
    if set(message) != {"telemetry"}:
        problems.append(f"extra top-level keys {sorted(set(message) - {'telemetry'})}")
    if tuple(body) != TELEMETRY_KEYS:
        problems.append(f"keys are {list(body)}, expected {list(TELEMETRY_KEYS)}")
    timestamp = body.get("timestamp")
    if not is_number(timestamp):
        problems.append(f"timestamp {timestamp!r} is not a number")
        timestamp = math.nan
    code = body.get("response_code")
    if not isinstance(code, int) or isinstance(code, bool):
        problems.append(f"response_code {code!r} is not an integer")
        code = -1
    values = body.get("sensor_telemetry")
    if not isinstance(values, list) or not values:
        problems.append(f"sensor_telemetry {values!r} is not a non-empty array")
        values = values if isinstance(values, list) else []
    return Telemetry(name, float(timestamp), code, values, raw, "; ".join(problems) or None)


def is_number(value: Any) -> bool:
    """A JSON number (``true``/``false`` decode to bools, which Python counts as ints)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def describe_code(code: int) -> str | None:
    """None for OK; otherwise the code with its name where it has one."""
    if code == ResponseCode.OK:
        return None
    try:
        return f"code {code} ({ResponseCode(code).name})"
    except (TypeError, ValueError):
        return f"code {code!r}"
