"""Figures next to their targets (issue 6) and the existing controller's, as a table and as JSON."""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Check", "checks", "markdown_table", "print_table", "write_json"]

COLUMNS = ("figure", "scenario", "measured", "target", "result", "existing controller", "floor.py")

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
    floor: float | None = None  # the minimal forwarder (floor.py) on the same machine and load
    not_judged: str = ""  # why this run gives no verdict, shown instead of one (e.g. "n/a (quick)")

    @property
    def passed(self) -> bool | None:
        if not self.target or self.not_judged:
            return None
        op, limit = self.target.split()
        if self.measured is None or math.isnan(self.measured):
            return False
        return _OPS[op](self.measured, float(limit))


def _flow_checks(flow: dict[str, Any], floor: dict[str, Any] | None, scenario: str, p99: float, cpu_target: str,
                 ref: dict[str, str]) -> list[Check]:
    def figures(f: dict[str, Any]) -> list[float]:
        latency = f["latency_ms"]
        return [f["cpu_ms_per_line"], latency["p50"], latency["p99"], latency["max"], f["lines_lost"], f["cpu_percent"]]

    floors = figures(floor) if floor else [None] * 6
    measured = figures(flow)
    rows = [
        ("CPU per telemetry line", "ms", cpu_target, ref.get("cpu", ""), 4),
        ("latency p50", "ms", "", "", 2),
        ("latency p99", "ms", f"<= {p99:g}", ref.get("p99", ""), 2),
        ("latency max", "ms", "", "", 2),
        ("lines lost", "", "== 0", "", 0),
        ("server CPU", "% core", "", "", 2),
    ]
    return [Check(figure, scenario, value, unit, target, reference, digits, base)
            for (figure, unit, target, reference, digits), value, base in zip(rows, measured, floors, strict=True)]


def checks(results: dict[str, Any]) -> list[Check]:
    """Every figure of the issue, with its target where it has one (scenarios not run are left out)."""
    found: list[Check] = []
    floor = results.get("floor", {})
    if typical := results.get("typical"):
        name = f"{typical['instruments']} x {typical['rate_per_instrument']:g} Hz"
        found += _flow_checks(typical, floor.get("typical"), name, 2, "<= 0.15",
                              {"cpu": "6.8-10.3 ms", "p99": "47-58 ms"})
    if fast := results.get("fast"):
        found += _flow_checks(fast, floor.get("fast"), f"{fast['instruments']} x {fast['rate_per_instrument']:g}/s",
                              5, "", {})
    if saturation := results.get("saturation"):
        found.append(Check("max sustained rate, no loss", "1 instrument", saturation["max_sustained_lines_per_s"],
                           "lines/s", ">= 5000", "~80 lines/s", 0))
    found += [
        Check("peak RSS (VmHWM)", "whole run", results["peak_rss_mb"], "MB", "<= 30", "82 MB", 1,
              floor.get("peak_rss_mb")),
        Check("RSS of importing the server only", "python -c import", results["import_floor_rss_mb"], "MB", "", "",
              1),
        Check("start-up to accepting connections", "median of runs", results["startup"]["median_s"], "s", "<= 0.3",
              "", 3),
    ]
    if idle := results.get("idle"):
        found.append(Check("idle CPU (configured, silent)", f"{idle['instruments']} instruments",
                           idle["cpu_percent"], "% core", "<= 0.2", "", 3))
    if slow := results.get("slow_client"):
        name = f"slow client, {slow['seconds']:g} s"
        found += [
            Check("RSS growth once queues are full", name, slow["rss_growth_mb"], "MB", "<= 1", "", 2),
            Check("lines dropped (status devices[].dropped)", name, slow["dropped_total"], "", "> 0", "", 0),
            Check("drop warnings in the server log", name, slow["drop_warnings_in_log"], "", "> 0", "", 0),
            Check("instrument writes that blocked", name, slow["write_stalls"] + slow["overruns"], "", "== 0", "", 0),
        ]
    if metrics := results.get("metrics"):
        found += [
            Check("metrics scrapes (failed)", f"every {metrics['scrape_interval_s']:g} s", metrics["scrape_failures"],
                  "", "== 0", "", 0),
            Check("server CPU per scrape", f"{metrics['samples_per_scrape']} samples", metrics["scrape_cpu_ms"], "ms",
                  "", "", 2),
        ]
    if tap := results.get("tap"):
        found += [Check("tap: bytes shown", tap["device"], tap["bytes"], "B", "", "", 0),
                  Check("tap: bytes dropped (tap too slow)", tap["device"], tap["dropped_bytes"], "B", "", "", 0)]
    return found


def _text(value: float | None, check: Check) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{check.digits}f} {check.unit}".strip()


def _row(check: Check) -> list[str]:
    verdict = check.not_judged or {True: "PASS", False: "FAIL", None: ""}[check.passed]
    target = f"{check.target} {check.unit}".strip() if check.target else ""
    floor = _text(check.floor, check) if check.floor is not None else ""
    return [check.figure, check.scenario, _text(check.measured, check), target, verdict, check.reference, floor]


def markdown_table(all_checks: list[Check], title: str) -> str:
    """The table as Markdown, to quote a run in docs or an issue."""
    lines = [title, "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_row(check)).replace("<=", "≤").replace(">=", "≥") + " |" for check in all_checks]
    return "\n".join(lines) + "\n"


def print_table(all_checks: list[Check], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column, justify="right" if column in ("measured", "floor.py") else "left")
    colours = {"PASS": "[green]PASS[/]", "FAIL": "[red]FAIL[/]", "": ""}
    for check in all_checks:
        row = _row(check)
        row[4] = colours.get(row[4], f"[dim]{row[4]}[/]")
        table.add_row(*row)
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
