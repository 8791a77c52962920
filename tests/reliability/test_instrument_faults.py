"""Instrument faults: each test breaks one pty instrument while a second one keeps streaming.

Every test asserts the same three things: the healthy device's lines keep arriving with no
gap, the client stays connected, and the broken device reports the fault (code 10) and
comes back with correct readings once the fault is gone.
"""

from __future__ import annotations

import asyncio

from rpi_ess.server.node_config import NodeConfig

from .conftest import (
    assert_contiguous,
    by_name,
    configure_line,
    numbers,
    serial_entry,
    telemetry_until,
    wait_until,
)

PERIOD = 0.02  # 50 lines/s per instrument


async def start(make_server, connect, make_instrument, faulty_period=None, **faulty_extra):
    """A server streaming a healthy instrument ``ok`` and the one under test, ``bad``."""
    server = await make_server(simulation_mode=0, node_config=NodeConfig(heartbeat_timeout=30.0))
    ok, _ = make_instrument("ok", PERIOD)
    bad, bad_source = make_instrument("bad", faulty_period)
    client = await connect(server.port)
    await client.send(configure_line(serial_entry("ok", ok.port), serial_entry("bad", bad.port, **faulty_extra)))
    assert (await client.response())[1] == {"response": 0}
    return server, client, bad, bad_source


async def collect(client, done):
    """Telemetry until ``done(lines)`` and at least 10 lines of the healthy instrument."""
    return await telemetry_until(client, lambda lines: done(lines) and len(by_name(lines, "ok")) >= 10)


def good_bad_after(lines, count):
    """True once ``bad`` has sent ``count`` good readings."""
    return len(by_name(lines, "bad", 0)) >= count


async def test_unplugged_mid_line(make_instrument, make_server, connect):
    server, client, bad, source = await start(make_server, connect, make_instrument)
    bad.write(source.next_bytes())  # the framer syncs on this line's terminator
    bad.write(source.next_bytes())
    await collect(client, lambda lines: good_bad_after(lines, 1))
    bad.write(source.next_bytes()[:9])  # half a line ...
    bad.unplug()  # ... then the cable is pulled
    down = await collect(client, lambda lines: by_name(lines, "bad", 10) != [])
    bad.replug()
    bad.start_stream(source.next_bytes, PERIOD)
    back = await collect(client, lambda lines: good_bad_after(lines, 3))
    lines = down + back
    assert_contiguous(by_name(lines, "ok"))
    (runner,) = [r for r in server.command_handler.runners if r.name == "bad"]
    assert runner.stats.reopens >= 1
    # The half line never became a reading: every good reading is a whole, correct line.
    good = by_name(lines, "bad", 0)
    assert all(t["sensor_telemetry"] == [float(numbers(t))] * 2 for t in good)
    assert server.connected


async def test_garbage_and_binary_bytes(make_instrument, make_server, connect):
    server, client, bad, source = await start(make_server, connect, make_instrument)
    bad.write(b"\r\n")  # sync
    junk = [bytes(range(256)), b"\x00" * 300, b"\xff\xfe\r\r\n\n\x1b[2J", b"C01=\xe9\xe8,C02=nan", b"==,,==",
            "C01=\u0663\u066b\u0665".encode(), b"\r" * 100]
    expected = []
    for chunk in junk:  # the instrument babbles, then recovers
        bad.write(chunk + b"\r\n")
        expected.append(source.next)
        bad.write(source.next_bytes())  # a good line right after the junk must survive it
    lines = await collect(client, lambda lines: expected[-1] in map(numbers, by_name(lines, "bad")))
    numbered = [t for t in by_name(lines, "bad", 0) if numbers(t) is not None]
    assert [numbers(t) for t in numbered if numbers(t) in expected] == expected
    assert all(t["sensor_telemetry"] == [float(numbers(t))] * 2 for t in numbered)
    assert_contiguous(by_name(lines, "ok"))
    assert server.connected


async def test_partial_lines_are_reassembled(make_instrument, make_server, connect):
    _, client, bad, source = await start(make_server, connect, make_instrument)
    bad.write(b"\r\n")
    wanted = source.next
    for piece in (source.line(wanted)[i:i + 3] for i in range(0, len(source.line(wanted)), 3)):
        bad.write(piece)
        await asyncio.sleep(0.03)  # dribbled out over several reads
    source.next += 1
    lines = await collect(client, lambda lines: good_bad_after(lines, 1))
    (reading,) = by_name(lines, "bad")
    assert reading["response_code"] == 0 and reading["sensor_telemetry"] == [float(wanted)] * 2
    assert_contiguous(by_name(lines, "ok"))


async def test_line_that_never_ends(make_instrument, make_server, connect):
    server, client, bad, source = await start(make_server, connect, make_instrument)
    bad.write(b"\r\n")
    (runner,) = [r for r in server.command_handler.runners if r.name == "bad"]
    framer = runner.device._reader.framer
    peak = 0
    for _ in range(64):  # 256 KiB without a terminator
        bad.write(b"7" * 4096)
        peak = max(peak, framer.pending)
        await asyncio.sleep(0)
    errors = await collect(client, lambda lines: by_name(lines, "bad", 10) != [])
    bad.write(b"\r\n" + source.next_bytes())
    back = await collect(client, lambda lines: good_bad_after(lines, 1))
    assert peak <= framer.max_length
    assert len(by_name(errors + back, "bad", 10)) == 1  # one error for the whole run, not one per chunk
    assert by_name(back, "bad", 0)[0]["sensor_telemetry"] == [float(source.next - 1)] * 2
    assert_contiguous(by_name(errors + back, "ok"))


async def test_instrument_stalls_and_resumes(make_instrument, make_server, connect):
    server, client, bad, source = await start(make_server, connect, make_instrument, PERIOD, silence_timeout=0.4)
    await collect(client, lambda lines: good_bad_after(lines, 2))
    bad.stop_stream()
    stalled = await collect(client, lambda lines: by_name(lines, "bad", 10) != [])
    (runner,) = [r for r in server.command_handler.runners if r.name == "bad"]
    await wait_until(lambda: runner.stats.state in ("silent", "reopening"), what="the stall to be noticed")
    bad.start_stream(source.next_bytes, PERIOD)
    back = await collect(client, lambda lines: good_bad_after(lines, 3))
    assert_contiguous(by_name(stalled + back, "ok"))
    assert_contiguous(by_name(back, "bad"))
    assert server.connected
