"""Drop-in checks for the production ESS fleet (issue 13): the real server on loopback, pty instruments.

The server factory, the pty instruments and the wire client are the reliability kit's
(``tests/reliability/conftest.py``); this file adds what several compat tests share.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from ..reliability.conftest import (
    WireClient,
    assert_contiguous,
    configure_line,
    connect,
    loop_errors,
    make_instrument,
    make_server,
    numbers,
    received_until_closed,
    serial_entry,
    telemetry_until,
    wait_until,
)

__all__ = ["WireClient", "assert_contiguous", "configure_line", "configured", "connect",
           "device_entry", "loop_errors", "make_instrument", "make_server", "numbers", "received_until_closed",
           "runner_of", "same_values", "serial_entry", "telemetry_until", "timed_lines", "wait_until"]


def device_entry(name: str, sensor_type: str, port: str, device_type: str = "Serial", **extra: Any) -> dict[str, Any]:
    """A ``configure`` entry as the CSC sends it for a non-temperature instrument (schema defaults filled in)."""
    return {"name": name, "sensor_type": sensor_type, "device_type": device_type, "serial_port": port,
            "baud_rate": 19200, "location": "compat", "safe_interval": 10, **extra}


async def configured(server: Any, connect: Any, *entries: dict[str, Any], **kwargs: Any) -> WireClient:
    """A client that sent ``configure`` with ``entries`` and got ``{"response": 0}``."""
    client = await connect(server.port, **kwargs)
    await client.send(configure_line(*entries))
    assert (await client.response())[1] == {"response": 0}
    return client


def runner_of(server: Any, name: str) -> Any:
    (runner,) = [r for r in server.command_handler.runners if r.name == name]
    return runner


def same_values(got: list[Any], expected: list[Any]) -> bool:
    """Equal element by element, NaN equal to NaN, and of the same JSON type (an int stays an int)."""
    expected = json.loads(json.dumps(expected))  # what a client decodes: tuples become lists, NaN stays NaN

    def same(a: Any, b: Any) -> bool:
        if type(a) is not type(b):
            return False
        if isinstance(a, float) and math.isnan(a):
            return math.isnan(b)
        return a == b

    return len(got) == len(expected) and all(same(a, b) for a, b in zip(got, expected, strict=True))


async def timed_lines(client: WireClient, seconds: float) -> list[tuple[float, dict[str, Any]]]:
    """Every line the server sends for ``seconds``, with its monotonic arrival time."""
    received: list[tuple[float, dict[str, Any]]] = []
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            raw = await client.line(remaining)
        except TimeoutError:
            break
        received.append((time.monotonic(), json.loads(raw)))
    return received
