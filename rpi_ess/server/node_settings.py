"""The table of ``server.*`` settings of the node configuration: type, range, default, help.

One row per setting, so every mistake is reported the same way (the setting, what is allowed,
what was found) and docs/security.md and the defaults of ``NodeConfig`` can be checked against it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["BY_KEY", "CSC_MAX_ERROR_STATE_PERIOD", "SETTINGS", "Setting", "show"]

#: the CSC's ``max_error_state_period`` (PROTOCOL Appendix C): a sensor failing longer than this
#: makes the CSC drop the connection, so the node's error reports must stay below it
CSC_MAX_ERROR_STATE_PERIOD = 300.0
MAX_SHOWN = 40  # characters of a bad value echoed in a message


def show(value: Any) -> str:
    """A bad value as the operator wrote it in YAML (true, not True), short and on one line."""
    try:
        text = json.dumps(value, default=str)
    except ValueError:  # nan/inf are allowed by json.dumps; an int too large to print is not
        text = f"<{type(value).__name__} too large to show>"
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN - 3]}..."


# --- the settings table ----------------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    """One ``server.*`` setting: what type it takes, its range and what it is for."""

    key: str
    kind: type  # int, float, bool, str, or tuple for a list of strings
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: the value must be greater than ``low``, not equal to it
    high_open: bool = False
    choices: tuple[str, ...] = ()
    nullable: bool = False  # None (YAML null) allowed, meaning "off"
    why: str = ""  # appended when the value is out of range, to say why the limit exists
    form: str = ""  # what is allowed, when the type alone does not say it well
    unit: str = ""  # of a number, e.g. "seconds"


    def allowed(self) -> str:
        """What the setting accepts, as a phrase: 'an integer from 0 to 65535'."""
        if self.form:
            text = self.form
        elif self.choices:
            text = " or ".join(repr(c) for c in self.choices)
        elif self.kind is bool:
            text = "true or false"
        elif self.kind is str:
            text = "a string"
        elif self.kind is tuple:
            text = "a list of strings"
        else:
            noun = "an integer" if self.kind is int else "a number"
            text = noun + (f" of {self.unit}" if self.unit else "") + self._range()
        return f"{text} or null" if self.nullable else text

    def _range(self) -> str:
        if self.low is not None and self.high is not None and not (self.low_open or self.high_open):
            return f" from {self.low:g} to {self.high:g}"
        parts = []
        if self.low is not None:
            parts.append(f"{'greater than' if self.low_open else 'at least'} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'less than' if self.high_open else 'at most'} {self.high:g}")
        return " " + " and ".join(parts) if parts else ""

    def check(self, value: Any, where: str) -> tuple[Any, str | None]:
        """The value converted to the setting's type, or the one-line problem with it."""
        if value is None and self.nullable:
            return None, None
        problem = f"{where}: must be {self.allowed()}, got {show(value)}"
        if self.choices:
            return (value, None) if value in self.choices else (None, problem)
        if self.kind is tuple:
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
            return (tuple(value), None) if ok else (None, problem)
        if self.kind in (int, float):
            number = _number(value, integer=self.kind is int)
            if number is None:
                return None, problem
            if not self._in_range(number):
                return None, f"{problem}{f' ({self.why})' if self.why else ''}"
            return number, None
        return (value, None) if isinstance(value, self.kind) else (None, problem)

    def _in_range(self, number: float) -> bool:
        if self.low is not None and (number <= self.low if self.low_open else number < self.low):
            return False
        return not (self.high is not None and (number >= self.high if self.high_open else number > self.high))


def _number(value: Any, integer: bool) -> int | float | None:
    """YAML's int or float as the setting's type; bools (a YAML ``true`` is an int) never count."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if integer:
        return value if isinstance(value, int) else None
    return float(value) if math.isfinite(value) else None


SETTINGS: tuple[Setting, ...] = (
    Setting("host", str, "0.0.0.0", "address to bind (--host overrides); '::' for IPv6"),
    Setting("port", int, 5000, "TCP port of the ESS protocol (--port overrides); 0 = any free port",
            low=0, high=65535),
    Setting("allowed_clients", tuple, (), "addresses or CIDR networks allowed to connect; empty = any",
            form='a list of addresses or CIDR networks, e.g. ["10.0.0.0/8", "127.0.0.1", "::1"]'),
    Setting("max_line_length", int, 65536, "longest command line in bytes (code 24 above it)",
            low=64, high=16 << 20),
    Setting("max_devices", int, 32, "devices per configure (code 4 above it)", low=1, high=1024),
    Setting("max_commands_per_second", float, 20.0, "commands per second per client; 0 disables the limit",
            low=0, high=1e6),
    Setting("heartbeat_timeout", float, 10.0, "seconds without a heartbeat before the client is dropped",
            unit="seconds", low=0, low_open=True, high=86400),
    Setting("allow_exit", bool, True, "the exit command ends serve (status 75, restarted by the unit)"),
    Setting("status_socket", str, None, "local status socket for rpi-ess diag", nullable=True),
    Setting("status_led_pin", int, None, "BCM pin of the status LED", low=0, high=27, nullable=True),
    Setting("max_queue_per_device", int, 200, "telemetry lines queued per device for a slow client",
            low=1, high=1_000_000),
    Setting("open_failures", str, "retry",
            "a device that cannot be opened at configure: 'retry' starts it anyway (code-10 lines, reopened "
            "with backoff), 'refuse' answers code 11 and starts nothing", choices=("retry", "refuse")),
    Setting("error_report_seconds", float, 120.0,
            "longest time the CSC's error timer of a failing sensor may run before the node clears it",
            unit="seconds", low=0, low_open=True, high=CSC_MAX_ERROR_STATE_PERIOD, high_open=True,
            why="the CSC drops the connection when a sensor's errors last longer than its "
            "max_error_state_period of 300 s, so the node must report within it"),
    Setting("on_new_client", str, "reject",
            "a connection while a client is served: 'reject' it, or 'replace' an idle client",
            choices=("reject", "replace")),
    Setting("takeover_idle_seconds", float, 3.0,
            "with on_new_client: replace, how long the old client must have sent nothing",
            unit="seconds", low=0, low_open=True, high=3600),
    Setting("keepalive_seconds", float, 30.0,
            "silence towards the client after which a keep-alive telemetry line is sent",
            unit="seconds", low=0, low_open=True, high=60, high_open=True,
            why="the CSC's read timeout is 60 s: a node silent that long is treated as failed"),
    Setting("metrics_port", int, None, "TCP port of the Prometheus metrics endpoint; null = off",
            low=1, high=65535, nullable=True),
)
BY_KEY = {s.key: s for s in SETTINGS}
