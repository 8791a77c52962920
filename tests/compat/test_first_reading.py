"""Issue 13: the first record after each open is a reading, for every line-based sensor type.

A production instrument that sends slowly (Aurora every 2 s, HX85 every 1.35 s) or that was
just plugged in must not lose its first line to the framer's synchronisation: the port's
input buffer is emptied at open, so the first complete line is whole and is reported.
Each test configures the device on a quiet pty, writes one line a second later, then pulls
the cable, plugs it back behind the same /dev/ess-style name and writes one more line.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rpi_ess.sensors import SENSOR_TYPES, create_sensor
from rpi_ess.server.node_config import NodeConfig
from rpi_ess.simulation.instruments import create_simulator

from .conftest import configured, device_entry, runner_of, same_values, wait_until

LINE_SENSORS = [t for t, cls in SENSOR_TYPES.items() if cls.protocol == "lines"]
CHANNELS = 4  # Temperature only
QUIET = 1.0  # seconds between configure and the first line (below the 5 s silence limit)


def test_every_line_sensor_is_covered():
    assert sorted(LINE_SENSORS) == sorted(
        ["Temperature", "HX85A", "HX85BA", "Windsonic", "CSAT3B", "LD250", "EFM100C", "Aurora"])


def entry(sensor_type: str, port: str) -> dict[str, Any]:
    extra = {"channels": CHANNELS} if sensor_type == "Temperature" else {}
    return device_entry("dev", sensor_type, port, baud_rate=SENSOR_TYPES[sensor_type].baud_rate, **extra)


def expected(sensor_type: str, line: bytes) -> list[Any]:
    """The sensor's own parse of ``line`` (its terminator, sent before or after, removed)."""
    sensor = create_sensor(sensor_type, CHANNELS if sensor_type == "Temperature" else None)
    reading = sensor.parse(line.strip(sensor.terminator))
    assert reading.ok, f"the simulator wrote an unreadable {sensor_type} line {line!r}: {reading.error}"
    return reading.values


async def next_reading(client: Any) -> tuple[dict[str, Any], list[int]]:
    """The next code-0 telemetry line, and the codes of the lines before it."""
    codes = []
    while (telemetry := await client.telemetry(timeout=15.0))["response_code"] != 0:
        codes.append(telemetry["response_code"])
    return telemetry, codes


@pytest.mark.parametrize("sensor_type", LINE_SENSORS)
async def test_first_line_after_each_open_is_kept(sensor_type, make_server, connect, make_instrument, tmp_path):
    server = await make_server(simulation_mode=0, node_config=NodeConfig(heartbeat_timeout=30.0))
    pty, _ = make_instrument("dev")  # quiet: nothing written before the configure
    simulator = create_simulator(sensor_type, CHANNELS if sensor_type == "Temperature" else None, seed=13)
    client = await configured(server, connect, entry(sensor_type, pty.port))

    await asyncio.sleep(QUIET)
    first = simulator.next_bytes()
    pty.write(first)
    telemetry, codes = await next_reading(client)
    assert codes == [], f"lines before the first reading: {codes}"
    assert telemetry["name"] == "dev"
    assert same_values(telemetry["sensor_telemetry"], expected(sensor_type, first)), (
        f"{first!r} -> {telemetry['sensor_telemetry']}")

    runner = runner_of(server, "dev")
    pty.unplug()
    await wait_until(lambda: runner.stats.errors > 0, what="the unplug to be seen")
    pty.replug()  # a new tty behind the same name
    await wait_until(lambda: runner.stats.reopens >= 1, what="the port to be reopened")
    again = simulator.next_bytes()
    pty.write(again)
    telemetry, codes = await next_reading(client)
    assert 10 in codes, f"the unplug was not reported: {codes}"
    assert set(codes) <= {10, 40}
    assert same_values(telemetry["sensor_telemetry"], expected(sensor_type, again)), (
        f"{again!r} -> {telemetry['sensor_telemetry']}")
    await wait_until(lambda: runner.stats.good == 2, what="both readings to be counted")  # counted after sending
