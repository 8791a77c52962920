"""``OneClientServer``: a TCP server that talks to one client at a time (PROTOCOL 1.3)."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl as ssl_module
from collections.abc import Callable
from typing import Any

from .addresses import format_address, peer_address
from .constants import DEFAULT_ENCODING, DEFAULT_MAX_LINE_LENGTH, DEFAULT_TERMINATOR
from .sockopts import set_socket_options
from .stream import CLOSE_TIMEOUT, BaseClientOrServer, ConnectCallback, close_writer
from .tasks import cancel_tasks

__all__ = ["OneClientServer"]

BUSY = "a client is already connected"


def _peer_hung_up(writer: asyncio.StreamWriter) -> bool:
    """An EOF or a reset waiting on the client's socket that the read loop has not seen yet.

    A CSC that crashed and reconnects at once sends its reset and its new connection back to
    back; the accept can run before the old socket's read event. Peeking (a duplicate of the
    descriptor, nothing consumed) tells a dead client from a live one.
    """
    sock = writer.get_extra_info("socket")
    fd = sock.fileno() if sock is not None else -1
    if fd < 0:
        return True
    try:
        with socket.fromfd(fd, sock.family, socket.SOCK_STREAM) as probe:
            return probe.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False  # alive, nothing to read
    except OSError:
        return True  # reset by the peer


class OneClientServer(BaseClientOrServer):
    """Listen on ``host``:``port`` and keep at most one client.

    A connection that arrives while a client is connected (or is still being closed) is
    closed at once without a byte being sent; so is one whose host ``client_filter`` refuses
    (``filter_name`` is the setting named in the log). With ``takeover_idle`` set, a new
    allowed connection instead replaces a client that has sent nothing for that many seconds
    (ser2net's ``kickolduser``: a client that reconnects after a network drop or a crash is
    served at once instead of after the heartbeat timeout); :meth:`replace_client` closes it.
    ``host`` None or "" listens on all interfaces; ``port`` 0 picks a free port, readable
    from ``port`` once ``start_task`` is done. ``kwargs`` go to ``asyncio.start_server``.
    """

    def __init__(
        self,
        host: str | None,
        port: int,
        log: logging.Logger | None = None,
        connect_callback: ConnectCallback | None = None,
        name: str = "",
        *,
        encoding: str = DEFAULT_ENCODING,
        terminator: bytes = DEFAULT_TERMINATOR,
        max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
        family: int = socket.AF_UNSPEC,
        client_filter: Callable[[str], bool] | None = None,
        filter_name: str = "client_filter",
        takeover_idle: float | None = None,
        ssl: ssl_module.SSLContext | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(log, connect_callback, name, encoding, terminator, max_line_length)
        self.host = host
        self.port = port
        self.family = family
        self.client_filter = client_filter
        self.filter_name = filter_name
        self.takeover_idle = takeover_idle
        #: ``loop.time()`` of the last line received from the client (or of its connect)
        self.last_activity = 0.0
        self.ssl = ssl
        self.server: asyncio.Server | None = None
        #: Done when a client connects; replaced by a new future when that client is closed.
        self.connected_task: asyncio.Future[None] = self._loop.create_future()
        # Held from accept until the close (callback included) has finished, so a new client
        # never overlaps the previous one's shutdown.
        self._has_client = False
        self._handler_tasks: set[asyncio.Task[Any]] = set()
        self.start_task = asyncio.create_task(self.start(**kwargs))

    async def start(self, **kwargs: Any) -> None:
        """Start listening; called by the constructor (through ``start_task``)."""
        if self.server is not None:
            raise RuntimeError(f"{self.log.name}: already started")
        await self._listen(self.port, kwargs)
        ports = self._bound_ports()
        if len(set(ports)) > 1:
            # Port 0 on several addresses (IPv4 and IPv6 for all interfaces) picks one ephemeral
            # port per address: listen again, everywhere on the first one.
            self.server.close()
            await self._listen(ports[0], kwargs)
            ports = self._bound_ports()
        self.port = ports[0]
        self.log.info("Listening on %s", format_address(self.host, self.port))

    async def _listen(self, port: int, kwargs: dict[str, Any]) -> None:
        # start_serving=False: the server object is stored before the first await after the
        # sockets exist, so a close() that cancels start() can still close them.
        self.server = await asyncio.start_server(
            self._handle_connection,
            host=self.host or None,
            port=port,
            family=self.family,
            ssl=self.ssl,
            limit=self.max_line_length,
            **{**kwargs, "start_serving": False},
        )
        await self.server.start_serving()

    def _bound_ports(self) -> list[int]:
        assert self.server is not None
        return [sock.getsockname()[1] for sock in self.server.sockets]

    async def on_client_connected(self) -> None:
        """Hook run when a client has been accepted, before the connect callback.

        Subclasses start their per-client tasks here. The default does nothing.
        """

    async def replace_client(self) -> None:
        """Close the current client to make room for a new one (takeover); subclasses may hand over."""
        await self.close_client()

    async def basic_close_client(self, **kwargs: Any) -> None:
        had_client = self.writer is not None
        if had_client and self.connected_task.done():
            self.connected_task = self._loop.create_future()
        try:
            await super().basic_close_client(**kwargs)
        finally:
            if had_client:
                self._has_client = False

    async def _shutdown(self) -> None:
        if self.server is not None:
            self.server.close()
        # In-flight accept handlers see _closing and close their socket; a handler cancelled
        # before its first step would leak it, hence the grace period.
        await cancel_tasks(*self._handler_tasks, grace=CLOSE_TIMEOUT)
        await super()._shutdown()
        if self.server is not None:
            await self.server.wait_closed()
        self.log.info("Closed")

    async def _handle_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handler_tasks.add(task)
            task.add_done_callback(self._handler_tasks.discard)
        host, where = peer_address(writer.get_extra_info("peername"))
        await self._let_departing_client_go()
        reason = self._rejection_reason(host)
        if reason == BUSY and self._idle_for_takeover():
            self.log.info("Replacing the client idle for %.1f s with %s", self._loop.time() - self.last_activity, where)
            await self.replace_client()
            reason = self._rejection_reason(host)
        if reason is not None:
            level = logging.INFO if self._has_client or self._closing else logging.WARNING
            self.log.log(level, "Rejecting connection from %s: %s", where, reason)
            await close_writer(writer)
            return
        self._has_client = True
        self.reader = reader
        self.writer = writer
        try:
            set_socket_options(writer.get_extra_info("socket"))
        except OSError as e:
            self.log.warning("Cannot set socket options for %s: %s", where, e)
        self.last_activity = self._loop.time()
        if not self.connected_task.done():
            self.connected_task.set_result(None)
        self.log.info("Client connected from %s", where)
        try:
            await self.on_client_connected()
        except Exception:
            self.log.exception("Setting up the client from %s failed; closing it", where)
            await self.close_client()
            return
        await self.call_connect_callback()

    def _client_departing(self) -> bool:
        """The current client has hung up (EOF seen, or pending on its socket) or is being closed."""
        writer, reader = self.writer, self.reader
        return self._has_client and (
            writer is None or writer.is_closing() or (reader is not None and reader.at_eof())
            or _peer_hung_up(writer)
        )

    async def _let_departing_client_go(self) -> None:
        """A client that reconnects at once (a restarted CSC) must not be refused because the
        server has not yet finished with its old connection: finish closing that one first,
        as the reference did by looking at the old stream's EOF."""
        if not self._client_departing():
            return
        if self.writer is not None and not self.writer.is_closing():
            closer = asyncio.ensure_future(self.close_client())  # the read loop may not have seen EOF yet
            self._handler_tasks.add(closer)
            closer.add_done_callback(self._handler_tasks.discard)
        deadline = self._loop.time() + CLOSE_TIMEOUT * 3
        # a short poll bounded by the deadline; the flag is owned by the close path
        while self._has_client and not self._closing and self._loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    def _idle_for_takeover(self) -> bool:
        return (self.takeover_idle is not None and self.writer is not None
                and self._loop.time() - self.last_activity >= self.takeover_idle)

    def _rejection_reason(self, host: str) -> str | None:
        """Why a new connection from ``host`` must be closed, or None to accept it.

        The allow-list is checked first, so a refused address is told apart from a busy server
        in the log and can never take a client's place.
        """
        if self._closing:
            return "the server is closing"
        if self.client_filter is not None:
            try:
                allowed = self.client_filter(host)
            except Exception:
                self.log.exception("%s failed for %r", self.filter_name, host)
                allowed = False
            if not allowed:
                return f"not allowed by {self.filter_name}"
        return BUSY if self._has_client else None
