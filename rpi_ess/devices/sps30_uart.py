"""Polling a Sensirion SPS30 over its UART (SHDLC, PROTOCOL 4.9).

The sensor does not stream: the host starts a measurement, then asks for the measured values
about once a second. Compared with the reference (PROTOCOL 8 item 25) this honours the
configured port, un-stuffs replies (so valid frames containing 7E/7D/11/13 are kept), treats
a refused command as a state to recover from, and turns a bad frame into an error record
(a response_code 10 line) instead of a silent empty line or a dead task.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .base import DeviceError, Record
from .shdlc import MAX_FRAME, STATE_MEANINGS, Reply, ShdlcError, build_request, next_frame, parse_reply

if TYPE_CHECKING:
    from ..sensors.base import Sensor
    from .config import DeviceConfig
    from .serial_link import SerialLink

__all__ = ["Sps30Poller"]

log = logging.getLogger(__name__)

CMD_START, CMD_STOP, CMD_READ = 0x00, 0x01, 0x03
START_MEASUREMENT = build_request(CMD_START, b"\x01\x03")  # sub-command 1, big-endian float output
STOP_MEASUREMENT = build_request(CMD_STOP)
READ_MEASURED_VALUES = build_request(CMD_READ)
STATE_NOT_ALLOWED = 0x43
DEVICE_ERROR_FLAG = 0x80
MEASUREMENT_BYTES = 40  # ten float32
SPS30_BAUD = 115200


class Sps30Poller:
    """Start/stop and poll an SPS30 over an open :class:`SerialLink`."""

    # Bounded so that configure answers within ~3 s when no sensor answers (the reference
    # could hang configure forever, PROTOCOL 8 item 9).
    start_attempts = 3
    reply_timeout = 0.5  # the datasheet allows 20 ms; a reply takes ~5 ms at 115200 baud
    no_data_retry = 0.1  # "no new data yet": ask again this soon
    no_data_limit = 5.0  # report an error when no new data came for this long
    silent_limit = 3  # consecutive unanswered polls before the port is declared lost

    def __init__(self, link: SerialLink, config: DeviceConfig, sensor: Sensor, clock: Callable[[], float]) -> None:
        self.link = link
        self.baud_rate = config.baud_rate
        self.interval = config.poll_interval or 1.0
        self.clock = clock
        self._next_poll = 0.0
        self._silent = 0
        self._last_data = 0.0
        self._warned_flag = False

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Stop (whatever the sensor was doing), then start measuring; bounded retries."""
        if self.baud_rate != SPS30_BAUD:
            log.warning("%s: SPS30 talks at %d baud, configured %d", self.link.where, SPS30_BAUD, self.baud_rate)
        reason = "no attempt"
        for _ in range(self.start_attempts):
            try:
                self._transact(STOP_MEASUREMENT)  # "not allowed" just means it was idle already
                reply, _ = self._transact(START_MEASUREMENT)
            except (ShdlcError, TimeoutError) as e:
                reason = str(e)
                continue
            if reply.state == 0:
                self._next_poll = time.monotonic()
                self._last_data = time.monotonic()
                self._silent = 0
                return
            reason = f"start refused: {_state_text(reply.state)}"
        raise DeviceError(f"{self.link.where}: SPS30 did not start measuring after {self.start_attempts} "
                          f"attempts ({reason})", "open")

    def stop(self) -> None:
        """Best effort: leave the sensor idle (fan off) when the server lets go of it."""
        if self.link.failed:
            return  # a dead port would only make closing wait for timeouts
        try:
            self._transact(STOP_MEASUREMENT)
        except (ShdlcError, TimeoutError, DeviceError) as e:
            log.debug("%s: SPS30 stop not confirmed: %s", self.link.where, e)

    # -- polling ----------------------------------------------------------------------------

    def read_once(self, timeout: float) -> list[Record]:
        wait = self._next_poll - time.monotonic()
        if wait > 0 and (self.link.wait(min(wait, timeout)) or time.monotonic() < self._next_poll):
            return []  # interrupted, or not time to poll yet
        record = self._poll()
        return [] if record is None else [record]

    def _poll(self) -> Record | None:
        """Ask once; a record, or None when the sensor has no new data yet."""
        self._next_poll = time.monotonic() + self.interval
        try:
            reply, timestamp = self._transact(READ_MEASURED_VALUES)
        except ShdlcError as e:
            return Record(self.clock(), b"", f"SPS30 frame {e}")
        except TimeoutError as e:
            self._silent += 1
            if self._silent >= self.silent_limit:
                raise DeviceError(f"{self.link.where}: port lost: SPS30 did not answer "
                                  f"{self._silent} polls in a row", "timeout") from e
            return Record(self.clock(), b"", str(e), "timeout")
        self._silent = 0
        return self._measurement(reply, timestamp)

    def _measurement(self, reply: Reply, timestamp: float) -> Record | None:
        if reply.command != CMD_READ:
            return Record(timestamp, b"", f"SPS30 answered command {reply.command:#04x} to a read")
        code = reply.state & ~DEVICE_ERROR_FLAG
        if code == STATE_NOT_ALLOWED:  # power-cycled behind our back: back to measuring
            self.start()
            return Record(timestamp, b"", "SPS30 was not measuring; measurement restarted")
        if code:
            return Record(timestamp, b"", f"SPS30 refused read: {_state_text(reply.state)}")
        if reply.state & DEVICE_ERROR_FLAG and not self._warned_flag:
            self._warned_flag = True  # the values still come; the status register says why
            log.warning("%s: SPS30 reports a device error (fan or laser); values may be wrong", self.link.where)
        if not reply.data:
            return self._no_new_data(timestamp)
        if len(reply.data) != MEASUREMENT_BYTES:
            return Record(timestamp, b"", f"SPS30 reply has {len(reply.data)} data bytes, expected 40")
        self._last_data = time.monotonic()
        return Record(timestamp, reply.data)

    def _no_new_data(self, timestamp: float) -> Record | None:
        now = time.monotonic()
        if now - self._last_data >= self.no_data_limit:
            self._last_data = now
            return Record(timestamp, b"", f"SPS30 has had no new data for {self.no_data_limit:.0f} s", "timeout")
        self._next_poll = now + self.no_data_retry
        return None

    # -- one command ------------------------------------------------------------------------

    def _transact(self, request: bytes) -> tuple[Reply, float]:
        """Send one request, return the parsed reply and the time its last byte arrived.

        Raises TimeoutError (no complete reply), ShdlcError (bad frame), DeviceError (port).
        """
        self.link.discard_input()  # a late reply to an earlier request is not this reply
        self.link.write(request)
        deadline = time.monotonic() + self.reply_timeout
        buffer = b""
        while time.monotonic() < deadline:
            buffer += self.link.read_chunk()
            timestamp = self.clock()
            frame, buffer = next_frame(buffer)
            if frame is not None:
                return parse_reply(frame), timestamp
            if len(buffer) > MAX_FRAME:
                raise ShdlcError(f"reply longer than {MAX_FRAME} bytes without an end flag")
        raise TimeoutError(f"SPS30 did not answer within {self.reply_timeout:.1f} s")


def _state_text(state: int) -> str:
    code = state & ~DEVICE_ERROR_FLAG
    return f"state {state:#04x} ({STATE_MEANINGS.get(code, 'unknown error')})"
