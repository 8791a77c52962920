"""Figures next to their targets (issue 6) and the existing controller's, as a table and as JSON."""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Check", "checks", "print_table", "write_json"]

_OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge, "==": operator.eq,
                                                   ">": operator.gt}


@dataclass
class Check:
    figure: str
    scenario: str
    measured: float | None
    unit: str
    target: str  # e.g. "<= 0.15"; "" for figures reported without a target
    reference: str = ""  # the existing controller, measured the same way
    digits: int = 2

    @property
    def passed(self) -> bool | None:
        if not self.target:
            return None
        op, limit = self.target.split()
        if self.measured is None or math.isnan(self.measured):
            return False
        return _OPS[op](self.measured, float(limit))


def _flow_checks(flow: dict[str, Any], scenario: str, p99: float, cpu_target: str, ref: dict[str, str]) -> list[Check]:
    latency = flow["latency_ms"]
    return [
        Check("CPU per telemetry line", scenario, flow["cpu_ms_per_line"], "ms", cpu_target, ref.get("cpu", ""), 4),
        Check("latency p50", scenario, latency["p50"], "ms", ""),
        Check("latency p99", scenario, latency["p99"], "ms", f"<= {p99:g}", ref.get("p99", "")),
        Check("latency max", scenario, latency["max"], "ms", ""),
        Check("lines lost", scenario, flow["lines_lost"], "", "== 0", digits=0),
        Check("server CPU", scenario, flow["cpu_percent"], "% core", ""),
    ]


def checks(results: dict[str, Any]) -> list[Check]:
    """Every figure of the issue, with its target where it has one."""
    typical, fast, slow = results["typical"], results["fast"], results["slow_client"]
    typical_name = f"{typical['instruments']} x {typical['rate_per_instrument']:g} Hz"
    fast_name = f"{fast['instruments']} x {fast['rate_per_instrument']:g}/s"
    slow_name = f"slow client, {slow['seconds']:g} s"
    return [
        *_flow_checks(typical, typical_name, 2, "<= 0.15", {"cpu": "6.8-10.3 ms", "p99": "47-58 ms"}),
        *_flow_checks(fast, fast_name, 5, "", {}),
        Check("max sustained rate, no loss", "1 instrument", results["saturation"]["max_sustained_lines_per_s"],
              "lines/s", ">= 5000", "~80 lines/s", 0),
        Check("peak RSS (VmHWM)", "whole run", results["peak_rss_mb"], "MB", "<= 30", "82 MB", 1),
        Check("RSS of importing the server only", "python -c import", results["import_floor_rss_mb"], "MB", "", "",
              1),
        Check("start-up to accepting connections", "median of runs", results["startup"]["median_s"], "s", "<= 0.3",
              "", 3),
        Check("idle CPU (configured, silent)", f"{results['idle']['instruments']} instruments",
              results["idle"]["cpu_percent"], "% core", "<= 0.2", "", 3),
        Check("RSS growth once queues are full", slow_name, slow["rss_growth_mb"], "MB", "<= 1", "", 2),
        Check("lines dropped (status devices[].dropped)", slow_name, slow["dropped_total"], "", "> 0", "", 0),
        Check("drop warnings in the server log", slow_name, slow["drop_warnings_in_log"], "", "> 0", "", 0),
        Check("instrument writes that blocked", slow_name, slow["write_stalls"] + slow["overruns"], "", "== 0", "",
              0),
    ]


def _text(check: Check) -> str:
    if check.measured is None or (isinstance(check.measured, float) and math.isnan(check.measured)):
        return "n/a"
    return f"{check.measured:,.{check.digits}f} {check.unit}".strip()


def print_table(all_checks: list[Check], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in ("figure", "scenario", "measured", "target", "result", "existing controller"):
        table.add_column(column, justify="right" if column == "measured" else "left")
    for check in all_checks:
        verdict = {True: "[green]PASS[/]", False: "[red]FAIL[/]", None: ""}[check.passed]
        table.add_row(check.figure, check.scenario, _text(check), f"{check.target} {check.unit}".strip()
                      if check.target else "", verdict, check.reference)
    console = Console()
    if not console.is_terminal:
        console = Console(width=150)  # a log file or pipe: do not wrap at 80 columns
    console.print(table)


def write_json(results: dict[str, Any], all_checks: list[Check], path: Path) -> None:
    report = dict(results)
    report["checks"] = [{**asdict(c), "passed": c.passed} for c in all_checks]
    report["all_passed"] = all(c.passed is not False for c in all_checks)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
