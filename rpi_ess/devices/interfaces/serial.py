"""Serial ports through pyserial: a tty path or any pyserial URL (``loop://``, ``socket://``,
``rfc2217://``, ``spy://``, ``ftdi://``).

Unlike the reference (one executor call per byte, blocking reads that survive cancellation,
a task that died on the first error; PROTOCOL 5.2, 8 item 23), each read is one pyserial
call for whatever has arrived, with a short port timeout so :meth:`SerialDevice.interrupt`
and stop requests are seen promptly, and every failure is a :class:`DeviceError` that says
what is wrong in words an operator can act on.

Text instruments are split into records by :class:`LineFramer`; a sensor whose
``protocol`` is ``"shdlc"`` (SPS30) is polled by :class:`Sps30Poller` over the same port.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import termios
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import serial

from ...tai import tai_time
from ..base import Device, DeviceError, Record
from ..framing import LineFramer

if TYPE_CHECKING:
    from ...sensors.base import Sensor
    from ...server.config import DeviceConfig

__all__ = ["PortReader", "SerialDevice", "SerialLink", "open_error_reason"]

log = logging.getLogger(__name__)

#: Longest single blocking read on backends that cannot be interrupted (URLs, pyftdi):
#: bounds how late a stop request is noticed there. Ttys are interrupted at once.
PORT_TIMEOUT = 0.1
#: Writes (SPS30 commands) that cannot leave within this time mean a dead port.
WRITE_TIMEOUT = 1.0
#: Read size for backends without a usable ``in_waiting`` that return early anyway (pyftdi).
GREEDY_READ = 4096

#: What a failing port raises: pyserial's own errors, OS errors, and raw termios errors that
#: pyserial lets through (tcflush/tcgetattr on a tty whose device has gone, or a non-tty path).
PORT_ERRORS = (serial.SerialException, OSError, termios.error)

_MISSING = {errno.ENOENT, errno.ENODEV, errno.ENXIO}
_DENIED = {errno.EACCES, errno.EPERM}
_BUSY = {errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK}


def open_error_reason(error: BaseException, usb: bool = False) -> str:
    """Turn an open failure into the words an operator needs (no errno numbers).

    ``usb``: the port is a user-space USB device (ftdi://), whose access comes from a udev
    rule on the USB device rather than from the dialout group.
    """
    code = _errno_of(error)
    if code == errno.ENOTTY:
        return "not a serial port (no terminal behind this path)"
    if code in _MISSING:
        return "port does not exist"
    if code in _DENIED and usb:
        return "permission denied on the USB device (add its rule from `rpi-ess udev-rule`)"
    if code in _DENIED:
        return "permission denied (is the service user in group dialout?)"
    if code in _BUSY or "exclusively lock" in str(error):
        return "port busy (used by another process)"
    return f"cannot open port: {error}"


def _errno_of(error: BaseException | None) -> int | None:
    """The errno behind an error, looking through pyserial's wrappers (which often drop it)."""
    for _ in range(8):  # a chain is short; the bound only guards against a cycle
        if error is None:
            break
        code = getattr(error, "errno", None)
        if code is None and isinstance(error, termios.error) and error.args:
            code = error.args[0]
        if isinstance(code, int):
            return code
        error = error.__cause__ or error.__context__
    return None


def is_url(port: str) -> bool:
    """pyserial treats anything with a scheme as a URL handled by a protocol module."""
    return "://" in port


class SerialLink:
    """One open pyserial port: chunked reads, writes, interruption, error mapping."""

    def __init__(self, port: serial.SerialBase, where: str) -> None:
        self.port = port
        self.where = where
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._closed = False
        self.failed = False  # an I/O error was seen: do not bother the port any more
        # pyftdi's port reports in_waiting == 0 always, but its read(n) returns as soon as
        # anything has arrived, so a large read is both correct and efficient there.
        self._greedy = getattr(port, "BACKEND", "") == "pyftdi"

    @classmethod
    def open(cls, url: str, baud_rate: int, where: str) -> SerialLink:
        """Open ``url`` 8N1 without flow control, exclusively, with stale input discarded."""
        if url.startswith("ftdi://"):
            try:
                import pyftdi.serialext  # noqa: F401 - registers the ftdi:// scheme with pyserial
            except ImportError as e:
                raise DeviceError(f"{where}: ftdi:// ports need pyftdi (pip install 'rpi-ess[ftdi]'): {e}") from e
        try:
            port = serial.serial_for_url(url, do_not_open=True)
            port.baudrate = baud_rate
            port.bytesize = serial.EIGHTBITS
            port.parity = serial.PARITY_NONE
            port.stopbits = serial.STOPBITS_ONE
            port.xonxoff = port.rtscts = port.dsrdtr = False
            port.timeout = PORT_TIMEOUT
            port.write_timeout = WRITE_TIMEOUT
        except ValueError as e:  # unknown URL scheme, bad URL parameters, unsupported baud rate
            raise DeviceError(f"{where}: invalid port or setting: {e}") from e
        if isinstance(port, serial.Serial):  # a real tty: refuse to share it with another reader
            port.exclusive = True
        try:
            port.open()
        except PORT_ERRORS as e:
            raise DeviceError(f"{where}: {open_error_reason(e, usb=url.startswith('ftdi://'))}") from e
        except ValueError as e:  # pyftdi: a baud rate the adapter cannot make within tolerance
            raise DeviceError(f"{where}: invalid port or setting: {e}") from e
        link = cls(port, where)
        try:
            port.reset_input_buffer()  # what waited in the buffer would get a fresh timestamp
            link._tune_ftdi()
        except PORT_ERRORS as e:
            link.close()
            raise DeviceError(f"{where}: port failed right after opening: {e}") from e
        return link

    def _tune_ftdi(self) -> None:
        """User-space FTDI: 1 ms latency timer (the udev rule does this for ftdi_sio).

        pyftdi otherwise buffers up to 16 ms per packet and adapts the timer dynamically.
        """
        ftdi = getattr(self.port, "ftdi", None) if self._greedy else None
        if ftdi is None:
            return
        try:
            ftdi.set_dynamic_latency(1, 1, 0)  # threshold 0 = dynamic latency off
            ftdi.set_latency_timer(1)
        except Exception as e:  # a chip or backend that refuses: slower, but it still works
            log.warning("%s: could not set the FTDI latency timer to 1 ms: %s", self.where, e)

    def read_chunk(self, timeout: float = PORT_TIMEOUT) -> bytes:
        """One blocking read (up to ``timeout``) of everything that has arrived; b"" if nothing.

        A tty is waited on directly (select on the port and pyserial's cancel pipe, then one
        os.read of all that is waiting: two system calls per line, and a long ``timeout``
        costs no idle wake-ups because :meth:`interrupt` cancels the wait). Other backends
        (URLs, pyftdi) use pyserial's read with the port's own short timeout.
        """
        fd = getattr(self.port, "fd", None)
        abort = getattr(self.port, "pipe_abort_read_r", None)
        try:
            if fd is None or abort is None:
                size = GREEDY_READ if self._greedy else max(1, self.port.in_waiting)
                return self.port.read(size)
            ready, _, _ = select.select([fd, abort], [], [], timeout)
            if abort in ready:
                os.read(abort, 1000)  # consume the cancel request
            if fd not in ready:
                return b""
            data = os.read(fd, GREEDY_READ)
        except PORT_ERRORS as e:
            raise self._lost(e) from e
        if not data:  # readable but empty: the other end of the tty is gone
            raise self._lost(OSError(errno.EIO, "device reports data ready but returned none (unplugged?)"))
        return data

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except PORT_ERRORS as e:  # SerialTimeoutException included
            raise self._lost(e, "write failed: ") from e

    def discard_input(self) -> None:
        try:
            self.port.reset_input_buffer()
        except PORT_ERRORS as e:
            raise self._lost(e) from e

    def _lost(self, error: BaseException, doing: str = "") -> DeviceError:
        self.failed = True
        return DeviceError(f"{self.where}: port lost: {doing}{error}")

    def take_interrupt(self) -> bool:
        """True (once) if :meth:`interrupt` was called since the last check."""
        if self._wake.is_set():
            self._wake.clear()
            return True
        return False

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True (consumed) if interrupted meanwhile."""
        return self._wake.wait(seconds) and self.take_interrupt()

    def interrupt(self) -> None:
        with self._lock:
            self._wake.set()
            if not self._closed:
                cancel = getattr(self.port, "cancel_read", None)
                if cancel is not None:
                    try:
                        cancel()
                    except PORT_ERRORS:
                        pass

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self.port.close()
        except Exception as e:  # a vanished USB device can fail in its close path
            log.debug("%s: error while closing: %s", self.where, e)


class PortReader(Protocol):
    """How records come out of an open link: streaming lines, or polling (SPS30)."""

    def start(self) -> None: ...

    def read(self, timeout: float) -> list[Record]: ...

    def stop(self) -> None: ...


class LineReader:
    """Streaming text instrument: whole chunks into the sensor's :class:`LineFramer`."""

    def __init__(self, link: SerialLink, sensor: Sensor, clock: Callable[[], float]) -> None:
        self.link = link
        self.clock = clock
        # Not synced: the bytes before the first terminator are the tail of a missed line.
        self.framer = LineFramer(sensor.terminator, idle_flush=sensor.idle_flush, synced=False)

    def start(self) -> None:
        pass

    def read(self, timeout: float) -> list[Record]:
        deadline = time.monotonic() + timeout
        while True:
            if self.link.take_interrupt():
                return []
            wait = deadline - time.monotonic()
            flush_in = self.framer.flush_in(self.clock())
            chunk = self.link.read_chunk(max(0.0, wait if flush_in is None else min(wait, flush_in)))
            now = self.clock()  # right after the bytes arrived, not before the wait
            records = self.framer.feed(chunk, now) if chunk else []
            records += self.framer.flush_idle(now)
            if records or time.monotonic() >= deadline:
                return records

    def stop(self) -> None:
        pass


class SerialDevice(Device):
    """``device_type: Serial``: ``serial_port`` is a device path or a pyserial URL."""

    kind = "Serial"

    def __init__(self, config: DeviceConfig, sensor: Sensor, clock: Callable[[], float] = tai_time) -> None:
        super().__init__(config, sensor, clock)
        self._link: SerialLink | None = None
        self._reader: PortReader | None = None
        self._lock = threading.Lock()

    @property
    def describe(self) -> str:
        return f"{self.kind} {self.config.serial_port}"

    @property
    def where(self) -> str:
        """Prefix of every error and log message: device name, bus and port."""
        return f"{self.config.name}: {self.describe}"

    def port_url(self) -> str:
        """What to hand to pyserial; subclasses resolve it (FTDI serial number -> tty)."""
        if not self.config.serial_port:
            raise DeviceError(f"{self.where}: no serial_port configured")
        return self.config.serial_port

    def open(self) -> None:
        self.close()
        link = SerialLink.open(self.port_url(), self.config.baud_rate, self.where)
        reader = self._make_reader(link)
        try:
            reader.start()
        except BaseException:
            link.close()
            raise
        with self._lock:
            self._link, self._reader = link, reader
        log.info("%s open at %d baud", self.where, self.config.baud_rate)

    def _make_reader(self, link: SerialLink) -> PortReader:
        if self.sensor.protocol == "shdlc":
            from ..sps30_uart import Sps30Poller

            return Sps30Poller(link, self.config.baud_rate, self.config.poll_interval, self.clock)
        return LineReader(link, self.sensor, self.clock)

    def read(self, timeout: float) -> list[Record]:
        reader = self._reader
        if reader is None:
            raise DeviceError(f"{self.where}: port is not open")
        return reader.read(timeout)

    def interrupt(self) -> None:
        with self._lock:
            if self._link is not None:
                self._link.interrupt()

    def close(self) -> None:
        reader = self._reader
        if reader is not None:
            try:
                reader.stop()
            except Exception as e:  # best effort (SPS30 stop command on a dead port)
                log.debug("%s: stop failed: %s", self.where, e)
        with self._lock:
            link, self._link, self._reader = self._link, None, None
        if link is not None:
            link.close()

    def present(self) -> bool | None:
        port = self.config.serial_port
        if not port or is_url(port):
            return None
        return os.path.exists(port)  # follows symlinks: a udev /dev/ess/<name> link that is
        # removed on unplug and recreated on re-plug is seen as it changes
