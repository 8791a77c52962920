"""Bus checks against a fake /sys and /dev tree, and I2C scans on an emulated bus."""

from __future__ import annotations

import os
from typing import Any

import pytest

from rpi_ess.diag.buses import check_ftdi, check_gpio, check_i2c, check_serial_ports
from rpi_ess.diag.model import Status
from rpi_ess.simulation.i2c import Bme280Emulator, EmulatedBuses, Sht4xEmulator

BY_ID = "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10K1234-if00-port0"


def usb_serial_node(host: Any) -> None:
    """A Pi with one FTDI adapter (ttyUSB0), its PL011 UART, and a legacy 8250 placeholder."""
    usb = "/sys/devices/platform/scb/fd500000.pcie/usb1/1-1/1-1.2"
    host.link("/sys/class/tty/ttyUSB0", f"{usb}/1-1.2:1.0/ttyUSB0/tty/ttyUSB0")
    host.link(f"{usb}/1-1.2:1.0/ttyUSB0/tty/ttyUSB0/device", "../..")
    host.link(f"{usb}/1-1.2:1.0/ttyUSB0/driver", "/sys/bus/usb-serial/drivers/ftdi_sio")
    host.link("/sys/class/tty/ttyAMA0/device", "/sys/devices/platform/soc/fe201000.serial")
    host.link("/sys/devices/platform/soc/fe201000.serial/driver", "/sys/bus/amba/drivers/uart-pl011")
    host.link("/sys/class/tty/ttyS3/device", "/sys/devices/platform/serial8250")
    host.write("/sys/class/tty/tty1/dev", "4:1")  # a virtual console: no device
    host.write("/dev/ttyUSB0")
    host.write("/dev/ttyAMA0")
    host.link(BY_ID, "../../ttyUSB0")
    host.link("/dev/ess/windsonic-tower", "../ttyUSB0")
    host.link("/dev/serial0", "ttyAMA0")
    host.link("/dev/ess/temperature-dome", "../ttyUSB7")  # its adapter is unplugged


def hold(host: Any, pid: int, name: str, target: str) -> None:
    """A process in the fake /proc with ``target`` open, as fuser would see it."""
    host.write(f"/proc/{pid}/comm", f"{name}\n")
    host.write(f"/proc/{pid}/cmdline", f"/sbin/{name}\0--keep-baud\0")
    host.link(f"/proc/{pid}/fd/0", target, literal=True)


def results_by_name(results: list[Any]) -> dict[str, Any]:
    return {result.name: result for result in results}


def test_serial_ports_with_stable_names_and_states(host: Any) -> None:
    usb_serial_node(host)
    results = results_by_name(check_serial_ports(host.context()))
    assert set(results) == {"serial ttyAMA0", "serial ttyUSB0", "link temperature-dome"}
    usb = results["serial ttyUSB0"]
    assert usb.status is Status.PASS
    assert usb.summary == "/dev/ttyUSB0 (ftdi_sio): free"
    assert usb.data["aliases"] == [BY_ID, "/dev/ess/windsonic-tower"]
    assert f"also known as {BY_ID}" in usb.details
    assert results["serial ttyAMA0"].data["aliases"] == ["/dev/serial0"]
    assert results["serial ttyAMA0"].data["driver"] == "uart-pl011"
    missing = results["link temperature-dome"]
    assert missing.status is Status.WARN
    assert missing.summary == "/dev/ess/temperature-dome → /dev/ttyUSB7: missing"
    assert "unplugged" in missing.hint


def test_serial_console_on_the_uart_is_named_with_its_fix(host: Any) -> None:
    usb_serial_node(host)
    hold(host, 812, "agetty", "/dev/ttyAMA0")
    hold(host, 990, "ModemManager", "/dev/ttyUSB0")
    results = results_by_name(check_serial_ports(host.context()))
    console = results["serial ttyAMA0"]
    assert console.status is Status.WARN
    assert console.summary == "/dev/ttyAMA0 (uart-pl011): busy, held by pid 812 (agetty)"
    assert "raspi-config" in console.hint
    assert "disable --now ModemManager" in results["serial ttyUSB0"].hint


