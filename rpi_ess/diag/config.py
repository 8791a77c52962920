"""Which devices to check: ``--config FILE``, else the node configuration's ``devices``.

Each entry is validated on its own, with the server's own rules, so one bad entry is
reported without hiding the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..devices.config import ConfigError, DeviceConfig, parse_configuration
from ..sensors import SENSOR_TYPES

__all__ = ["DeviceList", "parse_devices", "read_config_file"]


@dataclass
class DeviceList:
    devices: list[DeviceConfig] = field(default_factory=list)
    source: str = "no configuration"
    errors: list[str] = field(default_factory=list)


def parse_devices(entries: Sequence[Any], source: str) -> DeviceList:
    found = DeviceList(source=source)
    for index, entry in enumerate(entries):
        try:
            found.devices += parse_configuration({"devices": [entry]}, tuple(SENSOR_TYPES))
        except ConfigError as e:  # messages say devices[0]: put back the entry's real index
            found.errors += [error.replace("devices[0]", f"devices[{index}]", 1) for error in e.errors]
    return found


def read_config_file(path: str) -> DeviceList:
    """A YAML or JSON file holding ``devices:`` (the CSC's device list, or a node config)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        return DeviceList(source=path, errors=[f"{path}: cannot read: {e}"])
    devices = data.get("devices") if isinstance(data, dict) else None
    if not isinstance(devices, list):
        return DeviceList(source=path, errors=[f"{path}: no 'devices' list"])
    return parse_devices(devices, path)
