"""The read-only root of the SD image (deploy/sd-image/readonly-root.sh) on a scratch root directory: what a
node writes after the build lands on the data partition (/var), and first boot still applies every setting.

The booted proof (root mounted ro, bit for bit unchanged over 10 power cuts) is `deploy/smoke-test.sh
powercut` (slow)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).parents[2] / "deploy"
SCRIPT = DEPLOY / "sd-image" / "readonly-root.sh"
FIRSTBOOT = DEPLOY / "sd-image" / "rpi-ess-firstboot.py"
STATE = "var/lib/rpi-ess-node"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey admin@laptop"

pytestmark = pytest.mark.skipif(shutil.which("systemctl") is None or shutil.which("bash") is None,
                                reason="needs bash and systemctl (--root)")


@pytest.fixture
def image(tmp_path):
    root = tmp_path / "root"
    for d in ("etc/rpi-ess", "etc/default", "etc/systemd/network", "etc/systemd/system", "root", "var/lib/dbus",
              "boot/firmware"):
        (root / d).mkdir(parents=True)
    (root / "etc/hostname").write_text("rpi-ess\n")
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\trpi-ess\n")
    (root / "etc/rpi-ess/node.yaml").write_text('allowed_devices:\n  serial_ports: ["/dev/ess/*"]\n')
    (root / "etc/systemd/network/10-rpi-ess.network").write_text("[Match]\nName=e*\n\n[Network]\nDHCP=yes\n")
    (root / "etc/machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    shutil.copy(DEPLOY / "node/etc/systemd/system/rpi-ess-node-state.service", root / "etc/systemd/system/")
    subprocess.run([str(SCRIPT), str(root)], check=True, capture_output=True)
    return root


def test_settings_become_links_into_the_data_partition(image):
    for path in ("etc/hostname", "etc/hosts", "etc/rpi-ess", "etc/default/rpi-ess",
                 "etc/systemd/network/10-rpi-ess.network", "root/.ssh"):
        link = image / path
        assert link.is_symlink() and not os.readlink(link).startswith("/"), path  # relative: any mount point
        assert os.path.realpath(link).startswith(str(image / STATE)), path
    assert (image / "etc/rpi-ess/node.yaml").read_text().startswith("allowed_devices")  # moved, not lost
    network = (image / "etc/systemd/network/10-rpi-ess.network").read_text()
    assert "DHCP=yes" in network and "ClientIdentifier=mac" in network  # the machine id changes every boot
    assert (image / "etc/machine-id").read_text() == ""  # transient id, no first-boot semantics
    assert (image / "etc/.updated").exists() and (image / "var/.updated").exists()
    wants = {p.name for p in (image / "etc/systemd/system").rglob("*.service") if p.parent.name.endswith(".wants")}
    assert {"rpi-ess-ssh-keygen.service", "rpi-ess-node-state.service"} <= wants
    keygen = (image / "etc/systemd/system/rpi-ess-ssh-keygen.service").read_text()
    assert f"-f /{STATE}/keys" in keygen
    sshd = (DEPLOY / "node/etc/ssh/sshd_config.d/rpi-ess.conf").read_text()
    assert f"HostKey /{STATE}/keys/etc/ssh/ssh_host_ed25519_key" in sshd


def test_script_runs_again_on_a_kept_root(image):
    before = {str(p.relative_to(image)): os.readlink(p) for p in image.rglob("*") if p.is_symlink()}
    subprocess.run([str(SCRIPT), str(image)], check=True, capture_output=True)
    after = {str(p.relative_to(image)): os.readlink(p) for p in image.rglob("*") if p.is_symlink()}
    assert before == after
    assert (image / "etc/systemd/network/10-rpi-ess.network").read_text().count("ClientIdentifier") == 1


def test_first_boot_writes_only_the_data_partition(image, tmp_path):
    spec = importlib.util.spec_from_file_location("rpi_ess_firstboot_ro", FIRSTBOOT)
    firstboot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(firstboot)
    config = tmp_path / "rpi-ess.yaml"
    config.write_text(yaml.safe_dump({"hostname": "ess-ro", "ssh_authorized_keys": [KEY],
                                      "network": {"address": "192.0.2.10/24"}, "node": {"limits": {}},
                                      "serve_args": "--log-level DEBUG"}))
    def outside_var() -> dict[str, tuple[int, int]]:
        return {str(q): (q.lstat().st_mtime_ns, q.lstat().st_size) for q in image.rglob("*")
                if not str(q).startswith(str(image / "var"))}

    before = outside_var()
    assert firstboot.main([str(config), "--root", str(image)]) == 0
    assert outside_var() == before  # nothing created, replaced or changed outside the data partition
    state = image / STATE
    assert (state / "etc/hostname").read_text() == "ess-ro\n"
    assert "127.0.1.1\tess-ro" in (state / "etc/hosts").read_text()
    assert (state / "root-ssh/authorized_keys").read_text() == KEY + "\n"
    assert "Address=192.0.2.10/24" in (state / "etc/network/10-rpi-ess.network").read_text()
    assert (state / "etc/default/rpi-ess").read_text() == "RPI_ESS_ARGS='--log-level DEBUG'\n"
    assert yaml.safe_load((state / "etc/rpi-ess/node.yaml").read_text()) == {"limits": {}}
