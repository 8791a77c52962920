"""README's "Other commands" work as written from a fresh shell: venv paths, sub-commands that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from rpi_ess.cli.main import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"


def other_commands() -> list[str]:
    """Every command in the README section, from the table's first column and from inline code."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Other commands\n", 1)[1].split("\n## ", 1)[0]
    return [code for code in re.findall(r"`([^`]+)`", section) if re.match(r"(\S*/)?(rpi-ess|python)\b", code)]


def test_the_section_lists_commands() -> None:
    assert len(other_commands()) >= 6


@pytest.mark.parametrize("command", other_commands())
def test_commands_use_the_venv_made_by_the_readme(command: str) -> None:
    assert command.startswith(".venv/bin/"), f"{command!r} needs an activated venv"


@pytest.mark.parametrize("command", [c for c in other_commands() if c.startswith(".venv/bin/rpi-ess ")])
def test_rpi_ess_commands_parse(command: str) -> None:
    """Each one names options the command has (optional parts in [...] left out)."""
    words = shlex.split(re.sub(r"\[[^]]*\]", "", command.split(">", maxsplit=1)[0]))[1:]
    try:
        args = build_parser().parse_args(words)
    except SystemExit as e:  # --version, --example-config: printed, then exit 0
        assert e.code == 0
    else:
        assert args.command == words[0]
