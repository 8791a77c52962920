"""Simulation mode as configuration: each ``configure`` entry rewritten to run on the real
backends against a simulated instrument, instead of swapping the backend for a fake.

Serial and FTDI instruments get a ``sim://`` port (:mod:`rpi_ess.simulation.urlhandler`),
so SerialLink, the framers, the SPS30 poller and the parsers all run; I2C chips get the
emulated bus (``"i2c_bus_factory": "sim"``), so the real Adafruit drivers talk to chip
emulators. Everything else in the entry (name, sensor_type, channels, baud_rate, CSC keys)
is kept, so simulation validates the configuration exactly as a real node does.
"""

from __future__ import annotations

import zlib
from typing import Any
from urllib.parse import urlencode

from .i2c import register as register_i2c
from .instruments import SIMULATORS
from .urlhandler import register as register_serial
from .urlhandler.protocol_sim import SCHEME

__all__ = ["register", "sim_url", "simulated_configuration", "simulated_device_config"]

#: The field that names the instrument's port, per serial-family device type.
_PORT_FIELDS = {"Serial": "serial_port", "FTDI": "ftdi_id", "Sensirion": "serial_port"}


def register() -> None:
    """Make ``sim://`` ports and the ``sim`` I2C bus factory available; idempotent."""
    register_serial()
    register_i2c()


def sim_url(sensor_type: str, channels: int | None = None, seed: int | None = None) -> str:
    """``sim://<sensor_type>?channels=..&seed=..`` for one simulated instrument."""
    query = {key: value for key, value in (("channels", channels), ("seed", seed)) if value is not None}
    return f"{SCHEME}://{sensor_type}" + (f"?{urlencode(query)}" if query else "")


def simulated_device_config(entry: Any) -> Any:
    """The ``configure`` device entry that runs ``entry`` against a simulated instrument.

    Serial/FTDI -> ``device_type: Serial`` on ``sim://<sensor_type>`` (a ``serial_port``
    that already is a ``sim://`` URL is kept, so a configuration can ask for faults);
    I2C -> the same entry on the emulated bus. The seed comes from the device name, so a
    simulated node gives the same values every run. Entries a real node would refuse (not
    an object, unknown sensor or device type, no port or ftdi_id) are returned unchanged,
    for the configuration check to report.
    Registers the simulation handlers (:func:`register`) as a side effect.
    """
    register()
    if not isinstance(entry, dict):
        return entry
    device_type, sensor_type = entry.get("device_type"), entry.get("sensor_type")
    if device_type == "I2C":
        return {**entry, "i2c_bus_factory": "sim"}
    if device_type == "Sensirion":  # its port may be absent (the reference's fixed socket name)
        entry = {**entry, "sensor_type": "Sps30", "serial_port": entry.get("serial_port") or "sim"}
    field = _PORT_FIELDS.get(device_type) if isinstance(device_type, str) else None
    port = entry.get(field) if field is not None else None
    simulated = isinstance(sensor_type, str) and sensor_type in SIMULATORS
    if not simulated or not isinstance(port, str) or not port.strip():
        return entry  # what a real node would refuse is refused in simulation too
    if field == "serial_port" and port.startswith(f"{SCHEME}://"):
        return entry
    channels = entry.get("channels")
    name = entry.get("name")
    seed = zlib.crc32(name.encode()) if isinstance(name, str) else None
    rest = {key: value for key, value in entry.items() if key != "ftdi_id"}
    return {**rest, "device_type": "Serial",
            "serial_port": sim_url(sensor_type, channels if isinstance(channels, int) else None, seed)}


def simulated_configuration(configuration: Any) -> Any:
    """A whole ``configure`` payload with :func:`simulated_device_config` applied to each device.

    A payload without a ``devices`` list is returned unchanged, for the configuration check
    to report as it would on a real node.
    """
    devices = configuration.get("devices") if isinstance(configuration, dict) else None
    if not isinstance(devices, list):
        return configuration
    return {**configuration, "devices": [simulated_device_config(entry) for entry in devices]}
