"""The import-linter contracts (pyproject ``[tool.importlinter]``) catch a wrong arrow.

The README test command runs ``lint-imports`` on the real tree; this test proves the contracts
would fail it, by adding one upward import to a copy of the package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed (test extra)")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
                          check=False, cwd=tree, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "rpi_ess", tmp_path / "rpi_ess", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


@pytest.mark.parametrize(("module", "line", "arrow"), [
    ("devices/upward.py", "from ..server import telemetry", "rpi_ess.devices.upward -> rpi_ess.server.telemetry"),
    ("sensors/upward.py", "from ..devices import runner", "rpi_ess.sensors.upward -> rpi_ess.devices.runner"),
    ("devices/wire.py", "from ..tcpip import dumps_json", "rpi_ess.devices.wire -> rpi_ess.tcpip"),
    ("tai_upward.py", "from .devices import base", "rpi_ess.tai_upward -> rpi_ess.devices.base"),
])
def test_a_wrong_arrow_breaks_a_contract(tree: Path, module: str, line: str, arrow: str):
    (tree / "rpi_ess" / module).write_text(f"{line}  # noqa: F401\n")
    if module == "tai_upward.py":  # a utility reaching up: make tai import the new module
        with (tree / "rpi_ess" / "tai.py").open("a") as f:
            f.write("\nfrom . import tai_upward  # noqa: E402,F401\n")
    result = lint(tree)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout
    assert arrow in result.stdout, result.stdout  # the report names the offending import


def test_the_tree_as_it_is_keeps_every_contract(tree: Path):
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
