"""Raw instrument ports: several TCP readers share a pty instrument with the ESS stream."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from ..reliability.conftest import raw_connect
from .conftest import (
    WAIT,
    assert_contiguous,
    by_name,
    configure_line,
    node_config,
    serial_entry,
    telemetry_until,
    wait_until,
)


async def read_until(reader: asyncio.StreamReader, done: Any, timeout: float = WAIT) -> bytes:
    data = b""
    while not done(data):
        chunk = await asyncio.wait_for(reader.read(65536), timeout)
        assert chunk, "raw port closed"
        data += chunk
    return data


def whole_lines(data: bytes) -> list[bytes]:
    """The complete lines of a stream joined mid-line (the first and last pieces may be partial)."""
    return data.split(b"\r\n")[1:-1]


def assert_consecutive(stream: bytes) -> list[int]:
    """The NumberedLines numbers of a raw stream follow one another: nothing lost, nothing added."""
    numbers = [int(line.split(b"=")[1].split(b".")[0]) for line in whole_lines(stream)]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    return numbers


async def serve(make_server: Any, connect: Any, instrument: Any, **settings: Any) -> tuple[Any, Any, int]:
    server = await make_server(simulation_mode=0, node_config=node_config(raw_ports={"T1": 0}, **settings))
    client = await connect(server.port)
    await client.send(configure_line(serial_entry("T1", instrument.port)))
    assert (await client.response())[1]["response"] == 0
    return server, client, server.side_servers.raw_ports.ports[0].stats.port


async def test_several_readers_get_the_same_bytes_as_the_csc(make_server: Any, connect: Any,
                                                             make_instrument: Any) -> None:
    instrument, source = make_instrument("T1", period=0.01)
    _, client, port = await serve(make_server, connect, instrument)
    readers = [await raw_connect(port) for _ in range(3)]
    try:
        streams = await asyncio.gather(*(read_until(r, lambda d: len(whole_lines(d)) >= 20) for r, _ in readers))
        lines = await telemetry_until(client, lambda got: len(by_name(got, "T1", 0)) >= 20)
    finally:
        for _, writer in readers:
            writer.close()
    for stream in streams:
        numbers = assert_consecutive(stream)
        assert whole_lines(stream) == [source.line(n).rstrip(b"\r\n") for n in numbers]  # byte for byte
    assert_contiguous(by_name(lines, "T1")[2:])


async def test_read_only_port_discards_input(make_server: Any, connect: Any, make_instrument: Any) -> None:
    instrument, _ = make_instrument("T1", period=0.05)
    server, _, port = await serve(make_server, connect, instrument)
    reader, writer = await raw_connect(port)
    try:
        await read_until(reader, bool)
        writer.write(b"*RST\r\n")
        await writer.drain()
        await read_until(reader, lambda d: d.count(b"\r\n") >= 3)  # still served after the input
        assert await asyncio.to_thread(instrument.read, 0.5) == b""  # nothing reached the instrument
        assert server.side_servers.raw_ports.stats()["T1"]["bytes_written"] == 0
    finally:
        writer.close()


async def test_writable_port_reaches_the_instrument(make_server: Any, connect: Any, make_instrument: Any) -> None:
    instrument, _ = make_instrument("T1", period=0.05)
    server, _, port = await serve(make_server, connect, instrument, raw_ports_writable=["T1"])
    reader, writer = await raw_connect(port)
    try:
        await read_until(reader, bool)
        writer.write(b"*RST\r\n")
        await writer.drain()
        received = b""
        while b"*RST\r\n" not in received:
            received += await asyncio.to_thread(instrument.read, WAIT)
    finally:
        writer.close()
    assert server.side_servers.raw_ports.stats()["T1"]["bytes_written"] == 6


async def test_stuck_reader_loses_bytes_not_the_others(make_server: Any, connect: Any, make_instrument: Any) -> None:
    """A reader that never reads: its bytes are dropped and counted; the CSC and another reader get everything."""
    instrument, source = make_instrument("T1")
    instrument.start_stream(lambda: b"".join(source.next_bytes() for _ in range(50)), 0.01)  # ~175 KB/s
    server, client, port = await serve(make_server, connect, instrument)
    stuck = socket.socket()  # connected, never read: not even by an event loop's buffer
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    stuck.connect(("127.0.0.1", port))
    healthy, healthy_writer = await raw_connect(port)
    stats = server.side_servers.raw_ports.stats
    try:
        stream = await read_until(healthy, lambda d: len(whole_lines(d)) >= 3000, timeout=60)
        await wait_until(lambda: stats()["T1"]["dropped_bytes"] > 0)
        lines = await telemetry_until(client, lambda got: len(by_name(got, "T1", 0)) >= 100)
        assert stats()["T1"]["readers"] == 2  # the stuck reader is still served, just not everything
    finally:
        stuck.close()
        healthy_writer.close()
    assert_consecutive(stream)
    assert_contiguous(by_name(lines, "T1")[2:])


async def test_readers_stay_across_a_csc_reconnect(make_server: Any, connect: Any, make_instrument: Any) -> None:
    instrument, _ = make_instrument("T1", period=0.02)
    server, client, port = await serve(make_server, connect, instrument)
    reader, writer = await raw_connect(port)
    try:
        await read_until(reader, bool)
        await client.close()
        await wait_until(lambda: not server._has_client and not server.command_handler.runners)
        again = await connect(server.port)
        await again.send(configure_line(serial_entry("T1", instrument.port)))
        assert (await again.response())[1]["response"] == 0
        await read_until(reader, lambda d: len(whole_lines(d)) >= 3)  # bytes of the new device
    finally:
        writer.close()


async def test_raw_port_allow_list(make_server: Any, make_instrument: Any) -> None:
    server = await make_server(simulation_mode=0, node_config=node_config(raw_ports={"T1": 0},
                                                                          allowed_clients=("10.0.0.0/8",)))
    reader, writer = await raw_connect(server.side_servers.raw_ports.ports[0].stats.port)
    try:
        assert await asyncio.wait_for(reader.read(), WAIT) == b""  # closed at once
    finally:
        writer.close()
    assert server.side_servers.raw_ports.stats()["T1"]["readers"] == 0
