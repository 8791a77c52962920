"""The node's own configuration: allow-lists, client filter, limits, file errors."""

import pytest

from rpi_ess.devices.config import ConfigError, DeviceConfig
from rpi_ess.server.node_config import (
    SETTINGS,
    DeviceAllowList,
    NodeConfig,
    load_node_config,
    node_config_from_dict,
)


def serial(port: str, device_type: str = "Serial") -> DeviceConfig:
    return DeviceConfig(name="T", sensor_type="Temperature", device_type=device_type, serial_port=port)


def test_a_sensirion_port_is_held_to_the_same_allow_list_as_a_serial_one():
    # found in review: device_type Sensirion opened any serial_port, network URLs included
    assert "network ports must be listed" in DeviceAllowList().problem(serial("socket://10.0.0.1:80", "Sensirion"))
    listed = DeviceAllowList(serial_ports=("/dev/ttyUSB_*",))
    assert listed.problem(serial("/dev/ttyUSB_upper_right", "Sensirion")) is None
    assert "allowed_devices.serial_ports" in listed.problem(serial("/dev/ttyAMA0", "Sensirion"))


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
        'server.port: must be an integer from 0 to 65535, got "5000"',
        "server.bogus: unknown setting (known: " + ", ".join(s.key for s in SETTINGS) + ", tls)",
        "server.allowed_clients: 'nope' is not an address or CIDR network",
        "allowed_devices.usb: unknown setting (known: serial_ports, ftdi_ids, i2c)",
        "extra: unknown section (known: server, allowed_devices, devices, raw_ports, raw_ports_writable)",
    }


def test_load_file(tmp_path):
    path = tmp_path / "node.yaml"
    path.write_text("server:\n  port: 5001\n  heartbeat_timeout: 20\nallowed_devices:\n  serial_ports: ['/dev/ess/*']\n"
                    "devices:\n  - {name: T, sensor_type: Temperature, channels: 2, device_type: Serial,\n"
                    "     serial_port: /dev/ttyUSB0}\n")
    node = load_node_config(path)
    assert (node.port, node.heartbeat_timeout, node.allowed_devices.serial_ports) == (5001, 20.0, ("/dev/ess/*",))
    assert node.devices[0]["name"] == "T"
    path.write_text("server: [1")
    with pytest.raises(ConfigError, match="not valid YAML at line 1, column 11: expected ',' or ']'"):
        load_node_config(path)
    with pytest.raises(ConfigError, match=r"missing\.yaml: no such file"):
        load_node_config(tmp_path / "missing.yaml")


# --- every mistake: one line naming the file, the setting and what is allowed (issue 15) -----------

MISTAKES = [
    ("server:\n  port: 70000\n", "server.port: must be an integer from 0 to 65535, got 70000"),
    ("server:\n  port: -1\n", "server.port: must be an integer from 0 to 65535, got -1"),
    ("server:\n  port: true\n", "server.port: must be an integer from 0 to 65535, got true"),
    ("server:\n  port: 5000.5\n", "server.port: must be an integer from 0 to 65535, got 5000.5"),
    ("server:\n  heartbeat_timeout: -3\n",
     "server.heartbeat_timeout: must be a number of seconds greater than 0 and at most 86400, got -3"),
    ("server:\n  heartbeat_timeout: .inf\n",
     "server.heartbeat_timeout: must be a number of seconds greater than 0 and at most 86400, got Infinity"),
    ("server:\n  max_devices: false\n", "server.max_devices: must be an integer from 1 to 1024, got false"),
    ("server:\n  allow_exit: 'no'\n", 'server.allow_exit: must be true or false, got "no"'),
    ("server:\n  host: [a]\n", 'server.host: must be a string, got ["a"]'),
    ("server:\n  status_led_pin: 40\n", "server.status_led_pin: must be an integer from 0 to 27 or null, got 40"),
    ("server: 5000\n", "server: must be a mapping of settings (e.g. 'port: 5000' indented under it), got 5000"),
    ("server:\n  heartbeat_timout: 3\n", "server.heartbeat_timout: unknown setting; did you mean 'heartbeat_timeout'?"),
    ("server:\n  open_failures: maybe\n", 'server.open_failures: must be \'retry\' or \'refuse\', got "maybe"'),
    ("server:\n  allowed_clients: 10.0.0.0/8\n",
     'server.allowed_clients: must be a list of addresses or CIDR networks, e.g. ["10.0.0.0/8", "127.0.0.1", '
     '"::1"], got "10.0.0.0/8"'),
    ("server:\n  tls: yes\n",
     "server.tls: must be a mapping with certfile and keyfile (and optionally client_ca), got true"),
    ("allowed_devices: [a]\n",
     'allowed_devices: must be a mapping of serial_ports, ftdi_ids, i2c to lists of patterns, got ["a"]'),
    ("allowed_devices:\n  i2c: '1:*'\n", 'allowed_devices.i2c: must be a list of strings or null, got "1:*"'),
    ("devices: {name: T}\n", 'devices: must be a list of device mappings (as in configure), got {"name": "T"}'),
    ("devices:\n  - {name: T, sensor_type: Temprature, device_type: Serial, serial_port: /dev/ttyUSB0}\n",
     "devices[0] ('T'): sensor_type must be one of Temperature, HX85A, HX85BA, Windsonic, CSAT3B, LD250, EFM100C, "
     "Aurora, Sps30; got 'Temprature'"),
    ("- port: 5000\n", 'must be a mapping of sections (server:, allowed_devices:, devices:), got [{"port": 5000}]'),
    ("server: [1\n", "not valid YAML at line 2, column 1: expected ',' or ']', but got '<stream end>'"),
    # the settings the lead consumes (issues 12 and 13)
    ("server:\n  error_report_seconds: 300\n",
     "server.error_report_seconds: must be a number of seconds greater than 0 and less than 300, got 300 (the CSC "
     "drops the connection when a sensor's errors last longer than its max_error_state_period of 300 s, so the "
     "node must report within it)"),
    ("server:\n  error_report_seconds: 0\n",
     "server.error_report_seconds: must be a number of seconds greater than 0 and less than 300, got 0 (the CSC "
     "drops the connection when a sensor's errors last longer than its max_error_state_period of 300 s, so the "
     "node must report within it)"),
    ("server:\n  on_new_client: kick\n", 'server.on_new_client: must be \'reject\' or \'replace\', got "kick"'),
    ("server:\n  takeover_idle_seconds: 0\n",
     "server.takeover_idle_seconds: must be a number of seconds greater than 0 and at most 3600, got 0"),
    ("server:\n  keepalive_seconds: 60\n",
     "server.keepalive_seconds: must be a number of seconds greater than 0 and less than 60, got 60 (the CSC's "
     "read timeout is 60 s: a node silent that long is treated as failed)"),
    ("server:\n  metrics_port: 0\n", "server.metrics_port: must be an integer from 1 to 65535 or null, got 0"),
    ("raw_ports: [4001]\n", "raw_ports: must be a mapping of device name to TCP port, got [4001]"),
    ("raw_ports: {T1: 70000}\n", "raw_ports.T1: must be an integer from 1 to 65535, got 70000"),
    ("raw_ports: {T1: 4001, T2: 4001}\n",
     "raw_ports.T2: port 4001 is already used by raw_ports.T1; every port must differ"),
    ("raw_ports: {T1: 5000}\n", "raw_ports.T1: port 5000 is already used by server.port; every port must differ"),
    ("server: {metrics_port: 4001}\nraw_ports: {T1: 4001}\n",
     "raw_ports.T1: port 4001 is already used by server.metrics_port; every port must differ"),
    ("raw_ports: {T1: 4001}\nraw_ports_writable: [T2]\n",
     "raw_ports_writable: 'T2' has no raw port; list it under raw_ports first"),
    ("raw_ports_writable: T1\n", 'raw_ports_writable: must be a list of strings, got "T1"'),
]


