"""What every telemetry-showing command shares around its run: options, logging, signals."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Interrupted", "ViewOptions", "add_view_arguments", "positive_float", "run_command", "until_stopped"]

T = TypeVar("T")


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived before the telemetry display started."""


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def add_view_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every telemetry-showing command has."""
    parser.add_argument("--duration", type=positive_float, metavar="SECONDS",
                        help="stop after this many seconds and print a summary (default: run until Ctrl-C)")
    parser.add_argument("--json", action="store_true",
                        help="print every telemetry line as a JSON line on stdout (exactly as received, with "
                        "bare NaN); the table then goes to stderr at the end")
    parser.add_argument("--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="log messages of at least this level to stderr (default: %(default)s)")


@dataclass(frozen=True)
class ViewOptions:
    duration: float | None = None
    json_lines: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ViewOptions:
        return cls(duration=args.duration, json_lines=args.json)


async def until_stopped(stop: asyncio.Event, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` unless ``stop`` is set first; then cancel it and raise Interrupted."""
    task = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise Interrupted
    return task.result()


@contextlib.contextmanager
def _logging_to_stderr(level: str) -> Iterator[None]:
    """Route log records to stderr through rich (so they print above a live table), for one run."""
    from rich.console import Console
    from rich.logging import RichHandler

    root = logging.getLogger()
    handler = RichHandler(console=Console(stderr=True), show_path=False)
    handler.setLevel(level)
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(min(old_level or logging.WARNING, logging.getLevelName(level)))
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def run_command(main: Callable[[asyncio.Event], Awaitable[int]], log_level: str) -> int:
    """Run an async command; SIGINT/SIGTERM set the event it is given, so it can stop cleanly.

    A signal before the display started ends the command with status 130 and no traceback.
    """

    async def with_signals() -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        installed = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, stop.set)
                installed.append(signum)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals
                pass
        try:
            return await main(stop)
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)

    with _logging_to_stderr(log_level):
        try:
            return asyncio.run(with_signals())
        except (Interrupted, KeyboardInterrupt):
            sys.stderr.write("interrupted\n")
            return 130
