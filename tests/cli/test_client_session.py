"""``TelemetrySession`` on the wire, against a scripted peer that speaks the protocol byte for byte.

The real server never sends broken lines, so this peer is what lets the tests show how the
client copes with them; the peer records every byte the client sends, so the CSC-like
sequence (heartbeat first, then ``configure``) is checked on the wire.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest

from rpi_ess.cli.live import SessionError, TelemetrySession

DEVICES = [{"name": "T4", "sensor_type": "Temperature", "channels": 4, "device_type": "Serial",
            "serial_port": "/dev/ess/t4", "baud_rate": 19200}]
TELEMETRY = (b'{"telemetry": {"name": "T4", "timestamp": 1795534583.8971343, "response_code": 0, '
             b'"sensor_telemetry": [-7.465, -8.8741, NaN, -5.9879]}}\r\n')
WAIT = 30.0  # generous: CI machines are slow


class ScriptedServer:
    """Accepts one client, records its lines, and answers ``configure`` with scripted bytes."""

    def __init__(self, reply: bytes, close_after_reply: bool = False) -> None:
        self.reply = reply
        self.close_after_reply = close_after_reply
        self.received: list[bytes] = []
        self.configured = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.port = 0
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> ScriptedServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            while line := await reader.readline():
                self.received.append(line)
                if line.startswith(b"{") and b'"configure"' in line:
                    self.configured.set()
                    writer.write(self.reply)
                    await writer.drain()
                    if self.close_after_reply:
                        break
        finally:
            writer.close()
            await writer.wait_closed()


@pytest.fixture
async def session_factory() -> AsyncIterator:
    sessions: list[TelemetrySession] = []

    def make(port: int, **kwargs: object) -> TelemetrySession:
        session = TelemetrySession("127.0.0.1", port, DEVICES, response_timeout=WAIT, **kwargs)  # type: ignore[arg-type]
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        await session.close()


async def test_heartbeat_first_then_configure_and_early_telemetry_is_kept(session_factory) -> None:
    async with ScriptedServer(TELEMETRY + b'{"response": 0}\r\n' + TELEMETRY) as server:
        session = session_factory(server.port)
        await asyncio.wait_for(session.start(), WAIT)
        first = await asyncio.wait_for(anext(session), WAIT)
        second = await asyncio.wait_for(anext(session), WAIT)
    assert server.received[0] == b"heartbeat\r\n"
    command = next(line for line in server.received if line.startswith(b"{"))
    assert command.endswith(b"}\r\n")
    assert json.loads(command) == {"command": "configure", "parameters": {"configuration": {"devices": DEVICES}}}
    assert first.raw == second.raw == TELEMETRY[:-2].decode()
    assert first.values[:2] == [-7.465, -8.8741]


async def test_refused_configuration_names_code_and_message(session_factory) -> None:
    reply = b'{"response": 4, "message": "devices[0]: channels must be an integer"}\r\n'
    async with ScriptedServer(reply) as server:
        with pytest.raises(SessionError) as info:
            await asyncio.wait_for(session_factory(server.port).start(), WAIT)
    message = str(info.value)
    assert f"127.0.0.1:{server.port} refused the configuration" in message
    assert "response code 4 (INVALID_CONFIGURATION): devices[0]: channels must be an integer" in message


async def test_refusal_without_message_and_unknown_code(session_factory) -> None:
    async with ScriptedServer(b'{"response": 99}\r\n') as server:
        with pytest.raises(SessionError, match="response code 99: no explanation given"):
            await asyncio.wait_for(session_factory(server.port).start(), WAIT)


async def test_bad_lines_are_counted_and_skipped(session_factory) -> None:
    junk = (b"not json\r\n" b"[1, 2]\r\n" b'{"what": 1}\r\n' b'{"telemetry": {"timestamp": 1}}\r\n'
            b"\xff\xfe\r\n" b"\r\n" b'{"response": 0}\r\n')
    async with ScriptedServer(b'{"response": 0}\r\n' + junk + TELEMETRY) as server:
        session = session_factory(server.port)
        await asyncio.wait_for(session.start(), WAIT)
        telemetry = await asyncio.wait_for(anext(session), WAIT)
    assert telemetry.name == "T4"
    assert session.bad_lines == 6  # the stray response is logged, not counted


async def test_connection_lost_while_streaming(session_factory) -> None:
    async with ScriptedServer(b'{"response": 0}\r\n' + TELEMETRY, close_after_reply=True) as server:
        session = session_factory(server.port)
        await asyncio.wait_for(session.start(), WAIT)
        await asyncio.wait_for(anext(session), WAIT)
        with pytest.raises(SessionError, match=f"connection to 127.0.0.1:{server.port} lost: closed by the server"):
            await asyncio.wait_for(anext(session), WAIT)


async def test_connection_lost_before_the_response(session_factory) -> None:
    async with ScriptedServer(b"", close_after_reply=True) as server:
        with pytest.raises(SessionError, match="lost while waiting for the configure response"):
            await asyncio.wait_for(session_factory(server.port).start(), WAIT)


async def test_cannot_connect_names_address_and_reason(session_factory) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SessionError, match=f"cannot connect to 127.0.0.1:{port}: .*refused"):
        await asyncio.wait_for(session_factory(port).start(), WAIT)


async def test_no_response_in_time(session_factory) -> None:
    async with ScriptedServer(TELEMETRY) as server:
        session = TelemetrySession("127.0.0.1", server.port, DEVICES, response_timeout=0.5)
        try:
            with pytest.raises(SessionError, match=r"no configure response within 0\.5 s"):
                await asyncio.wait_for(session.start(), WAIT)
        finally:
            await session.close()
