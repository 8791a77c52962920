"""How records come out of an open serial link, chosen by the sensor's ``protocol``.

A registry keyed by protocol name (no string switches in the backends): ``"lines"`` for
streaming text instruments, ``"shdlc"`` for the polled binary SPS30.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from .framing import LineFramer
from .sps30_uart import Sps30Poller

if TYPE_CHECKING:
    from ..sensors.base import Sensor
    from .base import Record
    from .config import DeviceConfig
    from .serial_link import SerialLink

__all__ = ["READERS", "LineReader", "PortReader"]


class PortReader(Protocol):
    """Turns an open link into records; ``read_once`` is one short attempt."""

    def start(self) -> None: ...

    def read_once(self, timeout: float) -> list[Record]: ...

    def stop(self) -> None: ...


class LineReader:
    """Streaming text instrument: whole chunks into the sensor's :class:`LineFramer`."""

    def __init__(self, link: SerialLink, config: DeviceConfig, sensor: Sensor, clock: Callable[[], float]) -> None:
        self.link = link
        self.clock = clock
        # Synced: the input buffer was emptied at open, so the first record is kept (a line
        # cut at the open is told apart by the parser: NaN padding or an error reading).
        self.framer = LineFramer(sensor.terminator, idle_flush=sensor.idle_flush, synced=True)

    def start(self) -> None:
        pass

    def read_once(self, timeout: float) -> list[Record]:
        framer = self.framer
        flush_in = framer.flush_in(self.clock())
        chunk = self.link.read_chunk(timeout if flush_in is None else min(timeout, flush_in))
        now = self.clock()  # right after the bytes arrived, not before the wait
        records = framer.feed(chunk, now) if chunk else []
        return records + framer.flush_idle(now)

    def stop(self) -> None:
        pass


#: sensor protocol -> reader class
READERS: dict[str, type[PortReader]] = {
    "lines": LineReader,
    "shdlc": Sps30Poller,
}
