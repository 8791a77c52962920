"""``rpi-ess serve``: run the server until SIGTERM/SIGINT (or the ``exit`` command)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from typing import Any

__all__ = ["register", "run"]

log = logging.getLogger("rpi_ess.serve")
SHUTDOWN_TIMEOUT = 2.0
#: exit status after a client's `exit` command: a clean stop, but not one an operator asked for, so
#: the unit's Restart=on-failure restarts the service, while SIGTERM (status 0) stops it for good
EXIT_REQUESTED = 75


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "serve",
        help="run the sensor server (what the systemd service runs)",
        description="Run the ESS sensor server: one CSC client at a time on TCP port 5000, heartbeats, "
        "configure, telemetry. Stops cleanly on SIGTERM/SIGINT.",
        epilog="Examples:\n  rpi-ess serve --simulate --port 5000\n"
        "  rpi-ess serve --config /etc/rpi-ess/node.yaml --log-level DEBUG",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", help="address to bind (default: node config, else 0.0.0.0; '::' for IPv6)")
    parser.add_argument("--port", type=int, help="TCP port (default: node config, else 5000; 0 = any free port)")
    parser.add_argument("--simulate", action="store_true", help="simulated instruments instead of real ones")
    parser.add_argument("--config", "--node-config", dest="config", metavar="FILE",
                        help="node configuration YAML (default /etc/rpi-ess/node.yaml if present)")
    parser.add_argument("--status-socket", metavar="PATH",
                        help="local status socket for `rpi-ess diag` ('' disables; default: the first writable "
                        "of $RUNTIME_DIRECTORY/status.sock, /run/rpi-ess/status.sock, "
                        "$XDG_RUNTIME_DIR/rpi-ess/status.sock, /tmp/rpi-ess-UID/status.sock; diag looks there too)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.set_defaults(func=run)


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    from ..devices.config import ConfigError
    from ..server.node_config import load_node_config

    try:
        node = load_node_config(args.config).override({"host": args.host, "port": args.port})
        status_socket = _status_socket(args, node.status_socket)
    except ConfigError as e:
        for problem in e.errors:  # one line each, naming the file (or option) and the setting
            log.error("Invalid node configuration: %s", problem)
        return 2
    try:
        return asyncio.run(serve(args, node, status_socket))
    except OSError as e:
        log.error("Cannot start the server: %s", e)
        return 1


def _status_socket(args: argparse.Namespace, node_socket: str | None) -> str | None:
    """--status-socket, else the node configuration's, else the first default diag also looks in."""
    from ..devices.config import ConfigError
    from ..server.node_config import DEFAULT_NODE_CONFIG_PATH
    from ..server.status_paths import serve_status_socket, status_socket_candidates

    chosen, where = (args.status_socket, "--status-socket") if args.status_socket is not None else (
        node_socket, f"{args.config or DEFAULT_NODE_CONFIG_PATH}: server.status_socket")
    if chosen:
        folder = os.path.dirname(os.path.abspath(chosen))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
            problem = "does not exist" if not os.path.isdir(folder) else "is not writable by this user"
            raise ConfigError([f"{where}: {chosen}: its directory {folder} {problem}"])
        return chosen
    if args.status_socket is not None:
        return None  # --status-socket '' disables it
    path = serve_status_socket()
    if path is None:
        log.warning("No status socket: none of %s is writable; `rpi-ess diag` will ask over TCP while no "
                    "client is connected (set one with --status-socket PATH)", ", ".join(status_socket_candidates()))
    return path


async def serve(args: argparse.Namespace, node: Any, status_socket: str | None) -> int:
    from .. import sdnotify
    from ..server.socket_server import SocketServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):  # before listening: no window without a clean stop
        loop.add_signal_handler(signum, stop.set)
    server = SocketServer(
        name="rpi-ess",
        host=node.host,
        port=node.port,
        log=logging.getLogger("rpi_ess"),
        simulation_mode=int(args.simulate),
        node_config=node,
        status_socket=status_socket,
    )
    await server.start_task
    helpers = [asyncio.create_task(_watchdog(sdnotify))]  # the status LED is the server's (SocketServer._monitor)
    sdnotify.ready(f"listening on port {server.port}")
    stop_task = asyncio.create_task(stop.wait())
    await asyncio.wait([stop_task, server.done_task], return_when=asyncio.FIRST_COMPLETED)
    sdnotify.stopping()
    log.info("Shutting down")
    for task in [*helpers, stop_task]:
        task.cancel()
    try:
        await asyncio.wait_for(server.close(), SHUTDOWN_TIMEOUT)
    except TimeoutError:
        log.warning("Shutdown took longer than %.0f s", SHUTDOWN_TIMEOUT)
    await asyncio.gather(*helpers, stop_task, return_exceptions=True)
    return EXIT_REQUESTED if server.exit_requested else 0


async def _watchdog(sdnotify: Any) -> None:
    """Ping systemd's watchdog while the event loop is alive (a hung loop gets restarted)."""
    interval = sdnotify.watchdog_interval()
    if interval is None:
        return
    while True:
        sdnotify.watchdog()
        await asyncio.sleep(interval)
