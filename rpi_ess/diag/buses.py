"""Bus checks: which serial ports, FTDI adapters, I2C chips and GPIO chips this node has.

Nothing here opens a serial port (opening can toggle DTR and reset an instrument); a
port's state comes from ``/proc/*/fd`` and its permissions.
"""

from __future__ import annotations

import fcntl
import glob
import os
import re
import struct
import time
from functools import partial
from typing import Any

from .context import DiagContext
from .model import CheckResult, Status
from .procfs import Process, file_holders
from .status import server_device_on

__all__ = ["BUS_CHECKS", "chips_at", "holder_hint", "is_server_process", "serial_aliases"]

_result = partial(CheckResult, "buses")

FTDI_VENDOR = "0403"
FTDI_PRODUCTS = {"6001": "FT232R", "6010": "FT2232H", "6011": "FT4232H", "6014": "FT232H", "6015": "FT-X"}
#: Kernel placeholders for legacy PC UARTs that usually have no hardware behind them.
PLACEHOLDER_DRIVERS = ("serial8250",)
# struct gpiochip_info { char name[32]; char label[32]; __u32 lines; } read by GPIO_GET_CHIPINFO_IOCTL
_GPIOCHIP_INFO = struct.Struct("32s32sI")
_GPIO_GET_CHIPINFO_IOCTL = 0x80000000 | (_GPIOCHIP_INFO.size << 16) | (0xB4 << 8) | 0x01
NOT_ROOT_NOTE = "only this user's processes are visible; run with sudo to see every holder"


def serial_aliases(ctx: DiagContext) -> dict[str, list[str]]:
    """tty path -> stable names pointing at it (by-id, /dev/ess, the Pi's /dev/serialN)."""
    aliases: dict[str, list[str]] = {}
    links = [os.path.join(directory, name) for directory in ctx.alias_dirs
             for name in sorted(_listdir(ctx, directory))]
    links += [f"/dev/{name}" for name in sorted(_listdir(ctx, "/dev")) if re.fullmatch(r"serial\d+", name)]
    for link in links:
        aliases.setdefault(ctx.resolve(link), []).append(link)
    return aliases


def _listdir(ctx: DiagContext, directory: str) -> list[str]:
    try:
        return os.listdir(ctx.path(directory))
    except OSError:
        return []


def is_server_process(ctx: DiagContext, process: Process) -> bool:
    status = ctx.server_status
    if status is not None and status["server"].get("pid") == process.pid:
        return True
    return "rpi-ess" in process.cmdline or "rpi_ess" in process.cmdline


def holder_hint(holders: list[Process]) -> str:
    names = {holder.name for holder in holders}
    if names & {"agetty", "getty", "login"}:
        return ("A serial console (login prompt) runs on this port: sudo raspi-config → Interface Options → "
                "Serial Port → login shell: No, hardware: Yes; then reboot.")
    if "ModemManager" in names:
        return "ModemManager probes serial adapters: sudo systemctl disable --now ModemManager"
    return f"Stop {', '.join(sorted(names))} (or move it to another port) before rpi-ess needs this port."


