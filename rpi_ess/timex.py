"""The kernel's view of the clock (adjtimex), for hosts without timedatectl or chronyc.

A read-only ``adjtimex`` call (modes = 0) needs no privilege and tells whether an NTP
daemon has marked the clock synchronised, and which TAI offset the kernel holds.
"""

from __future__ import annotations

import ctypes
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["KernelClock", "read_kernel_clock"]

log = logging.getLogger(__name__)

_STA_UNSYNC = 0x0040
_TIME_ERROR = 5


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long), ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


@dataclass(frozen=True, slots=True)
class KernelClock:
    synchronised: bool
    tai_offset: int  # seconds; 0 when no daemon has told the kernel
    max_error_us: int


@functools.cache
def _adjtimex() -> Callable[..., int] | None:
    """libc's adjtimex, looked up once, in the symbols the interpreter already has loaded.

    ``CDLL(None)`` needs no library search (``ctypes.util.find_library`` may run ldconfig and
    pulls in subprocess, tempfile and shutil: about 1 MB of a server's memory).
    """
    try:
        return ctypes.CDLL(None, use_errno=True).adjtimex
    except (OSError, AttributeError) as e:
        log.debug("adjtimex unavailable: %s", e)
        return None


def read_kernel_clock() -> KernelClock | None:
    """None when adjtimex is unavailable (not Linux, no libc)."""
    adjtimex = _adjtimex()
    if adjtimex is None:
        return None
    timex = _Timex()
    state = adjtimex(ctypes.byref(timex))
    if state < 0:
        log.debug("adjtimex failed: errno %d", ctypes.get_errno())
        return None
    synchronised = state != _TIME_ERROR and not timex.status & _STA_UNSYNC
    return KernelClock(synchronised, timex.tai, timex.maxerror)
