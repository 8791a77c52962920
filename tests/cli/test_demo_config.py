"""The embedded demo configuration: one device of every sensor type, valid for the server."""

from __future__ import annotations

import pytest

from rpi_ess.devices.config import parse_configuration
from rpi_ess.simulation.demo_config import DEMO_DEVICES, demo_devices

#: factory baud rates, PROTOCOL 4.10
BAUD_RATES = {
    "Temperature": 19200, "HX85A": 19200, "HX85BA": 19200, "Windsonic": 9600, "CSAT3B": 115200,
    "LD250": 19200, "EFM100C": 19200, "Aurora": 9600, "Sps30": 115200,
}


def test_one_device_of_every_sensor_type() -> None:
    assert sorted(device["sensor_type"] for device in DEMO_DEVICES) == sorted(BAUD_RATES)
    assert len({device["name"] for device in DEMO_DEVICES}) == len(DEMO_DEVICES)


@pytest.mark.parametrize("device", DEMO_DEVICES, ids=lambda device: device["name"])
def test_devices_look_like_a_real_node(device: dict) -> None:
    assert device["device_type"] == "Serial"
    assert device["serial_port"].startswith("/dev/ess/")
    assert device["baud_rate"] == BAUD_RATES[device["sensor_type"]]
    assert device["location"]


def test_temperature_has_eight_channels_with_a_location_each() -> None:
    (temperature,) = (device for device in DEMO_DEVICES if device["sensor_type"] == "Temperature")
    assert temperature["channels"] == 8
    assert len(temperature["location"].split(",")) == 8


def test_the_server_accepts_the_configuration() -> None:
    configs = parse_configuration({"devices": demo_devices()}, tuple(BAUD_RATES))
    assert [config.name for config in configs] == [device["name"] for device in DEMO_DEVICES]


def test_copies_are_independent() -> None:
    copy = demo_devices()
    copy[0]["name"] = "changed"
    assert DEMO_DEVICES[0]["name"] == "TempDome"
