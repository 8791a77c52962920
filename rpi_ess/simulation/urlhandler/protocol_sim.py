"""``sim://<sensor_type>?...``: a pyserial port with a simulated instrument at its other end.

The port is what the serial backends open instead of ``/dev/ttyUSB0``, so simulation runs
the real :class:`~rpi_ess.devices.serial_link.SerialLink`, framers, readers, SPS30
poller and parsers. The instrument sends the exact bytes of the real one at its real rate
and baud (see :mod:`rpi_ess.simulation.line`); an SPS30 answers the SHDLC requests written
to it. Reads honour the port timeout and :meth:`Serial.cancel_read`.

Query parameters (all optional)::

    channels=N       channel count (Temperature probes)
    seed=S           same seed, same byte stream; default: different each time
    silent=1         the instrument sends and answers nothing
    fail_after=T     T seconds after opening, the port is lost (reads raise, as an unplugged adapter)
    garbage=R        fraction R (0..1) of records replaced by random bytes
    baud=B           the instrument's real baud rate; a port opened at another rate reads garbage

Example: ``sim://Temperature?channels=8&seed=1``, ``sim://Sps30?fail_after=30``.
"""

from __future__ import annotations

import numbers
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from serial.serialutil import PortNotOpenError, SerialBase, SerialException

from ..instruments import SIMULATORS
from ..line import Faults, SimulatedLine

__all__ = ["Serial", "parse_url"]

SCHEME = "sim"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _flag(value: str) -> bool:
    if value.lower() not in _TRUE + _FALSE:
        raise ValueError(f"expected 1 or 0, got {value!r}")
    return value.lower() in _TRUE


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(f"must be positive, got {number}")
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if not number >= 0:  # also refuses nan
        raise ValueError(f"must be 0 or more, got {value}")
    return number


def _ratio(value: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"must be from 0 to 1, got {value}")
    return number


_PARAMETERS: dict[str, Callable[[str], Any]] = {
    "channels": _positive_int,
    "seed": int,
    "silent": _flag,
    "fail_after": _seconds,
    "garbage": _ratio,
    "baud": _positive_int,
}


def parse_url(url: str) -> tuple[str, dict[str, Any]]:
    """``(sensor_type, parameters)`` of a ``sim://`` URL; ValueError saying what is wrong."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != SCHEME:
        raise ValueError(f"{url!r} is not a {SCHEME}:// URL")
    known = {name.lower(): name for name in SIMULATORS}
    sensor_type = known.get(parts.netloc.lower())
    if sensor_type is None:
        raise ValueError(f"{url}: no simulated instrument {parts.netloc!r}; known: {', '.join(SIMULATORS)}")
    parameters: dict[str, Any] = {}
    for name, values in urllib.parse.parse_qs(parts.query, keep_blank_values=True, strict_parsing=False).items():
        convert = _PARAMETERS.get(name)
        if convert is None:
            raise ValueError(f"{url}: unknown parameter {name!r}; known: {', '.join(_PARAMETERS)}")
        try:
            parameters[name] = convert(values[-1])
        except ValueError as e:
            raise ValueError(f"{url}: {name}: {e}") from None
    return sensor_type, parameters


class Serial(SerialBase):
    """pyserial port whose far end is a :class:`SimulatedLine`; thread-safe like a tty."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.line: SimulatedLine | None = None
        self._changed = threading.Condition()  # new bytes, a cancel, or closing
        self._cancelled = False
        super().__init__(*args, **kwargs)

    # -- life cycle -------------------------------------------------------------------------

    def open(self) -> None:
        if self.is_open:
            raise SerialException("Port is already open.")
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        sensor_type, parameters = parse_url(self._port)
        faults = Faults(**{name: parameters[name] for name in ("silent", "fail_after", "garbage", "baud")
                           if name in parameters})
        self._reconfigure_port()
        with self._changed:
            self.line = SimulatedLine(sensor_type, parameters.get("channels"), parameters.get("seed"),
                                      self._baudrate, faults)
            self.line.open(time.monotonic())
            self._cancelled = False
            self.is_open = True

    def close(self) -> None:
        with self._changed:
            self.is_open = False
            self._changed.notify_all()

    def _reconfigure_port(self) -> None:
        if not isinstance(self._baudrate, numbers.Integral) or not 0 < self._baudrate < 2**32:
            raise ValueError(f"invalid baudrate: {self._baudrate!r}")
        with self._changed:
            if self.line is not None:
                self.line.baud_rate = self._baudrate

    # -- data -------------------------------------------------------------------------------

    @property
    def in_waiting(self) -> int:
        with self._changed:
            return self._current(time.monotonic()).waiting

    def read(self, size: int = 1) -> bytes:
        """Up to ``size`` bytes: returns when that many arrived, on timeout, or on cancel_read."""
        timeout = self._timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        data = bytearray()
        with self._changed:
            while True:
                now = time.monotonic()
                line = self._current(now)
                data += line.take(size - len(data))
                if len(data) >= size or self._cancelled or (deadline is not None and now >= deadline):
                    break
                wait = line.next_arrival() - now
                if deadline is not None:
                    wait = min(wait, deadline - now)
                self._changed.wait(None if wait == float("inf") else max(wait, 0.0))
            self._cancelled = False
        return bytes(data)

    def write(self, data: Any) -> int | None:
        payload = bytes(data)
        with self._changed:
            now = time.monotonic()
            self._current(now).host_wrote(payload, now)
            self._changed.notify_all()
        return len(payload)

    def reset_input_buffer(self) -> None:
        with self._changed:
            self._current(time.monotonic()).discard_input()

    def reset_output_buffer(self) -> None:
        with self._changed:
            self._current(time.monotonic())  # nothing is ever waiting to go out

    def cancel_read(self) -> None:
        """Make a blocked (or the next) :meth:`read` return at once, like pyserial's posix port."""
        with self._changed:
            self._cancelled = True
            self._changed.notify_all()

    def cancel_write(self) -> None:
        pass  # writes never block

    def _current(self, now: float) -> SimulatedLine:
        """The line brought up to ``now``; raises as a real port would when closed or lost."""
        line = self.line
        if not self.is_open or line is None:
            raise PortNotOpenError()
        if line.lost(now):
            raise SerialException(f"{self._port}: device reports readiness to read but returned no data "
                                  "(device disconnected?)")
        line.advance(now)
        return line

    # -- modem lines: a three-wire instrument, nothing to control -------------------------------

    def _update_break_state(self) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    @property
    def cts(self) -> bool:
        return True

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return True
