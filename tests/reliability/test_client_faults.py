"""Client faults: silent, slow, vanishing, repeated and competing clients.

Each test checks that the server keeps serving (a new client can configure and receive
telemetry), that what a client could still receive is not lost, and that memory, file
descriptors, threads and tasks stay bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket

from rpi_ess.server.node_config import NodeConfig
from rpi_ess.server.telemetry import WRITE_BUFFER_LIMIT

from .conftest import (
    WAIT,
    Resources,
    assert_contiguous,
    by_name,
    client_gone,
    configure_line,
    numbers,
    raw_connect,
    received_until_closed,
    reset,
    serial_entry,
    settle_to,
    telemetry_until,
    wait_until,
)


def shrink_send_buffer(server) -> None:
    """Small kernel buffers (a Pi on a congested link): backpressure shows within a second."""
    server.writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)


async def received_before_close_or_first_line(reader: asyncio.StreamReader) -> bytes:
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n"), WAIT)
    except asyncio.IncompleteReadError as e:
        return e.partial
    except ConnectionResetError:
        return b""


async def status(path: str) -> dict:
    """The server's health report over its local status socket (no TCP slot needed)."""
    reader, writer = await asyncio.open_unix_connection(path)
    try:
        writer.write(b'{"command": "status", "parameters": {}}\r\n')
        return json.loads(await asyncio.wait_for(reader.readuntil(b"\r\n"), WAIT))["status"]
    finally:
        writer.close()
        await writer.wait_closed()


async def configured_client(server, connect, *devices, **kwargs):
    client = await connect(server.port, **kwargs)
    await client.send(configure_line(*devices))
    assert (await client.response())[1] == {"response": 0}
    return client


async def still_serves(server, connect, pty, lines: int):
    """A new client configures the instrument and gets ``lines`` consecutive readings."""
    client = await configured_client(server, connect, serial_entry("T", pty.port))
    assert_contiguous(await telemetry_until(client, lambda got: len(got) >= lines))
    return client


async def test_half_open_client_is_dropped_and_the_next_one_served(make_instrument, make_server, connect):
    server = await make_server(simulation_mode=0, node_config=NodeConfig(heartbeat_timeout=1.0))
    pty, _ = make_instrument("T", 0.01)
    silent = await configured_client(server, connect, serial_entry("T", pty.port), heartbeat=None)
    for _ in range(3):  # alive for a while, then it goes silent: no heartbeat, no reading, no FIN
        await silent.send(b"heartbeat\r\n")
        await asyncio.sleep(0.3)
    await wait_until(lambda: not server.connected and not server.command_handler.runners,
                     what="the silent client to be dropped and its devices stopped")
    await client_gone(server)
    await still_serves(server, connect, pty, 20)
    assert await silent.at_eof()


async def test_slow_reader_gets_newest_lines_bounded_memory_counted_drops(make_instrument, make_server, connect,
                                                                         tmp_path):
    queue_limit = 50
    sock_path = str(tmp_path / "status.sock")
    server = await make_server(simulation_mode=0, status_socket=sock_path,
                               node_config=NodeConfig(max_queue_per_device=queue_limit, heartbeat_timeout=30.0))
    fast, _ = make_instrument("fast", 0.002)
    slow, _ = make_instrument("slow", 0.2)
    client = await configured_client(server, connect, serial_entry("fast", fast.port),
                                      serial_entry("slow", slow.port), rcvbuf=4096)
    shrink_send_buffer(server)
    peaks = {"buffer": 0, "queue": 0}

    async def sample() -> None:
        while True:
            peaks["buffer"] = max(peaks["buffer"], server.writer.transport.get_write_buffer_size())
            peaks["queue"] = max(peaks["queue"], *(len(q._lines) for q in server.telemetry._queues))
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    client.writer.transport.pause_reading()  # the client reads nothing at all ...
    await asyncio.sleep(2.0)
    client.writer.transport.resume_reading()
    for _ in range(20):  # ... then one line every 0.1 s
        await client.line()
        await asyncio.sleep(0.1)
    report = await status(sock_path)
    lines = await telemetry_until(client, lambda lines: len(by_name(lines, "slow")) >= 20)  # then it catches up
    sampler.cancel()
    dropped = {d["name"]: d["dropped"] for d in report["devices"]}
    assert dropped["fast"] > 0 and report["client"]["lines_dropped"] == dropped["fast"]
    assert dropped["slow"] == 0
    assert peaks["queue"] <= queue_limit
    assert peaks["buffer"] < WRITE_BUFFER_LIMIT + 4096  # one round-robin batch over the limit at most
    got = [numbers(t) for t in by_name(lines, "fast")]
    assert got == sorted(set(got))  # oldest dropped, order kept, nothing duplicated
    assert_contiguous(by_name(lines, "slow"))  # the slow device lost nothing: round-robin, not first come
    assert server.connected


async def test_abrupt_disconnect_during_writes(make_instrument, make_server, connect):
    server = await make_server(simulation_mode=0, node_config=NodeConfig(heartbeat_timeout=30.0))
    pty, _ = make_instrument("T", 0.001)
    for _ in range(10):
        reader, writer = await raw_connect(server.port, rcvbuf=4096)
        writer.write(b"heartbeat\r\n" + configure_line(serial_entry("T", pty.port)))
        await reader.readuntil(b'{"response": 0}\r\n')
        writer.transport.pause_reading()
        shrink_send_buffer(server)
        await wait_until(lambda: server.writer is not None and server.writer.transport.get_write_buffer_size() > 0,
                         what="telemetry backed up in the server")
        await reset(writer)  # while the server is writing
        await client_gone(server)
    await still_serves(server, connect, pty, 50)


