"""Issue 13: ``device_type: Sensirion`` end to end, as three production SPS30 nodes configure it
(PROTOCOL Appendix C: ``baud_rate: 0``), next to the same sensor as ``device_type: Serial``.

Both go through the real server, the SHDLC poller and a pty to the SPS30 emulator; their
telemetry must be readings of the same 19-element layout (the one the CSC's
``Sps30Processor`` reads, PROTOCOL 4.9), equal to the parser's own output.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rpi_ess.sensors import create_sensor
from rpi_ess.server.node_config import NodeConfig
from rpi_ess.simulation.pty import PtyInstrument
from rpi_ess.simulation.sps30_emulator import DEFAULT_MEASUREMENT, Sps30ShdlcEmulator

from .conftest import configured, device_entry, runner_of, same_values, telemetry_until

SPS30_LAYOUT = 19


@pytest.fixture
def emulators(tmp_path: Path) -> Iterator[dict[str, Sps30ShdlcEmulator]]:
    made = {name: Sps30ShdlcEmulator(PtyInstrument(name, tmp_path / "ess")) for name in ("PM", "PMserial")}
    yield made
    for emulator in made.values():
        emulator.close()


def layout(values: list[Any]) -> list[str]:
    return [type(value).__name__ for value in values]


async def test_sensirion_device_type_streams_sps30_readings(emulators, make_server, connect):
    server = await make_server(simulation_mode=0, node_config=NodeConfig(heartbeat_timeout=30.0))
    production = {"name": "PM", "sensor_type": "SPS30", "device_type": "Sensirion",
                  "serial_port": emulators["PM"].port, "baud_rate": 0}
    serial = device_entry("PMserial", "Sps30", emulators["PMserial"].port, baud_rate=115200)
    client = await configured(server, connect, production, serial)
    lines = await telemetry_until(client, lambda got: all(
        sum(t["name"] == name and t["response_code"] == 0 for t in got) >= 2 for name in emulators))
    assert {t["response_code"] for t in lines} == {0}, [t for t in lines if t["response_code"]]
    expected = create_sensor("Sps30").from_values(DEFAULT_MEASUREMENT).values
    assert len(expected) == SPS30_LAYOUT
    by_name = {name: [t["sensor_telemetry"] for t in lines if t["name"] == name] for name in emulators}
    for name, readings in by_name.items():
        for values in readings:
            assert same_values(values, expected), f"{name}: {values}"
    assert layout(by_name["PM"][0]) == layout(by_name["PMserial"][0])
    sensirion = runner_of(server, "PM")
    assert (sensirion.device.config.device_type, sensirion.device.config.baud_rate) == ("Sensirion", 115200)
    assert sensirion.sensor.sensor_type == "Sps30"
    assert emulators["PM"].measuring and emulators["PM"].commands()[:2] == [0x01, 0x00]  # stop, then start
