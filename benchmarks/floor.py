"""The least a Python server can do per instrument line: the benchmark's yardstick for the machine.

One thread, one asyncio loop: each configured tty is read with ``loop.add_reader``; every
line becomes a telemetry line carrying only the sequence number (no parsing, no queues,
no error handling). It answers ``configure`` and ``disconnect`` and ignores heartbeats:
just enough for the benchmark's client. Measured with the same harness as the real server,
its CPU per line and latency are the floor set by this machine's wake-ups and syscalls,
which puts the server's figures (and the targets) in proportion.

Standalone on purpose (``python floor.py PORT``): it imports nothing from rpi_ess.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import termios
import time
import tty

SEQUENCE = slice(4, 11)  # C01=NNNNNNN.0000 (benchmarks/instruments.py)


class Forwarder:
    def __init__(self, name: str, path: str, writer: asyncio.StreamWriter) -> None:
        self.fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)
        termios.tcflush(self.fd, termios.TCIFLUSH)
        self.head = b'{"telemetry": {"name": %s, "timestamp": ' % json.dumps(name).encode()
        self.writer = writer
        self.pending = b""
        asyncio.get_running_loop().add_reader(self.fd, self.readable)

    def readable(self) -> None:
        *lines, self.pending = (self.pending + os.read(self.fd, 4096)).split(b"\r\n")
        now = time.time()
        out = [b'%s%r, "response_code": 0, "sensor_telemetry": [%d.0]}}\r\n' % (self.head, now, int(line[SEQUENCE]))
               for line in lines if line.startswith(b"C01=")]
        if out:
            self.writer.write(b"".join(out))

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.fd)
        os.close(self.fd)


async def serve_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    forwarders: list[Forwarder] = []
    try:
        while line := await reader.readline():
            if line.startswith(b"heartbeat"):
                continue
            message = json.loads(line)
            if message["command"] == "disconnect":
                break
            if message["command"] == "configure":
                devices = message["parameters"]["configuration"]["devices"]
                forwarders += [Forwarder(d["name"], d["serial_port"], writer) for d in devices]
                writer.write(b'{"response": 0}\r\n')
    finally:
        for forwarder in forwarders:
            forwarder.close()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def main(port: int) -> None:
    server = await asyncio.start_server(serve_client, "127.0.0.1", port)
    await server.serve_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(int(sys.argv[1])))
