"""The ``rpi-ess`` command. Each sub-command lives in its own module with ``register(subparsers)``."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from typing import Any

__all__ = ["main"]

#: sub-command modules, in the order ``--help`` lists them
SUBCOMMANDS = ("serve", "demo", "client", "diag", "udev")


class _VersionAction(argparse.Action):
    """``--version``: the installed distribution's version, looked up only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit", **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any) -> None:
        sys.stdout.write(f"{parser.prog} {importlib.metadata.version('rpi-ess')}\n")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rpi-ess",
        description="Environmental-sensor server for Raspberry Pi nodes (wire-compatible with the Rubin ESS "
        "controller).",
        epilog="Example: rpi-ess demo --duration 10",
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"rpi_ess.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"rpi_ess.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
