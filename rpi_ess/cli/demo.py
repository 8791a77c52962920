"""``rpi-ess demo``: see the whole system work without any hardware.

Starts a simulated server in this process (every device becomes a simulated instrument that
sends the real instrument's bytes through the real parser), connects to it exactly like the
CSC, configures one device of every sensor type and shows the telemetry.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from ..simulation.demo_config import demo_devices
from .live.command import ViewOptions, add_view_arguments, run_command, until_stopped  # the view: when run

__all__ = ["register", "run"]

log = logging.getLogger(__name__)

EPILOG = """\
The demo configures one device of each sensor type (Temperature, HX85A, HX85BA, Windsonic,
CSAT3B, LD250, EFM100C, Aurora, Sps30) on an in-process server bound to 127.0.0.1 on a free port.

Examples:
  rpi-ess demo                          # live table until Ctrl-C
  rpi-ess demo --duration 10            # stop after 10 s and print a summary
  rpi-ess demo --duration 5 --json | head   # telemetry lines as the CSC receives them
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run a simulated server with every sensor type and show its telemetry",
        description="Run a simulated rpi-ess server in this process, connect to it like the CSC and show\n"
        "the telemetry of one simulated device of every sensor type as a live table.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_view_arguments(parser)
    parser.set_defaults(func=run)


async def _demo(options: ViewOptions, stop: asyncio.Event) -> int:
    from .. import SocketServer
    from .live.show import show_telemetry

    server = SocketServer(name="rpi-ess demo", host="127.0.0.1", port=0, log=log, simulation_mode=1)
    try:
        await until_stopped(stop, server.start_task)
        return await show_telemetry("127.0.0.1", server.port, demo_devices(), options, stop)
    finally:
        await server.close()


def run(args: argparse.Namespace) -> int:
    options = ViewOptions.from_args(args)
    return run_command(lambda stop: _demo(options, stop), args.log_level)
