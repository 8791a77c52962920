"""One owner of the client socket (issue 16.1): telemetry never lands in a reused descriptor,
never in a closed one, and never in front of the next client.

asyncio closes its socket the moment the peer resets the connection, while reader threads
go on producing lines. These tests put the real :class:`TelemetryQueue` behind a real TCP
connection, reset it from the client side and watch every ``os.write`` the fast path makes.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import struct
import threading
from pathlib import Path

import pytest

from rpi_ess.server import telemetry as telemetry_module
from rpi_ess.server.node_config import NodeConfig
from rpi_ess.server.telemetry import TelemetryQueue

from .conftest import WAIT, configure_line, raw_connect, reset, serial_entry, wait_until


class WatchedOs:
    """``os`` for the telemetry module, checking each ``write`` against the current client's socket."""

    def __init__(self) -> None:
        self.client_inode: int | None = None
        self.writes = 0
        self.to_closed = 0  # EBADF: the descriptor was closed
        self.to_other = 0  # open, but not the current client's socket (a reused number)
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        return getattr(os, name)

    def write(self, fd: int, data: bytes) -> int:
        with self._lock:
            self.writes += 1
            try:
                info = os.fstat(fd)
            except OSError:
                self.to_closed += 1
                raise
            if not stat.S_ISSOCK(info.st_mode) or info.st_ino != self.client_inode:
                self.to_other += 1
        return os.write(fd, data)