def _serial_port_result(ctx: DiagContext, dev: str, aliases: list[str]) -> CheckResult:
    name = dev.removeprefix("/dev/")
    driver = _link_name(ctx, f"/sys/class/tty/{name}/device/driver")
    label = f"{dev} ({driver})" if driver else dev
    details = [f"also known as {alias}" for alias in aliases]
    data = {"port": dev, "driver": driver, "aliases": aliases}
    if not ctx.path(dev).exists():
        return _result(f"serial {name}", Status.WARN, f"{label}: no device node", details=details,
                       data={**data, "state": "missing"},
                       hint="udev did not create the device node; check dmesg for USB errors.")
    served = server_device_on(ctx, {dev, *aliases})
    if served is not None:
        return _result(f"serial {name}", Status.PASS, f"{label}: in use by rpi-ess ({served.get('name', '?')})",
                       details=details, data={**data, "state": "server", "server_device": served.get("name")})
    holders = file_holders(ctx, dev)
    if holders:
        data.update(state="busy", holders=[holder.pid for holder in holders])
        who = ", ".join(holder.describe() for holder in holders)
        if all(is_server_process(ctx, holder) for holder in holders):
            return _result(f"serial {name}", Status.PASS, f"{label}: in use by rpi-ess ({who})",
                           details=details, data=data)
        return _result(f"serial {name}", Status.WARN, f"{label}: busy, held by {who}", details=details,
                       data=data, hint=holder_hint(holders))
    if not os.access(ctx.path(dev), os.R_OK | os.W_OK):
        return _result(f"serial {name}", Status.WARN, f"{label}: not permitted for this user", details=details,
                       data={**data, "state": "denied"},
                       hint="Serial ports belong to group dialout: sudo usermod -aG dialout USER (the rpi-ess "
                       "service user already is), then log in again.")
    if os.geteuid() != 0:
        details.append(NOT_ROOT_NOTE)
    return _result(f"serial {name}", Status.PASS, f"{label}: free", details=details, data={**data, "state": "free"})


def _link_name(ctx: DiagContext, absolute: str) -> str | None:
    """Last component of a sysfs symlink's target (a driver or device name)."""
    try:
        return os.path.basename(os.readlink(ctx.path(absolute)))
    except OSError:
        return None


def _is_placeholder(ctx: DiagContext, name: str) -> bool:
    """Virtual terminals and ptys have no device; legacy 8250 slots usually have no UART."""
    device = _link_name(ctx, f"/sys/class/tty/{name}/device")
    return device is None or device in PLACEHOLDER_DRIVERS


def check_serial_ports(ctx: DiagContext) -> list[CheckResult]:
    aliases = serial_aliases(ctx)
    ports = ctx.serial_ports
    if ports is None:
        ports = [f"/dev/{name}" for name in sorted(_listdir(ctx, "/sys/class/tty")) if not _is_placeholder(ctx, name)]
    results = [_serial_port_result(ctx, port, aliases.get(port, [])) for port in ports]
    for target, links in sorted(aliases.items()):
        if target not in ports and not ctx.path(target).exists():
            results.extend(_result(f"link {os.path.basename(link)}", Status.WARN, f"{link} → {target}: missing",
                                   data={"link": link, "target": target},
                                   hint="The instrument's adapter is unplugged or its cable is loose; re-plug it "
                                   "and check dmesg.") for link in links)
    if not ports:
        results.append(_result("serial", Status.WARN, "no serial ports found",
                               hint="Plug in the USB-serial adapters, or enable the UART: sudo raspi-config → "
                               "Interface Options → Serial Port (login shell: No, hardware: Yes)."))
    return results


def _usb_attribute(ctx: DiagContext, device: str, name: str) -> str:
    return (ctx.read_text(f"/sys/bus/usb/devices/{device}/{name}") or "").strip()


def check_ftdi(ctx: DiagContext) -> list[CheckResult]:
    usb = _listdir(ctx, "/sys/bus/usb/devices")
    if not usb:
        return [_result("ftdi", Status.SKIP, "no USB bus visible")]
    results = []
    for device in sorted(usb):
        if _usb_attribute(ctx, device, "idVendor") != FTDI_VENDOR:
            continue
        product_id = _usb_attribute(ctx, device, "idProduct")
        chip = FTDI_PRODUCTS.get(product_id, f"FTDI 0403:{product_id}")
        serial = _usb_attribute(ctx, device, "serial") or "no serial number"
        product = _usb_attribute(ctx, device, "product")
        base = str(ctx.path(f"/sys/bus/usb/devices/{device}"))
        ttys = sorted(f"/dev/{os.path.basename(path)}" for path in glob.glob(f"{base}/{device}:*/ttyUSB*"))
        where = ", ".join(ttys) if ttys else "no kernel driver bound (usable through pyftdi)"
        results.append(_result(f"ftdi {serial}", Status.PASS, f"{chip} serial {serial} → {where}",
                               details=[product] if product else [],
                               data={"usb": device, "chip": chip, "serial": serial, "ttys": ttys}))
    return results or [_result("ftdi", Status.PASS, "no FTDI adapter connected", data={"adapters": 0})]


