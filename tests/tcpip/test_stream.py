"""Framing, JSON, binary and bounded-line reads over a real loopback connection."""

from __future__ import annotations

import asyncio
import ctypes
import math
import struct
import tracemalloc

import pytest

from rpi_ess.tcpip import Client, LineTooLongError, OneClientServer

WAIT = 10.0


class Sample(ctypes.LittleEndianStructure):
    _pack_ = 1
    _fields_ = [("code", ctypes.c_uint16), ("value", ctypes.c_double), ("tag", ctypes.c_char * 4)]


@pytest.fixture
def connect_pair(make_server, make_client, host):
    """``await connect_pair(**server_kwargs)``: a plain server (no read loop) and a connected client."""

    async def connect(**kwargs) -> tuple[OneClientServer, Client]:
        server = await make_server(host=host, cls=OneClientServer, **kwargs)
        client = await make_client(server)
        await asyncio.wait_for(server.connected_task, WAIT)
        return server, client

    return connect


@pytest.fixture
async def pair(connect_pair) -> tuple[OneClientServer, Client]:
    return await connect_pair()


@pytest.fixture
async def small(connect_pair) -> tuple[OneClientServer, Client]:
    """Like ``pair``, with a server that accepts lines of at most 16 bytes."""
    return await connect_pair(max_line_length=16)


async def test_bounded_line_splits_on_lf_and_keeps_cr(pair) -> None:
    server, client = pair
    await client.write(b"one\r\ntwo\nthree\r\n")
    assert [await server.read_bounded_line() for _ in range(3)] == [b"one\r\n", b"two\n", b"three\r\n"]


async def test_read_str_strips_exactly_the_terminator(pair) -> None:
    server, client = pair
    await client.write(b"a\rb\r\ntail \r\r\nplain\nx\r\n")
    assert await server.read_str() == "a\rb"
    assert await server.read_str() == "tail \r"
    assert await server.read_str() == "plain\nx"


async def test_write_str_and_write_json_end_with_crlf(pair) -> None:
    server, client = pair
    await server.write_str("hello")
    await server.write_json({"response": 0, "values": [1.5, math.nan, -math.inf], "name": "T"})
    assert await client.readuntil(b"\r\n") == b"hello\r\n"
    assert await client.readuntil(b"\r\n") == b'{"response": 0, "values": [1.5, NaN, -Infinity], "name": "T"}\r\n'


async def test_json_round_trip_with_non_finite_values(pair) -> None:
    server, client = pair
    await client.write_json({"v": [math.nan, math.inf, 2.0]})
    values = (await server.read_json())["v"]
    assert math.isnan(values[0])
    assert values[1:] == [math.inf, 2.0]


async def test_ctypes_structures_both_ways(pair) -> None:
    server, client = pair
    sent = [Sample(7, 21.5, b"abcd"), Sample(65535, -math.inf, b"z")]
    await client.write_from(*sent)
    received = [Sample(), Sample()]
    await server.read_into(*received)
    assert [(s.code, s.value, s.tag) for s in received] == [(7, 21.5, b"abcd"), (65535, -math.inf, b"z")]

    await server.write_from(received[0])
    raw = await client.readexactly(ctypes.sizeof(Sample))
    assert raw == struct.pack("<Hd4s", 7, 21.5, b"abcd")
    echoed = Sample.from_buffer_copy(raw)
    assert (echoed.code, echoed.value, echoed.tag) == (7, 21.5, b"abcd")


async def test_over_long_line_is_discarded_and_next_line_is_read(small) -> None:
    server, client = small
    await client.write(b"x" * 17 + b"\n" + b"y" * 15 + b"\r\n" + b"z" * 16 + b"\n" + b"w" * 40 + b"\r\nnext\r\n")
    with pytest.raises(LineTooLongError) as info:
        await server.read_bounded_line()
    assert info.value.length == 18
    assert await server.read_bounded_line() == b"y" * 15 + b"\r\n"  # exactly the limit, CR counted
    assert await server.read_bounded_line() == b"z" * 16 + b"\n"
    with pytest.raises(LineTooLongError, match="exceeds the limit of 16 bytes") as info:
        await server.read_bounded_line()
    assert info.value.length == 42
    assert await server.read_bounded_line() == b"next\r\n"


async def test_unterminated_last_line_is_returned_at_eof(pair) -> None:
    server, client = pair
    await client.write(b"tail")
    await client.close()
    assert await server.read_bounded_line() == b"tail"
    with pytest.raises(ConnectionError, match="not connected"):
        await server.read_bounded_line()


async def test_over_long_line_cut_by_eof_reports_bytes_seen(small) -> None:
    server, client = small
    await client.write(b"q" * 100)
    await client.close()
    with pytest.raises(LineTooLongError) as info:
        await server.read_bounded_line()
    assert info.value.length == 100


async def test_huge_line_without_lf_keeps_memory_bounded(connect_pair) -> None:
    server, client = await connect_pair(max_line_length=1024)
    chunk = b"\xff" * 65536
    total = 160 * len(chunk)  # 10 MiB

    async def send() -> None:
        for _ in range(160):
            await client.write(chunk)
        await client.write(b"\nafter\r\n")

    tracemalloc.start()
    try:
        _, error = await asyncio.wait_for(
            asyncio.gather(send(), server.read_bounded_line(), return_exceptions=True), 60
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(error, LineTooLongError)
    assert error.length == total + 1
    assert peak < total // 4
    assert await server.read_bounded_line() == b"after\r\n"


async def test_invalid_utf8_raises_and_the_stream_continues(pair) -> None:
    server, client = pair
    await client.write(b"\xff\xfe\r\nok\r\n")
    with pytest.raises(UnicodeDecodeError):
        await server.read_str()
    assert await server.read_str() == "ok"


async def test_helpers_raise_connection_error_when_not_connected(make_server) -> None:
    server = await make_server(cls=OneClientServer)
    assert not server.connected
    with pytest.raises(ConnectionError, match="not connected"):
        await server.read_str()
    with pytest.raises(ConnectionError, match="not connected"):
        await server.write_json({})
    with pytest.raises(ConnectionError, match="not connected"):
        await server.read_into(Sample())
