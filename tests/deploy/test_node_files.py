"""The appliance settings the SD image (and the Ansible role) install, checked without booting anything.

What each line is for is in the files themselves (deploy/node); the booted proof is
`deploy/smoke-test.sh hotplug` (slow)."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).parents[2] / "deploy"
NODE = DEPLOY / "node"
# The unit's DeviceAllow=char-<name> entries whose driver is a module in Debian's arm64 kernel, and that
# module; the others (ttyAMA, ttyS, gpiochip, usb_device) are built in, so their majors always exist.
MODULAR = {"ttyUSB": "usbserial", "ttyACM": "cdc_acm", "i2c": "i2c-dev"}


def systemd_ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser


def test_every_modular_device_allow_driver_is_loaded_at_boot():
    unit = (DEPLOY / "systemd" / "rpi-ess.service").read_text()
    allowed = re.findall(r"^DeviceAllow=char-(\S+) rw$", unit, re.MULTILINE)
    modules = {line.strip() for line in (NODE / "etc/modules-load.d/rpi-ess.conf").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {name for name in allowed if name in MODULAR} == set(MODULAR)
    assert {MODULAR[name] for name in allowed if name in MODULAR} <= modules
    assert "ftdi_sio" in modules
    assert re.search(r"^After=.*systemd-modules-load\.service", unit, re.MULTILINE)


def test_hardware_watchdog_within_the_pi_watchdog_limit():
    manager = systemd_ini(NODE / "etc/systemd/system.conf.d/rpi-ess-watchdog.conf")["Manager"]
    seconds = int(manager["RuntimeWatchdogSec"].removesuffix("s"))
    assert 0 < seconds <= 15  # bcm2835_wdt cannot count longer
    assert manager["RebootWatchdogSec"]


def test_journal_is_capped():
    journal = systemd_ini(NODE / "etc/systemd/journald.conf.d/rpi-ess.conf")["Journal"]
    assert journal["RuntimeMaxUse"]


def fstab() -> dict[str, list[str]]:
    rows = [line.split() for line in (NODE / "etc/fstab").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    return {row[1]: row for row in rows}


def test_root_is_read_only_and_checked_and_the_data_partition_grown():
    source, _, kind, options, _, passno = fstab()["/"]
    assert (source, kind, passno) == ("LABEL=RASPIROOT", "ext4", "1")
    assert {"ro", "errors=remount-ro"} <= set(options.split(","))
    source, _, kind, options, _, passno = fstab()["/var"]
    assert (source, kind, passno) == ("LABEL=ESSDATA", "ext4", "2")  # checked (and repaired) by systemd-fsck
    assert {"rw", "x-systemd.growfs"} <= set(options.split(","))
    assert fstab()["/tmp"][2] == "tmpfs"
    grow = systemd_ini(NODE / "etc/systemd/system/rpi-ess-growroot.service")
    assert grow["Service"]["ExecStart"].endswith(" /var")


def test_journal_in_ram_with_a_read_only_root():
    journal = systemd_ini(NODE / "etc/systemd/journald.conf.d/rpi-ess.conf")["Journal"]
    assert journal["Storage"] == "volatile"  # machine id is transient: see the file


def test_boot_partition_mounted_only_while_used():
    source, _, kind, options, _, passno = fstab()["/boot/firmware"]
    assert (source, kind, passno) == ("LABEL=RASPIFIRM", "vfat", "2")
    assert {"x-systemd.automount", "nofail"} <= set(options.split(","))
    assert any(o.startswith("x-systemd.idle-timeout=") for o in options.split(","))


def test_sd_image_build_installs_the_checkers_before_the_initramfs_is_made():
    build = (DEPLOY / "build-sd-image.sh").read_text()
    packages = re.search(r"PACKAGES=\((.*?)\)", build, re.DOTALL)[1].split()
    assert {"e2fsprogs", "dosfstools", "chrony", "cloud-guest-utils", "fdisk"} <= set(packages)
    assert "systemd-timesyncd" not in packages  # chrony replaces it
    assert re.search(r"--setup-hook=.*node/etc/fstab", build)  # fstab exists when initramfs-tools runs
    customize = (DEPLOY / "sd-image" / "customize.sh").read_text()
    assert 'grep -q "sbin/e2fsck$"' in customize  # and the build fails if the initramfs still lacks it


def test_hat_uarts_enabled_in_config_txt():
    customize = (DEPLOY / "sd-image" / "customize.sh").read_text()
    block = customize[customize.index("raspi-firmware-custom\" <<'CONFIG'"):customize.index("\nCONFIG\n")]
    lines = set(block.splitlines())
    assert {"dtoverlay=disable-bt", "enable_uart=1"} <= lines
    assert {f"dtoverlay=uart{n}" for n in range(1, 6)} <= lines


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs sh")
def test_growroot_script_parses():
    assert subprocess.run(["sh", "-n", str(NODE / "usr/local/lib/rpi-ess/growroot.sh")], check=False).returncode == 0
