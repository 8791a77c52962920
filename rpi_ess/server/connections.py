"""The open connections of a small stream server (status socket, raw ports), ended cleanly.

Closing a server must end its handlers. Cancelling a ``start_server`` handler task makes
Python 3.11's stream protocol report an "exception in callback" (it calls
``task.exception()`` on the cancelled task), so each handler is ended by closing its
transport instead: its pending read sees EOF and it returns normally. Cancelling is the
fallback for a handler that does not finish in time.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

__all__ = ["Connections"]

CLOSE_WAIT = 1.0


class Connections:
    def __init__(self) -> None:
        self._open: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

    def __len__(self) -> int:
        return len(self._open)

    def add(self, writer: asyncio.StreamWriter) -> None:
        """Register the calling handler task and its writer."""
        task = asyncio.current_task()
        assert task is not None
        self._open[task] = writer

    async def discard(self, writer: asyncio.StreamWriter) -> None:
        """The calling handler is done: close its connection."""
        self._open.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    async def close_all(self, server: asyncio.AbstractServer | None) -> None:
        """Stop accepting (``server``), then end every open connection."""
        if server is not None:
            server.close()
            await server.wait_closed()
        tasks = list(self._open)
        for writer in self._open.values():
            writer.close()
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=CLOSE_WAIT)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
