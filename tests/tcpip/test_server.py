"""OneClientServer: binding, one client at a time, filtering, callbacks, clean shutdown."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from rpi_ess.tcpip import LOCALHOST_IPV4, Client, OneClientServer

WAIT = 10.0


async def echo(client: Client, text: str) -> str:
    await client.write_str(text)
    return await asyncio.wait_for(client.read_str(), WAIT)


async def test_port_zero_reports_the_bound_port(make_server, make_client, host) -> None:
    server = await make_server(host=host)
    assert server.port != 0
    assert {sock.getsockname()[1] for sock in server.server.sockets} == {server.port}
    client = await make_client(server)
    assert await echo(client, "ping") == "ping"


async def test_all_interfaces_share_one_port(make_server, make_client, host) -> None:
    server = await make_server(host=None)
    assert {sock.getsockname()[1] for sock in server.server.sockets} == {server.port}
    client = await make_client(server, host=host)
    assert await echo(client, "any") == "any"


async def test_accepted_socket_gets_keepalive_and_nodelay(make_server, make_client) -> None:
    server = await make_server()
    await make_client(server)
    await asyncio.wait_for(server.connected_task, WAIT)
    sock = server.writer.get_extra_info("socket")
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    if hasattr(socket, "TCP_KEEPIDLE"):
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 60
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 4
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 15


async def test_second_client_is_closed_silently_and_first_keeps_working(
    make_server, make_client, open_raw, eof, host, caplog
) -> None:
    caplog.set_level(logging.INFO)
    server = await make_server(host=host)
    first = await make_client(server)
    await asyncio.wait_for(server.connected_task, WAIT)
    reader, writer = await open_raw(host, server.port)
    writer.write(b"hello?\r\n")
    assert await eof(reader) == b""
    rejected = [r for r in caplog.records if r.getMessage().startswith("Rejecting connection from")]
    assert len(rejected) == 1
    assert rejected[0].levelno == logging.INFO
    assert "a client is already connected" in rejected[0].getMessage()
    assert server.connected
    assert await echo(first, "still here") == "still here"
    assert server.lines == [b"still here\r\n"]


async def test_client_filter_sees_the_peer_host(make_server, make_client, host) -> None:
    seen: list[str] = []

    def only_this_host(peer: str) -> bool:
        seen.append(peer)
        return peer == host

    server = await make_server(host=host, client_filter=only_this_host)
    client = await make_client(server)
    assert await echo(client, "allowed") == "allowed"
    assert seen == [host]


async def test_client_filter_rejects_with_a_warning(make_server, make_client, open_raw, eof, host, caplog) -> None:
    server = await make_server(host=host, client_filter=lambda peer: False)
    reader, _ = await open_raw(host, server.port)
    assert await eof(reader) == b""
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("not allowed by client_filter" in message for message in warnings)
    assert not server.connected_task.done()


async def test_failing_client_filter_rejects(make_server, open_raw, eof, caplog) -> None:
    def broken(peer: str) -> bool:
        raise RuntimeError("filter bug")

    server = await make_server(client_filter=broken)
    reader, _ = await open_raw(LOCALHOST_IPV4, server.port)
    assert await eof(reader) == b""
    assert "client_filter failed" in caplog.text


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_connect_callback_on_both_edges(make_server, make_client, edges, kind) -> None:
    async def record_async(obj: object) -> None:
        await asyncio.sleep(0)
        edges(obj)

    callback = edges if kind == "sync" else record_async
    server = await make_server(connect_callback=callback)
    client = await make_client(server, connect_callback=callback)
    await asyncio.wait_for(server.connected_task, WAIT)
    assert await echo(client, "x") == "x"
    await client.close()
    await edges.wait(4)
    assert sorted(edges.events) == [("Client", False), ("Client", True), ("EchoServer", False), ("EchoServer", True)]
    assert edges.events.index(("EchoServer", True)) < edges.events.index(("EchoServer", False))


async def test_failing_connect_callback_is_logged_not_raised(make_server, make_client, caplog) -> None:
    def broken(obj: object) -> None:
        raise RuntimeError("callback bug")

    server = await make_server(connect_callback=broken)
    client = await make_client(server)
    assert await echo(client, "fine") == "fine"
    assert "connect_callback failed" in caplog.text


async def test_connected_task_is_rearmed_for_the_next_client(make_server, make_client, edges) -> None:
    server = await make_server(connect_callback=edges)
    client = await make_client(server)
    await asyncio.wait_for(server.connected_task, WAIT)
    await client.close()
    await edges.wait(2)
    assert not server.connected_task.done()
    again = await make_client(server)
    await asyncio.wait_for(server.connected_task, WAIT)
    assert await echo(again, "second") == "second"


async def test_close_ends_the_client_and_everything_it_started(make_server, make_client) -> None:
    server = await make_server(max_heartbeat_interval=30)
    client = await make_client(server, send_heartbeats=True, heartbeat_interval=0.05)
    assert await echo(client, "x") == "x"
    tasks = [server.read_loop_task, server.heartbeat_monitor_task, client.heartbeat_task]
    await server.close()
    assert server.done_task.done()
    assert all(task.done() for task in tasks[:2])
    assert await asyncio.wait_for(client.reader.read(), WAIT) == b""
    await client.close()
    assert client.done_task.done()
    assert tasks[2].done()
    await server.close()  # idempotent
    await client.close()


async def test_close_from_inside_the_disconnect_callback(make_server, make_client) -> None:
    async def close_on_disconnect(server: OneClientServer) -> None:
        if not server.connected:
            await server.close()

    server = await make_server(connect_callback=close_on_disconnect)
    client = await make_client(server)
    await asyncio.wait_for(server.connected_task, WAIT)
    await client.close()
    await asyncio.wait_for(server.done_task, WAIT)
    with pytest.raises(ConnectionError):
        await Client(LOCALHOST_IPV4, server.port, connect_timeout=WAIT).start_task


async def test_close_before_start_completes() -> None:
    server = OneClientServer(LOCALHOST_IPV4, 0)
    await server.close()
    assert server.done_task.done()
    assert server.start_task.cancelled()
