"""Telemetry line format and the per-device queues to a real (loopback) socket."""

import asyncio
import json
import math

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
