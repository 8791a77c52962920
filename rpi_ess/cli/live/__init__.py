"""What ``rpi-ess demo`` and ``rpi-ess client`` share: talk to a server the way the CSC does and
show what comes back as a table.

One module per job, each testable alone: :mod:`.wire` (what a telemetry line must look like),
:mod:`.session` (connect with heartbeats, ``configure``, read telemetry lines), :mod:`.stats`
(per-device counters and rates), :mod:`.values` (a payload as text, from the sensors' own field
descriptions), :mod:`.table` (the rich table), :mod:`.show` (ties them to a terminal or a pipe,
for a duration or until Ctrl-C) and :mod:`.command` (options, logging and signals).

rich, and the session and table modules, are imported on first use (``__getattr__``): the
``rpi-ess`` parser imports this package for every sub-command, and a ``serve`` process must not
carry them in its memory.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> the module of this package that defines it
_WHERE = {
    "Interrupted": "command",
    "ViewOptions": "command",
    "add_view_arguments": "command",
    "positive_float": "command",
    "run_command": "command",
    "until_stopped": "command",
    "SessionError": "session",
    "TelemetrySession": "session",
    "show_telemetry": "show",
    "TelemetryStats": "stats",
    "TelemetryTable": "table",
    "format_age": "table",
    "format_values": "values",
    "Telemetry": "wire",
    "parse_telemetry": "wire",
}
__all__ = list(_WHERE)  # derived: nothing to keep in step


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
