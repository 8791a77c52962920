"""The device file of ``rpi-ess client``: YAML or JSON, a list or a mapping with ``devices``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rpi_ess.cli.client import EPILOG, ConfigFileError, load_devices
from rpi_ess.cli.main import main

DEVICES = [
    {"name": "TempAux", "sensor_type": "Temperature", "channels": 4, "device_type": "FTDI", "ftdi_id": "SEL4",
     "baud_rate": 19200},
    {"name": "WindTower", "sensor_type": "Windsonic", "device_type": "FTDI", "ftdi_id": "A1B2", "baud_rate": 9600},
]

CSC_STYLE_YAML = """\
host: ess-pi-1
port: 5000
rate_limit: 0.5
devices:
  - {name: TempAux, sensor_type: Temperature, channels: 4, device_type: FTDI, ftdi_id: SEL4, baud_rate: 19200}
  - name: WindTower
    sensor_type: Windsonic
    device_type: FTDI
    ftdi_id: A1B2
    baud_rate: 9600
"""


@pytest.mark.parametrize(
    ("filename", "text"),
    [
        ("devices.yaml", yaml.safe_dump(DEVICES)),
        ("devices.yml", yaml.safe_dump({"devices": DEVICES})),
        ("csc.yaml", CSC_STYLE_YAML),
        ("devices.json", json.dumps(DEVICES)),
        ("devices.json", json.dumps({"devices": DEVICES})),
        ("devices.conf", json.dumps(DEVICES, indent=2)),  # no telling extension: JSON by content
        ("devices.conf", CSC_STYLE_YAML),  # ... and YAML by content
        ("devices", "  " + json.dumps({"devices": DEVICES})),
    ],
)
def test_lists_and_mappings_in_yaml_and_json(tmp_path: Path, filename: str, text: str) -> None:
    path = tmp_path / filename
    path.write_text(text, encoding="utf-8")
    assert load_devices(path) == DEVICES


@pytest.mark.parametrize(
    ("filename", "text", "message"),
    [
        ("devices.yaml", "devices: [\n  - name: x\n", "not valid YAML"),
        ("devices.json", '[{"name": "x",]', "not valid JSON"),
        ("devices.conf", "{oops", "not valid JSON"),
        ("devices.yaml", "host: ess-pi-1\nport: 5000\n", "no 'devices' key (keys: host, port)"),
        ("devices.yaml", "just a string\n", "got str"),
        ("devices.yaml", "", "got NoneType"),
        ("devices.json", '{"devices": {"name": "x"}}', "got dict"),
        ("devices.json", "[]", "the device list is empty"),
        ("devices.yaml", "- name: x\n- 42\n", "device 2 is a int, not a mapping"),
    ],
)
def test_bad_files_give_a_clear_error_naming_the_file(tmp_path: Path, filename: str, text: str, message: str) -> None:
    path = tmp_path / filename
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigFileError) as info:
        load_devices(path)
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)


def test_the_example_in_the_help_loads(tmp_path: Path) -> None:
    example = EPILOG.split("Example devices.yaml:\n")[1].split("\nExamples:")[0]
    path = tmp_path / "devices.yaml"
    path.write_text(example, encoding="utf-8")
    assert [device["sensor_type"] for device in load_devices(path)] == ["Temperature"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="cannot read: No such file or directory"):
        load_devices(tmp_path / "absent.yaml")


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "devices.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigFileError, match="cannot read"):
        load_devices(path)


def test_client_command_exits_2_on_a_bad_file_without_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "devices.yaml"
    path.write_text("[]", encoding="utf-8")
    assert main(["client", "--host", "127.0.0.1", "--config", str(path)]) == 2
    assert f"error: {path}: the device list is empty" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--port", "0"], ["--port", "70000"], ["--rate-limit", "-1"], ["--duration", "0"]])
def test_bad_options_are_refused_by_the_parser(tmp_path: Path, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["client", "--host", "h", "--config", str(tmp_path / "d.yaml"), *argv])
    assert info.value.code == 2


@pytest.mark.parametrize("command", ["client", "demo"])
def test_help_explains_with_an_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert "Example" in out
    assert f"rpi-ess {command} " in out


def test_registering_the_commands_does_not_load_rich() -> None:
    """The parser imports every sub-command module, and ``serve`` must not pay for rich."""
    code = ("import argparse, sys\n"
            "from rpi_ess.cli import client, demo\n"
            "sub = argparse.ArgumentParser().add_subparsers()\n"
            "client.register(sub); demo.register(sub)\n"
            "sys.exit(any(name.split('.')[0] == 'rich' for name in sys.modules))\n")
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0


def test_the_serve_parser_loads_nothing_only_other_commands_use() -> None:
    """What every `rpi-ess serve` carries in its memory: not the client's view, not importlib.metadata.

    They cost a serve process 2.3 MB of RSS (the benchmark's peak went from 25.4 to 27.6 MB).
    """
    code = ("import sys\n"
            "from rpi_ess.cli.main import build_parser\n"
            "build_parser()\n"
            "heavy = ['rich', 'rpi_ess.cli.live.session', 'rpi_ess.cli.live.table', 'importlib.metadata',\n"
            "         'email', 'zipfile']\n"
            "sys.exit(' '.join(name for name in heavy if name in sys.modules) or None)\n")
    result = subprocess.run([sys.executable, "-c", code], check=False, timeout=60, capture_output=True, text=True)
    assert result.returncode == 0, f"loaded by the parser: {result.stderr}"
