"""The ``rpi-ess`` command itself: options that belong to no sub-command."""

from __future__ import annotations

import importlib.metadata

import pytest

from rpi_ess.cli.main import main


def test_version_is_the_installed_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"rpi-ess {importlib.metadata.version('rpi-ess')}\n"
