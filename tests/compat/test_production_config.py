"""Issue 13: the configuration fields the production ESS fleet sends (PROTOCOL Appendix C) are accepted.

Device kinds Serial, FTDI (``ftdi_id: AL05OBVR``) and Sensirion (``baud_rate: 0``), the Rubin
HAT UARTs and the USB-socket names as ``serial_port``, and the keys the CSC's schema fills in
(``baud_rate`` 19200, ``safe_interval`` 10, ``location``). Over the wire the instruments are
absent on this machine: ``configure`` still answers 0 and each device reports its absence
with its own error payload. ``/dev/ttyS0`` and ``/dev/ttyUSB0`` may be real ports here, so
they are only validated, never opened.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from rpi_ess.devices.config import parse_configuration
from rpi_ess.sensors import SENSOR_TYPES, create_sensor
from rpi_ess.server.node_config import NodeConfig

from .conftest import configure_line, same_values

CSC_FILLED = {"baud_rate": 19200, "safe_interval": 10}  # what the CSC's schema adds to an entry without them


def csc(name: str, sensor_type: str, location: str, **keys: Any) -> dict[str, Any]:
    return {"name": name, "sensor_type": sensor_type, "location": location, **CSC_FILLED, **keys}


#: one of each kind of production entry whose port cannot exist on a test machine
ABSENT = [
    csc("EssTemperature", "Temperature", "T1,T2,T3,T4", device_type="Serial", serial_port="/dev/serial1",
        channels=4),
    csc("EssHumidity", "HX85BA", "Dome", device_type="Serial", serial_port="/dev/serial4"),
    csc("EssWind", "Windsonic", "Weather tower", device_type="Serial", serial_port="/dev/ttyUSB_lower_right",
        num_samples=20, baud_rate=9600),
    csc("EssTemperatureFtdi", "Temperature", "M2 cell", device_type="FTDI", ftdi_id="AL05OBVR", channels=8),
    {"name": "EssPm", "sensor_type": "SPS30", "device_type": "Sensirion", "baud_rate": 0, "location": "Dome",
     "safe_interval": 10},
]
#: ports that do exist on many machines: validation only
REAL_PORTS = [
    csc("EssLightning", "LD250", "Weather tower", device_type="Serial", serial_port="/dev/ttyS0"),
    csc("EssAnemometer", "CSAT3B", "Weather tower", device_type="Serial", serial_port="/dev/ttyUSB0",
        baud_rate=115200),
    csc("EssSky", "Aurora", "Weather tower", device_type="Serial", serial_port="/dev/ttyUSB_upper_right",
        baud_rate=9600),
]
SPS30_DEFAULT_PORT = "/dev/ttyUSB_upper_right"  # the reference's fixed port, used when serial_port is absent


def existing_ports() -> list[str]:
    return [p for p in ("/dev/serial1", "/dev/serial4", "/dev/ttyUSB_lower_right", SPS30_DEFAULT_PORT)
            if os.path.exists(p)]


def test_production_entries_validate():
    configs = parse_configuration({"devices": ABSENT + REAL_PORTS}, tuple(SENSOR_TYPES))
    by_name = {c.name: c for c in configs}
    assert (by_name["EssPm"].device_type, by_name["EssPm"].sensor_type, by_name["EssPm"].baud_rate,
            by_name["EssPm"].serial_port) == ("Sensirion", "Sps30", 115200, SPS30_DEFAULT_PORT)
    assert by_name["EssTemperatureFtdi"].ftdi_id == "AL05OBVR"
    assert by_name["EssWind"].extra == {"location": "Weather tower", "safe_interval": 10, "num_samples": 20}


async def test_production_configuration_answers_0_without_the_hardware(make_server, connect):
    if present := existing_ports():
        pytest.skip(f"production ports exist on this machine: {present}")
    server = await make_server(simulation_mode=0, node_config=NodeConfig(heartbeat_timeout=30.0))
    client = await connect(server.port)
    await client.send(configure_line(*ABSENT))
    names = {entry["name"] for entry in ABSENT}
    messages: list[dict[str, Any]] = []  # lines before the response too: a failed first open is reported at once

    def after_response() -> list[dict[str, Any]]:
        return [m["telemetry"] for m in messages[messages.index({"response": 0}) + 1:]] if {
            "response": 0} in messages else []

    while ({m["telemetry"]["name"] for m in messages if m.get("telemetry", {}).get("response_code") == 10} != names
           or {t["name"] for t in after_response()} != names):
        messages.append(json.loads(await client.line()))
    assert [m for m in messages if "response" in m] == [{"response": 0}]
    lines = [m["telemetry"] for m in messages if "telemetry" in m]
    # the CSC reads from the response on: each absent device's first line there clears its error timer
    firsts = {name: next(t["response_code"] for t in after_response() if t["name"] == name) for name in names}
    assert firsts == dict.fromkeys(names, 40), firsts
    assert {t["response_code"] for t in lines} <= {10, 40}
    for entry in ABSENT:
        payload = create_sensor(entry["sensor_type"].replace("SPS30", "Sps30"), entry.get("channels")).error_values()
        for telemetry in (t for t in lines if t["name"] == entry["name"]):
            assert same_values(telemetry["sensor_telemetry"], payload), telemetry
