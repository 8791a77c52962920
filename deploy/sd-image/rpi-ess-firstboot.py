"""Apply the node settings from the SD card's boot partition (rpi-ess.yaml) on first boot.

Why a file on the FAT partition: it can be edited on any laptop after flashing, so one image serves the whole
fleet and each card gets its own hostname, SSH key, network and device allow-list. The file is renamed to
``rpi-ess.yaml.applied`` afterwards, so editing and renaming it back re-applies it on the next boot.

Run as ``python3 rpi-ess-firstboot.py CONFIG [--root DIR]``; ``--root`` makes it testable on a directory tree.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("rpi-ess-firstboot")

HOSTNAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
KEY = re.compile(r"^(ssh-|ecdsa-|sk-)\S+ \S+")


class ConfigError(ValueError):
    """The config file cannot be applied; the message names the key."""


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    # On the SD image these paths are links into the data partition (the root is read-only): write where
    # they point, so that the temporary file and the rename stay on the writable file system.
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)
    log.info("wrote %s", path)


def apply_hostname(root: Path, name: Any) -> None:
    if not isinstance(name, str) or not HOSTNAME.match(name):
        raise ConfigError(f"hostname: {name!r} is not a valid host name")
    _write(root / "etc/hostname", name + "\n")
    hosts = root / "etc/hosts"
    lines = [line for line in (hosts.read_text().splitlines() if hosts.exists() else [])
             if not line.startswith("127.0.1.1")]
    lines.append(f"127.0.1.1\t{name}")
    _write(hosts, "\n".join(lines) + "\n")


def apply_ssh_keys(root: Path, keys: Any) -> None:
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, list) or not all(isinstance(k, str) and KEY.match(k.strip()) for k in keys):
        raise ConfigError("ssh_authorized_keys: expected a list of public keys ('ssh-ed25519 AAAA... comment')")
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True)
    ssh_dir.chmod(0o700)
    _write(ssh_dir / "authorized_keys", "".join(k.strip() + "\n" for k in keys), 0o600)


def network_unit(net: Any) -> str:
    """A systemd-networkd unit for the wired interface: DHCP, or a static address with gateway and DNS."""
    if not isinstance(net, dict):
        raise ConfigError("network: expected a mapping ({dhcp: true} or {address: ..., gateway: ..., dns: [...]})")
    lines = ["[Match]", f"Name={net.get('interface', 'e*')}", "", "[Network]"]
    if net.get("dhcp", "address" not in net):
        lines.append("DHCP=yes")
    else:
        try:
            lines.append(f"Address={ipaddress.ip_interface(net['address']).with_prefixlen}")
            if "gateway" in net:
                lines.append(f"Gateway={ipaddress.ip_address(net['gateway'])}")
            lines += [f"DNS={ipaddress.ip_address(d)}" for d in net.get("dns", [])]
        except (KeyError, ValueError, TypeError) as e:
            raise ConfigError(f"network: {e}") from None
    return "\n".join(lines) + "\n"


def apply_node(root: Path, node: Any) -> None:
    if not isinstance(node, dict):
        raise ConfigError("node: expected a mapping (the contents of /etc/rpi-ess/node.yaml)")
    _write(root / "etc/rpi-ess/node.yaml", yaml.safe_dump(node, sort_keys=False), 0o644)


def apply_serve_args(root: Path, args: Any) -> None:
    if not isinstance(args, str):
        raise ConfigError("serve_args: expected a string of extra `rpi-ess serve` options")
    _write(root / "etc/default/rpi-ess", f"RPI_ESS_ARGS={shlex.quote(args)}\n")


HANDLERS = {
    "hostname": apply_hostname,
    "ssh_authorized_keys": apply_ssh_keys,
    "network": lambda root, net: _write(root / "etc/systemd/network/10-rpi-ess.network", network_unit(net)),
    "node": apply_node,
    "serve_args": apply_serve_args,
}


def apply(config: Path, root: Path) -> int:
    """Apply every known key; a bad key is reported and skipped so the rest still takes effect."""
    try:
        data = yaml.safe_load(config.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        log.error("%s: cannot read: %s", config, e)
        return 1
    if not isinstance(data, dict):
        log.error("%s: expected a mapping of settings", config)
        return 1
    failures = 0
    for key, value in data.items():
        handler = HANDLERS.get(key)
        if handler is None:
            log.error("%s: unknown setting %r (known: %s)", config, key, ", ".join(HANDLERS))
            failures += 1
            continue
        try:
            handler(root, value)
        except (ConfigError, OSError) as e:
            log.error("%s: %s", config, e)
            failures += 1
    os.replace(config, config.with_name(config.name + ".applied"))
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--root", type=Path, default=Path("/"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(levelname)s %(message)s")
    return apply(args.config, args.root)


if __name__ == "__main__":
    sys.exit(main())
