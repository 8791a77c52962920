"""Clock synchronisation as ``status`` and ``diag`` report it (rpi_ess.tai.clock_sync), on the real adjtimex
path where it matters: the kernel call is made for real once, and its result is faked only to cover states
this host is not in."""

from __future__ import annotations

import pytest

from rpi_ess.tai import ClockSync, clock_sync, tai_time
from rpi_ess.timex import KernelClock, read_kernel_clock


def test_real_kernel_clock_is_read_and_described():
    state = clock_sync()
    assert state.synchronised is None or isinstance(state.synchronised, bool)
    if read_kernel_clock() is not None:  # Linux: one unprivileged adjtimex call
        assert state.max_error_s is not None
    assert state.describe() in tai_time.describe()


@pytest.mark.parametrize(
    ("clock", "marks", "text"),
    [
        (KernelClock(True, 37, 2500), ["chrony"], "clock synchronised (chrony, max error 0.003 s)"),
        (KernelClock(False, 0, 16_000_000), ["chrony"], "clock NOT synchronised (chrony): timestamps may be wrong"),
        (KernelClock(True, 37, 1000), ["timesync"], "clock synchronised (systemd-timesyncd, max error 0.001 s)"),
        (KernelClock(False, 0, 16_000_000), [], "clock NOT synchronised (none seen)"),
        (None, ["chrony"], "synchronisation unknown"),
    ],
)
def test_states_and_daemons(tmp_path, clock, marks, text):
    (tmp_path / "chrony").mkdir()
    (tmp_path / "timesync").mkdir()
    table = tuple((str(tmp_path / mark), {"chrony": "chrony", "timesync": "systemd-timesyncd"}[mark])
                  for mark in marks)
    table += ((str(tmp_path / "absent"), "gpsd"),)
    assert text in clock_sync(lambda: clock, table).describe()


def test_never_raises():
    def broken() -> KernelClock:
        raise OSError("adjtimex: EPERM")

    assert clock_sync(broken) == ClockSync(None, "unknown", None)
