"""Connection state and line/JSON/binary read-write helpers shared by server and client.

One ``BaseClientOrServer`` holds at most one connection (``reader``/``writer``). Every
read/write helper raises ``ConnectionError`` when there is none, so callers need a single
``except`` for "the peer went away".
"""

from __future__ import annotations

import asyncio
import ctypes
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .constants import DEFAULT_ENCODING, DEFAULT_MAX_LINE_LENGTH, DEFAULT_TERMINATOR
from .jsonfmt import dumps_json, loads_json
from .tasks import cancel_tasks

__all__ = ["CLOSE_TIMEOUT", "BaseClientOrServer", "ConnectCallback", "LineTooLongError", "close_writer"]

_log = logging.getLogger(__name__)

#: Seconds a closing socket may take to flush and shut down before it is aborted.
CLOSE_TIMEOUT = 2.0

#: Called with the client or server object when a connection is made and when it ends.
ConnectCallback = Callable[[Any], Awaitable[None] | None]


class LineTooLongError(ValueError):
    """A line exceeded ``max_line_length`` and was discarded up to and including its LF.

    The stream is positioned at the start of the next line, so the reader can report the
    error and carry on. ``length`` is the number of bytes discarded (LF included); if the
    stream ended first, the number of bytes seen.
    """

    def __init__(self, length: int, max_line_length: int) -> None:
        super().__init__(f"line of {length} bytes exceeds the limit of {max_line_length} bytes; discarded")
        self.length = length
        self.max_line_length = max_line_length


async def close_writer(writer: asyncio.StreamWriter) -> None:
    """Close a stream without raising; abort it if it cannot close within ``CLOSE_TIMEOUT`` seconds.

    A peer that stops reading leaves unsent data that a graceful close waits for forever.
    """
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT)
    except TimeoutError:
        writer.transport.abort()
    except Exception as e:  # reset by peer and the like: the socket is closed either way
        _log.debug("Error while closing a connection: %r", e)


