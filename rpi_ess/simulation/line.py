"""The instrument end of a serial line: which bytes reach the host, and when.

A streaming instrument sends one record per period from its own clock; an SPS30 answers
the SHDLC requests the host writes. Either way the bytes travel like on a UART behind a
USB adapter: one character per 10 bit times (8N1) at the line's baud rate, handed to the
host in 1 ms packets (the FTDI latency timer rpi-ess sets), into a 4 KB receive buffer
that drops what does not fit. So a reader sees partial records, ``in_waiting`` grows
during a line, and a record's timestamp is that of its last packet, as on a real port.

Everything is computed from the time passed in, under the caller's lock; no threads.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass

from .instruments import InstrumentSimulator, create_simulator
from .sps30_emulator import Sps30Shdlc

__all__ = ["Faults", "SimulatedLine", "garble"]

BITS_PER_CHARACTER = 10  # start bit, 8 data bits, stop bit
PACKET_TIME = 0.001  # USB-serial adapter latency timer: bytes reach the host in 1 ms packets
RECEIVE_BUFFER = 4096  # the tty's input buffer; what does not fit is lost (an overrun)
SPS30_RESPONSE_TIME = 0.002  # the datasheet allows 20 ms; the sensor typically answers in a few
_EPSILON = 1e-9  # float guard when counting whole packets and characters


def garble(line: bytes) -> bytes:
    """What a UART at the wrong speed makes of a line: high-bit bytes, never a terminator."""
    return bytes(0x80 | (byte * 7 + 3) & 0x7F for byte in line)


@dataclass(frozen=True)
class Faults:
    """How the instrument misbehaves (``sim://`` query parameters of the same names)."""

    silent: bool = False  # sends nothing and answers nothing: powered off, cable still plugged
    fail_after: float | None = None  # seconds after opening at which the port is lost (adapter pulled)
    garbage: float = 0.0  # fraction of records (or SPS30 replies) replaced by line noise
    baud: int | None = None  # the instrument's real baud rate: a port set to any other rate garbles


class _ClockedSps30(Sps30Shdlc):
    """An SPS30 whose new measurement comes once per period after start, from the simulator."""

    def __init__(self, simulator: InstrumentSimulator) -> None:
        super().__init__()
        self.simulator = simulator
        self.now = 0.0  # set by the line before each request
        self._due = math.inf

    def _execute(self, command: int, data: bytes) -> tuple[int, bytes]:
        was_measuring = self.measuring
        result = super()._execute(command, data)
        if self.measuring and not was_measuring:
            self._due = self.now + self.simulator.period  # the first measurement takes a period
        return result

    def measured_values(self) -> bytes:
        if self.now < self._due:
            return b""  # asked before the next measurement: "no new data"
        period = self.simulator.period  # measurements missed by a slow host are simply lost
        self._due += period * (math.floor((self.now - self._due) / period) + 1)
        return self.simulator.next_bytes()


class SimulatedLine:
    """One simulated instrument on one serial line, as seen from the host's end."""

    def __init__(
        self,
        sensor_type: str,
        channels: int | None = None,
        seed: int | None = None,
        baud_rate: int = 19200,
        faults: Faults | None = None,
    ) -> None:
        self.simulator = create_simulator(sensor_type, channels, seed)  # ValueError for an unknown type
        self.faults = faults or Faults()
        self.rng = random.Random(seed)  # phase and noise; the values come from the simulator's own
        self.baud_rate = baud_rate
        self.sps30 = _ClockedSps30(self.simulator) if sensor_type == "Sps30" else None
        if self.sps30 is not None:
            self.sps30.silent = self.faults.silent
        self.overrun_bytes = 0  # bytes that did not fit in the full receive buffer
        self.skipped_records = 0  # records not even built because the buffer was full
        self.opened_at = 0.0
        self._rx = bytearray()
        self._tx: deque[tuple[float, bytes]] = deque()  # (transmission start, bytes), oldest first
        self._sent = 0  # bytes of the oldest transmission already delivered
        self._tx_end = -math.inf
        self._next_record = math.inf

    @property
    def streaming(self) -> bool:
        return self.sps30 is None and not self.faults.silent

    @property
    def garbled(self) -> bool:
        return self.faults.baud is not None and self.faults.baud != self.baud_rate

    def open(self, now: float) -> None:
        """The host opens the port at ``now``, in the middle of a record.

        That record arrives cut (its head was sent to nobody), so every open exercises the
        reader's handling of a partial first line, and the first whole record follows
        within a period.
        """
        self.opened_at = now
        if self.streaming:
            record = self.simulator.next_bytes()
            start = now - self.rng.uniform(0.1, 0.9) * len(record) * self._character_time
            self._transmit(start, record)
            self._next_record = start + self.simulator.period
        self.advance(now)
        self._rx.clear()

    def lost(self, now: float) -> bool:
        """Whether the port has failed (``fail_after``) by ``now``."""
        return self.faults.fail_after is not None and now >= self.opened_at + self.faults.fail_after

    # -- host side ------------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Let the instrument send what it has sent by ``now`` and deliver what has arrived."""
        while self._next_record <= now:
            self._deliver(self._next_record)
            if len(self._rx) >= RECEIVE_BUFFER:  # nobody reads: the rest is lost, do not build it
                skipped = math.floor((now - self._next_record) / self.simulator.period) + 1
                self.skipped_records += skipped
                self._next_record += skipped * self.simulator.period
                break
            self._transmit(self._next_record, self.simulator.next_bytes())
            self._next_record += self.simulator.period
        self._deliver(now)

    def next_arrival(self) -> float:
        """When the host will next have new bytes (math.inf: not before it writes something)."""
        if self._tx:
            start, _ = self._tx[0]
            packets = math.ceil((self._sent + 1) * self._character_time / PACKET_TIME - _EPSILON)
            return start + packets * PACKET_TIME
        return self._next_record

    @property
    def waiting(self) -> int:
        return len(self._rx)

    def take(self, size: int) -> bytes:
        data = bytes(self._rx[:size])
        del self._rx[:size]
        return data

    def discard_input(self) -> None:
        self._rx.clear()

    def host_wrote(self, data: bytes, now: float) -> None:
        """Bytes the host sent: requests for an SPS30, ignored by streaming instruments."""
        if self.sps30 is None:
            return
        self.sps30.now = now
        for reply in self.sps30.receive(garble(data) if self.garbled else data):
            self._transmit(now + SPS30_RESPONSE_TIME, reply)

    # -- internals ------------------------------------------------------------------------------

    @property
    def _character_time(self) -> float:
        return BITS_PER_CHARACTER / (self.faults.baud or self.baud_rate)

    def _transmit(self, at: float, data: bytes) -> None:
        """Queue one record; a UART sends one thing at a time, so it may wait for the last."""
        if self.faults.garbage and self.rng.random() < self.faults.garbage:
            data = bytes(self.rng.randrange(256) for _ in data)
        if self.garbled:
            data = garble(data)
        start = max(at, self._tx_end)
        self._tx_end = start + len(data) * self._character_time
        self._tx.append((start, data))

    def _deliver(self, now: float) -> None:
        """Move what has arrived by ``now`` into the receive buffer."""
        while self._tx:
            start, data = self._tx[0]
            arrived = self._arrived(start, len(data), now)
            if arrived > self._sent:
                self._receive(data[self._sent : arrived])
                self._sent = arrived
            if arrived < len(data):
                return
            self._tx.popleft()
            self._sent = 0

    def _arrived(self, start: float, length: int, now: float) -> int:
        """Bytes of a transmission started at ``start`` that the host has by ``now``."""
        if now < start:
            return 0
        packets = math.floor((now - start) / PACKET_TIME + _EPSILON)
        return min(length, math.floor(packets * PACKET_TIME / self._character_time + _EPSILON))

    def _receive(self, data: bytes) -> None:
        room = RECEIVE_BUFFER - len(self._rx)
        self._rx += data[:room]
        self.overrun_bytes += max(0, len(data) - room)
