"""Fixtures for the CSC double: a scripted wire server to test the double itself, and the double factory.

The real server and the pty instruments come from the reliability kit (``tests/reliability``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import pytest

from ..reliability.conftest import NumberedLines, make_instrument, make_server, serial_entry, wait_until
from .csc_double import CscDouble, CscTimings

__all__ = ["NumberedLines", "ScriptedServer", "make_instrument", "make_server", "serial_entry", "wait_until"]

#: Script of one connection: gets the connection's number (0, 1, ...) and a ``send`` for raw lines;
#: runs after the configure response and is cancelled when the client goes away.
Script = Callable[[int, Callable[[bytes], Awaitable[None]]], Awaitable[None]]


def telemetry_line(name: str, code: int = 0, values: Sequence[Any] | None = None, **extra: Any) -> bytes:
    """A telemetry line as the reference writes it (Python json, NaN as a bare token)."""
    body = {"name": name, "timestamp": 1.0, "response_code": code,
            "sensor_telemetry": list(values) if values is not None else [1.0, 2.0, 3.0], **extra}
    return json.dumps({"telemetry": body}).encode() + b"\r\n"


class ScriptedServer:
    """A one-client wire server that answers ``configure`` with ``codes[n]`` and then plays ``script``.

    It exists to test the double against exactly known input; it counts heartbeats and keeps
    every configure it received and the first line of each connection.
    """

    def __init__(self, script: Script, codes: Callable[[int], int] = lambda n: 0,
                 before_response: Sequence[bytes] = ()) -> None:
        self.script = script
        self.codes = codes
        self.before_response = before_response
        self.connections = 0
        self.heartbeats = 0
        self.configures: list[Mapping[str, Any]] = []
        self.first_lines: list[bytes] = []  # of each connection
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = self.connections
        self.connections += 1
        player: asyncio.Task[None] | None = None

        async def send(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        try:
            while line := await reader.readline():
                if len(self.first_lines) == number:
                    self.first_lines.append(line)
                if line == b"heartbeat\r\n":
                    self.heartbeats += 1
                    continue
                self.configures.append(json.loads(line)["parameters"]["configuration"])
                for early in self.before_response:
                    await send(early)
                code = self.codes(number)
                await send(json.dumps({"response": code}).encode() + b"\r\n")
                if code == 0 and player is None:
                    player = asyncio.create_task(self.script(number, send))
                    self._tasks.add(player)
                    player.add_done_callback(self._tasks.discard)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if player is not None:
                player.cancel()
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()


MakeScripted = Callable[..., Awaitable[ScriptedServer]]
MakeDouble = Callable[..., CscDouble]


@pytest.fixture
async def scripted() -> AsyncIterator[MakeScripted]:
    made: list[ScriptedServer] = []

    async def factory(script: Script, **kwargs: Any) -> ScriptedServer:
        server = ScriptedServer(script, **kwargs)
        await server.start()
        made.append(server)
        return server

    yield factory
    for server in made:
        await server.close()


@pytest.fixture
async def make_double() -> AsyncIterator[MakeDouble]:
    """``make_double(port, devices, **timings)``: a started CscDouble, stopped after the test."""
    made: list[CscDouble] = []

    def factory(port: int, devices: Sequence[Mapping[str, Any]], **timings: Any) -> CscDouble:
        double = CscDouble("127.0.0.1", port, devices, CscTimings(**timings))
        double.start()
        made.append(double)
        return double

    yield factory
    for double in made:
        await double.stop()
