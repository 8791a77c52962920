"""A Sensirion SPS30 answering SHDLC commands like the real sensor.

Written from the datasheet independently of :mod:`rpi_ess.devices.shdlc` on purpose: an
emulator that shared the framing code under test would agree with any bug in it. Only the
commands the server uses are implemented (start, stop, read measured values); others get
state 0x02 (unknown command). Knobs for tests: the measurement (10 floats, packed as
big-endian float32, so values whose bytes are 7E/7D/11/13 force byte stuffing), a one-shot
checksum corruption, a number of "no new data" replies, and silence.

:class:`Sps30Shdlc` is the sensor itself, bytes in and reply frames out, with no I/O; it is
reached either through a pseudo-terminal (:class:`Sps30ShdlcEmulator`) or through the
``sim://Sps30`` pyserial port (:mod:`rpi_ess.simulation.urlhandler`).
"""

from __future__ import annotations

import logging
import re
import struct
import threading
from collections.abc import Sequence
from types import TracebackType

from .pty import PtyInstrument

__all__ = ["DEFAULT_MEASUREMENT", "Sps30Shdlc", "Sps30ShdlcEmulator"]

log = logging.getLogger(__name__)

#: A real sensor's reading (PROTOCOL 4.9 test frame): PM1.0, PM2.5, PM4.0, PM10 mass,
#: PM0.5, PM1.0, PM2.5, PM4.0, PM10 number concentration, typical particle size.
DEFAULT_MEASUREMENT: tuple[float, ...] = struct.unpack(
    ">10f",
    bytes.fromhex(
        "3f3a8654 40b84a0a 411d3d52 413e91a3 00000000 3e7ae800 40a1badc 40c0181e 40c4baea 3fd0a3d7"
    ),
)

_START, _STOP, _READ = 0x00, 0x01, 0x03
_OK, _WRONG_LENGTH, _UNKNOWN_COMMAND, _ILLEGAL_PARAMETER, _NOT_ALLOWED = 0x00, 0x01, 0x02, 0x04, 0x43
_ESCAPES = {0x7E: b"\x7d\x5e", 0x7D: b"\x7d\x5d", 0x11: b"\x7d\x31", 0x13: b"\x7d\x33"}
_FRAME = re.compile(rb"\x7e([^\x7e]+)\x7e")
_ESCAPED = re.compile(rb"\x7d(.)", re.DOTALL)
_KEEP = 600  # bytes of an unfinished request kept: more than the longest frame


def _escape(raw: bytes) -> bytes:
    return b"".join(_ESCAPES.get(b, bytes((b,))) for b in raw)


def _unescape(stuffed: bytes) -> bytes:
    return _ESCAPED.sub(lambda m: bytes((m.group(1)[0] ^ 0x20,)), stuffed)


def _chk(raw: bytes) -> int:
    return 0xFF - sum(raw) % 256


class Sps30Shdlc:
    """The sensor's side of the SHDLC conversation: :meth:`receive` bytes, get reply frames."""

    def __init__(self, measurement: Sequence[float] = DEFAULT_MEASUREMENT) -> None:
        self.measurement = tuple(measurement)
        self.measuring = False
        self.corrupt_next_checksum = False
        self.no_data_replies = 0
        self.silent = False  # a hung sensor: requests are read but never answered
        #: (command, data) of every valid request received, in order.
        self.requests: list[tuple[int, bytes]] = []
        self._buffer = b""

    def commands(self) -> list[int]:
        return [command for command, _ in self.requests]

    def receive(self, data: bytes) -> list[bytes]:
        """Bytes from the host; the complete reply frames they cause, in order."""
        self._buffer += data
        replies: list[bytes] = []
        while (match := _FRAME.search(self._buffer)) is not None:
            self._buffer = self._buffer[match.end() - 1 :]  # the end flag may open the next frame
            reply = self._answer(_unescape(match.group(1)))
            if reply is not None:
                replies.append(reply)
        self._buffer = self._buffer[-_KEEP:]  # no flag pair in sight: keep only a frame's worth
        return replies

    def measured_values(self) -> bytes:
        """The 40 data bytes of a "read measured values" reply; b"" = no new data yet."""
        if self.no_data_replies > 0:
            self.no_data_replies -= 1
            return b""
        return struct.pack(">10f", *self.measurement)

    def _answer(self, raw: bytes) -> bytes | None:
        if len(raw) < 4 or raw[2] != len(raw) - 4 or _chk(raw[:-1]) != raw[-1]:
            log.debug("SPS30 emulator ignores malformed request %s", raw.hex(" "))
            return None  # the real sensor stays silent on a corrupt frame
        command, data = raw[1], raw[3:-1]
        self.requests.append((command, data))
        if self.silent:
            return None
        state, payload = self._execute(command, data)
        reply = bytes((0x00, command, state, len(payload))) + payload
        checksum = _chk(reply)
        if self.corrupt_next_checksum:
            self.corrupt_next_checksum = False
            checksum ^= 0x5A
        return b"\x7e" + _escape(reply + bytes((checksum,))) + b"\x7e"

    def _execute(self, command: int, data: bytes) -> tuple[int, bytes]:
        if command == _START:
            if data != b"\x01\x03":
                return _WRONG_LENGTH if len(data) != 2 else _ILLEGAL_PARAMETER, b""
            if self.measuring:
                return _NOT_ALLOWED, b""
            self.measuring = True
            return _OK, b""
        if command == _STOP:
            if not self.measuring:
                return _NOT_ALLOWED, b""
            self.measuring = False
            return _OK, b""
        if command == _READ:
            if not self.measuring:
                return _NOT_ALLOWED, b""
            return _OK, self.measured_values()
        return _UNKNOWN_COMMAND, b""


class Sps30ShdlcEmulator(Sps30Shdlc):
    """SPS30 answering on a pseudo-terminal (``port``) from a background thread until :meth:`close`."""

    def __init__(
        self,
        instrument: PtyInstrument | None = None,
        measurement: Sequence[float] = DEFAULT_MEASUREMENT,
    ) -> None:
        super().__init__(measurement)
        self.instrument = instrument if instrument is not None else PtyInstrument("sps30")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="sps30-emulator", daemon=True)
        self._thread.start()

    @property
    def port(self) -> str:
        return self.instrument.port

    def close(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()
        self.instrument.close()

    def __enter__(self) -> Sps30ShdlcEmulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            for reply in self.receive(self.instrument.read(0.05)):
                try:
                    self.instrument.write(reply, timeout=1.0)
                except (OSError, TimeoutError) as e:
                    log.debug("SPS30 emulator reply lost: %s", e)
