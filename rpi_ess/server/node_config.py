"""The node's own configuration (``/etc/rpi-ess/node.yaml``): limits, allow-lists, local devices.

Written by the operator (or Ansible), never by the client. With no file every limit has its
default and the device allow-list is open, which keeps the existing CSC working unchanged;
network serial URLs (``socket://``, ``rfc2217://``) are the exception: a client can only
make the node connect elsewhere if the node configuration lists the URL.

Every ``server.*`` setting is one row of ``node_settings.SETTINGS``; every problem is one line
naming the file, the setting, what is allowed and what was found.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..devices.config import ConfigError, DeviceConfig, parse_configuration
from ..sensors import SENSOR_TYPES
from .node_files import TlsSettings, file_problem
from .node_settings import BY_KEY, SETTINGS, Setting, show

__all__ = [
    "DEFAULT_NODE_CONFIG_PATH",
    "SETTINGS",
    "DeviceAllowList",
    "NodeConfig",
    "TlsSettings",
    "load_node_config",
    "node_config_from_dict",
]

DEFAULT_NODE_CONFIG_PATH = Path("/etc/rpi-ess/node.yaml")
_NETWORK_SCHEMES = ("socket://", "rfc2217://", "spy://")
_RAW_PORT = Setting("raw_ports", int, None, "TCP port of a device's raw byte stream", low=1, high=65535)
_SECTIONS = ("server", "allowed_devices", "devices", "raw_ports", "raw_ports_writable")


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
        if config.serial_port is not None:  # every backend that opens a serial port (Serial, Sensirion)
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
    #: a device that cannot be opened at configure: "retry": start it anyway; it sends code-10 lines and
    #: is reopened with backoff until it appears, or "refuse" the configure (code 11, nothing runs)
    open_failures: str = "retry"
    #: longest a failing sensor's CSC error timer may run (< the CSC's 300 s max_error_state_period)
    error_report_seconds: float = 120.0
    on_new_client: str = "reject"  # or "replace" a client idle for takeover_idle_seconds
    takeover_idle_seconds: float = 3.0
    keepalive_seconds: float = 30.0  # silence towards the client before a keep-alive line (< 60)
    metrics_port: int | None = None  # Prometheus endpoint; None = off
    tls: TlsSettings | None = None
    allowed_devices: DeviceAllowList = field(default_factory=DeviceAllowList)
    devices: tuple[Mapping[str, Any], ...] = ()  # this node's instruments (diag, serve --config)
    raw_ports: Mapping[str, int] = field(default_factory=dict)  # device name -> TCP port of its raw stream
    raw_ports_writable: frozenset[str] = frozenset()  # devices whose raw port also accepts writes

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

    def override(self, options: Mapping[str, Any]) -> NodeConfig:
        """This configuration with command-line options (``{"port": 5001}``; None = not given) applied.

        Raises ConfigError naming the option (``--port``) if a value is not allowed.
        """
        values: dict[str, Any] = {}
        errors: list[str] = []
        for key, value in options.items():
            if value is None:
                continue
            checked, problem = BY_KEY[key].check(value, f"--{key.replace('_', '-')}")
            if problem is None:
                values[key] = checked
            else:
                errors.append(problem)
        if errors:
            raise ConfigError(errors)
        node = replace(self, **values)
        if errors := _port_clashes(node):
            raise ConfigError(errors)
        return node


def _port_clashes(node: NodeConfig) -> list[str]:
    """Every TCP port the node listens on must differ (0 = any free port never clashes)."""
    errors: list[str] = []
    used: dict[int, str] = {}
    listeners = [("server.port", node.port), ("server.metrics_port", node.metrics_port)]
    listeners += [(f"raw_ports.{name}", port) for name, port in node.raw_ports.items()]
    for where, port in listeners:
        if not port:
            continue
        if port in used:
            errors.append(f"{where}: port {port} is already used by {used[port]}; every port must differ")
        else:
            used[port] = where
    return errors


# --- reading ---------------------------------------------------------------------------------

class _Errors(list[str]):
    def check(self, setting: Setting, value: Any, where: str) -> Any:
        """The checked value; a problem is collected (and None returned)."""
        checked, problem = setting.check(value, where)
        if problem is not None:
            self.append(problem)
        return checked


def _unknown(where: str, key: Any, known: Iterable[str]) -> str:
    import difflib  # only for a mistake's message: not part of every server's memory

    close = difflib.get_close_matches(str(key), list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
    return f"{where}{key}: unknown setting{hint}"


def _server_section(server: Any, errors: _Errors) -> dict[str, Any]:
    if not isinstance(server, dict):
        errors.append(f"server: must be a mapping of settings (e.g. 'port: 5000' indented under it), "
                      f"got {show(server)}")
        return {}
    kwargs: dict[str, Any] = {}
    for key, value in server.items():
        if key == "tls":
            kwargs["tls"] = _tls_section(value, errors)
        elif key not in BY_KEY:
            errors.append(_unknown("server.", key, [*BY_KEY, "tls"]))
        else:
            checked, problem = BY_KEY[key].check(value, f"server.{key}")
            if problem is None:
                kwargs[key] = checked
            else:
                errors.append(problem)
    for net in kwargs.get("allowed_clients", ()):
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            errors.append(f"server.allowed_clients: {net!r} is not an address or CIDR network")
    return kwargs


def _tls_section(tls: Any, errors: _Errors) -> TlsSettings | None:
    if tls is None:
        return None
    keys = ("certfile", "keyfile", "client_ca")
    if not isinstance(tls, dict) or not {"certfile", "keyfile"} <= tls.keys():
        errors.append(f"server.tls: must be a mapping with certfile and keyfile (and optionally client_ca), "
                      f"got {show(tls)}")
        return None
    bad = [f"server.tls.{key}: must be a file name, got {show(tls[key])}"
           for key in keys if key in tls and not isinstance(tls[key], str) and not (key == "client_ca"
                                                                                   and tls[key] is None)]
    bad += [_unknown("server.tls.", key, keys) for key in tls if key not in keys]
    if bad:
        errors.extend(bad)
        return None
    settings = TlsSettings(tls["certfile"], tls["keyfile"], tls.get("client_ca"))
    errors.extend(settings.problems())
    return settings


def _allowed_devices(allowed: Any, errors: _Errors) -> DeviceAllowList | None:
    if allowed is None:
        return None
    kinds = ("serial_ports", "ftdi_ids", "i2c")
    if not isinstance(allowed, dict):
        errors.append(f"allowed_devices: must be a mapping of {', '.join(kinds)} to lists of patterns, "
                      f"got {show(allowed)}")
        return None
    errors.extend(_unknown("allowed_devices.", key, kinds) for key in allowed if key not in kinds)
    patterns = Setting("allowed_devices", tuple, None, "", nullable=True)
    return DeviceAllowList(**{key: errors.check(patterns, allowed.get(key), f"allowed_devices.{key}")
                              for key in kinds})


def _devices(devices: Any, errors: _Errors, max_devices: int, check: bool) -> tuple[Mapping[str, Any], ...]:
    if devices is None:
        return ()
    if not isinstance(devices, list) or not all(isinstance(d, dict) for d in devices):
        errors.append(f"devices: must be a list of device mappings (as in configure), got {show(devices)}")
        return ()
    if devices and check:
        try:
            parse_configuration({"devices": devices}, tuple(SENSOR_TYPES), max_devices)
        except ConfigError as e:
            errors.extend(e.errors)
    return tuple(devices)


def _raw_ports(raw: Any, writable: Any, errors: _Errors) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if raw is not None:
        if not isinstance(raw, dict):
            errors.append(f"raw_ports: must be a mapping of device name to TCP port, got {show(raw)}")
        else:
            ports = {}
            for name, port in raw.items():
                if not isinstance(name, str) or not name:
                    errors.append(f"raw_ports: device names must be strings, got {show(name)}")
                elif (checked := errors.check(_RAW_PORT, port, f"raw_ports.{name}")) is not None:
                    ports[name] = checked
            kwargs["raw_ports"] = ports
    if writable is not None:
        names = errors.check(Setting("raw_ports_writable", tuple, None, ""), writable, "raw_ports_writable")
        for name in names or ():
            if name not in kwargs.get("raw_ports", {}):
                errors.append(f"raw_ports_writable: {name!r} has no raw port; list it under raw_ports first")
        kwargs["raw_ports_writable"] = frozenset(names or ())
    return kwargs


def node_config_from_dict(data: Mapping[str, Any], check_devices: bool = True) -> NodeConfig:
    """Build and validate a NodeConfig; raises ConfigError naming every bad setting.

    ``check_devices=False`` leaves ``devices:`` to the caller (diag reports each entry on its own).
    """
    errors = _Errors()
    kwargs = _server_section(data.get("server") if data.get("server") is not None else {}, errors)
    if (allowed := _allowed_devices(data.get("allowed_devices"), errors)) is not None:
        kwargs["allowed_devices"] = allowed
    kwargs["devices"] = _devices(data.get("devices"), errors, kwargs.get("max_devices", 32), check_devices)
    kwargs.update(_raw_ports(data.get("raw_ports"), data.get("raw_ports_writable"), errors))
    errors.extend(_unknown("", key, _SECTIONS).replace("setting", "section") for key in data
                  if key not in _SECTIONS)
    if errors:
        raise ConfigError(errors)
    node = NodeConfig(**kwargs)
    if clashes := _port_clashes(node):
        raise ConfigError(clashes)
    return node


def _read(target: Path) -> str:
    problem = file_problem(target)
    if problem is not None:
        raise ConfigError([f"{target}: {problem}"])
    data = target.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ConfigError([f"{target}: not UTF-8 text (byte 0x{data[e.start]:02x} on line {line}); "
                           "save it as UTF-8"]) from None


def _yaml(text: str, target: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError([f"{target}: not valid YAML{where}: {what}"]) from None


def load_node_config(path: str | os.PathLike[str] | None = None, check_devices: bool = True) -> NodeConfig:
    """Read the node configuration; a missing default file gives the compatible defaults.

    Raises ConfigError with one line per problem, each naming the file and the setting.
    """
    target = Path(path) if path is not None else DEFAULT_NODE_CONFIG_PATH
    if path is None and not os.path.lexists(target):
        return NodeConfig()
    data = _yaml(_read(target), target)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{target}: must be a mapping of sections (server:, allowed_devices:, devices:), "
                           f"got {show(data)}"])
    try:
        return node_config_from_dict(data, check_devices)
    except ConfigError as e:
        raise ConfigError([f"{target}: {problem}" for problem in e.errors]) from None
