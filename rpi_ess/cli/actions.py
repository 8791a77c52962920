"""argparse actions shared by the ``rpi-ess`` command and its sub-commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["PrintAndExit"]


class PrintAndExit(argparse.Action):
    """An option like ``--version``: print a text on stdout and exit 0, before required options are checked.

    ``text`` is called only when the option is given, so building the parser stays cheap.
    """

    def __init__(self, option_strings: list[str], dest: str, *, text: Callable[[], str], **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)
        self.text = text

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any) -> None:
        sys.stdout.write(self.text())
        parser.exit()
