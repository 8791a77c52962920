"""Recorded-style sysfs descriptions of instrument adapters, written out two ways.

Why: with no hardware, udev rules and ``rpi-ess udev-rule`` are exercised against simulated sysfs trees with
the kernel's real layout (host controller -> root hub -> on-board hub -> USB device -> interface -> usb-serial
port -> tty). The same description becomes a umockdev file (for a real ``udevadm test`` under umockdev-run)
or a plain directory tree (for fast tests).

Topologies (see docs/usb-sockets.md for the sources):
* Pi 4: VL805 xHCI on PCIe (``fd500000.pcie``); every socket's USB 2.0 lines go through the VL805's 4-port
  hub ``1-1``, so a USB 2.0 adapter is ``1-1.<1..4>``.
* Pi 5: two xHCI controllers in RP1 (``xhci-hcd.0``: buses 1/2, ``xhci-hcd.1``: buses 3/4), no hub;
  blue socket = root port 1, black socket = root port 2.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PI4_XHCI = "/devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0"
PI5_XHCI = ("/devices/platform/axi/1000120000.pcie/1f00200000.usb/xhci-hcd.0",
            "/devices/platform/axi/1000120000.pcie/1f00300000.usb/xhci-hcd.1")
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


def usb_path(controller: str, port: str) -> str:
    """sysfs path of USB device ``port`` ("1-1.2") below a host controller: usb1/1-1/1-1.2."""
    bus, chain = port.split("-", 1)
    hops = chain.split(".")
    return "/".join([controller, f"usb{bus}", *(f"{bus}-{'.'.join(hops[:n])}" for n in range(1, len(hops) + 1))])


def usb_device(controller: str, port: str, ids: tuple[str, str], serial: str | None, maker: str, name: str,
               devnum: int, interfaces: int = 1, device_class: int = 0) -> Node:
    vendor, product = ids
    bus = int(port.split("-", maxsplit=1)[0])
    attrs = {"idVendor": vendor, "idProduct": product, "manufacturer": maker, "product": name,
             "bcdDevice": "0600", "busnum": str(bus), "devnum": str(devnum),
             "dev": f"189:{(bus - 1) * 128 + devnum - 1}"}
    if serial is not None:
        attrs["serial"] = serial
    return Node(usb_path(controller, port), "usb", attrs, {"DEVTYPE": "usb_device"}, "usb",
                f"bus/usb/{bus:03d}/{devnum:03d}",
                {"descriptors": descriptors(vendor, product, interfaces, device_class)})


def descriptors(vendor: str, product: str, interfaces: int, device_class: int = 0) -> bytes:
    """USB device + configuration + interface descriptors (vendor-specific class), as sysfs exposes them."""
    device = bytes([18, 1, 0x00, 0x02, device_class, 0, 0, 64]) + int(vendor, 16).to_bytes(2, "little") \
        + int(product, 16).to_bytes(2, "little") + bytes([0x00, 0x06, 1, 2, 3, 1])
    config = bytes([9, 2, 9 + 9 * interfaces, 0, interfaces, 1, 0, 0xA0, 45])
    return device + config + b"".join(bytes([9, 4, n, 0, 2, 0xFF, 0xFF, 0xFF, 2]) for n in range(interfaces))


def hub(controller: str, port: str, devnum: int) -> Node:
    """An on-board or external USB 2.0 hub (class 9)."""
    return usb_device(controller, port, ("2109", "3431"), None, "", "USB2.0 Hub", devnum, device_class=9)


def host(controller: str, buses: tuple[int, ...]) -> list[Node]:
    """The controller's platform/PCI parents (path_id reads their subsystems) and its root hubs."""
    parts = controller.strip("/").split("/")
    nodes = []
    for depth in range(3, len(parts) + 1):  # /devices/platform is not a device
        path, name = "/" + "/".join(parts[:depth]), parts[depth - 1]
        # 0000:01:00.0 is a PCI function, pci0000:00 a bridge directory without a subsystem
        subsystem = "pci" if name.count(":") == 2 else ("" if name.startswith("pci") else "platform")
        if subsystem:
            nodes.append(Node(path, subsystem))
    return nodes + [Node(f"{controller}/usb{bus}", "usb", {"busnum": str(bus), "devnum": "1"},
                         {"DEVTYPE": "usb_device"}, "usb") for bus in buses]


def interface(controller: str, port: str, number: int, driver: str) -> Node:
    return Node(f"{usb_path(controller, port)}/{port}:1.{number}", "usb",
                {"bInterfaceNumber": f"{number:02d}", "bInterfaceClass": "ff"}, {"DEVTYPE": "usb_interface"},
                driver)


def usb_serial_port(controller: str, port: str, number: int, tty: str, driver: str) -> list[Node]:
    """interface -> usb-serial port (latency_timer lives here for ftdi_sio) -> tty."""
    base = f"{usb_path(controller, port)}/{port}:1.{number}/{tty}"
    attrs = {"port_number": "0"} | ({"latency_timer": "16"} if driver == "ftdi_sio" else {})
    return [interface(controller, port, number, driver), Node(base, "usb-serial", attrs, driver=driver),
            Node(f"{base}/tty/{tty}", "tty", {"dev": f"188:{tty.removeprefix('ttyUSB')}"}, devnode=tty)]


