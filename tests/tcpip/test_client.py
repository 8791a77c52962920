"""Client: connect errors name the address, heartbeats go out at once and stop cleanly."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from rpi_ess.tcpip import HEARTBEAT_LINE, LOCALHOST_IPV4, Client, OneClientServer

WAIT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCALHOST_IPV4, 0))
        return sock.getsockname()[1]


async def test_refused_connection_names_the_address() -> None:
    port = free_port()
    client = Client(LOCALHOST_IPV4, port, name="probe")
    with pytest.raises(ConnectionError, match=rf"probe: cannot connect to 127\.0\.0\.1:{port}"):
        await client.start_task
    assert not client.connected
    await client.close()
    assert client.done_task.done()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose listener's accept queue is full: the kernel ignores new SYNs, so connects hang."""
    listener = socket.socket()
    fillers: list[socket.socket] = []
    try:
        listener.bind((LOCALHOST_IPV4, 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            fillers.append(filler)
            try:
                filler.connect((LOCALHOST_IPV4, port))
            except BlockingIOError:
                pass
        yield port
    finally:
        for sock in [*fillers, listener]:
            sock.close()


async def test_connect_timeout_names_the_address(silent_port) -> None:
    client = Client(LOCALHOST_IPV4, silent_port, connect_timeout=0.3)
    try:
        await client.start_task
    except TimeoutError as e:
        assert f"127.0.0.1:{silent_port} within 0.3 s" in str(e)
    else:
        pytest.skip("this kernel accepted a connection beyond a full backlog")
    finally:
        await client.close()


async def test_close_while_connecting_cancels_the_attempt(silent_port) -> None:
    client = Client(LOCALHOST_IPV4, silent_port, connect_timeout=WAIT)
    await asyncio.sleep(0.05)
    if client.start_task.done():
        await client.close()
        pytest.skip("this kernel accepted a connection beyond a full backlog")
    await client.close()
    assert client.start_task.cancelled()
    assert client.done_task.done()


async def test_heartbeats_start_at_once_and_repeat(make_server, make_client) -> None:
    server = await make_server(cls=OneClientServer)
    client = await make_client(server, send_heartbeats=True, heartbeat_interval=0.01)
    await asyncio.wait_for(server.connected_task, WAIT)
    for _ in range(3):
        assert await asyncio.wait_for(server.readexactly(len(HEARTBEAT_LINE)), WAIT) == HEARTBEAT_LINE
    await client.close()
    assert client.heartbeat_task.done()
    assert await asyncio.wait_for(server.reader.read(), WAIT) == b""


async def test_heartbeats_stop_quietly_when_the_server_goes(make_server, make_client) -> None:
    server = await make_server(cls=OneClientServer)
    client = await make_client(server, send_heartbeats=True, heartbeat_interval=0.01)
    await asyncio.wait_for(server.connected_task, WAIT)
    await server.close()
    await asyncio.wait_for(client.heartbeat_task, WAIT)  # ends by itself, without an exception
    assert not client.connected


async def test_no_heartbeats_by_default(make_server, make_client) -> None:
    server = await make_server(cls=OneClientServer)
    client = await make_client(server)
    assert client.heartbeat_task is None
    await client.write_str("first")
    assert await asyncio.wait_for(server.read_str(), WAIT) == "first"
