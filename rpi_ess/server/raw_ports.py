"""Raw instrument ports: an instrument's byte stream on its own TCP port, ser2net-style.

Node configuration ``raw_ports: {<device name>: <tcp port>}`` serves what that instrument
sends, unchanged, to several readers at once while the ESS stream parses the same bytes
for the CSC (another consumer shares the instrument, as the side servers on production
nodes do). Read-only unless ``raw_ports_writable`` names the device: then what a reader
sends goes to the instrument, queued and written by the device's own reader thread.
Same client allow-list as the ESS port. Each reader has a bounded buffer: one that reads
too slowly loses bytes (counted for metrics, logged sparingly) and never holds up the
instrument, the telemetry or the other readers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..devices.monitor import Batch
from .connections import Connections
from .watch import Attached, Detached, DeviceWatch

if TYPE_CHECKING:
    from .socket_server import SocketServer

__all__ = ["RawPort", "RawPorts"]

log = logging.getLogger(__name__)

#: Per reader: bytes of the instrument waiting to be handed to the transport (beyond: dropped), the
#: transport's buffer above which it waits for the socket, and the kernel send buffer. Fixed, so
#: a stuck reader costs at most about 160 KB; ample for the 14 KB/s of a 115200-baud instrument.
READER_BUFFER = 64 * 1024
TRANSPORT_BUFFER = 16 * 1024
SOCKET_SNDBUF = 32 * 1024
MAX_READERS = 8  # per port: bounds what one port can cost
WRITE_RETRY = 0.05  # a writer waits this long when the instrument's write queue is full (TCP pushes back)
READ_SIZE = 1024


def _worth_logging(before: int, after: int) -> bool:
    return any(before < mark <= after for mark in (1, 1000, 1_000_000)) or after >> 24 > before >> 24


@dataclass
class RawPortStats:
    port: int
    readers: int = 0
    bytes_sent: int = 0
    dropped_bytes: int = 0
    bytes_written: int = 0



class RawPort:
    """One device's raw TCP port."""

    def __init__(self, device: str, host: str | None, port: int, writable: bool,
                 runners: Callable[[], Sequence[Any]], allowed: Callable[[str], bool]) -> None:
        self.device = device
        self.host = host
        self.writable = writable
        self.runners = runners
        self.allowed = allowed
        self.stats = RawPortStats(port)
        self._watches: set[DeviceWatch] = set()
        self.log = log.getChild(device)
        self._server: asyncio.Server | None = None
        self._clients = Connections()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.stats.port)
        self.stats.port = self._server.sockets[0].getsockname()[1]
        self.log.info("Raw port of %s on port %d (%s)", self.device, self.stats.port,
                      "read-write" if self.writable else "read-only")

    async def close(self) -> None:
        await self._clients.close_all(self._server)
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("?", 0)
        if not self.allowed(peer[0]) or len(self._clients) >= MAX_READERS:
            why = "not in server.allowed_clients" if not self.allowed(peer[0]) else f"{MAX_READERS} readers already"
            self.log.warning("Raw port %d: refused %s (%s)", self.stats.port, peer[0], why)
            writer.close()
            return
        self._clients.add(writer)
        writer.transport.set_write_buffer_limits(high=TRANSPORT_BUFFER)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SNDBUF)
        self.stats.readers += 1
        self.log.info("Raw port %d: reader %s:%s connected", self.stats.port, *peer[:2])
        watch = DeviceWatch(self.runners, self.device, READER_BUFFER, ("rx",))
        self._watches.add(watch)
        sender = asyncio.ensure_future(self._send(watch, writer))
        try:
            await self._receive(watch, reader)  # until the reader closes its side
        except ConnectionError:
            pass
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            self.stats.readers -= 1
            self._watches.discard(watch)
            self.stats.dropped_bytes += watch.dropped_bytes
            await self._clients.discard(writer)
            self.log.info("Raw port %d: reader %s:%s gone", self.stats.port, *peer[:2])

    async def _send(self, watch: DeviceWatch, writer: asyncio.StreamWriter) -> None:
        logged = 0  # drops are logged once per reader, then rarely: a stuck reader drops continuously
        with contextlib.suppress(ConnectionError):
            async for event in watch.events():
                if isinstance(event, Batch):
                    if event.dropped_bytes and _worth_logging(logged, watch.dropped_bytes):
                        self.log.warning("Raw port %d of %s: a reader is too slow, %d of its bytes dropped so far",
                                         self.stats.port, self.device, watch.dropped_bytes)
                    logged = watch.dropped_bytes
                    data = b"".join(chunk.data for chunk in event.chunks)
                    writer.write(data)
                    self.stats.bytes_sent += len(data)
                    await writer.drain()  # a slow reader waits here; its subscription drops meanwhile
                elif isinstance(event, Attached | Detached):
                    self.log.debug("Raw port %d: %s", self.stats.port, event)

    def stats_dict(self) -> dict[str, int]:
        """Counters now; the dropped bytes include those of readers stuck at this moment."""
        stats = dict(self.stats.__dict__)
        stats["dropped_bytes"] += sum(watch.dropped_bytes for watch in self._watches)
        return stats

    async def _receive(self, watch: DeviceWatch, reader: asyncio.StreamReader) -> None:
        """Bytes from the reader: to the instrument if writable, else read and discarded."""
        warned = False
        while data := await reader.read(READ_SIZE):
            if not self.writable:
                if not warned:
                    warned = True
                    self.log.warning("Raw port %d of %s is read-only: input from a reader discarded "
                                     "(list the device in raw_ports_writable to allow writes)",
                                     self.stats.port, self.device)
                continue
            await self._write(watch, data)

    async def _write(self, watch: DeviceWatch, data: bytes) -> None:
        """Queue ``data`` for the instrument; while it is not running or its queue is full, wait
        (not reading the socket meanwhile pushes back on the writer through TCP)."""
        while True:
            monitor = watch.monitor
            if monitor is not None and monitor.submit_write(data):
                self.stats.bytes_written += len(data)
                return
            await asyncio.sleep(WRITE_RETRY)


class RawPorts:
    """All raw ports of a node; ``stats()`` feeds the metrics."""

    def __init__(self, ports: list[RawPort]) -> None:
        self.ports = ports

    @classmethod
    def for_server(cls, server: SocketServer, allowed: Callable[[str], bool]) -> RawPorts:
        """The ports the node configuration lists (``raw_ports``, ``raw_ports_writable``)."""
        node: Any = server.node_config
        mapping: Mapping[str, int] = getattr(node, "raw_ports", None) or {}
        writable = set(getattr(node, "raw_ports_writable", None) or ())
        runners = lambda: server.command_handler.runners  # noqa: E731 - the handler may be replaced
        return cls([RawPort(name, server.host or None, port, name in writable, runners, allowed)
                    for name, port in mapping.items()])

    async def start(self) -> None:
        try:
            for port in self.ports:
                await port.start()
        except OSError:
            await self.close()
            raise

    async def close(self) -> None:
        await asyncio.gather(*(port.close() for port in self.ports))

    def stats(self) -> dict[str, dict[str, int]]:
        return {port.device: port.stats_dict() for port in self.ports}
