"""``rpi-ess udev-rule``: print the udev rule that gives a newly attached instrument adapter a stable name.

Why: ``/dev/ttyUSB0`` depends on plug-in order, so device configurations name ``/dev/ess/<name>`` instead.
The rule matches the adapter's USB vendor, product, serial number and interface (for multi-port chips such
as the FT2232/FT4232), read here from sysfs, so it follows the adapter to any USB socket. With ``--socket``
the rule instead names the USB socket the adapter is plugged into, ``/dev/ttyUSB_<socket>`` (the production
fleet's convention), for boards whose socket layout ``60-rpi-ess.rules`` does not know and for adapters
without a serial number. Matching uses the ``ID_*`` values that ``60-rpi-ess.rules`` imports, which is why
the output belongs in a later file.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Adapter", "UdevRuleError", "find_adapters", "id_path", "register", "render_rule", "render_socket_rule",
           "run"]

RULES_FILE = "/etc/udev/rules.d/61-rpi-ess-local.rules"
FTDI_VENDOR = "0403"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Characters udev's usb_id keeps in ID_SERIAL_SHORT; it replaces every other one with '_'.
UNSAFE = re.compile(r"[^A-Za-z0-9#+\-.:=@_]")


class UdevRuleError(ValueError):
    """No rule can be made for the requested device; the message says why."""


@dataclass(frozen=True)
class Adapter:
    """One USB instrument adapter port, as udev will see it."""

    vendor_id: str
    product_id: str
    serial: str  # raw sysfs value
    interface: str | None  # bInterfaceNumber ("00", "01", ...); None for a bare USB device (user-space FTDI)
    kernel_name: str | None  # ttyUSB0 / ttyACM0; None without a kernel tty driver
    description: str
    id_path: str | None = None  # udev's ID_PATH of the port (its /dev/serial/by-path name without -portN)

    @property
    def serial_short(self) -> str:
        """The serial as udev's ``ID_SERIAL_SHORT`` spells it."""
        return UNSAFE.sub("_", "_".join(self.serial.split()))

    def default_name(self) -> str:
        suffix = f"-if{self.interface}" if self.interface not in (None, "00") else ""
        return f"usb-{self.serial_short}{suffix}"


def _read(directory: Path, attribute: str) -> str | None:
    try:
        return (directory / attribute).read_text(errors="replace").strip()
    except OSError:
        return None


def _usb_parents(device: Path, sysfs: Path) -> tuple[Path | None, Path | None]:
    """The USB interface and USB device directories above a sysfs device directory."""
    interface = usb_device = None
    for directory in (device, *device.parents):
        if directory == sysfs or sysfs not in directory.parents:
            break
        if interface is None and (directory / "bInterfaceNumber").exists():
            interface = directory
        if (directory / "idVendor").exists():
            usb_device = directory
            break
    return interface, usb_device


def _subsystem(directory: Path) -> str | None:
    try:
        return (directory / "subsystem").resolve(strict=True).name
    except OSError:
        return None


def id_path(device: Path, sysfs: Path) -> str | None:
    """udev's ``path_id`` for a USB port: the interface, then the PCI and platform devices above it.

    Like udev, each run of parents of one subsystem counts once (the innermost), so hubs and root hubs
    disappear into the interface's port chain ("1-1.2:1.0" -> "usb-0:1.2:1.0").
    """
    parts: list[str] = []
    previous = None
    for directory in (device, *device.parents):
        if directory == sysfs or sysfs not in directory.parents:
            break
        subsystem = _subsystem(directory)
        if subsystem == previous:
            continue
        if subsystem == "usb" and "-" in directory.name:
            parts.append(f"usb-0:{directory.name.split('-', 1)[1]}")
        elif subsystem in ("pci", "platform"):
            parts.append(f"{subsystem}-{directory.name}")
        elif subsystem is None:
            continue
        previous = subsystem
    return "-".join(reversed(parts)) if any(p.startswith("usb-") for p in parts) else None


