"""FTDI USB-serial adapters named by their USB serial number (``ftdi_id``, PROTOCOL 5.3).

The CSC configuration names an adapter, not a port, and ``/dev/ttyUSBn`` numbers change
with plug order. The adapter is found first where the kernel's ftdi_sio driver exposes it
(``/dev/serial/by-id/usb-FTDI_<product>_<serial>-if00-port0``, or an rpi-ess udev name under
``/dev/ess``), and otherwise in user space through pyftdi (``ftdi://::<serial>/1``) when the
kernel driver is not bound. Either way the port is then read exactly like a serial port.
The reference decoded everything as ASCII and hung ``configure`` on a missing adapter; here
bytes go to the sensor's framer and a missing adapter is a clear error that lists the
adapters that *are* plugged in, which is usually the typo.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ...tai import tai_time
from ..base import DeviceError
from .serial import SerialDevice

if TYPE_CHECKING:
    from ...sensors.base import Sensor
    from ..config import DeviceConfig, FieldChecker

__all__ = ["FtdiDevice", "UsbListing", "list_usb_adapters", "serial_from_by_id"]

log = logging.getLogger(__name__)

BY_ID_ROOT = Path("/dev/serial/by-id")
ESS_ROOT = Path("/dev/ess")
_BY_ID_NAME = re.compile(r"^usb-(?P<model>.*)_(?P<serial>[^_]+)-if(?P<interface>\d+)(?:-port\d+)?$")
_TOKEN_SPLIT = re.compile(r"[-_.]")


def serial_from_by_id(name: str) -> str | None:
    """The USB serial number in a udev by-id name (``usb-FTDI_FT232R_USB_UART_A10K1XYZ-if00-port0``)."""
    match = _BY_ID_NAME.match(name)
    return match.group("serial") if match else None


@dataclass(frozen=True)
class UsbListing:
    """Serial numbers of the FTDI chips libusb can see, or why it could not look."""

    serials: tuple[str, ...] = ()
    problem: str | None = None  # no pyftdi, no libusb, no permission on the USB devices


def list_usb_adapters() -> UsbListing:
    try:
        from pyftdi.ftdi import Ftdi
        from pyftdi.usbtools import UsbTools
    except ImportError:
        return UsbListing(problem="pyftdi is not installed")
    try:
        UsbTools.flush_cache()  # otherwise pyftdi answers from its first enumeration forever
        return UsbListing(tuple(sorted({descriptor.sn for descriptor, _ in Ftdi.list_devices() if descriptor.sn})))
    except Exception as e:  # no libusb backend, no USB permission, device vanished mid-scan
        log.debug("pyftdi cannot list USB devices: %s", e)
        return UsbListing(problem=str(e) or type(e).__name__)


class FtdiDevice(SerialDevice):
    """``device_type: FTDI``: the adapter with USB serial number ``ftdi_id``."""

    kind = "FTDI"
    config_keys: ClassVar[frozenset[str]] = frozenset({"baud_rate", "ftdi_id", "poll_interval"})
    #: Seconds a pyftdi USB listing is reused by :meth:`present` (the runner polls it often).
    usb_listing_ttl = 1.0
    #: Where USB device nodes live (udev links for user-space adapters point here).
    usb_nodes = Path("/dev/bus/usb")

    def __init__(
        self,
        config: DeviceConfig,
        sensor: Sensor,
        clock: Callable[[], float] = tai_time,
        *,
        by_id_root: str | os.PathLike[str] = BY_ID_ROOT,
        ess_root: str | os.PathLike[str] = ESS_ROOT,
    ) -> None:
        super().__init__(config, sensor, clock)
        self.by_id_root = Path(by_id_root)
        self.ess_root = Path(ess_root)
        self.resolved: str | None = None
        self._usb_listing: tuple[float, UsbListing] = (float("-inf"), UsbListing())

    @classmethod
    def check_config(cls, check: FieldChecker, sensor_type: str | None) -> dict[str, Any]:
        return {
            "ftdi_id": check.string("ftdi_id", required=True),
            "baud_rate": check.baud_rate(),
            "poll_interval": check.number("poll_interval", 0.05, 3600.0),
        }

    @property
    def describe(self) -> str:
        where = f" ({self.resolved})" if self.resolved else ""
        return f"{self.kind} {self.config.ftdi_id}{where}"

    def find_tty(self) -> str | None:
        """The kernel tty of this adapter (by-id link first, then an /dev/ess name), if visible."""
        serial = self.config.ftdi_id
        by_id = [p for p in _entries(self.by_id_root) if serial_from_by_id(p.name) == serial]
        ess = [p for p in _entries(self.ess_root) if p.name == serial or serial in _TOKEN_SPLIT.split(p.name)]
        for path in by_id + ess:  # sorted: interface 00 of a multi-port chip comes first
            # A dangling link is a device that just went away; a link to a USB device node is
            # the udev name of an adapter without a kernel tty, which only pyftdi can drive.
            if os.path.exists(path) and not Path(os.path.realpath(path)).is_relative_to(self.usb_nodes):
                return str(path)
        return None

    def port_url(self) -> str:
        serial = self.config.ftdi_id
        if not serial:
            raise DeviceError(f"{self.where}: no ftdi_id configured", "open")
        self.resolved = None
        tty = self.find_tty()
        if tty is not None:
            self.resolved = tty
            return tty
        usb = list_usb_adapters()
        self._usb_listing = (time.monotonic(), usb)
        if serial in usb.serials:
            self.resolved = f"ftdi://::{serial}/1"  # not bound to ftdi_sio: drive it from user space
            return self.resolved
        raise DeviceError(f"{self.where}: adapter not found; {self._present_adapters(usb)}", "open")

    def _present_adapters(self, usb: UsbListing) -> str:
        tty_serials = sorted({s for p in _entries(self.by_id_root) if (s := serial_from_by_id(p.name))})
        seen = [f"{s} (kernel tty)" for s in tty_serials]
        seen += [f"{s} (USB, no kernel driver)" for s in usb.serials if s not in tty_serials]
        text = "adapters present: " + ", ".join(seen) if seen else "no USB serial adapters present"
        if usb.problem:
            text += f" (only kernel ttys were checked: cannot list USB devices: {usb.problem})"
        return text

    def present(self) -> bool:
        if self.find_tty() is not None:
            return True
        listed_at, usb = self._usb_listing
        if time.monotonic() - listed_at >= self.usb_listing_ttl:
            usb = list_usb_adapters()
            self._usb_listing = (time.monotonic(), usb)
        return self.config.ftdi_id in usb.serials


def _entries(root: Path) -> list[Path]:
    try:
        return sorted(root.iterdir())
    except OSError:  # no such directory: no adapter of that kind plugged in
        return []