class Session:
    """One accepted client of a plain asyncio server, its socket reset by the client at will."""

    def __init__(self, client: socket.socket, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.client = client
        self.reader = reader
        self.writer = writer
        self.server_fd = writer.get_extra_info("socket").fileno()

    @property
    def inode(self) -> int:
        return os.fstat(self.server_fd).st_ino

    async def reset_by_peer(self) -> None:
        """RST from the client; returns once asyncio has closed the server's socket."""
        self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.client.close()
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(self.reader.readexactly(1), WAIT)
        await wait_until(lambda: self.writer.get_extra_info("socket").fileno() == -1,
                         what="asyncio to close the reset socket")

    def received(self) -> bytes:
        data = b""
        while True:
            try:
                chunk = self.client.recv(1 << 16)
            except BlockingIOError:
                return data
            if not chunk:
                return data
            data += chunk


@pytest.fixture
async def accept():
    accepted: asyncio.Queue = asyncio.Queue()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put((reader, writer))

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sessions: list[Session] = []

    async def new_session() -> Session:
        loop = asyncio.get_running_loop()
        client = socket.socket()
        client.setblocking(False)
        await loop.sock_connect(client, ("127.0.0.1", port))
        reader, writer = await asyncio.wait_for(accepted.get(), WAIT)
        sessions.append(Session(client, reader, writer))
        return sessions[-1]

    yield new_session
    for session in sessions:
        session.client.close()
        session.writer.close()
    server.close()
    await server.wait_closed()


@pytest.fixture
def watched_os(monkeypatch) -> WatchedOs:
    watched = WatchedOs()
    monkeypatch.setattr(telemetry_module, "os", watched)
    return watched


def push_from_thread(queue, number: float) -> None:
    thread = threading.Thread(target=queue.send, args=([(1.0, 0, [number])],))
    thread.start()
    thread.join(WAIT)


async def test_a_reused_descriptor_never_receives_telemetry(accept, watched_os, tmp_path: Path):
    """(a) Peer RST, files opened until asyncio's descriptor number is reused, a reader thread pushes."""
    queue = TelemetryQueue(asyncio.get_running_loop())
    session = await accept()
    watched_os.client_inode = session.inode
    queue.attach(session.writer)
    device = queue.add_device("T")
    push_from_thread(device, 1.0)
    await wait_until(lambda: queue.lines_sent == 1, what="the first line on the fast path")

    old_number = session.server_fd
    await session.reset_by_peer()
    files: list[int] = []
    try:
        while not files or files[-1] != old_number:  # lowest free number first: reused at once or soon
            assert len(files) < 256, f"descriptor {old_number} was never reused"
            files.append(os.open(tmp_path / f"f{len(files)}", os.O_RDWR | os.O_CREAT))
        push_from_thread(device, 2.0)  # before the server noticed: asyncio closed, clear() not yet run
        queue.clear()
        push_from_thread(device, 3.0)  # after: the queue belongs to a session that is over
        await asyncio.sleep(0.05)  # any wake-up the pushes scheduled has run
        written = {fd: os.fstat(fd).st_size for fd in files}
    finally:
        for fd in files:
            os.close(fd)
    assert written == dict.fromkeys(files, 0), "telemetry landed in a file"
    assert (watched_os.to_closed, watched_os.to_other) == (0, 0)
    assert queue.lines_sent == 1


async def test_many_devices_many_resets_never_write_a_closed_or_foreign_descriptor(accept, watched_os, tmp_path):
    """(b) and (c): 32 devices pushing from their threads, 100 peer resets, files opened meanwhile.

    Every ``os.write`` goes to the current client's socket; no file ever gets a byte; each
    session receives only lines that its own devices produced.
    """
    devices, cycles = 32, 100
    queue = TelemetryQueue(asyncio.get_running_loop())
    current: list = [None] * devices  # the DeviceQueue each "runner thread" holds now
    session_of: dict[int, int] = {}  # id(DeviceQueue) -> session number
    stop = threading.Event()
    landed: list[str] = []

    def runner(index: int) -> None:
        while not stop.is_set():
            device = current[index]
            if device is not None:
                device.send([(1.0, 0, [float(session_of[id(device)]), float(index)])])
            stop.wait(0.0005)

    def open_files() -> None:  # a serial port being reopened, a log being rotated
        path = tmp_path / "reopened"
        while not stop.is_set():
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
            stop.wait(0.0002)
            if os.fstat(fd).st_size:
                landed.append(os.read(fd, 200).decode(errors="replace"))
            os.close(fd)

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(devices)]
    threads.append(threading.Thread(target=open_files))
    for thread in threads:
        thread.start()
    foreign: list[str] = []
    received = 0
    try:
        for number in range(cycles):
            session = await accept()
            watched_os.client_inode = session.inode
            queue.attach(session.writer)
            for index in range(devices):
                device = queue.add_device(f"D{index}")
                session_of[id(device)] = number
                current[index] = device
            await asyncio.sleep(0.01)
            lines = session.received().split(b"\r\n")[:-1]  # a last partial line is cut by the reset
            received += len(lines)
            foreign += [line.decode() for line in lines
                        if json.loads(line)["telemetry"]["sensor_telemetry"][0] != number]
            await session.reset_by_peer()
            await asyncio.sleep(0.002)  # the threads go on pushing into a socket asyncio has closed
            queue.clear()
    finally:
        stop.set()
        for thread in threads:
            thread.join(WAIT)
    print(json.dumps({"sessions": cycles, "devices": devices, "lines_received": received,
                      "fast_path_writes": watched_os.writes, "writes_to_closed": watched_os.to_closed,
                      "writes_to_other_descriptors": watched_os.to_other, "lines_in_files": len(landed),
                      "foreign_lines": len(foreign)}))
    assert received > cycles  # the fast path was exercised in every session, or nearly
    assert watched_os.writes > cycles
    assert (watched_os.to_closed, watched_os.to_other) == (0, 0), "writes to closed or reused descriptors"
    assert landed == [], "telemetry landed in a file"
    assert foreign == [], "a session received lines of another session"


async def test_reconnecting_client_never_receives_a_line_of_the_previous_session(make_instrument, make_server):
    """(c) Through the real server: each session's device has its own name; reset, reconnect at once."""
    server = await make_server(simulation_mode=0, node_config=NodeConfig(heartbeat_timeout=30.0))
    pty, _ = make_instrument("T", 0.001)
    for number in range(20):
        name = f"session{number}"
        reader, writer = await raw_connect(server.port)
        writer.write(b"heartbeat\r\n" + configure_line(serial_entry(name, pty.port)))
        names: set[str] = set()
        for _ in range(40):
            line = json.loads(await asyncio.wait_for(reader.readuntil(b"\r\n"), WAIT))
            if "telemetry" in line:
                names.add(line["telemetry"]["name"])
        assert names == {name}, f"session {number} received {sorted(names)}"
        await reset(writer)