def _adapter(usb_device: Path, interface: Path | None, kernel_name: str | None, *, need_serial: bool = True,
             port_path: str | None = None) -> Adapter:
    serial = _read(usb_device, "serial") or ""
    if not serial and need_serial:
        raise UdevRuleError(f"{usb_device.name}: the adapter reports no USB serial number, so no rule can tell "
                            "it apart from another of its kind; name its USB socket instead (--socket)")
    words = [w for w in (_read(usb_device, "manufacturer"), _read(usb_device, "product")) if w]
    return Adapter(
        vendor_id=_read(usb_device, "idVendor") or "",
        product_id=_read(usb_device, "idProduct") or "",
        serial=serial,
        interface=_read(interface, "bInterfaceNumber") if interface else None,
        kernel_name=kernel_name,
        description=" ".join(words) or "USB adapter",
        id_path=port_path,
    )


def _tty_adapter(link: Path, sysfs: Path, *, need_serial: bool = True) -> tuple[Adapter, Path]:
    """The adapter behind ``/sys/class/tty/<name>`` and its USB device directory."""
    if not link.exists():
        raise UdevRuleError(f"{link.name}: no such serial port in {link.parent}")
    device, root = link.resolve(), sysfs.resolve()
    interface, usb_device = _usb_parents(device, root)
    if usb_device is None:
        raise UdevRuleError(f"{link.name}: not a USB adapter (an on-board UART keeps its kernel name, "
                            f"use /dev/{link.name} directly)")
    adapter = _adapter(usb_device, interface, link.name, need_serial=need_serial,
                       port_path=id_path(interface, root) if interface else None)
    return adapter, usb_device


def tty_adapter(kernel_name: str, sysfs: Path = Path("/sys"), *, need_serial: bool = True) -> Adapter:
    """The adapter behind a tty such as ``ttyUSB0`` (``need_serial=False``: for a socket rule)."""
    return _tty_adapter(sysfs / "class" / "tty" / kernel_name, sysfs, need_serial=need_serial)[0]


def find_adapters(sysfs: Path = Path("/sys")) -> tuple[list[Adapter], list[str]]:
    """Every USB serial port, plus FTDI chips without a tty (used from user space); and the problems seen."""
    adapters: list[Adapter] = []
    problems: list[str] = []
    with_tty: set[Path] = set()
    links = sorted((sysfs / "class" / "tty").glob("ttyUSB*")) + sorted((sysfs / "class" / "tty").glob("ttyACM*"))
    for link in links:
        try:
            adapter, usb_device = _tty_adapter(link, sysfs)
        except UdevRuleError as e:
            problems.append(str(e))
            continue
        adapters.append(adapter)
        with_tty.add(usb_device)
    for link in sorted((sysfs / "bus" / "usb" / "devices").glob("*")):
        device = link.resolve()
        if _read(device, "idVendor") == FTDI_VENDOR and device not in with_tty:
            try:
                adapters.append(_adapter(device, None, None))
            except UdevRuleError as e:
                problems.append(str(e))
    return adapters, problems


def _quoted(value: str, what: str) -> str:
    # udev match values are glob patterns inside double quotes without escapes.
    if any(c in value for c in '"*?[]|\\\n'):
        raise UdevRuleError(f"{what} {value!r} contains characters a udev rule cannot match literally")
    return f'"{value}"'


def render_rule(adapter: Adapter, name: str | None = None) -> str:
    """The comment and rule line(s) for one adapter; ``name`` becomes ``/dev/ess/<name>``."""
    name = name or adapter.default_name()
    if not NAME.match(name):
        raise UdevRuleError(f"name {name!r}: use letters, digits, '.', '_' and '-' (it becomes /dev/ess/{name})")
    vendor, product = _quoted(adapter.vendor_id, "vendor id"), _quoted(adapter.product_id, "product id")
    where = f"now /dev/{adapter.kernel_name}" if adapter.kernel_name else "no kernel driver bound"
    if adapter.interface is None:
        url = f"ftdi://{adapter.vendor_id}:{adapter.product_id}:{adapter.serial}/1"
        return (f"# {adapter.description}, serial {adapter.serial}, {where}; pyftdi URL {url}\n"
                f'SUBSYSTEM=="usb", ENV{{DEVTYPE}}=="usb_device", ATTR{{idVendor}}=={vendor}, '
                f"ATTR{{idProduct}}=={product}, ATTR{{serial}}=={_quoted(adapter.serial, 'serial')}, "
                f'GROUP="dialout", MODE="0660", SYMLINK+="ess/{name}"\n')
    return (f"# {adapter.description}, serial {adapter.serial}, interface {adapter.interface}, {where}\n"
            f'SUBSYSTEM=="tty", ENV{{ID_VENDOR_ID}}=={vendor}, ENV{{ID_MODEL_ID}}=={product}, '
            f"ENV{{ID_SERIAL_SHORT}}=={_quoted(adapter.serial_short, 'serial')}, "
            f'ENV{{ID_USB_INTERFACE_NUM}}=="{adapter.interface}", SYMLINK+="ess/{name}"\n')