def ft232r(controller: str, port: str, serial: str, tty: str, devnum: int) -> list[Node]:
    return [usb_device(controller, port, ("0403", "6001"), serial, "FTDI", "FT232R USB UART", devnum),
            *usb_serial_port(controller, port, 0, tty, "ftdi_sio")]


def uart(path: str, tty: str, base: str, minor: int) -> Node:
    """An on-board UART; udev tells them apart by the register base the kernel reports (iomem_base)."""
    return Node(f"{path}/tty/{tty}", "tty", {"dev": f"204:{minor}", "iomem_base": base}, devnode=tty)


# --- Raspberry Pi 4: one adapter per socket (1-1.1 .. 1-1.4), plus an external hub in the upper-right one.
PI4_HOST = [*host(PI4_XHCI, (1, 2)), hub(PI4_XHCI, "1-1", 2)]
FT232R = ft232r(PI4_XHCI, "1-1.2", "A10KZP4X", "ttyUSB0", 3)  # lower right
FT2232H = [usb_device(PI4_XHCI, "1-1.3", ("0403", "6010"), "FT4XYZ12", "FTDI", "Dual RS232-HS", 4, 2),
           *usb_serial_port(PI4_XHCI, "1-1.3", 0, "ttyUSB1", "ftdi_sio"),  # upper left
           *usb_serial_port(PI4_XHCI, "1-1.3", 1, "ttyUSB2", "ftdi_sio")]
CDC_ACM = [usb_device(PI4_XHCI, "1-1.4", ("2341", "0043"), "7573530303335140A1C1", "Arduino (www.arduino.cc)",
                      "Uno", 5),
           interface(PI4_XHCI, "1-1.4", 0, "cdc_acm"),  # lower left
           Node(f"{usb_path(PI4_XHCI, '1-1.4')}/1-1.4:1.0/tty/ttyACM0", "tty", {"dev": "166:0"},
                devnode="ttyACM0")]
EXTERNAL_HUB = [hub(PI4_XHCI, "1-1.1", 6)]  # upper right
CH340_NO_SERIAL = [usb_device(PI4_XHCI, "1-1.1.1", ("1a86", "7523"), None, "QinHeng", "USB Serial", 7),
                   *usb_serial_port(PI4_XHCI, "1-1.1.1", 0, "ttyUSB3", "ch341-uart")]
FTDI_USERSPACE = [usb_device(PI4_XHCI, "1-1.1.2", ("0403", "6014"), "FT9ABC77", "FTDI", "C232HM-DDHSL-0", 8)]
# Rubin HAT UARTs with dtoverlay=disable-bt,uart1..uart5: PL011 UART0, UART2..5 and the mini UART (ttyS0).
PI4_UARTS = [uart("/devices/platform/soc/fe201000.serial", "ttyAMA0", "0xFE201000", 64),
             *(uart(f"/devices/platform/soc/fe201{offset}.serial", f"ttyAMA{n}", f"0xFE201{offset.upper()}", 64 + n)
               for n, offset in enumerate(("400", "600", "800", "a00"), 1)),
             uart("/devices/platform/soc/fe215040.serial", "ttyS0", "0xFE215040", 64 + 8)]
PI_UART = PI4_UARTS[:1]
I2C = [Node("/devices/platform/soc/fe804000.i2c/i2c-1/i2c-dev/i2c-1", "i2c-dev", {"dev": "89:1"},
            devnode="i2c-1")]
GPIO = [Node("/devices/platform/soc/fe200000.gpio/gpiochip0", "gpio", {"dev": "254:0"}, devnode="gpiochip0")]

ALL = [*PI4_HOST, *FT232R, *FT2232H, *CDC_ACM, *EXTERNAL_HUB, *CH340_NO_SERIAL, *FTDI_USERSPACE, *PI4_UARTS,
       *I2C, *GPIO]

# --- Raspberry Pi 5: one FT232R in each of the four sockets; RP1's UART0..4 and the debug UART.
PI5_SOCKETS = {"3-1": "ttyUSB4", "1-1": "ttyUSB5", "3-2": "ttyUSB6", "1-2": "ttyUSB7"}
PI5 = [*host(PI5_XHCI[0], (1, 2)), *host(PI5_XHCI[1], (3, 4))[2:],  # [2:]: the parents both share
       *(node for n, (port, tty) in enumerate(PI5_SOCKETS.items())
         for node in ft232r(PI5_XHCI[int(port[0]) // 3], port, f"P5SOCK{n}", tty, 1 + int(port[-1]))),
       *(uart(f"/devices/platform/axi/1000120000.pcie/1f000{0x30000 + 0x4000 * n:05x}.serial", f"ttyAMA{n}",
              f"0x1F000{0x30000 + 0x4000 * n:05X}", 64 + n) for n in range(5)),
       uart("/devices/platform/soc/107d001000.serial", "ttyAMA10", "0x107D001000", 74)]


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
        subsystem_dir = root / kind / node.subsystem
        (directory / "subsystem").symlink_to(os.path.relpath(subsystem_dir, directory))
    return root