@pytest.mark.parametrize(("text", "message"), MISTAKES, ids=[m[1][:40] for m in MISTAKES])
def test_every_mistake_is_one_line_naming_file_and_setting(tmp_path, text, message):
    path = tmp_path / "node.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_node_config(path)
    assert info.value.errors == [f"{path}: {message}"]


def test_file_problems_name_the_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_node_config(tmp_path)
    assert info.value.errors == [f"{tmp_path}: is a directory, not a file"]
    path = tmp_path / "node.yaml"
    path.write_bytes(b"server:\n  host: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_node_config(path)
    assert info.value.errors == [f"{path}: not UTF-8 text (byte 0xe9 on line 2); save it as UTF-8"]


def test_new_settings_are_read_and_defaults_match_the_table(tmp_path):
    assert {s.key: s.default for s in SETTINGS} == {s.key: getattr(NodeConfig(), s.key) for s in SETTINGS}
    assert NodeConfig().open_failures == "retry"
    path = tmp_path / "node.yaml"
    path.write_text("server:\n  error_report_seconds: 15\n  on_new_client: replace\n  takeover_idle_seconds: 0.5\n"
                    "  keepalive_seconds: 2\n  metrics_port: 9100\n  open_failures: refuse\n"
                    "raw_ports: {T1: 4001, Wind: 15000}\nraw_ports_writable: [Wind]\n")
    node = load_node_config(path)
    assert (node.error_report_seconds, node.on_new_client, node.takeover_idle_seconds, node.keepalive_seconds,
            node.metrics_port, node.open_failures) == (15.0, "replace", 0.5, 2.0, 9100, "refuse")
    assert node.raw_ports == {"T1": 4001, "Wind": 15000}
    assert node.raw_ports_writable == frozenset({"Wind"})


def test_command_line_overrides_are_checked_by_the_same_table():
    assert NodeConfig().override({"port": 5001, "host": None}).port == 5001
    with pytest.raises(ConfigError) as info:
        NodeConfig().override({"port": 70000})
    assert info.value.errors == ["--port: must be an integer from 0 to 65535, got 70000"]
    with pytest.raises(ConfigError) as info:
        NodeConfig(raw_ports={"T1": 4001}).override({"port": 4001})
    assert info.value.errors == ["raw_ports.T1: port 4001 is already used by server.port; every port must differ"]


def test_diag_can_leave_devices_to_itself(tmp_path):
    path = tmp_path / "node.yaml"
    path.write_text("devices:\n  - {name: T, sensor_type: Temprature}\n")
    assert load_node_config(path, check_devices=False).devices == ({"name": "T", "sensor_type": "Temprature"},)


def test_every_setting_is_documented():
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "security.md").read_text()
    missing = [s.key for s in SETTINGS if f"`server.{s.key}`" not in doc]
    missing += [key for key in ("raw_ports", "raw_ports_writable") if f"| `{key}` |" not in doc]
    assert missing == []
