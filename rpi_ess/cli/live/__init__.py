"""What ``rpi-ess demo`` and ``rpi-ess client`` share: talk to a server the way the CSC does and
show what comes back as a table.

One module per job, each testable alone: :mod:`.wire` (what a telemetry line must look like),
:mod:`.session` (connect with heartbeats, ``configure``, read telemetry lines), :mod:`.stats`
(per-device counters and rates), :mod:`.values` (a payload as text, from the sensors' own field
descriptions), :mod:`.table` (the rich table), :mod:`.show` (ties them to a terminal or a pipe,
for a duration or until Ctrl-C) and :mod:`.command` (options, logging and signals).

rich is imported where it is used: the ``rpi-ess`` parser imports this package for every
sub-command, and ``serve`` must not load rich.
"""

from __future__ import annotations

from .command import Interrupted, ViewOptions, add_view_arguments, positive_float, run_command, until_stopped
from .session import SessionError, TelemetrySession
from .show import show_telemetry
from .stats import TelemetryStats
from .table import TelemetryTable, format_age
from .values import format_values
from .wire import Telemetry, parse_telemetry

__all__ = [
    "Interrupted",
    "SessionError",
    "Telemetry",
    "TelemetrySession",
    "TelemetryStats",
    "TelemetryTable",
    "ViewOptions",
    "add_view_arguments",
    "format_age",
    "format_values",
    "parse_telemetry",
    "positive_float",
    "run_command",
    "show_telemetry",
    "until_stopped",
]