async def test_thousand_connect_disconnect_cycles_leak_nothing(make_instrument, make_server, connect):
    server = await make_server(simulation_mode=0)
    pty, _ = make_instrument("T", 0.01)
    config = configure_line(serial_entry("T", pty.port))

    async def cycle(i: int) -> None:
        reader, writer = await raw_connect(server.port)
        kind = i % 4
        if i % 50 == 3:  # now and then a full session: configure, telemetry, then gone
            writer.write(b"heartbeat\r\n" + config)
            await asyncio.wait_for(reader.readuntil(b'{"response": 0}\r\n'), WAIT)
            await asyncio.wait_for(reader.readuntil(b'{"telemetry": '), WAIT)
        elif kind == 1:
            writer.write(b"\x00\xff garbage {{{\r\n")
            await asyncio.wait_for(reader.readuntil(b"\r\n"), WAIT)
        elif kind == 2:
            writer.write(b'{"command": "status", "parameters": {}}\r\n')
            await asyncio.wait_for(reader.readuntil(b"\r\n"), WAIT)
        if kind == 3:
            await reset(writer)
        else:
            writer.close()
            await writer.wait_closed()
        await client_gone(server, interval=0.001)

    await cycle(3)  # warm up: executor threads, lazily imported modules
    await wait_until(lambda: not server.command_handler.runners, what="warm-up devices to stop")
    before = Resources.now()
    for i in range(1000):
        await cycle(i)
    await wait_until(lambda: not server.command_handler.runners, what="devices to stop")
    await settle_to(before)
    await still_serves(server, connect, pty, 10)


async def test_second_client_is_refused_and_the_first_loses_nothing(make_instrument, make_server, connect):
    server = await make_server(simulation_mode=0)
    pty, _ = make_instrument("T", 0.01)
    first = await configured_client(server, connect, serial_entry("T", pty.port))
    before = await telemetry_until(first, lambda lines: len(lines) >= 5)
    for _ in range(20):
        reader, writer = await raw_connect(server.port)
        writer.write(b"heartbeat\r\n" + configure_line(serial_entry("T", pty.port)))
        assert await received_until_closed(reader) == b""
        writer.close()
    after = await telemetry_until(first, lambda lines: len(lines) >= 20)
    assert_contiguous(before + after)
    assert [r.name for r in server.command_handler.runners] == ["T"]



def _disconnect_and_reconnect(port: int, rounds: int) -> int:
    """Blocking client in its own thread (really concurrent with the server); counts refusals."""
    refused = 0
    for _ in range(rounds):
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
            sock.sendall(b'{"command": "status", "parameters": {}}\r\n{"command": "disconnect", "parameters": {}}\r\n')
            received = b""
            try:
                while chunk := sock.recv(65536):
                    received += chunk
            except ConnectionResetError:
                pass
            refused += received == b""
    return refused


async def test_reconnect_right_after_disconnect_is_accepted(make_server):
    """A client that sees EOF after ``disconnect`` and reconnects at once must get the slot."""
    server = await make_server()
    refused = await asyncio.to_thread(_disconnect_and_reconnect, server.port, 200)
    assert refused == 0, f"{refused} of 200 immediate reconnects were refused"


async def test_reconnect_right_after_closing_is_accepted(make_server):
    """A client that closes its socket and reconnects at once (a restarted CSC) must get the slot."""
    server = await make_server()
    refused = 0
    for _ in range(20):
        reader, writer = await raw_connect(server.port)
        writer.write(b'{"command": "status", "parameters": {}}\r\n')
        await reader.readuntil(b"\r\n")
        writer.close()
        await writer.wait_closed()
        reader, writer = await raw_connect(server.port)  # before the server has seen the EOF
        writer.write(b'{"command": "status", "parameters": {}}\r\n')
        refused += await received_before_close_or_first_line(reader) == b""
        writer.close()
        with contextlib.suppress(ConnectionResetError):
            await writer.wait_closed()
        await client_gone(server)
    assert refused == 0, f"{refused} of 20 immediate reconnects were refused"


async def test_reconnect_right_after_a_reset_is_accepted(make_server):
    """A crashed CSC's reset and its new connection arrive back to back; the accept may run before
    the old socket's read event. The server must see the pending reset, not refuse the new client."""
    server = await make_server()
    for _ in range(5):
        reader, writer = await raw_connect(server.port)
        writer.write(b'{"command": "status", "parameters": {}}\r\n')
        await reader.readuntil(b"\r\n")
        server.writer.transport.pause_reading()  # the read loop cannot see what comes next
        await reset(writer)
        reader, writer = await raw_connect(server.port)
        writer.write(b'{"command": "status", "parameters": {}}\r\n')
        assert await received_before_close_or_first_line(reader) != b"", "refused after the old client's reset"
        writer.close()
        with contextlib.suppress(ConnectionResetError):
            await writer.wait_closed()
        await client_gone(server)


async def test_commands_pipelined_after_disconnect_leave_nothing_open(make_instrument, make_server):
    """``disconnect`` then ``configure`` in one packet: the configure may run or not, but no port stays open."""
    server = await make_server(simulation_mode=0)
    pty, _ = make_instrument("T", 0.01)
    await server.command_handler.status()  # warm up lazily created state
    before = Resources.now()
    for _ in range(5):
        reader, writer = await raw_connect(server.port)
        writer.write(b'{"command": "disconnect", "parameters": {}}\r\n' + configure_line(serial_entry("T", pty.port)))
        await received_until_closed(reader)
        writer.close()
        await writer.wait_closed()
        await client_gone(server)
    await wait_until(lambda: not server.command_handler.runners, what="devices to stop")
    await settle_to(before)
