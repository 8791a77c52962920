"""Issue 13: ``server.on_new_client: replace``: a CSC that reconnects after a crash or a network drop
is served at once, and its instruments go on without being reopened.

The old client configured a streaming instrument and then went silent (no heartbeats, as a
crashed process whose socket is still open). The new one connects after
``takeover_idle_seconds``: it must be accepted at once (not after ``heartbeat_timeout``),
the old one closed, and the numbered lines must run on across the handover with at most
a line or two lost. The default ``reject`` (and ``replace`` while the client is active)
refuses the newcomer; the default case is tested in tests/server and tests/reliability.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from rpi_ess.server.node_config import NodeConfig

from .conftest import (
    assert_contiguous,
    configure_line,
    configured,
    numbers,
    received_until_closed,
    runner_of,
    serial_entry,
    telemetry_until,
    wait_until,
)

PERIOD = 0.1  # instrument line period
IDLE = 1.0  # takeover_idle_seconds
HEARTBEAT_TIMEOUT = 30.0  # far beyond the test: an acceptance is the takeover, not the old client's timeout
MAX_LOST = 2  # lines lost across the handover (the test's bound: ~2 periods)


def replace_node() -> NodeConfig:
    return NodeConfig(on_new_client="replace", takeover_idle_seconds=IDLE, heartbeat_timeout=HEARTBEAT_TIMEOUT,
                      allowed_clients=("127.0.0.1",))


async def read_until_closed(client: Any) -> list[dict[str, Any]]:
    """Telemetry of ``client`` until the server closes it."""
    lines: list[dict[str, Any]] = []
    try:
        while True:
            lines.append(await client.telemetry(timeout=HEARTBEAT_TIMEOUT))
    except (asyncio.IncompleteReadError, ConnectionError):
        return lines


async def silent_first_client(make_server: Any, connect: Any, make_instrument: Any) -> tuple[Any, Any, Any]:
    """A server streaming instrument T to a client that configured it and then sends nothing."""
    server = await make_server(simulation_mode=0, node_config=replace_node())
    pty, _ = make_instrument("T", PERIOD)
    first = await configured(server, connect, serial_entry("T", pty.port), heartbeat=None)
    return server, pty, first


async def take_over(server: Any, connect: Any, first: Any) -> tuple[Any, list[dict[str, Any]], float]:
    """After the idle time, a second client connects; the first one's telemetry until it was closed."""
    before = asyncio.create_task(read_until_closed(first))
    await asyncio.sleep(IDLE + 0.5)
    started = time.monotonic()
    second = await connect(server.port)
    old = await asyncio.wait_for(before, 10.0)
    return second, old, started


async def test_idle_client_is_replaced_and_telemetry_runs_on(make_server, connect, make_instrument):
    server, _, first = await silent_first_client(make_server, connect, make_instrument)
    runner = runner_of(server, "T")
    second, old, started = await take_over(server, connect, first)
    new = await telemetry_until(second, lambda lines: len(lines) >= 10)
    accepted_after = time.monotonic() - started
    # accepted at once: 10 lines at 10 Hz take ~1 s; the old client's heartbeat timeout is 30 s
    assert accepted_after < HEARTBEAT_TIMEOUT / 3, f"the new client waited {accepted_after:.1f} s"
    assert old, "the first client streamed before it went silent"
    assert_contiguous(old)
    assert_contiguous(new)
    lost = numbers(new[0]) - numbers(old[-1]) - 1
    assert 0 <= lost <= MAX_LOST, f"{lost} line(s) lost across the handover: {numbers(old[-1])}, {numbers(new[0])}"
    # the same device, never reopened, and no error line for the handover
    assert runner_of(server, "T") is runner and runner.stats.reopens == 0
    assert {t["response_code"] for t in old + new} == {0}


async def test_new_client_sending_the_same_configure_continues_the_devices(make_server, connect, make_instrument):
    server, pty, first = await silent_first_client(make_server, connect, make_instrument)
    runner = runner_of(server, "T")
    second, old, _ = await take_over(server, connect, first)
    await second.send(configure_line(serial_entry("T", pty.port)))  # what a restarted CSC sends
    lines = []
    while "response" not in (message := json.loads(await second.line())):
        lines.append(message["telemetry"])
    assert message == {"response": 0}
    lines += await telemetry_until(second, lambda more: len(more) >= 10)
    assert_contiguous(old + lines)  # nothing lost at the configure either
    assert numbers(lines[0]) - numbers(old[-1]) - 1 <= MAX_LOST
    assert runner_of(server, "T") is runner and runner.stats.reopens == 0


async def test_active_client_is_not_replaced(make_server, connect, make_instrument):
    """``replace`` takes over only an idle client: one that sends heartbeats keeps its place."""
    server = await make_server(simulation_mode=0, node_config=replace_node())
    pty, _ = make_instrument("T", PERIOD)
    first = await configured(server, connect, serial_entry("T", pty.port), heartbeat=0.2)
    before = await telemetry_until(first, lambda lines: len(lines) >= 5)
    await asyncio.sleep(IDLE + 0.5)
    second = await connect(server.port, heartbeat=None)
    await second.send(b"heartbeat\r\n")
    assert await received_until_closed(second.reader) == b"", "the second client is closed without a byte"
    after = await telemetry_until(first, lambda lines: len(lines) >= 10)
    assert_contiguous(before + after)
    await wait_until(lambda: server.connected, what="the first client to be still connected")


async def test_refused_address_never_takes_over(make_server, connect, make_instrument):
    """An address outside ``server.allowed_clients`` is refused even when the client is idle."""
    server, _, first = await silent_first_client(make_server, connect, make_instrument)
    before = await telemetry_until(first, lambda lines: len(lines) >= 3)
    await asyncio.sleep(IDLE + 0.5)
    try:  # another loopback address, outside the allow-list
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port, local_addr=("127.0.0.2", 0))
    except OSError as e:
        pytest.skip(f"cannot bind 127.0.0.2 here: {e}")
    writer.write(b"heartbeat\r\n" + configure_line(serial_entry("T", "/dev/null")))
    assert await received_until_closed(reader) == b""
    writer.close()
    after = await telemetry_until(first, lambda lines: len(lines) >= 5)
    assert_contiguous(before + after)  # the idle client was left alone
    assert server.connected
