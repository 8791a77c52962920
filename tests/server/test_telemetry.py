"""Telemetry line format and the per-device queues to a real (loopback) socket."""

import asyncio
import json
import math
import os
import socket

from rpi_ess.server.telemetry import TelemetryQueue, encode_telemetry


def test_line_is_exactly_the_reference_format():
    line = encode_telemetry(json.dumps("T4"), 1795534583.8971343, 0, [-7.465, math.nan, 32.0, 3])
    assert line == (b'{"telemetry": {"name": "T4", "timestamp": 1795534583.8971343, "response_code": 0, '
                    b'"sensor_telemetry": [-7.465, NaN, 32.0, 3]}}\r\n')
    decoded = json.loads(line)
    assert list(decoded["telemetry"]) == ["name", "timestamp", "response_code", "sensor_telemetry"]


async def socket_pair():
    accepted: asyncio.Future = asyncio.get_running_loop().create_future()

    async def on_client(reader, writer):
        accepted.set_result((reader, writer))

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client_reader, client_writer = await asyncio.open_connection("127.0.0.1", port)
    _, server_writer = await accepted
    return server, server_writer, client_reader, client_writer


async def close_all(server, *writers):
    for writer in writers:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass
    server.close()
    await server.wait_closed()


async def test_lines_from_threads_arrive_in_order_per_device():
    server, server_writer, client_reader, client_writer = await socket_pair()
    queue = TelemetryQueue(asyncio.get_running_loop())
    queue.attach(server_writer)
    a, b = queue.add_device("A"), queue.add_device("B")

    def produce(device, name):
        for i in range(100):
            device.push(encode_telemetry(json.dumps(name), float(i), 0, [i]))

    await asyncio.gather(asyncio.to_thread(produce, a, "A"), asyncio.to_thread(produce, b, "B"))
    seen = {"A": [], "B": []}
    while len(seen["A"]) + len(seen["B"]) < 200:
        line = await asyncio.wait_for(client_reader.readuntil(b"\r\n"), 10)
        telemetry = json.loads(line)["telemetry"]
        seen[telemetry["name"]].append(telemetry["sensor_telemetry"][0])
    assert seen == {"A": list(range(100)), "B": list(range(100))}
    assert queue.lines_sent == 200 and queue.lines_dropped == 0
    queue.clear()
    await close_all(server, server_writer, client_writer)


async def test_slow_client_keeps_newest_lines_and_counts_drops():
    server, server_writer, client_reader, client_writer = await socket_pair()
    queue = TelemetryQueue(asyncio.get_running_loop(), max_per_device=5)
    fast, slow = queue.add_device("Fast"), queue.add_device("Slow")
    # No writer attached yet: lines wait in the bounded queues, as with a client that does not read.
    for i in range(50):
        fast.push(encode_telemetry('"Fast"', float(i), 0, [i]))
    slow.push(encode_telemetry('"Slow"', 0.0, 0, [0]))
    assert fast.dropped == 45 and slow.dropped == 0 and queue.lines_dropped == 45
    queue.attach(server_writer)
    lines = [json.loads(await asyncio.wait_for(client_reader.readuntil(b"\r\n"), 10))["telemetry"]
             for _ in range(6)]
    # round-robin: the slow device is not starved behind the fast one
    assert lines[1]["name"] == "Slow"
    assert [t["sensor_telemetry"][0] for t in lines if t["name"] == "Fast"] == [45, 46, 47, 48, 49]
    queue.clear()
    await close_all(server, server_writer, client_writer)


async def test_direct_sends_from_threads_never_split_or_reorder_lines(monkeypatch):
    """Threads send straight to the socket until it fills; then partial sends, queued lines and
    responses must still come out as whole lines, in order per device."""
    server, server_writer, client_reader, client_writer = await socket_pair()
    # tiny socket buffers: direct sends soon become partial, then blocked
    server_writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    client_writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    queue = TelemetryQueue(asyncio.get_running_loop(), max_per_device=50)
    queue.attach(server_writer)
    devices = [queue.add_device(name) for name in ("A", "B", "C")]
    partial_sends = []
    real_write = os.write

    def counting_write(fd, data):
        if len(partial_sends) < 50 and data[:1] == b"{":  # force some half-sent lines as well
            partial_sends.append(real_write(fd, data[: len(data) // 2]))
            return partial_sends[-1]
        return real_write(fd, data)

    monkeypatch.setattr("rpi_ess.server.telemetry.os.write", counting_write)
    padding = [1.5] * 40  # long lines fill the socket buffers quickly

    def produce(device):
        for i in range(3000):
            device.push(encode_telemetry(json.dumps(device.name), float(i), 0, [i, *padding]))

    producers = asyncio.gather(*(asyncio.to_thread(produce, d) for d in devices))
    await asyncio.sleep(0.2)  # let the socket fill up while nobody reads
    queue.write_response(b'{"response": 0}\r\n')
    last = {"A": -1, "B": -1, "C": -1}
    responses = 0
    await producers
    while True:
        try:
            line = await asyncio.wait_for(client_reader.readuntil(b"\r\n"), 2)
        except TimeoutError:
            break
        message = json.loads(line)  # a split line would not parse
        if "response" in message:
            responses += 1
            continue
        telemetry = message["telemetry"]
        sequence = telemetry["sensor_telemetry"][0]
        assert sequence > last[telemetry["name"]], "lines of one device arrive in order"
        last[telemetry["name"]] = sequence
    assert responses == 1
    assert partial_sends, "the partial-send path was exercised"
    assert all(value == 2999 for value in last.values()), "the newest line of every device arrives"
    assert queue.lines_sent + queue.lines_dropped == 9000
    queue.clear()
    await close_all(server, server_writer, client_writer)


async def test_a_batch_of_lines_is_sent_whole_or_queued_line_by_line(caplog):
    from rpi_ess.server.telemetry import _worth_logging

    server, server_writer, client_reader, client_writer = await socket_pair()
    queue = TelemetryQueue(asyncio.get_running_loop(), max_per_device=3)
    device = queue.add_device("Fast")
    device.push(*(encode_telemetry('"Fast"', float(i), 0, [i]) for i in range(5)))  # no client yet
    assert device.dropped == 2 and len(device._lines) == 3
    assert "dropped 2 old telemetry lines of Fast" in caplog.text  # the 1st drop was crossed
    queue.attach(server_writer)
    for _ in range(100):  # the event loop flushes the queued lines
        if not device._lines:
            break
        await asyncio.sleep(0.01)
    device.push(*(encode_telemetry('"Fast"', float(i), 0, [i]) for i in range(5, 8)))  # one direct send
    got = [json.loads(await asyncio.wait_for(client_reader.readuntil(b"\r\n"), 10))["telemetry"]["sensor_telemetry"][0]
           for _ in range(6)]
    assert got == [2, 3, 4, 5, 6, 7]
    assert queue.lines_sent == 6 and queue.lines_dropped == 2
    assert [_worth_logging(0, 1), _worth_logging(5, 12), _worth_logging(11, 99), _worth_logging(990, 1003)] == [
        True, True, False, True]
    queue.clear()
    await close_all(server, server_writer, client_writer)
