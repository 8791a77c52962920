"""The example device file shipped for ``rpi-ess client``: printed by ``--example-config``, it configures
a simulated server exactly as the demo does."""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import tomllib
from pathlib import Path

import pytest
import yaml

from rpi_ess import SocketServer
from rpi_ess.cli.client import example_config
from rpi_ess.cli.main import main
from rpi_ess.simulation.demo_config import DEMO_DEVICES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "rpi_ess" / "cli" / "examples" / "devices.yaml"
WAIT = 60.0  # generous: CI machines are slow


def print_example(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main(["client", "--example-config"])  # no --host or --config needed
    assert info.value.code == 0
    return capsys.readouterr().out


def test_example_config_prints_the_shipped_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert print_example(capsys) == EXAMPLE.read_text(encoding="utf-8") == example_config()


def test_the_example_is_the_demo_configuration() -> None:
    assert yaml.safe_load(example_config())["devices"] == DEMO_DEVICES


def test_the_example_is_package_data() -> None:
    """An editable install finds the file anyway; a wheel only has it if package-data names it."""
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]
    relative = EXAMPLE.relative_to(ROOT / "rpi_ess" / "cli").as_posix()
    assert any(fnmatch.fnmatch(relative, pattern) for pattern in package_data["rpi_ess.cli"])


async def test_the_printed_example_configures_a_simulated_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "devices.yaml"
    path.write_text(print_example(capsys), encoding="utf-8")
    monkeypatch.setenv("COLUMNS", "250")
    server = SocketServer(name="test", host="127.0.0.1", port=0, log=logging.getLogger("test"), simulation_mode=1)
    try:
        await asyncio.wait_for(server.start_task, WAIT)
        argv = ["client", "--host", "127.0.0.1", "--port", str(server.port), "--config", str(path), "--duration", "4"]
        assert await asyncio.wait_for(asyncio.to_thread(main, argv), WAIT) == 0
    finally:
        await server.close()
    assert f"from {len(DEMO_DEVICES)} of {len(DEMO_DEVICES)} devices" in capsys.readouterr().out
