"""OneClientReadLoopServer: heartbeat watchdog, per-client state, read-loop failures."""

from __future__ import annotations

import asyncio
import logging

from rpi_ess.tcpip import HEARTBEAT_LINE

WAIT = 10.0
#: Short watchdog settings so the tests run fast; assertions only use lower bounds.
MAX_SILENCE = 0.5
FAST = {"max_heartbeat_interval": MAX_SILENCE, "heartbeat_monitor_interval": 0.05}


async def test_silent_client_is_dropped_not_before_the_limit(make_server, open_raw, eof, host, caplog) -> None:
    loop = asyncio.get_running_loop()
    server = await make_server(host=host, **FAST)
    before_connect = loop.time()
    reader, _ = await open_raw(host, server.port)
    assert await eof(reader) == b""
    assert loop.time() - before_connect > MAX_SILENCE
    assert "No heartbeat for" in caplog.text


async def test_next_client_gets_a_fresh_grace_period(make_server, open_raw, eof) -> None:
    """Regression (PROTOCOL 8 item 2): the first client's silence must not shorten the second's."""
    loop = asyncio.get_running_loop()
    server = await make_server(**FAST)
    first, _ = await open_raw("127.0.0.1", server.port)
    await asyncio.wait_for(server.connected_task, WAIT)
    first_monitor = server.heartbeat_monitor_task
    assert await eof(first) == b""  # dropped for silence; its heartbeat time is now stale
    assert first_monitor.done()

    before_connect = loop.time()
    second, _ = await open_raw("127.0.0.1", server.port)
    await asyncio.wait_for(server.connected_task, WAIT)
    assert server.last_heartbeat_time >= before_connect
    assert server.heartbeat_monitor_task is not first_monitor
    assert await eof(second) == b""
    assert loop.time() - before_connect > MAX_SILENCE


async def test_heartbeating_client_stays_connected(make_server, make_client) -> None:
    server = await make_server(max_heartbeat_interval=1.0, heartbeat_monitor_interval=0.05)
    client = await make_client(server, send_heartbeats=True, heartbeat_interval=0.05)
    await asyncio.sleep(2.5)  # well past the limit
    assert server.connected
    assert server.heartbeats > 0
    await client.write_str("alive")
    assert await asyncio.wait_for(client.read_str(), WAIT) == "alive"
    assert server.lines == [b"alive\r\n"]


async def test_no_monitor_when_disabled(make_server, make_client) -> None:
    server = await make_server(max_heartbeat_interval=None)
    client = await make_client(server)
    await asyncio.wait_for(server.connected_task, WAIT)
    assert server.heartbeat_monitor_task is None
    await client.write(HEARTBEAT_LINE + b"x\r\n")
    assert await asyncio.wait_for(client.read_str(), WAIT) == "x"
    assert server.heartbeats == 1


async def test_handler_exception_closes_the_client_and_server_carries_on(
    make_server, make_client, caplog
) -> None:
    server = await make_server()
    client = await make_client(server)
    await client.write_str("boom")
    assert await asyncio.wait_for(client.reader.read(), WAIT) == b""
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert failures[0].exc_info is not None
    assert "boom requested" in caplog.text
    again = await make_client(server)
    await again.write_str("next")
    assert await asyncio.wait_for(again.read_str(), WAIT) == "next"


async def test_close_client_from_inside_the_read_loop(make_server, make_client, edges) -> None:
    server = await make_server(connect_callback=edges, **FAST)
    client = await make_client(server, send_heartbeats=True, heartbeat_interval=0.05)
    await client.write_str("bye")
    assert await asyncio.wait_for(client.reader.read(), WAIT) == b""
    await edges.wait(2)
    assert edges.events == [("EchoServer", True), ("EchoServer", False)]
    assert server.read_loop_task.done()
    assert server.heartbeat_monitor_task.done()


async def test_client_eof_frees_the_server_for_the_next_client(make_server, make_client) -> None:
    server = await make_server()
    first = await make_client(server)
    await first.write_str("one")
    assert await asyncio.wait_for(first.read_str(), WAIT) == "one"
    await first.close()
    second = await make_client(server)
    await asyncio.wait_for(server.connected_task, WAIT)
    await second.write_str("two")
    assert await asyncio.wait_for(second.read_str(), WAIT) == "two"
    assert server.lines == [b"one\r\n", b"two\r\n"]
