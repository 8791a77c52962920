"""Simulation mode: what every configured device becomes, whatever its ``device_type``.

The instrument simulator produces the exact bytes the real instrument sends, at its real
rate (CSAT3B 10 Hz, EFM-100C 20 Hz, HX85 1.35 s, ...), and they go through the same
:class:`LineFramer` as a serial port's bytes, HX85 idle flush included. Simulation thus
exercises framing and parsing end to end, unlike the reference's mock devices, which
handed pre-formatted lines to the parser once a second (PROTOCOL 7).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ...simulation.instruments import InstrumentSimulator, create_simulator
from ...tai import tai_time
from ..base import Device, DeviceError, Record
from ..framing import LineFramer

if TYPE_CHECKING:
    from ...sensors.base import Sensor
    from ..config import DeviceConfig

__all__ = ["SimulatedDevice"]

log = logging.getLogger(__name__)

#: Shortest wait, so that a clock that lags the monotonic timer cannot cause a busy loop.
MIN_WAIT = 0.001


class SimulatedDevice(Device):
    """A simulated instrument on a simulated port; ``seed`` makes its values reproducible."""

    def __init__(
        self,
        config: DeviceConfig,
        sensor: Sensor,
        clock: Callable[[], float] = tai_time,
        seed: int | None = None,
    ) -> None:
        super().__init__(config, sensor, clock)
        self.seed = seed
        self._simulator: InstrumentSimulator | None = None
        self._framer = LineFramer(sensor.terminator, idle_flush=sensor.idle_flush, synced=True)
        self._next_due = 0.0  # time.monotonic() at which the instrument sends its next record
        self._idle_due: float | None = None  # when a pending record completes by idle flush

    @property
    def describe(self) -> str:
        return f"Simulated {self.config.sensor_type} ({self.config.device_type})"

    def open(self) -> None:
        """Switch the instrument on: its first record is due at once."""
        try:
            self._simulator = create_simulator(self.sensor.sensor_type, self.sensor.channels, self.seed)
        except ValueError as e:
            raise DeviceError(f"{self.where}: {e}", "open") from e
        self._framer.reset(synced=True)
        self._idle_due = None
        self._next_due = time.monotonic()

    def _read_internal(self, timeout: float) -> list[Record]:
        simulator = self._simulator
        if simulator is None:
            raise DeviceError(f"{self.where}: not open")
        deadline = time.monotonic() + timeout
        while True:
            if self._interrupted.is_set():
                return []
            now = time.monotonic()
            if now >= self._next_due:
                records = self._receive(simulator, now)
            elif self._idle_due is not None and now >= self._idle_due:
                records = self._framer.flush_idle(self.clock())
                if records or not self._framer.pending:
                    self._idle_due = None
            else:
                records = []
            if records:
                return records
            if now >= deadline:
                return []
            wake_at = min(self._next_due, deadline, self._idle_due if self._idle_due is not None else deadline)
            self._interrupted.wait(max(wake_at - now, MIN_WAIT))

    def _receive(self, simulator: InstrumentSimulator, now: float) -> list[Record]:
        """Take the record that is due from the instrument and frame it."""
        data = simulator.next_bytes()
        self._next_due += simulator.period
        if self._next_due < now:  # the reader stalled: resume the schedule, do not burst
            self._next_due = now + simulator.period
        if self.sensor.protocol == "shdlc":
            return [Record(self.clock(), data)]
        records = self._framer.feed(data, self.clock())
        if self._framer.pending and self.sensor.idle_flush is not None:
            self._idle_due = now + self.sensor.idle_flush
        return records

    def close(self) -> None:
        self._simulator = None

    def present(self) -> bool:
        return True
