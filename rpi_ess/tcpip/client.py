"""``Client``: a TCP connection to a server, optionally sending heartbeats (PROTOCOL 1.4)."""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
from typing import Any

from .addresses import format_address
from .constants import (
    DEFAULT_ENCODING,
    DEFAULT_MAX_LINE_LENGTH,
    DEFAULT_TERMINATOR,
    HEARTBEAT_LINE,
    HEARTBEAT_SEND_INTERVAL,
)
from .sockopts import set_socket_options
from .stream import BaseClientOrServer, ConnectCallback
from .tasks import cancel_tasks

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "Client"]

DEFAULT_CONNECT_TIMEOUT = 10.0


class Client(BaseClientOrServer):
    """Connect to ``host``:``port``; ``start_task`` ends when connected or raises why not.

    A failed connect raises ``TimeoutError`` (no answer within ``connect_timeout``) or
    ``ConnectionError``, both naming the address. With ``send_heartbeats`` a heartbeat line
    goes out right after connecting and then every ``heartbeat_interval`` seconds, as the
    CSC does. ``kwargs`` go to ``asyncio.open_connection``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        log: logging.Logger | None = None,
        connect_callback: ConnectCallback | None = None,
        name: str = "",
        *,
        encoding: str = DEFAULT_ENCODING,
        terminator: bytes = DEFAULT_TERMINATOR,
        max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
        send_heartbeats: bool = False,
        heartbeat_interval: float = HEARTBEAT_SEND_INTERVAL,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        ssl: ssl_module.SSLContext | None = None,
        **kwargs: Any,
    ) -> None:
        if heartbeat_interval <= 0:
            raise ValueError(f"heartbeat_interval={heartbeat_interval} must be positive")
        super().__init__(log, connect_callback, name, encoding, terminator, max_line_length)
        self.host = host
        self.port = port
        self.send_heartbeats = send_heartbeats
        self.heartbeat_interval = heartbeat_interval
        self.connect_timeout = connect_timeout
        self.ssl = ssl
        self.heartbeat_task: asyncio.Task[None] | None = None
        self.start_task = asyncio.create_task(self.start(**kwargs))

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)

    async def start(self, **kwargs: Any) -> None:
        """Connect; called by the constructor (through ``start_task``)."""
        if self.writer is not None:
            raise RuntimeError(f"{self.log.name}: already connected to {self.address}")
        connect = asyncio.open_connection(self.host, self.port, ssl=self.ssl, limit=self.max_line_length, **kwargs)
        try:
            reader, writer = await asyncio.wait_for(connect, self.connect_timeout)
        except TimeoutError as e:
            raise TimeoutError(
                f"{self.log.name}: no connection to {self.address} within {self.connect_timeout:g} s"
            ) from e
        except OSError as e:
            raise ConnectionError(f"{self.log.name}: cannot connect to {self.address}: {e}") from e
        self.reader = reader
        self.writer = writer
        try:
            set_socket_options(writer.get_extra_info("socket"))
        except OSError as e:
            self.log.warning("Cannot set socket options: %s", e)
        self.log.info("Connected to %s", self.address)
        if self.send_heartbeats:
            self.heartbeat_task = asyncio.create_task(self._send_heartbeats())
        await self.call_connect_callback()

    async def close_client(self, **kwargs: Any) -> None:
        """Stop sending heartbeats, then close the connection."""
        await cancel_tasks(self.heartbeat_task)
        await self.basic_close_client(**kwargs)

    async def _send_heartbeats(self) -> None:
        try:
            while True:
                await self.write(HEARTBEAT_LINE)
                await asyncio.sleep(self.heartbeat_interval)
        except OSError as e:  # ConnectionError included: the connection is gone, nothing to beat for
            self.log.info("Stopped sending heartbeats: %s", e)
