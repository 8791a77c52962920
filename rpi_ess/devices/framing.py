"""Split an instrument byte stream into records.

Devices read whatever bytes are waiting (never one byte per call) and feed them here.
Rules (PROTOCOL 4, 5.2, Appendix B):

* A record ends at the last byte of the sensor's terminator; the rest of the terminator,
  and one stray byte just before it (``b"\\r" + x + b"\\n"``), are removed.
* ``synced=False``: until the first terminator (or idle gap) the framer drops bytes (the
  tail of a line whose start was missed). Serial ports empty their input buffer at open,
  so they start synced and keep the first record (PROTOCOL Appendix B); that record is
  marked ``first``: if it was cut by the open, its parser says so (NaN padding or an error
  reading) and the runner drops an unreadable first record instead of reporting it.
* ``idle_flush``: for instruments that send their terminator late (HX85's ``\\n\\r`` arrives
  just before the next line), a pending record is complete once the line has been idle
  that long, and it carries the time its last byte arrived.
* A record longer than ``max_length`` is discarded and reported as an error record (class
  ``overflow``), whether it arrived across reads or inside one, so a babbling or
  terminator-less instrument cannot grow memory or send an oversized telemetry line.
"""

from __future__ import annotations

from .base import Record

__all__ = ["LineFramer"]

DEFAULT_MAX_RECORD = 4096


class LineFramer:
    def __init__(
        self,
        terminator: bytes,
        *,
        max_length: int = DEFAULT_MAX_RECORD,
        idle_flush: float | None = None,
        synced: bool = False,
    ) -> None:
        if not terminator:
            raise ValueError("terminator must not be empty")
        self._end = terminator[-1:]
        self._head = terminator[:-1]
        self.max_length = max_length
        self.idle_flush = idle_flush
        self.synced = synced
        self._buffer = bytearray()
        self._last_byte_time = 0.0
        self._overflowing = False
        self._first = True

    @property
    def pending(self) -> int:
        """Bytes waiting for their terminator."""
        return len(self._buffer)

    def reset(self, synced: bool = False) -> None:
        self._buffer.clear()
        self._overflowing = False
        self._first = True
        self.synced = synced

    def feed(self, data: bytes, now: float) -> list[Record]:
        """Add bytes received at ``now``; return the records they complete."""
        records: list[Record] = []
        if self.idle_flush is not None and self._buffer and now - self._last_byte_time >= self.idle_flush:
            self._emit(bytes(self._buffer), self._last_byte_time, records)
            self._buffer.clear()
        parts = data.split(self._end)
        for part in parts[:-1]:
            if self._buffer:
                self._buffer += part
                chunk = bytes(self._buffer)
                self._buffer.clear()
            else:
                chunk = part
            if len(chunk) > self.max_length + len(self._head) + 1:
                self._overflow(now, records)
            self._emit(self._strip(chunk), now, records)
        tail = parts[-1]
        if tail:
            self._buffer += tail
            if len(self._buffer) > self.max_length:
                self._overflow(now, records)
                self._buffer.clear()
        if data:
            self._last_byte_time = now
        return records

    def flush_in(self, now: float) -> float | None:
        """Seconds until a pending record is due for :meth:`flush_idle`; None if none is pending."""
        if self.idle_flush is None or not self._buffer:
            return None
        return max(0.0, self._last_byte_time + self.idle_flush - now)

    def flush_idle(self, now: float) -> list[Record]:
        """Complete a pending record if the line has been idle for ``idle_flush`` seconds."""
        if self.idle_flush is None or not self._buffer or now - self._last_byte_time < self.idle_flush:
            return []
        records: list[Record] = []
        self._emit(bytes(self._buffer), self._last_byte_time, records)
        self._buffer.clear()
        return records

    def _overflow(self, now: float, records: list[Record]) -> None:
        """The record in progress is too long: report it once; its tail is dropped."""
        if self.synced and not self._overflowing:
            records.append(Record(now, b"", f"record longer than {self.max_length} bytes discarded", "overflow"))
        self._overflowing = True

    def _strip(self, chunk: bytes) -> bytes:
        head = self._head
        if head:
            if chunk.endswith(head):
                chunk = chunk[: -len(head)]
            elif len(chunk) > len(head) and chunk[-len(head) - 1 : -1] == head:
                chunk = chunk[: -len(head) - 1]  # one stray byte between the terminator bytes
        return chunk

    def _emit(self, chunk: bytes, timestamp: float, records: list[Record]) -> None:
        if self._overflowing:
            self._overflowing = False  # this was the tail of the discarded record
            self.synced = True
            return
        if not self.synced:
            self.synced = True  # everything before the first terminator is a partial line
            return
        if chunk:
            records.append(Record(timestamp, chunk, first=self._first))
            self._first = False
