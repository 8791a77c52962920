"""The shipped udev rules and generated per-adapter rules, run by the real udevadm on simulated devices.

Skipped where udevadm, umockdev-run or root are missing (see udevadm_sandbox); test_udev_syntax.py checks
the rule syntax everywhere.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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
        (f"{USB}/1-1.6", "dialout"),
    ],
)
def test_group_access(tmp_path, syspath, group):
    out = udevadm_test(tmp_path, RULES, syspath)
    assert ours(out, "GROUP") == [str(group_id(group))]
    assert ours(out, "MODE") == ["0660"]


def test_non_ftdi_usb_device_untouched(tmp_path):
    assert not ours(udevadm_test(tmp_path, RULES, f"{USB}/1-1.5"), "GROUP")


@pytest.mark.parametrize(
    ("args", "syspath", "link"),
    [
        (["/dev/ttyUSB2", "--name", "wind-mast"], "/sys/class/tty/ttyUSB2", "/dev/ess/wind-mast"),
        (["ttyACM0", "--name", "dome.temp"], "/sys/class/tty/ttyACM0", "/dev/ess/dome.temp"),
        ([], f"{USB}/1-1.6", "/dev/ess/usb-FT9ABC77"),  # user-space FTDI, from the all-adapters listing
    ],
)
def test_generated_rule_names_the_adapter(tmp_path, args, syspath, link):
    generated = rpi_ess(tmp_path, "udev-rule", *args)
    out = udevadm_test(tmp_path, RULES | {"61-rpi-ess-local.rules": generated}, syspath)
    assert link in devlinks(out)
