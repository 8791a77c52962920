"""Ties session, statistics and table to a terminal or a pipe, for a duration or until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any

from .command import ViewOptions, until_stopped
from .session import SessionError, TelemetrySession
from .stats import TelemetryStats
from .table import TelemetryTable

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["show_telemetry", "stop_hint"]

#: Seconds between refreshes of the live table.
REFRESH_INTERVAL = 0.25
#: Width used for the table when the output is not a terminal and COLUMNS is not set.
PIPE_WIDTH = 200


async def show_telemetry(
    host: str,
    port: int,
    devices: list[dict[str, Any]],
    options: ViewOptions,
    stop: asyncio.Event,
    *,
    connect_timeout: float = 10.0,
    rate_limit: float = 0.0,
) -> int:
    """Configure the server at ``host:port`` and show its telemetry until ``stop`` or the duration.

    Returns the exit status: 0 after a normal stop, 1 when the session failed (the reason and
    what was received up to then are printed).
    """
    session = TelemetrySession(host, port, devices, connect_timeout=connect_timeout, rate_limit=rate_limit)
    stats = TelemetryStats(devices)
    table = TelemetryTable(stats, f"rpi-ess telemetry from {session.address}", lambda: session.bad_lines)
    try:
        try:
            await until_stopped(stop, session.start())
        except SessionError as e:
            error: SessionError | None = e
        else:
            stats.started = stats.clock()
            error = await _watch(session, stats, table, options, stop)
    finally:
        await session.close()
    if error is None:
        return 0
    _print_error(str(error))
    return 1


def _print_error(message: str) -> None:
    """One unwrapped line on stderr, so that a long reason can be copied whole."""
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True, soft_wrap=True).print(Text.assemble(("error: ", "bold red"), message))


async def _watch(
    session: TelemetrySession, stats: TelemetryStats, table: TelemetryTable, options: ViewOptions,
    stop: asyncio.Event,
) -> SessionError | None:
    """Feed telemetry into ``stats`` until stopped; returns the session error that ended it, if any."""
    from rich.live import Live

    loop = asyncio.get_running_loop()
    timer = loop.call_later(options.duration, stop.set) if options.duration else None
    console = _table_console(stderr=options.json_lines)
    live = None if options.json_lines or not console.is_terminal else Live(table, console=console, auto_refresh=False)

    async def consume() -> None:
        async for telemetry in session:
            stats.add(telemetry)
            if options.json_lines:
                try:
                    sys.stdout.write(telemetry.raw + "\n")
                    sys.stdout.flush()
                except BrokenPipeError:  # `| head` had enough: stop quietly, like a Unix filter
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, sys.stdout.fileno())  # so the flush at exit does not fail again
                    os.close(devnull)
                    return

    async def refresh() -> None:
        while True:
            live.refresh()
            await asyncio.sleep(REFRESH_INTERVAL)

    tasks = {asyncio.create_task(consume()), asyncio.create_task(stop.wait())}
    if live is not None:
        tasks.add(asyncio.create_task(refresh()))
    if live is not None:
        table.hint = stop_hint(options.duration)
    with contextlib.nullcontext() if live is None else live:
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if timer is not None:
                timer.cancel()
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        if live is not None:
            table.hint = None  # the last screen stays: it must not invite a Ctrl-C that is no longer needed
            live.refresh()
    if live is None:
        console.print(table)
    for result in results:
        if isinstance(result, Exception) and not isinstance(result, SessionError):
            raise result
    return next((result for result in results if isinstance(result, SessionError)), None)


def stop_hint(duration: float | None) -> str:
    """How the live screen ends, so nobody has to guess how to leave it."""
    if duration is None:
        return "Press Ctrl-C to stop."
    return f"Stops after {duration:g} s; press Ctrl-C to stop sooner."


def _table_console(stderr: bool) -> Console:
    from rich.console import Console

    console = Console(stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPE_WIDTH
    return console
