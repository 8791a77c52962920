"""The node's own configuration: allow-lists, client filter, limits, file errors."""

import pytest

from rpi_ess.devices.config import ConfigError, DeviceConfig
from rpi_ess.server.node_config import (
    DeviceAllowList,
    NodeConfig,
    load_node_config,
    node_config_from_dict,
)


def serial(port: str) -> DeviceConfig:
    return DeviceConfig(name="T", sensor_type="Temperature", device_type="Serial", serial_port=port)


def test_default_allows_local_paths_but_not_network_urls():
    allow = DeviceAllowList()
    assert allow.problem(serial("/dev/ttyUSB0")) is None
    assert allow.problem(serial("loop://")) is None
    assert "network ports must be listed" in allow.problem(serial("socket://10.0.0.1:4000"))


def test_allow_list_globs_and_path_normalisation():
    allow = DeviceAllowList(serial_ports=("/dev/ess/*",), ftdi_ids=("FT12*",), i2c=("1:0x44",))
    assert allow.problem(serial("/dev/ess/dome")) is None
    assert "not in this node's allowed_devices.serial_ports" in allow.problem(serial("/dev/ess/../sda"))
    ftdi = DeviceConfig(name="F", sensor_type="HX85A", device_type="FTDI", ftdi_id="XYZ")
    assert "ftdi_id 'XYZ'" in allow.problem(ftdi)
    i2c = DeviceConfig(name="I", sensor_type="HX85A", device_type="I2C", chip="SHT4x", address=0x45)
    assert "I2C device 1:0x45" in allow.problem(i2c)


def test_client_allow_list():
    node = NodeConfig(allowed_clients=("10.1.0.0/16", "::1"))
    assert node.client_allowed("10.1.2.3")
    assert node.client_allowed("::ffff:10.1.2.3")
    assert node.client_allowed("::1")
    assert not node.client_allowed("192.168.1.1")
    assert not node.client_allowed("not-an-ip")
    assert NodeConfig().client_allowed("203.0.113.9")


def test_from_dict_reports_every_bad_key():
    with pytest.raises(ConfigError) as info:
        node_config_from_dict({"server": {"port": "5000", "bogus": 1, "allowed_clients": ["nope"]},
                               "allowed_devices": {"usb": []}, "extra": {}})
    assert set(info.value.errors) == {
        "server.port must be of type int, got '5000'",
        "server.bogus: unknown setting",
        "server.allowed_clients: 'nope' is not an address or CIDR network",
        "allowed_devices.usb: unknown kind",
        "extra: unknown section",
    }


def test_load_file(tmp_path):
    path = tmp_path / "node.yaml"
    path.write_text("server:\n  port: 5001\n  heartbeat_timeout: 20\nallowed_devices:\n  serial_ports: ['/dev/ess/*']\n"
                    "devices:\n  - {name: T, sensor_type: Temperature, channels: 2}\n")
    node = load_node_config(path)
    assert (node.port, node.heartbeat_timeout, node.allowed_devices.serial_ports) == (5001, 20.0, ("/dev/ess/*",))
    assert node.devices[0]["name"] == "T"
    path.write_text("server: [1")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_node_config(path)
    with pytest.raises(ConfigError, match="no such file"):
        load_node_config(tmp_path / "missing.yaml")
