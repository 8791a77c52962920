"""First-boot settings from the boot partition, applied to a scratch root directory."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

SCRIPT = Path(__file__).parents[2] / "deploy" / "sd-image" / "rpi-ess-firstboot.py"
EXAMPLE = SCRIPT.with_name("rpi-ess.yaml.example")
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey admin@laptop"


@pytest.fixture(scope="module")
def firstboot():
    spec = importlib.util.spec_from_file_location("rpi_ess_firstboot", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def root(tmp_path):
    (tmp_path / "root/etc").mkdir(parents=True)
    (tmp_path / "root/etc/hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\trpi-ess\n")
    return tmp_path / "root"


def apply(firstboot, tmp_path, root, settings) -> int:
    config = tmp_path / "rpi-ess.yaml"
    config.write_text(settings if isinstance(settings, str) else yaml.safe_dump(settings))
    code = firstboot.main([str(config), "--root", str(root)])
    assert not config.exists() and config.with_name("rpi-ess.yaml.applied").exists()
    return code


def test_example_file_applies(firstboot, tmp_path, root):
    assert apply(firstboot, tmp_path, root, EXAMPLE.read_text()) == 0
    assert (root / "etc/hostname").read_text() == "ess-node-01\n"
    assert (root / "etc/hosts").read_text() == "127.0.0.1\tlocalhost\n127.0.1.1\tess-node-01\n"
    assert (root / "root/.ssh/authorized_keys").stat().st_mode & 0o777 == 0o600
    assert "DHCP=yes" in (root / "etc/systemd/network/10-rpi-ess.network").read_text()
    node = yaml.safe_load((root / "etc/rpi-ess/node.yaml").read_text())
    assert node["allowed_devices"]["serial_ports"][0] == "/dev/ess/*"
    assert (root / "etc/default/rpi-ess").read_text() == "RPI_ESS_ARGS=''\n"


def test_static_network_and_serve_args(firstboot, tmp_path, root):
    settings = {"network": {"address": "192.0.2.10/24", "gateway": "192.0.2.1", "dns": ["192.0.2.53"]},
                "serve_args": "--simulate --log-level DEBUG", "ssh_authorized_keys": KEY}
    assert apply(firstboot, tmp_path, root, settings) == 0
    unit = (root / "etc/systemd/network/10-rpi-ess.network").read_text()
    assert unit == ("[Match]\nName=e*\n\n[Network]\nAddress=192.0.2.10/24\nGateway=192.0.2.1\n"
                    "DNS=192.0.2.53\n")
    assert (root / "etc/default/rpi-ess").read_text() == "RPI_ESS_ARGS='--simulate --log-level DEBUG'\n"
    assert (root / "root/.ssh/authorized_keys").read_text() == KEY + "\n"


def test_bad_settings_are_reported_and_the_rest_applied(firstboot, tmp_path, root, caplog):
    settings = {"hostname": "-bad-", "network": {"address": "300.1.2.3/24"}, "colour": "blue",
                "ssh_authorized_keys": ["not a key"], "node": {"allowed_devices": {}}}
    assert apply(firstboot, tmp_path, root, settings) == 1
    for message in ("not a valid host name", "network:", "unknown setting 'colour'", "ssh_authorized_keys"):
        assert message in caplog.text
    assert (root / "etc/rpi-ess/node.yaml").exists()
    assert not (root / "etc/hostname").exists()


@pytest.mark.parametrize("text", ["[1, 2]", "hostname: [unclosed"])
def test_unreadable_file(firstboot, tmp_path, root, text, caplog):
    config = tmp_path / "rpi-ess.yaml"
    config.write_text(text)
    assert firstboot.main([str(config), "--root", str(root)]) == 1
    assert "rpi-ess.yaml" in caplog.text
