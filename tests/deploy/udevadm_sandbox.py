"""Run the real ``udevadm test`` on simulated devices, without touching the host.

How: umockdev-run (LD_PRELOAD) shows udevadm a sysfs built from :mod:`sysfs_devices`; a private mount
namespace (unshare, root only) puts the rules under test in /etc/udev/rules.d, groups i2c/gpio in /etc/group
and a scratch /dev and /run in place, because udevadm test really creates the symlinks it computes and
writes its database.
"""

from __future__ import annotations

import grp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .sysfs_devices import ALL, Node, to_umockdev

TOOLS = ("udevadm", "umockdev-run", "unshare")

SCRIPT = r"""
set -eu
work=$1; shift
mkdir "$work/hostdev"; mount --rbind /dev "$work/hostdev"
mount -t tmpfs tmpfs /dev
for n in null zero full random urandom tty; do touch "/dev/$n"; mount --bind "$work/hostdev/$n" "/dev/$n"; done
mkdir /dev/pts; mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts; ln -s pts/ptmx /dev/ptmx
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /etc/udev/rules.d
cp -r "$work"/rules/. /etc/udev/rules.d/
cp /etc/group "$work/group"
for g in i2c gpio dialout; do grep -q "^$g:" "$work/group" || echo "$g:x:$((900 + ${#g})):" >>"$work/group"; done
mount --bind "$work/group" /etc/group
exec umockdev-run --device "$work/devices.umockdev" -- "$@"
"""


def require_sandbox() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (apt-get install udev umockdev util-linux)")
    if os.geteuid() != 0:
        pytest.skip("needs root for a private mount namespace")


def group_id(name: str) -> int:
    """The group's id inside the sandbox: the host's, else the one SCRIPT adds (900 + length of the name)."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return 900 + len(name)


def run_in_sandbox(tmp_path: Path, rules: dict[str, str], *command: str,
                   devices: list[Node] = ALL) -> tuple[str, str]:
    """Run ``command`` under umockdev with ``rules`` installed and ``devices`` simulated; stdout, stderr."""
    require_sandbox()
    work = Path(tempfile.mkdtemp(prefix="udev-", dir=tmp_path))
    (work / "rules").mkdir()
    for name, text in rules.items():
        (work / "rules" / name).write_text(text)
    (work / "devices.umockdev").write_text(to_umockdev(devices))
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", SCRIPT, "sh", str(work), *command],
        capture_output=True, text=True, timeout=120, check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"sandboxed {command} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout, result.stderr


def udevadm_test(tmp_path: Path, rules: dict[str, str], syspath: str, devices: list[Node] = ALL) -> str:
    """udevadm's log and the resulting properties (DEVLINKS=...) for an "add" event of ``syspath``."""
    return "".join(run_in_sandbox(tmp_path, rules, "udevadm", "test", "--action=add", syspath, devices=devices))


def rpi_ess(tmp_path: Path, *args: str) -> str:
    """stdout of ``rpi-ess`` run inside the sandbox, so it reads the simulated /sys as a real one."""
    return run_in_sandbox(tmp_path, {}, sys.executable, "-m", "rpi_ess", *args)[0]