class BaseClientOrServer:
    """Common state of ``OneClientServer`` and ``Client``; must be created inside a running loop.

    Subclasses create ``start_task`` in their constructor. ``close_client`` may be called
    concurrently from several tasks (read loop, heartbeat monitor, a command, ``close``);
    overrides must be idempotent and call ``super().close_client()`` last.
    """

    def __init__(
        self,
        log: logging.Logger | None = None,
        connect_callback: ConnectCallback | None = None,
        name: str = "",
        encoding: str = DEFAULT_ENCODING,
        terminator: bytes = DEFAULT_TERMINATOR,
        max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
    ) -> None:
        if max_line_length < 1:
            raise ValueError(f"max_line_length={max_line_length} must be positive")
        if not terminator:
            raise ValueError("terminator must not be empty")
        self._loop = asyncio.get_running_loop()
        self.name = name
        self.connect_callback = connect_callback
        self.encoding = encoding
        self.terminator = terminator
        self.max_line_length = max_line_length
        self.log = (log or _log).getChild(".".join(filter(None, [type(self).__name__, name])))
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.start_task: asyncio.Task[None] | None = None
        self.done_task: asyncio.Future[None] = self._loop.create_future()
        self._closing = False

    @property
    def connected(self) -> bool:
        """True while a connection is open and the peer has not ended its side."""
        return (
            self.writer is not None
            and not self.writer.is_closing()
            and self.reader is not None
            and not self.reader.at_eof()
        )

    # --- connection life cycle ------------------------------------------------------------------

    async def call_connect_callback(self) -> None:
        """Run the connect callback (sync or async); its errors are logged, never raised."""
        if self.connect_callback is None:
            return
        try:
            result = self.connect_callback(self)
            if inspect.isawaitable(result):
                await result
        except Exception:
            self.log.exception("connect_callback failed")

    async def basic_close_client(self, **kwargs: Any) -> None:
        """Close the socket, forget it, then run the connect callback (if there was a connection).

        ``kwargs`` are accepted for subclasses' ``close_client`` signatures and ignored here.
        """
        writer = self.writer
        if writer is None:
            return
        self.reader = None
        self.writer = None
        self.log.info("Closing the connection")
        try:
            await close_writer(writer)
        finally:  # even when cancelled half-way: the disconnect edge must be reported
            await self.call_connect_callback()

    async def close_client(self, **kwargs: Any) -> None:
        """Close the current connection, if any; subclasses stop per-client work first."""
        await self.basic_close_client(**kwargs)

    async def close(self) -> None:
        """Close the connection (and a server's listening socket); idempotent.

        Safe to call from a connect callback or from a per-client task: a second call while
        the first is running returns at once.
        """
        if self._closing:
            return
        self._closing = True
        try:
            await cancel_tasks(self.start_task)
            await self._shutdown()
        finally:
            if not self.done_task.done():
                self.done_task.set_result(None)

    async def _shutdown(self) -> None:
        """Release everything ``close`` is responsible for; extended by subclasses."""
        await self.close_client()

    # --- reading --------------------------------------------------------------------------------

    def _require_reader(self) -> asyncio.StreamReader:
        if not self.connected or self.reader is None:
            raise ConnectionError(f"{self.log.name}: not connected")
        return self.reader

    def _require_writer(self) -> asyncio.StreamWriter:
        if not self.connected or self.writer is None:
            raise ConnectionError(f"{self.log.name}: not connected")
        return self.writer

    async def read(self, n: int) -> bytes:
        return await self._require_reader().read(n)

    async def readexactly(self, n: int) -> bytes:
        return await self._require_reader().readexactly(n)

    async def readline(self) -> bytes:
        return await self._require_reader().readline()

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        return await self._require_reader().readuntil(separator)

    async def read_str(self) -> str:
        """Read one line ending with the terminator; return it decoded, terminator removed."""
        data = await self.readuntil(self.terminator)
        return data[: -len(self.terminator)].decode(self.encoding)

    async def read_json(self) -> Any:
        """Read one line and decode it as (NaN-tolerant) JSON."""
        return loads_json(await self.read_str())

    async def read_into(self, *structs: ctypes.Structure) -> None:
        """Fill each ctypes structure, in order, with exactly ``sizeof`` bytes from the stream."""
        for struct in structs:
            data = await self.readexactly(ctypes.sizeof(struct))
            memoryview(struct).cast("B")[:] = data

    async def read_bounded_line(self) -> bytes:
        """Read up to and including the next LF, never buffering much more than ``max_line_length``.

        A bare LF ends a line too; a CR before it is left in the result. Returns b"" at end of
        stream (or the unterminated rest of the last line). Raises ``LineTooLongError`` for a
        line of more than ``max_line_length`` bytes before its LF, after discarding it.
        """
        reader = self._require_reader()
        try:
            return await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as e:
            return e.partial
        except asyncio.LimitOverrunError as e:
            discarded = await _discard_line(reader, e.consumed)
        raise LineTooLongError(discarded, self.max_line_length)

    # --- writing --------------------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        """Write bytes and wait until the transport accepts more (flow control)."""
        writer = self._require_writer()
        writer.write(data)
        await writer.drain()

    async def writelines(self, lines: Iterable[bytes]) -> None:
        writer = self._require_writer()
        writer.writelines(lines)
        await writer.drain()

    async def write_str(self, line: str) -> None:
        """Write a string as one line (encoded, terminator appended)."""
        await self.write(line.encode(self.encoding) + self.terminator)

    async def write_json(self, obj: Any) -> None:
        """Write an object as one JSON line in the reference dialect (bare NaN, CRLF)."""
        await self.write_str(dumps_json(obj))

    async def write_from(self, *structs: ctypes.Structure) -> None:
        """Write the raw bytes of each ctypes structure, in order."""
        await self.writelines([bytes(struct) for struct in structs])


async def _discard_line(reader: asyncio.StreamReader, buffered: int) -> int:
    """Drop bytes up to and including the next LF; return how many were dropped.

    ``buffered`` bytes (without LF) are already in the reader's buffer. Each round drops what
    the buffer holds, so memory stays within the reader's limit however long the line is.
    """
    discarded = 0
    while True:
        await reader.readexactly(buffered)
        discarded += buffered
        try:
            return discarded + len(await reader.readuntil(b"\n"))
        except asyncio.IncompleteReadError as e:
            return discarded + len(e.partial)
        except asyncio.LimitOverrunError as e:
            buffered = e.consumed
