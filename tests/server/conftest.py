"""A raw-socket client speaking the wire protocol byte for byte, and a server fixture."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import pytest

from rpi_ess.server.node_config import NodeConfig


class WireClient:
    """Like the CSC: heartbeats every ``interval`` seconds, JSON commands, CRLF lines."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._heartbeat: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, port: int, heartbeat: float | None = 0.2, host: str = "127.0.0.1") -> WireClient:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        client = cls(reader, writer)
        if heartbeat:
            client._heartbeat = asyncio.create_task(client._beat(heartbeat))
        return client

    async def _beat(self, interval: float) -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                self.writer.write(b"heartbeat\r\n")
                await self.writer.drain()
                await asyncio.sleep(interval)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def command(self, command: str, **parameters: Any) -> None:
        await self.send(json.dumps({"command": command, "parameters": parameters}).encode() + b"\r\n")

    async def line(self, timeout: float = 10.0) -> bytes:
        return await asyncio.wait_for(self.reader.readuntil(b"\r\n"), timeout)

    async def response(self, timeout: float = 10.0) -> tuple[bytes, dict[str, Any]]:
        """Next response line, skipping telemetry (as the CSC does)."""
        while True:
            raw = await self.line(timeout)
            message = json.loads(raw)
            if "response" in message:
                return raw, message

    async def telemetry(self, timeout: float = 10.0) -> dict[str, Any]:
        while True:
            message = json.loads(await self.line(timeout))
            if "telemetry" in message:
                return message["telemetry"]

    async def at_eof(self, timeout: float = 10.0) -> bool:
        """True once the server closed the connection (telemetry still in flight is skipped)."""
        try:
            while await asyncio.wait_for(self.reader.read(65536), timeout):
                pass
        except ConnectionError:
            pass
        return True

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@pytest.fixture
async def make_server():
    from rpi_ess.server.socket_server import SocketServer

    servers: list[Any] = []

    async def factory(simulation_mode: int = 1, node_config: NodeConfig | None = None, **kwargs: Any) -> Any:
        server = SocketServer(name="test", host="127.0.0.1", port=0, log=logging.getLogger("test.server"),
                              simulation_mode=simulation_mode, node_config=node_config, **kwargs)
        servers.append(server)
        await server.start_task
        return server

    yield factory
    for server in servers:
        await server.close()


@pytest.fixture
async def clients():
    opened: list[WireClient] = []

    async def factory(port: int, **kwargs: Any) -> WireClient:
        client = await WireClient.connect(port, **kwargs)
        opened.append(client)
        return client

    yield factory
    for client in opened:
        await client.close()
