"""The wire side of ``demo`` and ``client``: one connection to a server, used like the CSC uses it."""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import math
import os
import socket
import time
from collections.abc import Mapping
from typing import Any

from ...tcpip import Client
from .wire import Telemetry, describe_code, parse_telemetry

__all__ = ["SessionError", "TelemetrySession"]

log = logging.getLogger(__name__)


class SessionError(Exception):
    """A failure the user has to see; the message names the server and the reason."""


def _reason(error: BaseException) -> str:
    """A short human reason for a socket error, from the innermost cause (the OS's words)."""
    while error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, OSError) and not isinstance(error, socket.gaierror) and error.errno and error.errno > 0:
        return os.strerror(error.errno)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if isinstance(error, (EOFError, ConnectionError)):
        return "closed by the server"
    return str(error) or type(error).__name__


class TelemetrySession:
    """One connection to an ESS server, used exactly like the CSC uses it (PROTOCOL 6.2).

    ``start()`` connects (heartbeats every second from the first moment) and sends
    ``configure``; iterating yields :class:`Telemetry`, including lines that arrived before
    the ``configure`` response. ``rate_limit`` makes every read pass last at least that many
    seconds, like the CSC's ``rate_limit``, to try a server against a slow reader.
    """

    def __init__(
        self,
        host: str,
        port: int,
        devices: list[dict[str, Any]],
        *,
        connect_timeout: float = 10.0,
        response_timeout: float = 60.0,
        rate_limit: float = 0.0,
    ) -> None:
        self.host = host
        self.port = port
        self.devices = devices
        self.connect_timeout = connect_timeout
        self.response_timeout = response_timeout
        self.rate_limit = rate_limit
        #: lines that were neither a response nor telemetry attributable to a device
        self.bad_lines = 0
        #: this end's address as the server sees it on a direct route (set on connect)
        self.local_host = ""
        self._client: Any = None
        self._pending: collections.deque[Telemetry] = collections.deque()
        self._last_read = -math.inf

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        await self.connect()
        await self.configure()

    async def connect(self) -> None:
        self._client = Client(
            self.host,
            self.port,
            log,
            name="rpi-ess client",
            send_heartbeats=True,
            heartbeat_interval=1.0,
            connect_timeout=self.connect_timeout,
        )
        try:
            await self._client.start_task
        except TimeoutError as e:
            raise SessionError(f"cannot connect to {self.address}: no answer within {self.connect_timeout:g} s") from e
        except OSError as e:
            raise SessionError(f"cannot connect to {self.address}: {_reason(e)}") from e
        self.local_host = self._client.writer.get_extra_info("sockname")[0]
        log.info("connected to %s from %s", self.address, self.local_host)

    async def configure(self) -> None:
        """Send ``configure`` and wait for its response, keeping telemetry that comes first."""
        try:
            async with asyncio.timeout(self.response_timeout):
                response = await self._send_configure()
        except TimeoutError:
            raise SessionError(
                f"server {self.address} sent no configure response within {self.response_timeout:g} s"
            ) from None
        except SessionError as e:
            raise SessionError(f"{e} ({self._immediate_close_causes()})") from e
        self._check_response(response)

    def _immediate_close_causes(self) -> str:
        """Both reasons a server closes a new connection before answering (PROTOCOL 1.3, node allow-list)."""
        return (f"a server closes a new connection at once when it already has a client, or when this "
                f"client's address {self.local_host} is not in its server.allowed_clients")

    async def _send_configure(self) -> Mapping[str, Any]:
        command = {"command": "configure", "parameters": {"configuration": {"devices": self.devices}}}
        try:
            await self._client.write_json(command)
        except (OSError, EOFError) as e:
            raise SessionError(f"connection to {self.address} lost while sending configure: {_reason(e)}") from e
        while True:
            line = await self._read_message(" while waiting for the configure response")
            if line is None:
                continue
            raw, message = line
            if "response" in message:
                return message
            telemetry = self._telemetry(raw, message)
            if telemetry is not None:
                self._pending.append(telemetry)

    def _check_response(self, message: Mapping[str, Any]) -> None:
        problem = describe_code(message["response"])
        if problem is None:
            log.info("configured %d devices on %s", len(self.devices), self.address)
            return
        detail = message.get("message") or "no explanation given"
        raise SessionError(f"server {self.address} refused the configuration: response {problem}: {detail}")

    def _telemetry(self, raw: str, message: Mapping[str, Any]) -> Telemetry | None:
        if "telemetry" not in message:
            self._bad(f"neither response nor telemetry: {raw!r}")
            return None
        try:
            return parse_telemetry(message, raw)
        except ValueError as e:
            self._bad(f"{e}: {raw!r}")
            return None

    def _bad(self, why: str) -> None:
        self.bad_lines += 1
        log.warning("unexpected line from %s: %s", self.address, why)

    async def _read_message(self, context: str = "") -> tuple[str, dict[str, Any]] | None:
        """Read one line and decode it; None if it was not a JSON object (logged and counted)."""
        try:
            raw = await self._client.read_str()
        except UnicodeDecodeError as e:
            self._bad(f"not UTF-8: {e}")
            return None
        except asyncio.LimitOverrunError as e:  # the stream cannot be resynchronised
            raise SessionError(f"{self.address} sent a line longer than this client accepts{context}") from e
        except (OSError, EOFError) as e:
            raise SessionError(f"connection to {self.address} lost{context}: {_reason(e)}") from e
        try:
            message = json.loads(raw)
        except ValueError:
            self._bad(f"not JSON: {raw!r}")
            return None
        if not isinstance(message, dict):
            self._bad(f"not a JSON object: {raw!r}")
            return None
        return raw, message

    def __aiter__(self) -> TelemetrySession:
        return self

    async def __anext__(self) -> Telemetry:
        if self._pending:
            return self._pending.popleft()
        while True:
            if self.rate_limit > 0:
                await asyncio.sleep(max(0.0, self._last_read + self.rate_limit - time.monotonic()))
                self._last_read = time.monotonic()
            line = await self._read_message()
            if line is None:
                continue
            raw, message = line
            if "response" in message:
                log.warning("%s sent a response with no command pending: %s", self.address, raw)
                continue
            telemetry = self._telemetry(raw, message)
            if telemetry is not None:
                return telemetry

    async def close(self) -> None:
        """Close the connection like the CSC does: no ``disconnect``, just close the socket."""
        if self._client is not None:
            await self._client.close()