def test_port_held_by_the_server_is_fine(host: Any) -> None:
    usb_serial_node(host)
    host.write("/proc/4242/comm", "rpi-ess\n")
    host.write("/proc/4242/cmdline", "/usr/bin/python3\0/usr/bin/rpi-ess\0serve\0")
    host.link("/proc/4242/fd/7", "/dev/ttyUSB0", literal=True)
    result = results_by_name(check_serial_ports(host.context()))["serial ttyUSB0"]
    assert result.status is Status.PASS
    assert result.summary == "/dev/ttyUSB0 (ftdi_sio): in use by rpi-ess (pid 4242 (rpi-ess))"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may open any device")
def test_port_without_permission_warns(host: Any) -> None:
    usb_serial_node(host)
    (host.root / "dev/ttyUSB0").chmod(0)
    result = results_by_name(check_serial_ports(host.context()))["serial ttyUSB0"]
    assert result.status is Status.WARN
    assert "dialout" in result.hint


def test_no_serial_port_at_all(host: Any) -> None:
    results = check_serial_ports(host.context())
    assert [(r.name, r.status) for r in results] == [("serial", Status.WARN)]
    assert "raspi-config" in results[0].hint


def test_ftdi_adapters_with_serial_numbers(host: Any) -> None:
    base = "/sys/bus/usb/devices"
    for name, values in {"1-1.2": ("0403", "6001", "A10K1234", "FT232R USB UART"),
                         "1-1.3": ("0403", "6015", "DK0AB1CD", "FT231X USB UART"),
                         "1-1.4": ("046d", "c52b", "", "Unifying Receiver")}.items():
        for attribute, value in zip(("idVendor", "idProduct", "serial", "product"), values, strict=True):
            if value:
                host.write(f"{base}/{name}/{attribute}", value + "\n")
    host.write(f"{base}/1-1.2/1-1.2:1.0/ttyUSB0/port_number", "0")
    results = check_ftdi(host.context())
    assert [(r.name, r.status, r.summary) for r in results] == [
        ("ftdi A10K1234", Status.PASS, "FT232R serial A10K1234 → /dev/ttyUSB0"),
        ("ftdi DK0AB1CD", Status.PASS, "FT-X serial DK0AB1CD → no kernel driver bound (usable through pyftdi)"),
    ]
    assert results[0].details == ["FT232R USB UART"]


def test_no_usb_bus_is_skipped(host: Any) -> None:
    assert [r.status for r in check_ftdi(host.context())] == [Status.SKIP]


def test_i2c_scan_names_known_chips(host: Any) -> None:
    buses = EmulatedBuses()
    buses.attach(1, Sht4xEmulator())
    buses.attach(1, Bme280Emulator(), 0x76)
    buses.attach(1, Sht4xEmulator(), 0x50)  # strapped where no supported chip lives
    host.write("/dev/i2c-1")
    host.write("/dev/i2c-20")  # exists in /dev, but nothing can open it
    results = check_i2c(host.context(i2c_buses=buses))
    assert [(r.name, r.status) for r in results] == [("i2c-1", Status.PASS), ("i2c-20", Status.WARN)]
    assert results[0].summary == "/dev/i2c-1: 0x44 SHT4x/SHT3x, 0x50 unknown chip, 0x76 BME280"
    assert results[0].data["chips"] == {"0x44": ["SHT4x", "SHT3x"], "0x50": [], "0x76": ["BME280"]}
    assert "cannot scan" in results[1].summary


def test_i2c_unplugged_chip_is_not_listed(host: Any) -> None:
    buses = EmulatedBuses()
    buses.attach(3, Sht4xEmulator()).unplug()
    results = check_i2c(host.context(i2c_buses=buses, i2c_bus_numbers=[3]))
    assert results[0].summary == "/dev/i2c-3: no chip answers"


def test_no_i2c_bus_says_how_to_enable_it(host: Any) -> None:
    results = check_i2c(host.context())
    assert [r.status for r in results] == [Status.SKIP]
    assert "raspi-config" in results[0].hint


def test_gpio_chips(host: Any) -> None:
    assert check_gpio(host.context()).status is Status.SKIP
    host.write("/dev/gpiochip0")
    host.write("/dev/gpiochip1")
    result = check_gpio(host.context())
    assert result.status is Status.PASS
    assert result.summary == "gpiochip0, gpiochip1"
    assert result.details[0].startswith("/dev/gpiochip0: ")
