"""The node's own configuration (``/etc/rpi-ess/node.yaml``): limits, allow-lists, local devices.

Written by the operator (or Ansible), never by the client. With no file every limit has its
default and the device allow-list is open, which keeps the existing CSC working unchanged;
network serial URLs (``socket://``, ``rfc2217://``) are the exception: a client can only
make the node connect elsewhere if the node configuration lists the URL.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..devices.config import ConfigError, DeviceConfig

__all__ = ["DEFAULT_NODE_CONFIG_PATH", "DeviceAllowList", "NodeConfig", "TlsSettings", "load_node_config"]

DEFAULT_NODE_CONFIG_PATH = Path("/etc/rpi-ess/node.yaml")
_NETWORK_SCHEMES = ("socket://", "rfc2217://", "spy://")


def _matches(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


@dataclass(frozen=True)
class DeviceAllowList:
    """Glob patterns of what ``configure`` may open; ``None`` means anything of that kind."""

    serial_ports: tuple[str, ...] | None = None
    ftdi_ids: tuple[str, ...] | None = None
    i2c: tuple[str, ...] | None = None  # "BUS:ADDRESS" patterns, e.g. "1:0x44" or "1:*"

    def problem(self, config: DeviceConfig) -> str | None:
        """Why the node refuses to open this device, or None if it is allowed."""
        if config.serial_port is not None and config.device_type == "Serial":
            port = config.serial_port
            if "://" not in port:
                port = os.path.normpath(port)  # no /dev/ess/../sda tricks
            if self.serial_ports is None:
                if port.startswith(_NETWORK_SCHEMES):
                    return f"serial_port {port!r}: network ports must be listed in the node configuration"
            elif not _matches(port, self.serial_ports):
                return f"serial_port {port!r} is not in this node's allowed_devices.serial_ports"
        if config.device_type == "FTDI" and self.ftdi_ids is not None and not _matches(config.ftdi_id or "",
                                                                                       self.ftdi_ids):
            return f"ftdi_id {config.ftdi_id!r} is not in this node's allowed_devices.ftdi_ids"
        if config.device_type == "I2C" and self.i2c is not None:
            where = f"{config.i2c_bus}:{'*' if config.address is None else hex(config.address)}"
            if not _matches(where, self.i2c):
                return f"I2C device {where} is not in this node's allowed_devices.i2c"
        return None


@dataclass(frozen=True)
class TlsSettings:
    certfile: str
    keyfile: str
    client_ca: str | None = None  # if set, clients must present a certificate signed by it


@dataclass(frozen=True)
class NodeConfig:
    """Everything the operator sets for one node; every field has a compatible default."""

    host: str = "0.0.0.0"
    port: int = 5000
    max_line_length: int = 65536
    max_devices: int = 32
    max_commands_per_second: float = 20.0
    heartbeat_timeout: float = 10.0
    allowed_clients: tuple[str, ...] = ()  # CIDRs; empty = any address
    allow_exit: bool = True
    status_socket: str | None = None
    status_led_pin: int | None = None
    max_queue_per_device: int = 200
    #: a device that cannot be opened at configure: "retry" (default): configure answers 0, the device
    #: reports under the error budget and is reopened with backoff; "refuse": code 11, nothing runs
    open_failures: str = "retry"
    error_report_seconds: float = 120.0  # error budget: the CSC's per-sensor timer is cleared before this age
    keepalive_seconds: float = 30.0  # nothing sent for this long: send a keep-alive telemetry line
    on_new_client: str = "reject"  # or "replace": a new client replaces one idle for takeover_idle_seconds
    takeover_idle_seconds: float = 3.0
    tls: TlsSettings | None = None
    allowed_devices: DeviceAllowList = field(default_factory=DeviceAllowList)
    devices: tuple[Mapping[str, Any], ...] = ()  # this node's instruments (diag, serve --config)

    def client_allowed(self, host: str) -> bool:
        if not self.allowed_clients:
            return True
        try:
            address = ipaddress.ip_address(host.split("%", maxsplit=1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in ipaddress.ip_network(net, strict=False) for net in self.allowed_clients)


def _tuple_of_str(key: str, value: Any, errors: list[str]) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append(f"{key} must be a list of strings")
        return None
    return tuple(value)


def node_config_from_dict(data: Mapping[str, Any]) -> NodeConfig:
    """Build and validate a NodeConfig; raises ConfigError naming every bad key."""
    errors: list[str] = []
    server = data.get("server", {}) or {}
    known = {f.name for f in fields(NodeConfig)} - {"tls", "allowed_devices", "devices"}
    kwargs: dict[str, Any] = {}
    for key, value in server.items():
        if key == "tls":
            continue
        if key not in known:
            errors.append(f"server.{key}: unknown setting")
            continue
        default = getattr(NodeConfig, key, None)
        expected = type(default) if default not in (None, ()) else None
        if key == "allowed_clients":
            nets = _tuple_of_str("server.allowed_clients", value, errors) or ()
            for net in nets:
                try:
                    ipaddress.ip_network(net, strict=False)
                except ValueError:
                    errors.append(f"server.allowed_clients: {net!r} is not an address or CIDR network")
            value = nets
        elif expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif expected is not None and not isinstance(value, expected):
            errors.append(f"server.{key} must be of type {expected.__name__}, got {value!r}")
            continue
        if key == "open_failures" and value not in ("refuse", "retry"):
            errors.append(f"server.open_failures must be 'refuse' or 'retry', got {value!r}")
            continue
        kwargs[key] = value
    tls = server.get("tls")
    if tls is not None:
        if not isinstance(tls, dict) or not {"certfile", "keyfile"} <= tls.keys():
            errors.append("server.tls needs certfile and keyfile")
        else:
            kwargs["tls"] = TlsSettings(tls["certfile"], tls["keyfile"], tls.get("client_ca"))
    allowed = data.get("allowed_devices")
    if allowed is not None:
        if not isinstance(allowed, dict):
            errors.append("allowed_devices must be a mapping")
        else:
            unknown = set(allowed) - {"serial_ports", "ftdi_ids", "i2c"}
            errors.extend(f"allowed_devices.{key}: unknown kind" for key in sorted(unknown))
            kwargs["allowed_devices"] = DeviceAllowList(
                **{key: _tuple_of_str(f"allowed_devices.{key}", allowed.get(key), errors)
                   for key in ("serial_ports", "ftdi_ids", "i2c")}
            )
    devices = data.get("devices", [])
    if not isinstance(devices, list) or not all(isinstance(d, dict) for d in devices):
        errors.append("devices must be a list of device mappings")
    else:
        kwargs["devices"] = tuple(devices)
    unknown_top = set(data) - {"server", "allowed_devices", "devices"}
    errors.extend(f"{key}: unknown section" for key in sorted(unknown_top))
    if errors:
        raise ConfigError(errors)
    return NodeConfig(**kwargs)


def load_node_config(path: str | os.PathLike[str] | None = None) -> NodeConfig:
    """Read the node configuration; a missing default file gives the compatible defaults."""
    import yaml

    target = Path(path) if path is not None else DEFAULT_NODE_CONFIG_PATH
    try:
        text = target.read_text()
    except FileNotFoundError:
        if path is None:
            return NodeConfig()
        raise ConfigError([f"{target}: no such file"]) from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError([f"{target}: not valid YAML: {e}"]) from e
    if not isinstance(data, dict):
        raise ConfigError([f"{target}: must be a mapping"])
    try:
        return node_config_from_dict(data)
    except ConfigError as e:
        raise ConfigError([f"{target}: {problem}" for problem in e.errors]) from None
