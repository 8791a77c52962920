"""Packaging keeps building (issue 15 item 7): SPDX licence, licence file, pinned backend range, one version."""

import importlib.metadata
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pyproject_uses_pep_639_and_pins_the_backend():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "GPL-3.0-or-later"  # a string: the table form is deprecated
    assert all((ROOT / name).is_file() for name in project["project"]["license-files"])
    (backend,) = [r for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    assert re.fullmatch(r"setuptools>=77,<\d+", backend), backend  # 77: first with SPDX strings


def test_installed_metadata_carries_the_expression():
    metadata = importlib.metadata.metadata("rpi-ess")
    assert metadata["License-Expression"] == "GPL-3.0-or-later"
    assert "LICENSE" in (metadata.get_all("License-File") or [])


def test_the_version_is_written_once():
    """pyproject reads it from the package, and the image scripts read the same line (no second copy to forget)."""
    import rpi_ess

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert importlib.metadata.version("rpi-ess") == rpi_ess.__version__
    for script in ("deploy/sd-image/customize.sh", "deploy/ansible/test-local.sh"):
        text = (ROOT / script).read_text()
        assert "rpi_ess/__init__.py" in text and "pyproject.toml\")" not in text, script
