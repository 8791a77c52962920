"""The reference JSON dialect: json.dumps defaults, bare NaN/Infinity."""

from __future__ import annotations

import json
import math

from rpi_ess.tcpip import dumps_json, loads_json


def test_dumps_matches_python_json_defaults() -> None:
    obj = {"telemetry": {"name": "Weather", "timestamp": 1.5, "response_code": 0,
                         "sensor_telemetry": [21.25, math.nan, math.inf, -math.inf, "°C"]}}
    text = dumps_json(obj)
    assert text == (
        '{"telemetry": {"name": "Weather", "timestamp": 1.5, "response_code": 0, '
        '"sensor_telemetry": [21.25, NaN, Infinity, -Infinity, "\\u00b0C"]}}'
    )
    assert text == json.dumps(obj)


def test_loads_accepts_non_finite_tokens() -> None:
    values = loads_json(b'[NaN, Infinity, -Infinity, 1e3]')
    assert math.isnan(values[0])
    assert values[1:] == [math.inf, -math.inf, 1000.0]


def test_round_trip_keeps_key_order() -> None:
    obj = {"z": 1, "a": [1.0, math.inf], "m": {"y": None, "b": True}}
    assert list(loads_json(dumps_json(obj))) == ["z", "a", "m"]
    assert loads_json(dumps_json(obj)) == obj