def render_socket_rule(adapter: Adapter, socket: str) -> str:
    """A rule naming the USB socket ``adapter`` is plugged into ``/dev/ttyUSB_<socket>``, whatever is in it."""
    if not NAME.match(socket):
        raise UdevRuleError(f"socket {socket!r}: use letters, digits, '.', '_' and '-' "
                            f"(it becomes /dev/ttyUSB_{socket})")
    if not adapter.id_path:
        raise UdevRuleError(f"{adapter.kernel_name}: cannot work out its USB port path")
    return (f"# USB socket of {adapter.description} (now /dev/{adapter.kernel_name}), interface {adapter.interface}\n"
            f"SUBSYSTEM==\"tty\", ENV{{ID_PATH}}=={_quoted(adapter.id_path, 'USB port path')}, "
            f'SYMLINK+="ttyUSB_{socket}"\n')


def _kernel_name(device: str, sysfs: Path) -> str:
    """``/dev/ttyUSB0``, ``ttyUSB0`` or a symlink such as ``/dev/ess/x`` -> ``ttyUSB0``."""
    path = Path(device)
    if not (sysfs / "class" / "tty" / path.name).exists() and path.is_symlink():
        path = path.resolve()
    return path.name


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "udev-rule",
        help="print the udev rule that names an instrument adapter /dev/ess/<name>",
        description="Print a udev rule that gives a USB serial adapter a stable name, /dev/ess/<name>, from "
        "its USB serial number, or (--socket) to the USB socket it is plugged into. Without DEVICE: one rule "
        "per attached USB serial adapter.",
        epilog=f"Example:\n  rpi-ess udev-rule /dev/ttyUSB0 --name temperature-dome | sudo tee -a {RULES_FILE}\n"
        f"  rpi-ess udev-rule /dev/ttyUSB1 --socket upper_right | sudo tee -a {RULES_FILE}\n"
        "  sudo udevadm control --reload && sudo udevadm trigger --subsystem-match=tty --subsystem-match=usb",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("device", nargs="?", help="the adapter's port, e.g. /dev/ttyUSB0 (default: all)")
    names = parser.add_mutually_exclusive_group()
    names.add_argument("--name", help="the stable name: /dev/ess/NAME (default: usb-<serial>)")
    names.add_argument("--socket", metavar="SOCKET",
                       help="name the USB socket DEVICE is plugged into instead: /dev/ttyUSB_SOCKET, e.g. "
                       "upper_right (any adapter plugged into that socket later gets the name)")
    parser.add_argument("--sysfs", type=Path, default=Path("/sys"), help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    problems: list[str] = []
    try:
        if args.socket:
            if not args.device:
                raise UdevRuleError("--socket needs a DEVICE: the adapter plugged into that socket now")
            adapter = tty_adapter(_kernel_name(args.device, args.sysfs), args.sysfs, need_serial=False)
            rules = [render_socket_rule(adapter, args.socket)]
        elif args.device:
            rules = [render_rule(tty_adapter(_kernel_name(args.device, args.sysfs), args.sysfs), args.name)]
        else:
            if args.name:
                raise UdevRuleError("--name needs a DEVICE: each adapter needs its own name")
            adapters, problems = find_adapters(args.sysfs)
            rules = [render_rule(adapter) for adapter in adapters]
    except UdevRuleError as e:
        sys.stderr.write(f"rpi-ess udev-rule: {e}\n")
        return 1
    for problem in problems:
        sys.stderr.write(f"rpi-ess udev-rule: skipped {problem}\n")
    if not rules:
        sys.stderr.write("rpi-ess udev-rule: no USB serial adapter found\n")
        return 1
    sys.stdout.write(f"# Append to {RULES_FILE} (it must sort after 60-rpi-ess.rules), then\n"
                     "# udevadm control --reload && udevadm trigger --subsystem-match=tty --subsystem-match=usb\n")
    sys.stdout.write("".join(rules))
    return 0
