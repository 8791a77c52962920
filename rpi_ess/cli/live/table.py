"""The live table of ``demo`` and ``client``: one row per device, fitted to the terminal's width.

rich is imported where it is used, so that registering the commands does not load it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .stats import DeviceStats, TelemetryStats
from .values import format_values

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.table import Table
    from rich.text import Text

__all__ = ["STALE_AGE", "TelemetryTable", "format_age"]

#: Seconds without a line after which a device's age is highlighted.
STALE_AGE = 10.0


def format_age(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


#: (header, rich column options, also shown on a narrow terminal)
_COLUMNS: tuple[tuple[str, dict[str, Any], bool], ...] = (
    ("Device", {"no_wrap": True, "style": "bold"}, True),
    ("Sensor", {"no_wrap": True}, False),
    ("Latest values", {"min_width": 16}, True),
    ("Rate/s", {"justify": "right", "no_wrap": True}, True),
    ("Age", {"justify": "right", "no_wrap": True}, True),
    ("Lines", {"justify": "right", "no_wrap": True}, True),
    ("Errors", {"justify": "right", "no_wrap": True}, True),
    ("Last error", {}, False),
)
#: Terminals narrower than this get the columns marked for narrow terminals only.
WIDE_TABLE = 150


class TelemetryTable:
    """Renders :class:`TelemetryStats` as a rich table, one row per device, fitted to the width.

    As a rich renderable it is rebuilt from the current stats each time it is drawn.
    """

    def __init__(
        self, stats: TelemetryStats, title: str = "rpi-ess telemetry", bad_lines: Callable[[], int] = lambda: 0
    ) -> None:
        self.stats = stats
        self.title = title
        self.bad_lines = bad_lines
        #: shown under the summary while the table is live, e.g. how to stop
        self.hint: str | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.render(options.max_width)

    def render(self, width: int | None = None) -> Table:
        from rich.table import Table

        wide = width is None or width >= WIDE_TABLE
        shown = [index for index, (_, _, narrow) in enumerate(_COLUMNS) if wide or narrow]
        caption = self.stats.summary(self.bad_lines()) + (f"\n{self.hint}" if self.hint else "")
        table = Table(title=self.title, caption=caption, caption_justify="left")
        for index in shown:
            header, options, _ = _COLUMNS[index]
            table.add_column(header, **options)
        now = self.stats.clock()
        for device in self.stats.devices.values():
            cells = self._row(device, now)
            table.add_row(*(cells[index] for index in shown))
        return table

    @staticmethod
    def _row(device: DeviceStats, now: float) -> tuple[str | Text, ...]:
        from rich.text import Text

        if device.last_seen is None:
            values: str | Text = Text("waiting…", style="dim")
            age: str | Text = "—"
        else:
            values = format_values(device.sensor_type, device.values or [])
            seconds = now - device.last_seen
            age = Text(format_age(seconds), style="yellow" if seconds > STALE_AGE else "")
        errors = Text(str(device.errors), style="red" if device.errors else "")
        last_error = ""
        if device.last_error is not None and device.last_error_at is not None:
            last_error = Text(f"{device.last_error}, {format_age(now - device.last_error_at)} ago", style="red")
        return (device.name, device.sensor_type, values, f"{device.rate(now):.1f}", age, str(device.lines),
                errors, last_error)
