"""Recorded-style sysfs descriptions of instrument adapters, written out two ways.

Why: with no hardware, udev rules and ``rpi-ess udev-rule`` are exercised against simulated sysfs trees with
the kernel's real layout (USB device -> interface -> usb-serial port -> tty). The same description becomes a
umockdev file (for a real ``udevadm test`` under umockdev-run) or a plain directory tree (for fast tests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

USB = "/devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0/usb1"
CLASS_SUBSYSTEMS = {"tty", "i2c-dev"}  # gpio chips (character devices) are on the gpio bus


@dataclass
class Node:
    path: str  # under /sys, e.g. /devices/.../ttyUSB0
    subsystem: str
    attrs: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    driver: str | None = None
    devnode: str | None = None  # "ttyUSB0", "bus/usb/001/002"
    binary: dict[str, bytes] = field(default_factory=dict)  # e.g. the USB descriptors usb_id parses


def usb_device(port: str, vendor: str, product: str, serial: str | None, maker: str, name: str) -> Node:
    attrs = {"idVendor": vendor, "idProduct": product, "manufacturer": maker, "product": name,
             "bcdDevice": "0600", "busnum": "1", "devnum": port[-1], "dev": f"189:{int(port[-1]) - 1}"}
    if serial is not None:
        attrs["serial"] = serial
    return Node(f"{USB}/{port}", "usb", attrs, {"DEVTYPE": "usb_device"}, "usb", f"bus/usb/001/00{port[-1]}",
                {"descriptors": descriptors(vendor, product, interfaces=2 if product == "6010" else 1)})


def descriptors(vendor: str, product: str, interfaces: int) -> bytes:
    """USB device + configuration + interface descriptors (vendor-specific class), as sysfs exposes them."""
    device = bytes([18, 1, 0x00, 0x02, 0, 0, 0, 64]) + int(vendor, 16).to_bytes(2, "little") \
        + int(product, 16).to_bytes(2, "little") + bytes([0x00, 0x06, 1, 2, 3, 1])
    config = bytes([9, 2, 9 + 9 * interfaces, 0, interfaces, 1, 0, 0xA0, 45])
    return device + config + b"".join(bytes([9, 4, n, 0, 2, 0xFF, 0xFF, 0xFF, 2]) for n in range(interfaces))


def interface(port: str, number: int, driver: str) -> Node:
    return Node(f"{USB}/{port}/{port}:1.{number}", "usb", {"bInterfaceNumber": f"{number:02d}",
                "bInterfaceClass": "ff"}, {"DEVTYPE": "usb_interface"}, driver)


def usb_serial_port(port: str, number: int, tty: str, driver: str) -> list[Node]:
    """interface -> usb-serial port (latency_timer lives here for ftdi_sio) -> tty."""
    base = f"{USB}/{port}/{port}:1.{number}/{tty}"
    attrs = {"port_number": "0"} | ({"latency_timer": "16"} if driver == "ftdi_sio" else {})
    return [interface(port, number, driver), Node(base, "usb-serial", attrs, driver=driver),
            Node(f"{base}/tty/{tty}", "tty", {"dev": f"188:{tty[-1]}"}, devnode=tty)]


FT232R = [usb_device("1-1.2", "0403", "6001", "A10KZP4X", "FTDI", "FT232R USB UART"),
          *usb_serial_port("1-1.2", 0, "ttyUSB0", "ftdi_sio")]
FT2232H = [usb_device("1-1.3", "0403", "6010", "FT4XYZ12", "FTDI", "Dual RS232-HS"),
           *usb_serial_port("1-1.3", 0, "ttyUSB1", "ftdi_sio"),
           *usb_serial_port("1-1.3", 1, "ttyUSB2", "ftdi_sio")]
CDC_ACM = [usb_device("1-1.4", "2341", "0043", "7573530303335140A1C1", "Arduino (www.arduino.cc)", "Uno"),
           interface("1-1.4", 0, "cdc_acm"),
           Node(f"{USB}/1-1.4/1-1.4:1.0/tty/ttyACM0", "tty", {"dev": "166:0"}, devnode="ttyACM0")]
CH340_NO_SERIAL = [usb_device("1-1.5", "1a86", "7523", None, "QinHeng", "USB Serial"),
                   *usb_serial_port("1-1.5", 0, "ttyUSB3", "ch341-uart")]
FTDI_USERSPACE = [usb_device("1-1.6", "0403", "6014", "FT9ABC77", "FTDI", "C232HM-DDHSL-0")]
PI_UART = [Node("/devices/platform/soc/fe201000.serial/tty/ttyAMA0", "tty", {"dev": "204:64"},
                driver=None, devnode="ttyAMA0")]
I2C = [Node("/devices/platform/soc/fe804000.i2c/i2c-1/i2c-dev/i2c-1", "i2c-dev", {"dev": "89:1"},
            devnode="i2c-1")]
GPIO = [Node("/devices/platform/soc/fe200000.gpio/gpiochip0", "gpio", {"dev": "254:0"}, devnode="gpiochip0")]

ALL = [*FT232R, *FT2232H, *CDC_ACM, *CH340_NO_SERIAL, *FTDI_USERSPACE, *PI_UART, *I2C, *GPIO]


def _up(path: str) -> str:
    """Relative prefix from a /sys/<path> directory back to /sys."""
    return "../" * path.strip("/").count("/") + "../"


def to_umockdev(nodes: list[Node]) -> str:
    blocks = []
    for node in nodes:
        lines = [f"P: {node.path}"]
        if node.devnode:
            lines.append(f"N: {node.devnode}")
        lines += [f"E: SUBSYSTEM={node.subsystem}"] + [f"E: {k}={v}" for k, v in node.env.items()]
        if node.devnode:
            major, minor = node.attrs["dev"].split(":")
            lines += [f"E: DEVNAME=/dev/{node.devnode}", f"E: MAJOR={major}", f"E: MINOR={minor}"]
        if node.driver:
            lines += [f"E: DRIVER={node.driver}",
                      f"L: driver={_up(node.path)}bus/{node.subsystem}/drivers/{node.driver}"]
        lines += [f"A: {k}={v}" for k, v in node.attrs.items()]
        lines += [f"H: {k}={v.hex().upper()}" for k, v in node.binary.items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def build_sysfs(root: Path, nodes: list[Node]) -> Path:
    """Write the nodes as a directory tree with sysfs's links; returns the sysfs root."""
    for node in nodes:
        directory = root / node.path.lstrip("/")
        directory.mkdir(parents=True, exist_ok=True)
        for name, value in node.attrs.items():
            (directory / name).write_text(value + "\n")
        for name, data in node.binary.items():
            (directory / name).write_bytes(data)
        name = Path(node.path).name
        kind = "class" if node.subsystem in CLASS_SUBSYSTEMS else "bus"
        link_dir = root / kind / node.subsystem / ("" if kind == "class" else "devices")
        link_dir.mkdir(parents=True, exist_ok=True)
        (link_dir / name).symlink_to(os.path.relpath(directory, link_dir))
    return root
