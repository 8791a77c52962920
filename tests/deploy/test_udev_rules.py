"""The shipped udev rules and generated per-adapter rules, run by the real udevadm on simulated devices.

Skipped where udevadm, umockdev-run or root are missing (see udevadm_sandbox); test_udev_syntax.py checks
the rule syntax everywhere.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .sysfs_devices import PI5
from .udevadm_sandbox import group_id, rpi_ess, udevadm_test

RULES = {"60-rpi-ess.rules": (Path(__file__).parents[2] / "udev" / "60-rpi-ess.rules").read_text()}
USB = "/sys/bus/usb/devices"


def devlinks(output: str) -> set[str]:
    match = re.search(r"^DEVLINKS=(.*)$", output, re.MULTILINE)
    return set(match.group(1).split()) if match else set()


def ours(output: str, key: str) -> list[str]:
    """Values that 60-rpi-ess.rules assigned to GROUP or MODE, in order."""
    return re.findall(rf"60-rpi-ess\.rules:\d+ {key} (\S+)", output)


@pytest.mark.parametrize(
    ("syspath", "link"),
    [
        ("/sys/class/tty/ttyUSB0", "/dev/ess/A10KZP4X"),  # FT232R
        ("/sys/class/tty/ttyUSB1", "/dev/ess/FT4XYZ12"),  # FT2232H port A
        ("/sys/class/tty/ttyUSB2", "/dev/ess/FT4XYZ12-if01"),  # FT2232H port B
        ("/sys/class/tty/ttyACM0", "/dev/ess/7573530303335140A1C1"),  # CDC-ACM
    ],
)
def test_usb_serial_port_gets_serial_number_name_and_dialout(tmp_path, syspath, link):
    out = udevadm_test(tmp_path, RULES, syspath)
    assert link in devlinks(out)
    assert ours(out, "GROUP") == [str(group_id("dialout"))]
    assert ours(out, "MODE") == ["0660"]


@pytest.mark.parametrize("syspath", ["/sys/class/tty/ttyUSB3", "/sys/class/tty/ttyAMA0"])
def test_port_without_usb_serial_number_keeps_kernel_name(tmp_path, syspath):
    out = udevadm_test(tmp_path, RULES, syspath)
    assert not [link for link in devlinks(out) if link.startswith("/dev/ess/")]
    assert ours(out, "GROUP") == [str(group_id("dialout"))]


def test_ftdi_latency_timer_set_to_1ms(tmp_path):
    out = udevadm_test(tmp_path, RULES, "/sys/bus/usb-serial/devices/ttyUSB0")
    assert re.search(r"ATTR '\S+/ttyUSB0/latency_timer' writing '1'", out)


def test_other_usb_serial_drivers_have_no_latency_timer(tmp_path):
    out = udevadm_test(tmp_path, RULES, "/sys/bus/usb-serial/devices/ttyUSB3")
    assert "latency_timer" not in out


@pytest.mark.parametrize(
    ("syspath", "group"),
    [
        ("/sys/class/i2c-dev/i2c-1", "i2c"),
        ("/sys/devices/platform/soc/fe200000.gpio/gpiochip0", "gpio"),
        (f"{USB}/1-1.1.2", "dialout"),
    ],
)
def test_group_access(tmp_path, syspath, group):
    out = udevadm_test(tmp_path, RULES, syspath)
    assert ours(out, "GROUP") == [str(group_id(group))]
    assert ours(out, "MODE") == ["0660"]


def test_non_ftdi_usb_device_untouched(tmp_path):
    assert not ours(udevadm_test(tmp_path, RULES, f"{USB}/1-1.1.1"), "GROUP")


@pytest.mark.parametrize(
    ("args", "syspath", "link"),
    [
        (["/dev/ttyUSB2", "--name", "wind-mast"], "/sys/class/tty/ttyUSB2", "/dev/ess/wind-mast"),
        (["ttyACM0", "--name", "dome.temp"], "/sys/class/tty/ttyACM0", "/dev/ess/dome.temp"),
        ([], f"{USB}/1-1.1.2", "/dev/ess/usb-FT9ABC77"),  # user-space FTDI, from the all-adapters listing
        (["ttyUSB3", "--socket", "hub-1"], "/sys/class/tty/ttyUSB3", "/dev/ttyUSB_hub-1"),  # no serial number
    ],
)
def test_generated_rule_names_the_adapter(tmp_path, args, syspath, link):
    generated = rpi_ess(tmp_path, "udev-rule", *args)
    out = udevadm_test(tmp_path, RULES | {"61-rpi-ess-local.rules": generated}, syspath)
    assert link in devlinks(out)


@pytest.mark.parametrize(
    ("syspath", "socket_link"),
    [
        ("/sys/class/tty/ttyUSB0", "/dev/ttyUSB_lower_right"),  # Pi 4 hub port 1-1.2
        ("/sys/class/tty/ttyUSB1", "/dev/ttyUSB_upper_left"),  # 1-1.3, interface 0 of a dual chip
        ("/sys/class/tty/ttyUSB2", "/dev/ttyUSB_upper_left-if01"),  # its second interface
        ("/sys/class/tty/ttyACM0", "/dev/ttyUSB_lower_left"),  # 1-1.4, CDC-ACM in that socket
    ],
)
def test_pi4_socket_names(tmp_path, syspath, socket_link):
    links = devlinks(udevadm_test(tmp_path, RULES, syspath))
    assert socket_link in links
    assert [link for link in links if link.startswith("/dev/ttyUSB_")] == [socket_link]


def test_adapter_behind_an_external_hub_gets_no_socket_name(tmp_path):
    links = devlinks(udevadm_test(tmp_path, RULES, "/sys/class/tty/ttyUSB3"))  # 1-1.1.1
    assert "/dev/serial/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.1.1:1.0-port0" in links
    assert not [link for link in links if link.startswith("/dev/ttyUSB_")]


@pytest.mark.parametrize(
    ("tty", "by_path", "socket_link"),
    [
        ("ttyUSB4", "platform-xhci-hcd.1-usb-0:1:1.0-port0", "/dev/ttyUSB_upper_left"),
        ("ttyUSB5", "platform-xhci-hcd.0-usb-0:1:1.0-port0", "/dev/ttyUSB_lower_left"),
        ("ttyUSB6", "platform-xhci-hcd.1-usb-0:2:1.0-port0", "/dev/ttyUSB_upper_right"),
        ("ttyUSB7", "platform-xhci-hcd.0-usb-0:2:1.0-port0", "/dev/ttyUSB_lower_right"),
    ],
)
def test_pi5_socket_names(tmp_path, tty, by_path, socket_link):
    links = devlinks(udevadm_test(tmp_path, RULES, f"/sys/class/tty/{tty}", PI5))
    assert f"/dev/serial/by-path/{by_path}" in links  # the simulated topology is the one real Pi 5s show
    assert socket_link in links


@pytest.mark.parametrize(
    ("tty", "link", "devices"),
    [
        ("ttyAMA0", "/dev/serial0", None), ("ttyAMA1", "/dev/serial1", None), ("ttyAMA2", "/dev/serial2", None),
        ("ttyAMA3", "/dev/serial3", None), ("ttyAMA4", "/dev/serial4", None),
        ("ttyAMA0", "/dev/serial0", PI5), ("ttyAMA1", "/dev/serial1", PI5), ("ttyAMA4", "/dev/serial4", PI5),
    ],
)
def test_hat_uarts_named_by_register_base(tmp_path, tty, link, devices):
    out = udevadm_test(tmp_path, RULES, f"/sys/class/tty/{tty}", *([devices] if devices else []))
    assert {x for x in devlinks(out) if x.startswith("/dev/serial")} == {link}


@pytest.mark.parametrize(("tty", "devices"), [("ttyS0", None), ("ttyAMA10", PI5)])
def test_other_uarts_get_no_serial_name(tmp_path, tty, devices):
    """The Pi 4 mini UART and the Pi 5 debug UART keep their kernel names, as in the fleet."""
    out = udevadm_test(tmp_path, RULES, f"/sys/class/tty/{tty}", *([devices] if devices else []))
    assert not [x for x in devlinks(out) if x.startswith("/dev/serial")]


@pytest.mark.parametrize("tty", ["ttyUSB0", "ttyUSB3", "ttyACM0"])
def test_new_usb_serial_port_is_made_raw_without_echo(tmp_path, tty):
    out = udevadm_test(tmp_path, RULES, f"/sys/class/tty/{tty}")
    run = next(line for line in out.splitlines() if line.startswith("run: ") and "tty.setraw" in line)
    assert "tty.setraw(fd, termios.TCSANOW)" in run and "termios.TCIOFLUSH" in run  # at once, not TCSADRAIN
    assert run.endswith(f" /dev/{tty}'")


def test_raw_command_of_the_rule_sets_a_tty_raw_without_echo():
    """The rule's own command line, run on a pty (udev splits it like a shell: single quotes)."""
    import os
    import pty
    import shlex
    import subprocess
    import termios

    rule = next(line for line in RULES["60-rpi-ess.rules"].splitlines() if "tty.setraw" in line)
    command = shlex.split(rule.split('RUN+="', 1)[1].rsplit('"', 1)[0])
    main, sub = pty.openpty()
    try:
        assert termios.tcgetattr(sub)[3] & termios.ECHO
        subprocess.run([c.replace("$devnode", os.ttyname(sub)) for c in command], check=True, timeout=30)
        lflag = termios.tcgetattr(sub)[3]
        assert not lflag & (termios.ECHO | termios.ICANON)
    finally:
        os.close(main)
        os.close(sub)


def test_on_board_uart_termios_untouched(tmp_path):
    """A UART may be the console: only USB serial ports are set raw."""
    assert "tty.setraw" not in udevadm_test(tmp_path, RULES, "/sys/class/tty/ttyAMA0")
