"""Fixtures for the TCP layer tests: real sockets on loopback, debug-mode loop, leak checks."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from rpi_ess.tcpip import (
    HEARTBEAT_LINE,
    LOCALHOST_IPV4,
    LOCALHOST_IPV6,
    Client,
    LineTooLongError,
    OneClientReadLoopServer,
    OneClientServer,
    close_writer,
)

#: Generous limit for any single wait; the happy path takes milliseconds.
WAIT = 10.0


def ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind((LOCALHOST_IPV6, 0))
    except OSError:
        return False
    return True


HOSTS = [
    LOCALHOST_IPV4,
    pytest.param(LOCALHOST_IPV6, marks=pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback")),
]


class EchoServer(OneClientReadLoopServer):
    """Test server: echoes each line as received, counts heartbeats, reports over-long lines.

    ``boom`` raises inside the read loop; ``bye`` closes the client from inside it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.lines: list[bytes] = []
        self.heartbeats = 0
        super().__init__(*args, **kwargs)

    async def read_and_dispatch(self) -> None:
        try:
            line = await self.read_bounded_line()
        except LineTooLongError as e:
            await self.write_str(f"too long: {e.length}")
            return
        if line == HEARTBEAT_LINE:
            self.heartbeats += 1
            self.handle_received_heartbeat()
        elif line == b"boom\r\n":
            raise RuntimeError("boom requested")
        elif line == b"bye\r\n":
            await self.close_client()
        elif line:
            self.lines.append(line)
            await self.write(line)


class Edges:
    """A connect callback that records ``(class name, connected)`` per call; ``wait(n)`` for n calls."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bool]] = []
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def __call__(self, obj: Any) -> None:
        self.events.append((type(obj).__name__, obj.connected))
        for count, waiter in self._waiters:
            if len(self.events) >= count and not waiter.done():
                waiter.set_result(None)

    async def wait(self, count: int) -> None:
        if len(self.events) < count:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append((count, waiter))
            await asyncio.wait_for(waiter, WAIT)


@pytest.fixture
def edges() -> Edges:
    return Edges()


@pytest.fixture(autouse=True)
async def loop_checks() -> AsyncIterator[None]:
    """Debug-mode loop, and no task of the test may still be pending when it ends."""
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    leftover = [t for t in asyncio.all_tasks() if t not in before and t is not current and not t.done()]
    assert leftover == []


@pytest.fixture(params=HOSTS)
def host(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def started() -> AsyncIterator[Callable[[Any], Awaitable[Any]]]:
    """``await started(obj)``: wait for a server's or client's ``start_task``; closed at teardown."""
    objects: list[Any] = []

    async def start(obj: Any) -> Any:
        objects.append(obj)
        await asyncio.wait_for(obj.start_task, WAIT)
        return obj

    yield start
    for obj in reversed(objects):
        await obj.close()


@pytest.fixture
def make_server(started) -> Callable[..., Awaitable[Any]]:
    """``await make_server(host=..., cls=EchoServer, **kwargs)``: a started server on a free port."""

    def make(host: str | None = LOCALHOST_IPV4, cls: type[OneClientServer] = EchoServer, **kwargs: Any) -> Any:
        if issubclass(cls, OneClientReadLoopServer):
            kwargs.setdefault("max_heartbeat_interval", None)  # heartbeat tests switch it on
        return started(cls(host=host, port=0, name="test", **kwargs))

    return make


@pytest.fixture
def make_client(started) -> Callable[..., Awaitable[Client]]:
    """``await make_client(server, **kwargs)``: a ``Client`` connected to ``server``."""

    def make(server: OneClientServer, host: str | None = None, **kwargs: Any) -> Awaitable[Client]:
        return started(Client(host or server.host or LOCALHOST_IPV4, server.port, name="test", **kwargs))

    return make


@pytest.fixture
async def open_raw() -> AsyncIterator[Callable[..., Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]]:
    """``await open_raw(host, port)``: a bare asyncio connection, closed at teardown."""
    writers: list[asyncio.StreamWriter] = []

    async def connect(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), WAIT)
        writers.append(writer)
        return reader, writer

    yield connect
    for writer in writers:
        await close_writer(writer)


async def read_to_eof(reader: asyncio.StreamReader) -> bytes:
    """Everything the peer sends until it closes (raises TimeoutError if it never does)."""
    return await asyncio.wait_for(reader.read(), WAIT)


@pytest.fixture
def eof() -> Callable[[asyncio.StreamReader], Awaitable[bytes]]:
    return read_to_eof
