"""Render a :class:`Report`: coloured text for people, strict JSON for machines."""

from __future__ import annotations

import io
import json
import math
import time
from typing import IO, Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from .model import GROUPS, Report, Status

__all__ = ["render_json", "render_text", "text_console", "to_json_data"]

STYLES = {Status.PASS: "bold green", Status.WARN: "bold yellow", Status.FAIL: "bold red", Status.SKIP: "dim"}
GROUP_TITLES = {"node": "Node", "service": "Service", "buses": "Buses", "devices": "Devices"}
MAX_DETAILS = 8
UNWRAPPED_WIDTH = 100_000  # columns for redirected output: wide enough that nothing is ever wrapped


def _group_table(report: Report, group: str, name_width: int) -> Table | None:
    results = [result for result in report.results if result.group == group]
    if not results:
        return None
    table = Table(box=None, show_header=False, padding=(0, 1), title_justify="left", expand=False,
                  title=Text(GROUP_TITLES.get(group, group), style="bold underline"))
    table.add_column("status", no_wrap=True, width=4)
    table.add_column("check", no_wrap=True, style="cyan", min_width=name_width)  # groups line up
    table.add_column("result", overflow="fold")
    for result in results:
        table.add_row(Text(str(result.status), style=STYLES[result.status]), result.name, Text(result.summary))
        for detail in result.details[:MAX_DETAILS]:
            table.add_row("", "", Text(detail, style="dim"))
        if len(result.details) > MAX_DETAILS:
            table.add_row("", "", Text(f"… {len(result.details) - MAX_DETAILS} more (see --json)", style="dim"))
        if result.hint and result.status is not Status.PASS:
            table.add_row("", "", Text.assemble(("hint: ", "bold"), (result.hint, STYLES[result.status])))
    return table


def text_console(no_color: bool = False, file: IO[str] | None = None) -> Console:
    """The console for the text report.

    Redirected or piped output is never wrapped: a raw sample or a path stays on one line for
    grep and for a ticket, instead of being cut at the 80 columns rich assumes without a terminal.
    """
    console = Console(file=file, no_color=no_color, highlight=False)
    if not console.is_terminal:
        console = Console(file=_TrimmedLines(console.file), no_color=no_color, highlight=False,
                          width=UNWRAPPED_WIDTH)
    return console


class _TrimmedLines(io.TextIOBase):
    """Drops the padding rich's tables leave at the end of each line (at 100,000 columns)."""

    def __init__(self, target: IO[str]) -> None:
        self.target = target

    def write(self, text: str) -> int:
        self.target.write("\n".join(line.rstrip() for line in text.split("\n")))
        return len(text)

    def flush(self) -> None:
        self.target.flush()


def render_text(report: Report, console: Console) -> None:
    """Print the report; the console decides about colour (off when piped) and width."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(report.generated))
    header = Text.assemble(("rpi-ess diag", "bold"), f"  {report.host}  {stamp}")
    if report.simulated:
        header.append("  (SIMULATED instruments)", style="bold magenta")
    name_width = max((len(result.name) for result in report.results), default=0)
    groups = [table for group in GROUPS if (table := _group_table(report, group, name_width)) is not None]
    console.print(Group(header, *groups))
    counts = report.counts()
    summary = Text.assemble(*(
        (f"{counts[str(status)]} {status}  ", STYLES[status]) for status in Status
    ))
    summary.append(f"in {report.duration_s:.1f} s — exit code {report.exit_code}")
    console.print(summary)


def to_json_data(value: Any) -> Any:
    """Non-finite floats (parsed NaN readings) become null: the output stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): to_json_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_data(item) for item in value]
    return value


def render_json(report: Report) -> str:
    return json.dumps(to_json_data(report.as_dict()), indent=2, allow_nan=False)
