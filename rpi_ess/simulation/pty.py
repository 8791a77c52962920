"""Pseudo-terminal instruments: a real tty for the serial backends to open, with no hardware.

The serial code under test opens the slave side exactly as it would open ``/dev/ttyUSB0``
(termios, exclusive lock, select-based reads); the test, benchmark or ``diag --simulate``
plays the instrument on the master side. ``unplug``/``replug`` reproduce what a USB adapter
does: the open port starts failing with EIO and its stable udev name (``/dev/ess/<name>``,
here ``<link_dir>/<name>``) disappears, then comes back pointing at a new tty.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

__all__ = ["PtyInstrument"]

log = logging.getLogger(__name__)

_CHUNK = 4096


class PtyInstrument:
    """One instrument behind a pseudo-terminal.

    ``port`` is what a configuration's ``serial_port`` should name: the stable symlink when
    ``link_dir`` is given, else the slave path. The instrument keeps its own slave fd open,
    like a UART that exists whether or not anybody reads it, so bytes written while the
    reader is closed wait in the tty buffer (stale input) and master reads never see EIO.
    """

    def __init__(self, name: str = "instrument", link_dir: str | os.PathLike[str] | None = None) -> None:
        self.name = name
        self.link: Path | None = Path(link_dir) / name if link_dir is not None else None
        self._lock = threading.RLock()
        self._master: int | None = None
        self._slave: int | None = None
        self.slave_path = ""
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self.records_written = 0
        self.records_dropped = 0
        self._plug()

    # -- life cycle -------------------------------------------------------------------------

    @property
    def port(self) -> str:
        return str(self.link) if self.link is not None else self.slave_path

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def _plug(self) -> None:
        master, slave = os.openpty()
        for fd in (slave, master):
            tty.setraw(fd)  # no echo, no CR/LF translation: bytes pass through unchanged
        os.set_blocking(master, False)
        with self._lock:
            self._master, self._slave = master, slave
            self.slave_path = os.ttyname(slave)
        if self.link is not None:
            self.link.parent.mkdir(parents=True, exist_ok=True)
            staging = self.link.with_name(f".{self.name}.{os.getpid()}.new")
            with contextlib.suppress(FileNotFoundError):
                staging.unlink()
            staging.symlink_to(self.slave_path)
            staging.replace(self.link)  # atomic, as udev recreates its links

    def unplug(self) -> None:
        """Pull the cable: the reader's next read fails (EIO) and the stable name disappears."""
        with self._lock:
            master, slave = self._master, self._slave
            self._master = self._slave = None
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
        for fd in (master, slave):
            if fd is not None:
                os.close(fd)

    def replug(self) -> None:
        """Plug the instrument back in: a new tty behind the same stable name."""
        if self.plugged:
            self.unplug()
        self._plug()

    def close(self) -> None:
        """Stop the writer thread and release the tty; safe to call twice."""
        self.stop_stream()
        self.unplug()

    def __enter__(self) -> PtyInstrument:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- I/O on the instrument side ---------------------------------------------------------

    def write(self, data: bytes, timeout: float = 5.0) -> None:
        """Send bytes to whoever has the port open; wait up to ``timeout`` for buffer space.

        Raises TimeoutError when the reader does not drain the tty (buffer full) and OSError
        when unplugged.
        """
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        while view:
            with self._lock:
                fd = self._master
                if fd is None:
                    raise OSError(errno.ENODEV, f"{self.name}: instrument is unplugged")
                try:
                    written = os.write(fd, view)
                except BlockingIOError:
                    written = 0
            view = view[written:]
            if view:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self.name}: tty buffer full, {len(view)} bytes not written")
                self._wait([], [fd], min(remaining, 0.05))

    def read(self, timeout: float) -> bytes:
        """Bytes the host wrote to the instrument (commands); b"" after ``timeout``."""
        fd = self._master
        if fd is None:
            self._stop.wait(timeout)
            return b""
        if not self._wait([fd], [], timeout):
            return b""
        with self._lock:
            if self._master != fd:
                return b""
            try:
                return os.read(fd, _CHUNK)
            except (BlockingIOError, OSError):
                return b""

    @staticmethod
    def _wait(rd: list[int], wr: list[int], timeout: float) -> bool:
        """select() that treats a descriptor closed by unplug() as "nothing to do"."""
        try:
            ready = select.select(rd, wr, [], timeout)
        except (OSError, ValueError):
            return False
        return any(ready)

    # -- streaming instrument ---------------------------------------------------------------

    def start_stream(self, source: Callable[[], bytes], period: float) -> None:
        """Write ``source()`` every ``period`` seconds from a background thread.

        Records that do not fit (no reader, or unplugged) are dropped, as a UART would.
        """
        if self._writer is not None:
            raise RuntimeError(f"{self.name}: already streaming")
        self._stop.clear()
        self._writer = threading.Thread(
            target=self._stream, args=(source, period), name=f"pty-{self.name}", daemon=True
        )
        self._writer.start()

    def stop_stream(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            self._stop.set()
            writer.join()

    def _stream(self, source: Callable[[], bytes], period: float) -> None:
        next_time = time.monotonic()
        while not self._stop.is_set():
            try:
                self.write(source(), timeout=period)
                self.records_written += 1
            except (OSError, TimeoutError) as e:
                self.records_dropped += 1
                log.debug("%s: record dropped: %s", self.name, e)
            next_time += period
            delay = next_time - time.monotonic()
            if delay < 0:  # fell behind (slow machine): restart the schedule, no burst
                next_time, delay = time.monotonic(), 0.0
            self._stop.wait(delay)
