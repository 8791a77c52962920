"""TAI timestamps as Unix-epoch seconds, without astropy (PROTOCOL 3.2).

The CSC expects ``UTC unix time + (TAI - UTC)``. The kernel's CLOCK_TAI is used when its
offset has been set (chrony/ntpd with a leap-second file); otherwise UTC plus the offset
from the small table below. Unlike the reference there is no expiry date that breaks
timestamps on an offline node: past the last entry the last known offset is kept.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .timex import KernelClock, read_kernel_clock

__all__ = ["ClockSync", "TaiClock", "clock_sync", "leap_offset", "tai_time"]

log = logging.getLogger(__name__)

# (UTC unix time at which the offset starts, TAI - UTC in seconds) since 1972.
_LEAP_TABLE: tuple[tuple[int, int], ...] = (
    (63072000, 10), (78796800, 11), (94694400, 12), (126230400, 13), (157766400, 14),
    (189302400, 15), (220924800, 16), (252460800, 17), (283996800, 18), (315532800, 19),
    (362793600, 20), (394329600, 21), (425865600, 22), (489024000, 23), (567993600, 24),
    (631152000, 25), (662688000, 26), (709948800, 27), (741484800, 28), (773020800, 29),
    (820454400, 30), (867715200, 31), (915148800, 32), (1136073600, 33), (1230768000, 34),
    (1341100800, 35), (1435708800, 36), (1483228800, 37),
)
_STARTS = [start for start, _ in _LEAP_TABLE]


def leap_offset(utc: float) -> int:
    """TAI - UTC in whole seconds at the given UTC unix time (10 before 1972)."""
    index = bisect.bisect_right(_STARTS, utc) - 1
    return _LEAP_TABLE[index][1] if index >= 0 else 10


# Where a time daemon leaves a trace that an unprivileged, sandboxed process can see (no /proc scan:
# the service runs with ProtectProc=invisible). First match wins.
_DAEMON_MARKS: tuple[tuple[str, str], ...] = (
    ("/run/chrony", "chrony"),
    ("/run/systemd/timesync", "systemd-timesyncd"),
    ("/run/gpsd.sock", "gpsd"),
)


@dataclass(frozen=True, slots=True)
class ClockSync:
    """Whether the system clock is disciplined, as the kernel knows it (a Pi has no RTC)."""

    synchronised: bool | None  # None: cannot tell (no adjtimex)
    daemon: str  # "chrony", "systemd-timesyncd", ... or "none seen"
    max_error_s: float | None

    def describe(self) -> str:
        if self.synchronised is None:
            return "synchronisation unknown"
        if not self.synchronised:
            return f"clock NOT synchronised ({self.daemon}): timestamps may be wrong"
        return f"clock synchronised ({self.daemon}, max error {self.max_error_s:.3f} s)"


def clock_sync(kernel: Callable[[], KernelClock | None] = read_kernel_clock,
               marks: tuple[tuple[str, str], ...] = _DAEMON_MARKS) -> ClockSync:
    """The clock's synchronisation state: one adjtimex call and a few stat calls; never raises."""
    try:
        daemon = next((name for path, name in marks if Path(path).exists()), "none seen")
        clock = kernel()
    except Exception as e:  # a status report must not fail because of the clock
        log.debug("clock state unavailable: %s", e)
        return ClockSync(None, "unknown", None)
    if clock is None:
        return ClockSync(None, daemon, None)
    return ClockSync(clock.synchronised, daemon, clock.max_error_us / 1e6)


class TaiClock:
    """Chooses once how to read TAI, then reads it with one clock call per timestamp."""

    def __init__(self) -> None:
        utc = time.time()
        expected = leap_offset(utc)
        try:
            kernel_offset = time.clock_gettime(time.CLOCK_TAI) - utc
        except (AttributeError, OSError):
            kernel_offset = 0.0
        self.uses_kernel = abs(kernel_offset - expected) < 1.1
        self.offset = 0.0 if self.uses_kernel else float(expected)
        self._next_check = utc + 3600.0
        if not self.uses_kernel:
            log.debug("CLOCK_TAI is off by %.1f s; using UTC + %d s from the leap table",
                      expected - kernel_offset, expected)

    def __call__(self) -> float:
        if self.uses_kernel:
            return time.clock_gettime(time.CLOCK_TAI)
        now = time.time()
        if now >= self._next_check:  # a leap second may have passed since start-up
            self.offset = float(leap_offset(now))
            self._next_check = now + 3600.0
        return now + self.offset

    def describe(self) -> str:
        """How timestamps are made and whether the clock behind them is synchronised (cheap, never raises)."""
        source = "kernel CLOCK_TAI" if self.uses_kernel else "UTC + leap-second table"
        return f"{source}, TAI-UTC = {leap_offset(time.time())} s; {clock_sync().describe()}"


tai_time = TaiClock()
