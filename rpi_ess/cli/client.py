"""``rpi-ess client``: a technician's stand-in for the CSC.

It configures a (remote) server with the devices from a file and shows the telemetry that
comes back, using the same connection sequence as the CSC (heartbeats from the first moment,
``configure``, then read), so a node can be checked before the CSC is pointed at it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .actions import PrintAndExit

# The live view (session, table, rich) is imported when the command runs: every `rpi-ess serve` builds this
# parser, and those modules would stay in its memory.
from .live.command import ViewOptions, add_view_arguments, positive_float, run_command

__all__ = ["ConfigFileError", "example_config", "load_devices", "register", "run"]

EPILOG = """\
The device file holds either a list of devices or a mapping with a `devices` key (so a CSC
configuration can be used as it is); YAML or JSON, chosen by the extension (.yaml/.yml/.json)
or else by the content. `rpi-ess client --example-config` prints a complete, commented one
(the demo's nine devices, which `rpi-ess serve --simulate` accepts as they are).
Example devices.yaml:

  devices:
    - name: TempDome
      sensor_type: Temperature
      channels: 8
      device_type: Serial
      serial_port: /dev/ess/temperature-dome
      baud_rate: 19200

Examples:
  rpi-ess client --host ess-pi-1 --config devices.yaml
  rpi-ess client --host 10.0.0.7 --port 5000 --config devices.json --duration 30 --json > telemetry.jsonl
  rpi-ess client --host ess-pi-1 --config devices.yaml --rate-limit 0.5   # read as slowly as the CSC
  rpi-ess client --example-config > devices.yaml

Exit status: 0 after --duration or Ctrl-C, 1 when the connection fails, the configuration is
refused or the connection is lost, 2 for a bad device file.
"""


class ConfigFileError(ValueError):
    """The device file cannot be used; the message names the file and the problem."""


def example_config() -> str:
    """The shipped example device file (package data), commented for a technician."""
    import importlib.resources

    return importlib.resources.files(__package__).joinpath("examples/devices.yaml").read_text(encoding="utf-8")


def _parse(path: Path, text: str) -> Any:
    suffix = path.suffix.lower()
    as_json = suffix == ".json" or (suffix not in (".yaml", ".yml") and text.lstrip()[:1] in ("{", "["))
    if as_json:
        try:
            return json.loads(text)
        except ValueError as e:
            raise ConfigFileError(f"{path}: not valid JSON: {e}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigFileError(f"{path}: not valid YAML: {e}") from None


def load_devices(path: Path) -> list[dict[str, Any]]:
    """The device list from a YAML or JSON file: a list of device mappings, or a mapping with ``devices``.

    Only the structure is checked here; the server validates the devices themselves, and its
    answer is what the technician needs to see.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigFileError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    document = _parse(path, text)
    if isinstance(document, Mapping):
        if "devices" not in document:
            raise ConfigFileError(f"{path}: the mapping has no 'devices' key (keys: {', '.join(map(str, document))})")
        document = document["devices"]
    if not isinstance(document, list):
        raise ConfigFileError(
            f"{path}: expected a list of devices or a mapping with a 'devices' list, got {type(document).__name__}"
        )
    if not document:
        raise ConfigFileError(f"{path}: the device list is empty")
    for index, device in enumerate(document, start=1):
        if not isinstance(device, Mapping):
            raise ConfigFileError(f"{path}: device {index} is a {type(device).__name__}, not a mapping")
    return [dict(device) for device in document]


def _port(text: str) -> int:
    port = int(text)
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, not {text}")
    return port


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be zero or a positive number of seconds, not {text}")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "client",
        help="configure a server with devices from a file and show its telemetry",
        description="Connect to an rpi-ess (or reference ESS) server like the CSC does, configure it with\n"
        "the devices from a file and show the telemetry as a live table (or JSON lines).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", required=True, help="server host name or address")
    parser.add_argument("--port", type=_port, default=5000, help="server TCP port (default: %(default)s)")
    parser.add_argument("--config", type=Path, required=True, metavar="FILE",
                        help="device file, YAML or JSON (see below)")
    parser.add_argument("--rate-limit", type=_non_negative, default=0.0, metavar="SECONDS",
                        help="make each read last at least this long, like the CSC's rate_limit (default: 0, "
                        "read as fast as lines come)")
    parser.add_argument("--connect-timeout", type=positive_float, default=10.0, metavar="SECONDS",
                        help="give up connecting after this long (default: %(default)s)")
    parser.add_argument("--example-config", action=PrintAndExit, text=example_config,
                        help="print an example device file (the demo's devices) and exit")
    add_view_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        devices = load_devices(args.config)
    except ConfigFileError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    from .live.show import show_telemetry

    return run_command(
        lambda stop: show_telemetry(
            args.host, args.port, devices, ViewOptions.from_args(args), stop,
            connect_timeout=args.connect_timeout, rate_limit=args.rate_limit,
        ),
        args.log_level,
    )