def _gpiochip_info(path: str) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        return f"not readable: {e.strerror}"
    try:
        raw = fcntl.ioctl(fd, _GPIO_GET_CHIPINFO_IOCTL, bytes(_GPIOCHIP_INFO.size))
    except OSError:
        return "label unknown"
    finally:
        os.close(fd)
    _, label, lines = _GPIOCHIP_INFO.unpack(raw)
    text = label.rstrip(b"\0").decode(errors="replace")
    return f"{text}, {lines} lines"


def check_gpio(ctx: DiagContext) -> CheckResult:
    chips = sorted(name for name in _listdir(ctx, "/dev") if re.fullmatch(r"gpiochip\d+", name))
    if not chips:
        return _result("gpio", Status.SKIP, "no GPIO chips (not a Raspberry Pi?)")
    details = [f"/dev/{chip}: {_gpiochip_info(str(ctx.path(f'/dev/{chip}')))}" for chip in chips]
    denied = [chip for chip in chips if not os.access(ctx.path(f"/dev/{chip}"), os.R_OK | os.W_OK)]
    data = {"chips": chips, "denied": denied}
    if denied:
        return _result("gpio", Status.WARN, f"{', '.join(chips)}; not permitted: {', '.join(denied)}",
                       details=details, data=data,
                       hint="The status LED and power relays need group gpio: sudo usermod -aG gpio USER.")
    return _result("gpio", Status.PASS, ", ".join(chips), details=details, data=data)


def chips_at(address: int) -> list[str]:
    """Names of the supported chips that can sit at ``address``."""
    from ..devices.chips import CHIPS

    return [info.name for info in CHIPS.values() if address in info.addresses]


def _scan(handle: Any) -> list[int]:
    while not handle.try_lock():
        time.sleep(0.01)
    try:
        return list(handle.scan())
    finally:
        handle.unlock()


def _i2c_bus_result(ctx: DiagContext, number: int) -> CheckResult:
    name = f"i2c-{number}"
    dev = ctx.path(f"/dev/{name}")
    if dev.exists() and not os.access(dev, os.R_OK | os.W_OK):
        return _result(name, Status.WARN, f"/dev/{name}: not permitted for this user", data={"bus": number},
                       hint="I2C buses belong to group i2c: sudo usermod -aG i2c USER, then log in again.")
    try:
        handle = ctx.i2c_factory()(number)
    except Exception as e:  # DeviceError (Blinka missing), OSError: whatever opening the bus raised
        return _result(name, Status.WARN, f"/dev/{name}: cannot scan: {e}", data={"bus": number},
                       hint="Install the I2C stack: pip install 'rpi-ess[i2c]'.")
    try:
        addresses = _scan(handle)
    except OSError as e:
        return _result(name, Status.WARN, f"/dev/{name}: scan failed: {e}", data={"bus": number},
                       hint="A chip holds the bus low (SDA stuck): power-cycle the node and check the wiring.")
    finally:
        handle.deinit()
    found = {f"0x{address:02x}": chips_at(address) for address in addresses}
    listing = ", ".join(f"{key} {'/'.join(names) or 'unknown chip'}" for key, names in found.items())
    return _result(name, Status.PASS, f"/dev/{name}: {listing or 'no chip answers'}",
                   data={"bus": number, "chips": found})


def check_i2c(ctx: DiagContext) -> list[CheckResult]:
    numbers = ctx.i2c_bus_numbers
    if numbers is None:
        numbers = sorted(int(name[4:]) for name in _listdir(ctx, "/dev") if re.fullmatch(r"i2c-\d+", name))
    if not numbers:
        return [_result("i2c", Status.SKIP, "no I2C bus",
                        hint="If I2C chips are wired: sudo raspi-config → Interface Options → I2C → enable.")]
    return [_i2c_bus_result(ctx, number) for number in numbers]


BUS_CHECKS = (check_serial_ports, check_ftdi, check_i2c, check_gpio)
