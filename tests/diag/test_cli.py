"""``rpi-ess diag`` end to end: the text report, --json, exit codes and --simulate."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from rpi_ess.cli.main import main
from rpi_ess.diag.model import JSON_SCHEMA_ID, CheckResult, Report, Status
from rpi_ess.diag.report import render_json, render_text

CHECK_KEYS = {"group", "name", "status", "summary", "details", "hint", "data"}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["diag", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def no_server(tmp_path: Path, port: int) -> list[str]:
    (tmp_path / "node.yaml").write_text("{}\n")
    return ["--status-socket", str(tmp_path / "none.sock"), "--port", str(port), "--node-config",
            str(tmp_path / "node.yaml")]


def test_simulate_json_is_a_complete_healthy_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_json(capsys, "--simulate")
    assert report["schema"] == JSON_SCHEMA_ID
    assert report["simulated"] is True
    assert code == report["exit_code"] == (1 if report["summary"]["FAIL"] else 0)
    assert sum(report["summary"].values()) == len(report["checks"])
    assert all(set(check) == CHECK_KEYS for check in report["checks"])
    groups = [check["group"] for check in report["checks"]]
    assert groups == sorted(groups, key=["node", "service", "buses", "devices"].index)
    checks = {(c["group"], c["name"]): c for c in report["checks"]}
    for name in ("status", "port", "client", "telemetry"):
        assert checks["service", name]["status"] == "PASS", checks["service", name]
    assert checks["buses", "i2c-1"]["summary"] == "/dev/i2c-1: 0x44 SHT4x/SHT3x"
    devices = {name: check for (group, name), check in checks.items() if group == "devices"}
    assert set(devices) == {"configuration", "TempDome", "WindTower", "WindDomeSlit", "FieldMill",
                            "HumidityEnclosure"}
    assert {name: check["status"] for name, check in devices.items()} == dict.fromkeys(devices, "PASS"), devices
    assert devices["WindDomeSlit"]["data"]["source"] == "server"
    assert devices["TempDome"]["data"]["source"] == "listen"


def test_simulated_faults_in_the_text_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diag", "--simulate-faults", "--only", "devices", "--only", "service"]) == 1
    text = capsys.readouterr().out
    words = " ".join(text.split())  # the table wraps long lines at any width
    assert "(SIMULATED instruments)" in text
    assert "Node" not in text.splitlines()
    lines = [line.strip() for line in text.splitlines()]
    assert any(line.startswith("FAIL  HumidityMirror") for line in lines)
    assert "no valid line; it answers at 19200 baud" in words
    assert any(line.startswith("FAIL  LightningMast") and "SILENT" in line for line in lines)
    assert text.count("hint: ") == 2
    assert "hint: Wrong baud rate: set baud_rate: 19200" in words
    assert lines[-1].startswith("10 PASS  0 WARN  2 FAIL  1 SKIP  in ")
    assert lines[-1].endswith("exit code 1")


def test_config_file_and_exit_codes(tmp_path: Path, unused_port: int, make_pty: Any,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    healthy = make_pty("temp", "Temperature", channels=2, period=0.2)
    silent = make_pty("quiet")
    devices = [{"name": "T2", "sensor_type": "Temperature", "channels": 2, "device_type": "Serial",
                "serial_port": healthy.port, "baud_rate": 19200}]
    config = tmp_path / "devices.yaml"
    config.write_text(yaml.safe_dump({"devices": devices}))
    argv = ["--only", "devices", "--config", str(config), "--listen", "1", *no_server(tmp_path, unused_port)]
    code, report = run_json(capsys, *argv)
    assert code == 0, report["checks"]
    assert [(c["name"], c["status"]) for c in report["checks"]] == [("configuration", "PASS"), ("T2", "PASS")]
    assert report["checks"][0]["data"]["source"] == str(config)
    devices.append({**devices[0], "name": "Quiet", "serial_port": silent.port})
    config.write_text(json.dumps({"devices": devices}))  # JSON is accepted as well
    code, report = run_json(capsys, *argv)
    assert code == 1
    assert [(c["name"], c["status"]) for c in report["checks"]][1:] == [("T2", "PASS"), ("Quiet", "FAIL")]


def test_devices_come_from_the_node_configuration(tmp_path: Path, unused_port: int, make_pty: Any,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    pty = make_pty("wind", "Windsonic", period=0.2)
    node = tmp_path / "node.yaml"
    node.write_text(yaml.safe_dump({"server": {"port": unused_port}, "devices": [
        {"name": "WindTower", "sensor_type": "Windsonic", "device_type": "Serial", "serial_port": pty.port,
         "baud_rate": 9600},
        {"name": "Broken", "sensor_type": "Windsonic", "device_type": "Serial"},
    ]}))
    code, report = run_json(capsys, "--only", "devices", "--listen", "1", "--node-config", str(node),
                            "--status-socket", str(tmp_path / "none.sock"))
    assert code == 1
    configuration, wind = report["checks"]
    assert configuration["status"] == "FAIL"
    assert configuration["data"]["source"] == str(node)
    assert any("devices[1] ('Broken')" in error for error in configuration["details"])
    assert (wind["name"], wind["status"]) == ("WindTower", "PASS"), wind


def test_unreadable_node_configuration_is_a_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node = tmp_path / "node.yaml"
    node.write_text("server: [unclosed\n")
    code, report = run_json(capsys, "--only", "devices", "--node-config", str(node))
    assert code == 1
    assert "not valid YAML" in report["checks"][0]["details"][0]


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_bad_listen_time_is_refused(capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["diag", "--listen", value])
    assert exit_info.value.code == 2
    assert "--listen" in capsys.readouterr().err


def make_report() -> Report:
    return Report(
        [
            CheckResult("node", "model", Status.PASS, "Raspberry Pi 4 Model B Rev 1.4"),
            CheckResult("node", "clock_sync", Status.FAIL, "NOT synchronised", details=["timedatectl: NTP service "
                        "active"], hint="check NTP"),
            CheckResult("devices", "T1", Status.WARN, "Temperature at 19200 baud: [bracketed] text",
                        details=[f"line {n}" for n in range(10)], hint="loose connector",
                        data={"values": [1.5, math.nan, math.inf]}),
            CheckResult("buses", "gpio", Status.SKIP, "no GPIO chips", hint="not shown for SKIP? shown"),
        ],
        host="ess-node-3", generated=1700000000.0, duration_s=4.25,
    )


def test_text_rendering() -> None:
    console = Console(record=True, width=100, color_system=None)
    render_text(make_report(), console)
    text = console.export_text()
    lines = [line.rstrip() for line in text.splitlines()]
    assert lines[0] == "rpi-ess diag  ess-node-3  2023-11-14 22:13:20 UTC"
    assert [line for line in lines if line in ("Node", "Buses", "Devices")] == ["Node", "Buses", "Devices"]
    assert any(line.startswith(" FAIL  clock_sync  NOT synchronised") for line in lines)
    assert "[bracketed] text" in text  # summaries are text, never rich markup
    assert "… 2 more (see --json)" in text
    assert "hint: check NTP" in text
    assert lines[-1] == "1 PASS  1 WARN  1 FAIL  1 SKIP  in 4.2 s — exit code 1"


def test_json_is_strict_and_non_finite_values_become_null() -> None:
    data = json.loads(render_json(make_report()))
    assert data["exit_code"] == 1
    assert data["summary"] == {"PASS": 1, "WARN": 1, "FAIL": 1, "SKIP": 1}
    assert data["checks"][2]["data"]["values"] == [1.5, None, None]
    assert data["checks"][2]["details"] == [f"line {n}" for n in range(10)]


def test_port_busy_in_a_live_server_text_and_json(tmp_path: Path, make_pty: Any,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from rpi_ess.diag.simulate import LiveServer

    pty = make_pty("wind", "Windsonic", period=0.1)
    quiet = make_pty("quiet")
    devices = [{"name": "WindTower", "sensor_type": "Windsonic", "device_type": "Serial", "serial_port": pty.port,
                "baud_rate": 9600},
               {"name": "LightningMast", "sensor_type": "LD250", "device_type": "Serial",
                "serial_port": quiet.port, "baud_rate": 19200}]
    config = tmp_path / "devices.yaml"
    config.write_text(yaml.safe_dump({"devices": devices}))
    server = LiveServer(devices[:1], str(tmp_path / "status.sock")).start()
    try:
        server.wait_streaming(2, 15.0)
        argv = ["--only", "service", "--only", "devices", "--config", str(config), "--listen", "1",
                "--status-socket", server.status_socket, "--port", str(server.port)]
        text_code = main(["diag", "--no-color", *argv])
        text = capsys.readouterr().out
        code, report = run_json(capsys, *argv)
    finally:
        server.stop()
    assert text_code == code == 1  # the silent LD250
    lines = [line.strip() for line in text.splitlines()]
    assert any(line.startswith("PASS  WindTower") and "held by rpi-ess: streaming" in line for line in lines)
    assert any(line.startswith("FAIL  LightningMast") and "SILENT" in line for line in lines)
    assert any(line.startswith("PASS  client") for line in lines)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["WindTower"]["status"] == "PASS"
    assert checks["WindTower"]["data"]["source"] == "server"
    assert checks["WindTower"]["data"]["server"]["state"] == "streaming"
    assert checks["LightningMast"]["data"]["source"] == "listen"
    assert checks["status"]["data"]["source"] == f"status socket {server.status_socket}"
