"""The configuration ``rpi-ess demo`` sends: one device of every sensor type.

It is written like a real node's configuration (serial ports under ``/dev/ess/`` as the udev
rule names them, factory baud rates from PROTOCOL 4.10, CSC-side keys such as ``location``
and ``num_samples``) so that the demo exercises the same validation path as a real
``configure``. In simulation mode each entry goes through
:func:`rpi_ess.simulation.configs.simulated_device_config`, which points it at a ``sim://``
port, so the demo's bytes pass through the real serial backend, framers, SPS30 poller and
parsers.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["DEMO_DEVICES", "demo_devices"]

DEMO_DEVICES: list[dict[str, Any]] = [
    {
        "name": "TempDome",
        "sensor_type": "Temperature",
        "channels": 8,
        "device_type": "Serial",
        "serial_port": "/dev/ess/temperature-dome",
        "baud_rate": 19200,
        "location": "Dome air low, Dome air high, M1 cell, M2 cell, Floor, Louvre north, Louvre south, Vent",
    },
    {
        "name": "HumidityMirror",
        "sensor_type": "HX85A",
        "device_type": "Serial",
        "serial_port": "/dev/ess/hx85a-mirror",
        "baud_rate": 19200,
        "location": "M1 mirror cover",
    },
    {
        "name": "HumidityPressureTower",
        "sensor_type": "HX85BA",
        "device_type": "Serial",
        "serial_port": "/dev/ess/hx85ba-tower",
        "baud_rate": 19200,
        "location": "Weather tower, 2 m",
    },
    {
        "name": "WindTower",
        "sensor_type": "Windsonic",
        "device_type": "Serial",
        "serial_port": "/dev/ess/windsonic-tower",
        "baud_rate": 9600,
        "location": "Weather tower, 10 m",
        "num_samples": 20,
    },
    {
        "name": "WindDomeSlit",
        "sensor_type": "CSAT3B",
        "device_type": "Serial",
        "serial_port": "/dev/ess/csat3b-slit",
        "baud_rate": 115200,
        "location": "Dome slit",
        "num_samples": 50,
    },
    {
        "name": "LightningDetector",
        "sensor_type": "LD250",
        "device_type": "Serial",
        "serial_port": "/dev/ess/ld250",
        "baud_rate": 19200,
        "location": "Auxiliary building roof",
        "safe_interval": 10,
    },
    {
        "name": "ElectricField",
        "sensor_type": "EFM100C",
        "device_type": "Serial",
        "serial_port": "/dev/ess/efm100c",
        "baud_rate": 19200,
        "location": "Auxiliary building roof",
        "safe_interval": 10,
        "threshold": 5.0,
    },
    {
        "name": "CloudSensor",
        "sensor_type": "Aurora",
        "device_type": "Serial",
        "serial_port": "/dev/ess/aurora",
        "baud_rate": 9600,
        "location": "Weather tower, top",
    },
    {
        "name": "ParticlesDome",
        "sensor_type": "Sps30",
        "device_type": "Serial",
        "serial_port": "/dev/ess/sps30-dome",
        "baud_rate": 115200,
        "location": "Dome floor",
    },
]


def demo_devices() -> list[dict[str, Any]]:
    """A private copy of :data:`DEMO_DEVICES`, so a caller may change it without affecting others."""
    return copy.deepcopy(DEMO_DEVICES)
