"""The CSC double against a scripted server: each rule of PROTOCOL 6 and Appendix C, on exact input.

Periods are scaled to tenths of a second; assertions are about counts and order, never about
how long one step took.
"""

from __future__ import annotations

import asyncio
import json
import math

from .conftest import telemetry_line, wait_until

A = {"name": "A", "sensor_type": "HX85A", "device_type": "Serial", "serial_port": "/dev/a", "baud_rate": 19200,
     "location": "here"}
B = {**A, "name": "B", "serial_port": "/dev/b"}
FAST = {"connect_timeout": 0.2, "read_timeout": 2.0, "max_error_state_period": 0.5, "rate_limit": 0.05,
        "heartbeat_interval": 0.1}


def forever(*lines: bytes, period: float = 0.05):
    async def script(_number, send):
        while True:
            for line in lines:
                await send(line)
            await asyncio.sleep(period)
    return script


async def test_configure_skips_early_telemetry_and_reads_nan(scripted, make_double):
    async def script(_number, send):
        for _ in range(5):
            await send(telemetry_line("A", values=[math.nan, 1.5, 2.5]))

    server = await scripted(script, before_response=[telemetry_line("A")])
    double = make_double(server.port, [A], **FAST)
    await wait_until(lambda: len(double.record.good("A")) == 5, what="five readings")
    assert server.configures == [{"devices": [A]}]
    assert double.record.skipped_while_configuring == 1
    assert math.isnan(double.record.good("A")[0].values[0])
    assert double.record.configured and not double.record.failures
    await wait_until(lambda: server.heartbeats >= 2, what="heartbeats")
    assert server.first_lines == [b"heartbeat\r\n"]  # the heartbeat goes out before configure


async def test_error_timer_raises_and_survives_reconnects(scripted, make_double):
    server = await scripted(forever(telemetry_line("B"), telemetry_line("A", code=10)))
    double = make_double(server.port, [A, B], **FAST)
    await wait_until(lambda: len(double.record.raises) >= 3, what="three raises")
    record = double.record
    assert {name for _, name in record.raises} == {"A"}
    failing = [a.time for a in record.lines["A"] if not a.ok]
    assert record.raises[0][0] - failing[0] > FAST["max_error_state_period"]
    # After every reconnect the first code-10 line of A raises at once: the timer was not reset.
    for configured, (raised, _) in zip(record.configured[1:], record.raises[1:], strict=False):
        assert [t for t in failing if configured <= t <= raised] == [raised]
    assert record.reconnects >= 2
    assert not double.faulted  # B's good lines reset the failure count after each reconnect


async def test_raise_on_the_first_line_after_each_reconnect_ends_in_fault(scripted, make_double):
    server = await scripted(forever(telemetry_line("A", code=10)))
    double = make_double(server.port, [A], **FAST)
    await wait_until(lambda: double.faulted, what="FAULT")
    assert len(double.record.raises) == 5
    assert double.record.reconnects == 4
    assert server.connections == 5


async def test_other_response_code_clears_the_timer(scripted, make_double):
    server = await scripted(forever(telemetry_line("A", code=10), telemetry_line("A", code=31)))
    double = make_double(server.port, [A], **FAST)
    await wait_until(lambda: double.now() > 4 * FAST["max_error_state_period"], what="four periods")
    assert not double.record.raises and double.record.reconnects == 0
    assert len(double.record.ignored_codes) >= 10


async def test_configure_refused_five_times_is_fault(scripted, make_double):
    server = await scripted(forever(), codes=lambda n: 11)
    double = make_double(server.port, [A], **FAST)
    await wait_until(lambda: double.faulted, what="FAULT")
    assert [code for _, code in double.record.configure_responses] == [11] * 5
    assert len(double.record.failures) == 5 and not double.record.configured


async def test_silence_longer_than_read_timeout_counts(scripted, make_double):
    async def silent(_number, _send):
        await asyncio.Event().wait()

    server = await scripted(silent)
    double = make_double(server.port, [A], **{**FAST, "read_timeout": 0.3})
    await wait_until(lambda: double.faulted, what="FAULT")
    assert len(double.record.configured) == 5
    assert all("TimeoutError" in cause for _, cause in double.record.failures)


async def test_schema_failures(scripted, make_double):
    no_name = json.dumps({"telemetry": {"timestamp": 1.0}}).encode() + b"\r\n"

    async def script(number, send):
        if number == 0:
            await send(telemetry_line("A", values=[]))  # minItems 1
            await send(telemetry_line("A", extra_key=1))  # additionalProperties false
            await send(telemetry_line("A", values=[None, 1.0, 2.0]))  # float(None) in the processor
            await send(telemetry_line("A", values=[1.0, 2.0]))  # the HX85A processor reads [2]
            await send(telemetry_line("Z"))  # unknown sensor: only an error of Z
            await send(no_name)  # an immediate read failure
        while True:
            await send(telemetry_line("A"))
            await asyncio.sleep(0.05)

    server = await scripted(script)
    double = make_double(server.port, [A], **FAST)
    await wait_until(lambda: len(double.record.configured) == 2
                     and double.record.good("A", since=double.record.configured[-1]), what="reconnect, good data")
    assert [a.ok for a in double.record.lines["A"][:4]] == [False] * 4
    assert [a.ok for a in double.record.lines["Z"]] == [False]
    assert len(double.record.failures) == 1 and "unparsable" in double.record.failures[0][1].lower()
    assert not double.record.raises


async def test_reads_at_most_one_line_per_rate_limit(scripted, make_double):
    async def flood(_number, send):
        for _ in range(2000):
            await send(telemetry_line("A"))
        await asyncio.Event().wait()

    server = await scripted(flood)
    double = make_double(server.port, [A], **{**FAST, "rate_limit": 0.1})
    await wait_until(lambda: len(double.record.good("A")) >= 10, what="ten readings")
    arrivals = double.record.good("A")
    span = arrivals[-1].time - arrivals[0].time
    assert span >= 0.1 * (len(arrivals) - 1) * 0.9  # each pass lasts at least rate_limit


async def test_temperature_reading_must_fill_its_channels(scripted, make_double):
    temperature = {**A, "name": "T", "sensor_type": "Temperature", "channels": 4}

    async def script(_number, send):
        await send(telemetry_line("T", values=[1.0, 2.0, 3.0]))
        await send(telemetry_line("T", values=[math.nan, 1.0, 2.0, 3.0]))

    server = await scripted(script)
    double = make_double(server.port, [temperature], **FAST)
    await wait_until(lambda: len(double.record.lines.get("T", [])) == 2, what="two lines")
    assert [a.ok for a in double.record.lines["T"]] == [False, True]
