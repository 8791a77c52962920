"""``OneClientReadLoopServer``: one client, a read loop, and a heartbeat watchdog (PROTOCOL 1.4, 1.5)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .constants import DEFAULT_MAX_HEARTBEAT_INTERVAL, HEARTBEAT_MONITOR_INTERVAL
from .one_client_server import OneClientServer
from .stream import ConnectCallback
from .tasks import cancel_tasks

__all__ = ["OneClientReadLoopServer"]


class OneClientReadLoopServer(OneClientServer):
    """Run ``read_and_dispatch`` in a loop for each client and drop clients that stop heartbeating.

    Every connection gets its own read loop and heartbeat monitor, and its grace period
    starts at connect time; nothing carries over from the previous client (unlike the
    reference, PROTOCOL 8 item 2). ``max_heartbeat_interval`` None disables the monitor.
    Subclasses implement ``read_and_dispatch`` and call ``handle_received_heartbeat``.
    """

    def __init__(
        self,
        host: str | None,
        port: int,
        log: logging.Logger | None = None,
        connect_callback: ConnectCallback | None = None,
        name: str = "",
        *,
        max_heartbeat_interval: float | None = DEFAULT_MAX_HEARTBEAT_INTERVAL,
        heartbeat_monitor_interval: float = HEARTBEAT_MONITOR_INTERVAL,
        **kwargs: Any,
    ) -> None:
        if max_heartbeat_interval is not None and max_heartbeat_interval <= 0:
            raise ValueError(f"max_heartbeat_interval={max_heartbeat_interval} must be positive or None")
        if heartbeat_monitor_interval <= 0:
            raise ValueError(f"heartbeat_monitor_interval={heartbeat_monitor_interval} must be positive")
        self.max_heartbeat_interval = max_heartbeat_interval
        self.heartbeat_monitor_interval = heartbeat_monitor_interval
        #: ``loop.time()`` of the last heartbeat, or of the connect if none arrived since.
        self.last_heartbeat_time = 0.0
        self.read_loop_task: asyncio.Task[None] | None = None
        self.heartbeat_monitor_task: asyncio.Task[None] | None = None
        self._client_tasks: set[asyncio.Task[None]] = set()
        super().__init__(host, port, log, connect_callback, name, **kwargs)

    async def read_and_dispatch(self) -> None:
        """Read and handle one message. Raise ConnectionError (or return at EOF) to end the loop."""
        raise NotImplementedError

    def handle_received_heartbeat(self) -> None:
        """Note that the client is alive."""
        self.last_heartbeat_time = self._loop.time()

    async def on_client_connected(self) -> None:
        await super().on_client_connected()
        self.last_heartbeat_time = self._loop.time()
        self.read_loop_task = self._start_client_task(self.read_loop())
        if self.max_heartbeat_interval is not None:
            self.heartbeat_monitor_task = self._start_client_task(self.monitor_received_heartbeats())

    def _start_client_task(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._client_tasks.add(task)
        task.add_done_callback(self._client_tasks.discard)
        return task

    async def close_client(self, **kwargs: Any) -> None:
        """Stop the read loop and heartbeat monitor (unless one of them is the caller), then close."""
        await cancel_tasks(*self._client_tasks)
        await self.basic_close_client(**kwargs)

    async def read_loop(self) -> None:
        """Dispatch messages until the client goes away or a handler fails, then close the client."""
        writer = self.writer  # the loop belongs to this connection only
        if writer is None:
            return
        try:
            while self.writer is writer and self.connected:
                await self.read_and_dispatch()
                self.last_activity = self._loop.time()
        except (ConnectionError, asyncio.IncompleteReadError) as e:
            self.log.info("Connection lost: %s", e or type(e).__name__)
        except Exception:
            self.log.exception("Reading from the client failed; closing the connection")
        if self.writer is writer:
            await self.close_client()

    async def monitor_received_heartbeats(self) -> None:
        """Close the client once no heartbeat has arrived for ``max_heartbeat_interval`` seconds."""
        limit = self.max_heartbeat_interval
        writer = self.writer
        while limit is not None and writer is not None and self.writer is writer:
            await asyncio.sleep(self.heartbeat_monitor_interval)
            silent = self._loop.time() - self.last_heartbeat_time
            if self.writer is writer and silent > limit:
                self.log.warning("No heartbeat for %.1f s (limit %.1f s); closing the connection", silent, limit)
                await self.close_client()
