"""Local status socket: health for ``rpi-ess diag`` while the CSC holds the one TCP slot.

A Unix stream socket (default ``$RUNTIME_DIRECTORY/status.sock``) that answers only the
``status`` command, to any number of local clients, without heartbeats. It never touches
devices or the CSC connection, so asking it cannot disturb the running service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..tcpip import dumps_json
from .commands import CommandError, error_response, parse_command
from .response import ResponseCode

if TYPE_CHECKING:
    from .command_handler import CommandHandler

__all__ = ["StatusSocketServer", "default_status_socket_path"]

MAX_REQUEST = 4096


def default_status_socket_path() -> str:
    return str(Path(os.environ.get("RUNTIME_DIRECTORY", "/run/rpi-ess").split(":")[0]) / "status.sock")


class StatusSocketServer:
    def __init__(self, path: str, handler: CommandHandler, log: logging.Logger) -> None:
        self.path = path
        self.handler = handler
        self.log = log.getChild("status")
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # stale socket from a previous run
        self._server = await asyncio.start_unix_server(self._serve, self.path, limit=MAX_REQUEST)
        os.chmod(self.path, 0o660)
        self.log.info("Status socket at %s", self.path)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            while line := await reader.readline():
                writer.write(dumps_json(self._answer(line.rstrip(b"\r\n"))).encode() + b"\r\n")
                await writer.drain()
        except (ConnectionError, ValueError, asyncio.LimitOverrunError):
            pass  # request too long or peer gone: just drop this local client
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            command, _ = parse_command(line)
        except CommandError as e:
            return error_response(e.code, e.message)
        if command != "status":
            return error_response(ResponseCode.UNKNOWN_COMMAND, "the status socket only answers 'status'")
        return {"response": int(ResponseCode.OK), "status": self.handler.status_report()}
