"""``rpi-ess diag``: check the node, the service, the buses and every instrument in one report.

See docs/diagnostics.md for what each line and hint means, and the ``--json`` schema.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

__all__ = ["register", "run"]

EPILOG = """\
Exit code: 0 when nothing FAILs, 1 on any FAIL (WARN and SKIP do not fail).

Examples:
  rpi-ess diag                          # this node, devices from /etc/rpi-ess/node.yaml
  rpi-ess diag --config csc-devices.yaml --listen 5
  rpi-ess diag --only node --only service
  rpi-ess diag --json | jq '.checks[] | select(.status == "FAIL")'
  rpi-ess diag --simulate               # try it anywhere: simulated instruments and server
"""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 seconds, got {text}")
    return value


def register(subparsers: Any) -> None:
    from ..diag.model import GROUPS

    parser = subparsers.add_parser(
        "diag",
        help="check this node, the service, its buses and instruments (for technicians)",
        description="Check the Raspberry Pi, the rpi-ess service, serial/FTDI/I2C/GPIO buses and every\n"
        "configured instrument, and print one report with PASS / WARN / FAIL and a hint per problem.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON (schema in docs/diagnostics.md)")
    parser.add_argument("--simulate", action="store_true",
                        help="check simulated instruments, I2C chips and a simulated server instead of this node's")
    parser.add_argument("--simulate-faults", action="store_true",
                        help="like --simulate, plus a silent instrument and one at the wrong baud rate")
    parser.add_argument("--config", metavar="FILE", help="YAML/JSON file with a 'devices' list to check "
                        "(overrides the node configuration's devices)")
    parser.add_argument("--node-config", metavar="FILE", help="node configuration (default /etc/rpi-ess/node.yaml)")
    parser.add_argument("--listen", type=_seconds, default=3.0, metavar="SECONDS",
                        help="how long to listen to each instrument (default 3)")
    parser.add_argument("--status-socket", metavar="PATH",
                        help="the server's status socket (default: node configuration, else the first that "
                        "exists of $RUNTIME_DIRECTORY/status.sock, /run/rpi-ess/status.sock, "
                        "$XDG_RUNTIME_DIR/rpi-ess/status.sock, /tmp/rpi-ess-UID/status.sock)")
    parser.add_argument("--port", type=int, help="the server's TCP port (default: node configuration, else 5000)")
    parser.add_argument("--only", action="append", choices=GROUPS, metavar="GROUP",
                        help=f"run only this group ({', '.join(GROUPS)}); repeatable")
    parser.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..diag.model import GROUPS
    from ..diag.report import render_json, render_text, text_console
    from ..diag.runner import diagnose
    from ..diag.settings import build_context
    from ..diag.simulate import SimulatedNode

    ctx = build_context(args)
    simulate = args.simulate or args.simulate_faults
    groups = tuple(args.only or GROUPS)
    progress = Console(stderr=True)
    with contextlib.ExitStack() as stack:
        if simulate:
            stack.enter_context(SimulatedNode(ctx, faults=args.simulate_faults))
        if not args.json and progress.is_terminal:
            stack.enter_context(progress.status(f"Checking {', '.join(groups)} (listening {ctx.listen:g} s per "
                                                f"instrument)…"))
        report = diagnose(ctx, groups)
    if args.json:
        sys.stdout.write(render_json(report) + "\n")
    else:
        render_text(report, text_console(no_color=args.no_color))
    return report.exit_code
