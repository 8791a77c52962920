"""The result of a check, and the report they make up (the ``--json`` schema lives here)."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GROUPS", "JSON_SCHEMA_ID", "CheckResult", "Report", "Status", "format_duration"]

#: Group names in report order.
GROUPS = ("node", "service", "buses", "devices")

#: Bumped only when a field changes meaning or disappears (new fields may be added).
JSON_SCHEMA_ID = "rpi-ess-diag/1"


def format_duration(seconds: float) -> str:
    """Uptimes and ages as a person reads them: "45 s", "12 min", "3 h 4 min", "2 d 3 h"."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours, days = seconds // 60 % 60, seconds // 3600 % 24, seconds // 86400
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


class Status(enum.StrEnum):
    PASS = "PASS"
    WARN = "WARN"  # works, but needs attention soon
    FAIL = "FAIL"  # broken: the exit code becomes 1
    SKIP = "SKIP"  # could not be checked on this host (not a failure)


@dataclass(slots=True)
class CheckResult:
    """One report line. ``hint`` says what to do; every WARN and FAIL has one."""

    group: str
    name: str
    status: Status
    summary: str
    details: list[str] = field(default_factory=list)
    hint: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "name": self.name,
            "status": str(self.status),
            "summary": self.summary,
            "details": list(self.details),
            "hint": self.hint,
            "data": self.data,
        }


@dataclass(slots=True)
class Report:
    results: list[CheckResult]
    host: str
    generated: float  # unix UTC
    duration_s: float
    simulated: bool = False

    def counts(self) -> dict[str, int]:
        counter = Counter(result.status for result in self.results)
        return {str(status): counter.get(status, 0) for status in Status}

    @property
    def exit_code(self) -> int:
        return 1 if any(result.status is Status.FAIL for result in self.results) else 0

    def as_dict(self) -> dict[str, Any]:
        from .. import __version__

        return {
            "schema": JSON_SCHEMA_ID,
            "version": __version__,
            "host": self.host,
            "generated": self.generated,
            "duration_s": round(self.duration_s, 3),
            "simulated": self.simulated,
            "exit_code": self.exit_code,
            "summary": self.counts(),
            "checks": [result.as_dict() for result in self.results],
        }
