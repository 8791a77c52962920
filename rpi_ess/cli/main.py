"""The ``rpi-ess`` command. Each sub-command lives in its own module with ``register(subparsers)``."""

from __future__ import annotations

import argparse
import importlib
import sys

from .actions import PrintAndExit

__all__ = ["main"]

#: sub-command modules, in the order ``--help`` lists them
SUBCOMMANDS = ("serve", "demo", "client", "diag", "tap", "udev")


def _version() -> str:
    import importlib.metadata  # only for --version: it is not part of every `serve` process's memory

    return f"rpi-ess {importlib.metadata.version('rpi-ess')}\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rpi-ess",
        description="Environmental-sensor server for Raspberry Pi nodes (wire-compatible with the Rubin ESS "
        "controller).",
        epilog="Example: rpi-ess demo --duration 10",
    )
    parser.add_argument("--version", action=PrintAndExit, text=_version, help="print the version and exit")
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
