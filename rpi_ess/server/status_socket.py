"""Local status socket: health for ``rpi-ess diag`` while the CSC holds the one TCP slot.

A Unix stream socket (default ``$RUNTIME_DIRECTORY/status.sock``) that answers the
``status`` command, to any number of local clients, without heartbeats, and streams a
device's raw bytes for ``rpi-ess tap`` (``tap``, below). It never touches devices or the
CSC connection, so asking it cannot disturb the running service.

``{"command": "tap", "parameters": {"device": NAME, "max_bytes": N}}`` answers
``{"response": 0, "tap": {"device": NAME, "max_bytes": N}}`` (or an error), then one JSON
line per event until the client closes the connection:
``{"time": T, "dir": "rx"|"tx", "hex": "..."}`` (bytes seen by the reader thread),
``{"dropped_bytes": N}`` (the tap was too slow: N bytes were not shown, just before the next
bytes), ``{"attached": PORT}`` and ``{"detached": REASON}`` (the device was stopped or
configured again). The tap is read-only and bounded by ``max_bytes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..devices.monitor import Batch
from ..tcpip import dumps_json
from .commands import CommandError, error_response, parse_command
from .connections import Connections
from .response import ResponseCode
from .watch import Attached, Detached, DeviceWatch, find_runner

if TYPE_CHECKING:
    from .command_handler import CommandHandler

__all__ = ["StatusSocketServer", "default_status_socket_path"]

MAX_REQUEST = 4096
TAP_BYTES = 64 * 1024  # default buffer of one tap; a tap reading slower than its device drops beyond it
TAP_MAX_BYTES = 1 << 20


def default_status_socket_path() -> str:
    return str(Path(os.environ.get("RUNTIME_DIRECTORY", "/run/rpi-ess").split(":")[0]) / "status.sock")


class StatusSocketServer:
    def __init__(self, path: str, handler: CommandHandler, log: logging.Logger) -> None:
        self.path = path
        self.handler = handler
        self.log = log.getChild("status")
        self._server: asyncio.AbstractServer | None = None
        self._clients = Connections()

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # stale socket from a previous run
        self._server = await asyncio.start_unix_server(self._serve, self.path, limit=MAX_REQUEST)
        os.chmod(self.path, 0o660)
        self.log.info("Status socket at %s", self.path)

    async def close(self) -> None:
        await self._clients.close_all(self._server)
        self._server = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            while line := await reader.readline():
                answer, tap = self._answer(line.rstrip(b"\r\n"))
                await self._send(writer, answer)
                if tap is not None:
                    await self._tap(tap, reader, writer)
                    break
        except (ConnectionError, ValueError, asyncio.LimitOverrunError):
            pass  # request too long or peer gone: just drop this local client
        finally:
            await self._clients.discard(writer)

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
        writer.write(dumps_json(message).encode() + b"\r\n")
        await writer.drain()

    def _answer(self, line: bytes) -> tuple[dict[str, Any], DeviceWatch | None]:
        """The reply to one request, and the watch to stream if it was a valid ``tap``."""
        try:
            command, parameters = parse_command(line)
            if command == "status":
                return {"response": int(ResponseCode.OK), "status": self.handler.status_report()}, None
            if command == "tap":
                watch = self._new_tap(parameters)
                return {"response": int(ResponseCode.OK),
                        "tap": {"device": watch.name, "max_bytes": watch.max_bytes}}, watch
        except CommandError as e:
            return error_response(e.code, e.message), None
        return error_response(ResponseCode.UNKNOWN_COMMAND, "the status socket answers 'status' and 'tap'"), None

    def _new_tap(self, parameters: dict[str, Any]) -> DeviceWatch:
        device, size = parameters.get("device"), parameters.get("max_bytes", TAP_BYTES)
        if not isinstance(device, str) or set(parameters) - {"device", "max_bytes"}:
            raise CommandError(ResponseCode.INVALID_PARAMETERS, "tap takes 'device' (a name) and optional 'max_bytes'")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= TAP_MAX_BYTES:
            raise CommandError(ResponseCode.INVALID_PARAMETERS, f"tap max_bytes must be 1..{TAP_MAX_BYTES}")
        runners = self.handler.runners
        if find_runner(runners, device) is None:
            running = ", ".join(r.name for r in runners) or "none"
            why = "is not running" if any(r.name == device for r in runners) else "is not configured"
            raise CommandError(ResponseCode.NOT_CONFIGURED, f"device {device!r} {why} (running: {running})")
        return DeviceWatch(lambda: self.handler.runners, device, size)

    async def _tap(self, watch: DeviceWatch, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Stream the watch's events until the client closes its side (or sends anything, or goes away)."""
        self.log.info("Tap on %s attached", watch.name)
        pump = asyncio.ensure_future(self._pump(watch, writer))
        try:
            await reader.read(MAX_REQUEST)
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
            self.log.info("Tap on %s detached", watch.name)

    @staticmethod
    async def _pump(watch: DeviceWatch, writer: asyncio.StreamWriter) -> None:
        async for event in watch.events():
            writer.write(b"".join(dumps_json(m).encode() + b"\r\n" for m in _tap_messages(event)))
            await writer.drain()  # a slow tap waits here while its subscription drops


def _tap_messages(event: Attached | Batch | Detached) -> list[dict[str, Any]]:
    if isinstance(event, Attached):
        return [{"attached": event.port}]
    if isinstance(event, Detached):
        return [{"detached": event.reason}]
    messages: list[dict[str, Any]] = [{"dropped_bytes": event.dropped_bytes}] if event.dropped_bytes else []
    messages += [{"time": c.time, "dir": c.direction, "hex": c.data.hex()} for c in event.chunks]
    return messages
