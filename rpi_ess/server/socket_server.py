"""``SocketServer``: the ESS server, method for method like the Rubin ``SocketServer``.

Differences from the reference, all invisible to the existing CSC (PROTOCOL 2.8, 8):
a malformed, unknown or over-long line gets one ``{"response": code, "message": ...}``
line and the connection stays up; a bare-LF heartbeat is accepted; ``exit`` really stops
the server; telemetry goes through per-device bounded queues (see ``telemetry.py``).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from typing import Any

from ..tcpip import HEARTBEAT, LineTooLongError, OneClientReadLoopServer, dumps_json
from .command_handler import CommandHandler
from .commands import CommandError, RateLimiter, call_command, error_response, parse_command
from .node_config import NodeConfig, TlsSettings
from .response import ResponseCode
from .telemetry import TelemetryQueue

__all__ = ["SocketServer"]

MONITOR_INTERVAL = 1.0  # seconds between keep-alive and status LED checks


def _ssl_context(tls: TlsSettings | None) -> ssl.SSLContext | None:
    if tls is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.certfile, tls.keyfile)
    if tls.client_ca:
        context.load_verify_locations(tls.client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


class SocketServer(OneClientReadLoopServer):
    """TCP server for one CSC client: reads commands, streams telemetry.

    Parameters are those of the reference; ``node_config`` (limits, allow-lists, TLS) and
    ``status_socket`` (path of the local Unix status socket, None for none) are additions.
    """

    valid_simulation_modes = (0, 1)

    def __init__(
        self,
        name: str,
        host: str | None,
        port: int,
        log: logging.Logger,
        simulation_mode: int = 0,
        connect_callback: Any = None,
        *,
        node_config: NodeConfig | None = None,
        status_socket: str | None = None,
        **kwargs: Any,
    ) -> None:
        if simulation_mode not in self.valid_simulation_modes:
            raise ValueError(f"simulation_mode={simulation_mode} not in {self.valid_simulation_modes}")
        self.simulation_mode = simulation_mode
        self.node_config = node_config or NodeConfig()
        self.host = host
        self.started_at = time.time()
        self.status_socket_path = status_socket
        self.telemetry = self._new_telemetry()
        self._rate = RateLimiter(self.node_config.max_commands_per_second)
        self._client_since: float | None = None
        self._client_address = ""
        self._background: set[asyncio.Task[Any]] = set()
        self._status_server: Any = None
        self._monitor_task: asyncio.Task[None] | None = None
        self.side_servers: Any = None  # raw instrument ports and metrics (side_servers.py)
        self.exit_requested = False  # set by the `exit` command (serve then exits with EXIT_REQUESTED)
        node = self.node_config
        super().__init__(
            host=host,
            port=port,
            log=log,
            connect_callback=connect_callback,
            name=name,
            max_line_length=node.max_line_length,
            max_heartbeat_interval=node.heartbeat_timeout,
            client_filter=node.client_allowed if node.allowed_clients else None,
            filter_name="server.allowed_clients",
            takeover_idle=node.takeover_idle_seconds if node.on_new_client == "replace" else None,
            ssl=_ssl_context(node.tls),
            **kwargs,
        )
        self.command_handler = CommandHandler(self, simulation_mode, self.node_config)

    # --- reference API -----------------------------------------------------------------------

    def set_command_handler(self, command_handler: CommandHandler) -> None:
        self.command_handler = command_handler

    async def start(self, **kwargs: Any) -> None:
        await super().start(**kwargs)
        if self.status_socket_path:
            from .status_socket import StatusSocketServer

            self._status_server = StatusSocketServer(self.status_socket_path, self.command_handler, self.log)
            await self._status_server.start()
        from .side_servers import start_side_servers

        self.side_servers = await start_side_servers(self)
        self._monitor_task = asyncio.create_task(self._monitor())
        if self.simulation_mode:
            self.log.info("Simulation mode: every configured instrument is simulated")

    async def read_and_dispatch(self) -> None:
        """Read one line; heartbeats are noted, anything else is run as a command."""
        try:
            line = await self.read_bounded_line()
        except LineTooLongError as e:
            await self._reply(error_response(
                ResponseCode.LINE_TOO_LONG,
                f"line of {e.length} bytes exceeds the limit of {self.max_line_length} bytes; discarded"))
            return
        if not line:
            raise ConnectionError("client closed the connection")
        line = line.rstrip(b"\r\n")
        if line == HEARTBEAT:
            self.handle_received_heartbeat()
            return
        try:
            command, parameters = parse_command(line)
            if not self._rate.allow():
                raise CommandError(ResponseCode.RATE_LIMITED,
                                   f"more than {self._rate.rate:g} commands per second; {command!r} not run")
            if command == "configure":  # the CSC skips every line before its configure response (PROTOCOL 6.2)
                self.telemetry.hold()
            response = await call_command(self.command_handler.commands, command, parameters)
        except CommandError as e:
            self.log.warning("Bad command from %s: %s", self._client_address, e.message)
            response = error_response(e.code, e.message)
        except Exception as e:
            self.log.exception("Internal error running a command")
            response = error_response(ResponseCode.INTERNAL_ERROR, f"internal error: {e!r}")
        try:
            if response is not None:
                self.command_handler.results[response["response"]] += 1
                await self._reply(response)
        finally:
            self.telemetry.release()  # the devices' first lines follow the response

    async def close_client(self, **kwargs: Any) -> None:
        """Stop telemetry, close the socket, and finish closing the devices (PROTOCOL 1.5).

        The socket is closed while the devices are still stopping, so a reconnecting CSC is
        accepted at once (its ``configure`` waits for the old devices to be closed).
        ``handover=True`` (a takeover) keeps the devices running for the next client.
        """
        handover = kwargs.pop("handover", False)
        self.telemetry.clear()
        self._client_since = None
        if not handover:
            self.command_handler.begin_stop()
        await super().close_client(**kwargs)
        if not handover:
            await self.command_handler.stop_devices()

    async def replace_client(self) -> None:
        """Takeover (``server.on_new_client: replace``): the devices go on for the new client."""
        self.command_handler.handed_over = self.command_handler.started
        await self.close_client(handover=True)

    async def _monitor(self) -> None:
        """Once a second: the keep-alive line (PROTOCOL Appendix C) and the status LED."""
        node = self.node_config
        led = None
        if node.status_led_pin is not None:
            from ..devices.gpio import StatusLed

            led = StatusLed(node.status_led_pin)
        try:
            while True:
                await asyncio.sleep(MONITOR_INTERVAL)
                runners = self.command_handler.runners
                if self.connected and runners and self.telemetry.idle_seconds >= node.keepalive_seconds:
                    next((r for r in runners if r.failing), runners[0]).keepalive()
                if led is not None:
                    led.set_state("error" if any(r.failing for r in runners)
                                  else "streaming" if self.connected and runners else "serving")
        finally:
            if led is not None:
                led.close()

    async def close(self) -> None:
        if self._monitor_task is not None:
            self._monitor_task.cancel()
            await asyncio.gather(self._monitor_task, return_exceptions=True)
            self._monitor_task = None
        if self.side_servers is not None:
            await self.side_servers.close()
            self.side_servers = None
        if self._status_server is not None:
            await self._status_server.close()
            self._status_server = None
        await super().close()

    # --- additions -----------------------------------------------------------------------------

    async def on_client_connected(self) -> None:
        await super().on_client_connected()
        peer = self.writer.get_extra_info("peername") if self.writer is not None else None
        self._client_address = f"{peer[0]}:{peer[1]}" if peer else "?"
        self._client_since = time.time()
        self._rate = RateLimiter(self.node_config.max_commands_per_second)
        self.telemetry = self._new_telemetry()
        self.telemetry.attach(self.writer)
        if self.command_handler.handed_over:
            self.command_handler.hand_over(self.telemetry)

    def _new_telemetry(self) -> TelemetryQueue:
        """Fresh per-connection queues: nothing of a previous client's telemetry carries over."""
        return TelemetryQueue(asyncio.get_running_loop(), self.node_config.max_queue_per_device)

    def client_info(self) -> dict[str, Any] | None:
        if self._client_since is None or not self.connected:
            return None
        return {
            "address": self._client_address,
            "connected_since": self._client_since,
            "lines_sent": self.telemetry.lines_sent,
            "bytes_sent": self.telemetry.bytes_sent,
            "lines_dropped": self.telemetry.lines_dropped,
        }

    def schedule_close_client(self) -> None:
        """Close the client after the current command returns (``disconnect``)."""
        self._spawn(self.close_client())

    def schedule_exit(self) -> None:
        """Shut the whole server down after the current command returns (``exit``)."""
        self.exit_requested = True
        self._spawn(self.close())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _reply(self, response: dict[str, Any]) -> None:
        """Write a response through the telemetry queue's lock, so it never splits a telemetry line."""
        writer = self.writer
        if self.connected and writer is not None:
            self.telemetry.write_response(dumps_json(response).encode() + self.terminator)
            await writer.drain()
