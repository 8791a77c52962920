"""One open pyserial port: chunked reads, writes, interruption, and errors in operators' words.

Works for a tty path or any pyserial URL (``loop://``, ``socket://``, ``rfc2217://``,
``spy://``, ``ftdi://``, our ``sim://``). Unlike the reference (one executor call per byte,
blocking reads that survive cancellation; PROTOCOL 5.2, 8 item 23), each read is one call
for whatever has arrived, and :meth:`SerialLink.interrupt` cuts a blocked read short.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import stat
import termios
import threading
from collections.abc import Callable

import serial

from ..accounts import group_name, user_name
from .base import DeviceError

__all__ = ["PORT_ERRORS", "SerialLink", "is_url", "open_error_reason"]

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


def open_error_reason(error: BaseException, usb: bool = False, path: str | None = None) -> str:
    """Turn an open failure into the words an operator needs (no errno numbers).

    ``usb``: the port is a user-space USB device (ftdi://), whose access comes from a udev
    rule on the USB device rather than from the dialout group. ``path``: the device file,
    to say what refused: the service's sandbox (EPERM: systemd's device allow-list) or the
    file's group and mode (EACCES).
    """
    code = _errno_of(error)
    if code == errno.ENOTTY:
        return "not a serial port (no terminal behind this path)"
    if code in _MISSING:
        return "port does not exist"
    if code in _DENIED and usb:
        return "permission denied on the USB device (add its rule from `rpi-ess udev-rule`)"
    if code == errno.EPERM:
        return ("not permitted by the service's sandbox (the unit's DeviceAllow= does not list this device; "
                "see `systemctl cat rpi-ess`)")
    if code in _DENIED:
        return _file_denied(path)
    if code in _BUSY or "exclusively lock" in str(error):
        return "port busy (used by another process)"
    return f"cannot open port: {error}"


def _file_denied(path: str | None) -> str:
    """EACCES on a device file: whose it is, and whether this process is in its group."""
    try:
        info = os.stat(path) if path is not None and not is_url(path) else None
    except OSError:
        info = None
    if info is None:
        return "permission denied (is the service user in group dialout?)"
    group, user = group_name(info.st_gid), user_name()
    where = f"{path} is {user_name(info.st_uid)}:{group} {stat.filemode(info.st_mode)[1:]}"
    if info.st_gid not in os.getgroups() and info.st_gid != os.getegid():
        return f"permission denied: {where} and user {user} is not in group {group}"
    return f"permission denied: {where}, which group {group} (user {user} is in it) may not read and write"


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

    def __init__(self, port: serial.SerialBase, where: str, interrupted: threading.Event | None = None) -> None:
        self.port = port
        self.where = where
        self._interrupted = interrupted if interrupted is not None else threading.Event()
        self._lock = threading.Lock()
        #: observer of the raw bytes ("rx" from the instrument, "tx" to it): tap and raw ports
        self.tap: Callable[[str, bytes], None] | None = None
        self._closed = False
        self.failed = False  # an I/O error was seen: do not bother the port any more
        # pyftdi's port reports in_waiting == 0 always, but its read(n) returns as soon as
        # anything has arrived, so a large read is both correct and efficient there.
        self._greedy = getattr(port, "BACKEND", "") == "pyftdi"

    @classmethod
    def open(cls, url: str, baud_rate: int, where: str, interrupted: threading.Event | None = None) -> SerialLink:
        """Open ``url`` 8N1 without flow control, exclusively, with stale input discarded."""
        if url.startswith("ftdi://"):
            try:
                import pyftdi.serialext  # noqa: F401 - registers the ftdi:// scheme with pyserial
            except ImportError as e:
                raise DeviceError(f"{where}: ftdi:// ports need pyftdi (pip install 'rpi-ess[ftdi]'): {e}",
                                  "open") from e
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
            raise DeviceError(f"{where}: invalid port or setting: {e}", "open") from e
        if isinstance(port, serial.Serial):  # a real tty: refuse to share it with another reader
            port.exclusive = True
        try:
            port.open()
        except PORT_ERRORS as e:
            reason = open_error_reason(e, usb=url.startswith("ftdi://"), path=url)
            raise DeviceError(f"{where}: {reason}", "open") from e
        except ValueError as e:  # pyftdi: a baud rate the adapter cannot make within tolerance
            raise DeviceError(f"{where}: invalid port or setting: {e}", "open") from e
        link = cls(port, where, interrupted)
        try:
            port.reset_input_buffer()  # what waited in the buffer would get a fresh timestamp
            link._tune_ftdi()
        except PORT_ERRORS as e:
            link.close()
            raise DeviceError(f"{where}: port failed right after opening: {e}", "open") from e
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
                data = self.port.read(size)
                if data and self.tap is not None:
                    self.tap("rx", data)
                return data
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
        if self.tap is not None:
            self.tap("rx", data)
        return data

    def write(self, data: bytes) -> None:
        if self.tap is not None:
            self.tap("tx", data)
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

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if interrupted (the device's read loop consumes it)."""
        return self._interrupted.wait(seconds) if seconds > 0 else self._interrupted.is_set()

    def interrupt(self) -> None:
        """Cancel a blocked read (any thread); the caller has set the interrupt event."""
        with self._lock:
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
