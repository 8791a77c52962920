"""What ``rpi-ess demo`` and ``rpi-ess client`` share: talk to a server the way the CSC does and
show what comes back as a table.

Four parts, each testable alone: :class:`TelemetrySession` (the wire: connect with heartbeats,
``configure``, read telemetry lines), :class:`TelemetryStats` (per-device counters and rates),
:class:`TelemetryTable` (presentation) and :func:`show_telemetry` (ties them to a terminal or a
pipe, for a duration or until Ctrl-C).

rich is imported where it is used: the ``rpi-ess`` parser imports this module for every
sub-command, and ``serve`` must not load rich.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import logging
import math
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..server.response import ResponseCode
from ..tcpip import Client

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.table import Table
    from rich.text import Text

__all__ = [
    "Interrupted",
    "SessionError",
    "Telemetry",
    "TelemetrySession",
    "TelemetryStats",
    "TelemetryTable",
    "ViewOptions",
    "add_view_arguments",
    "format_values",
    "parse_telemetry",
    "run_command",
    "show_telemetry",
    "until_stopped",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds over which the line rate is averaged.
RATE_WINDOW = 10.0
#: Seconds without a line after which a device's age is highlighted.
STALE_AGE = 10.0
#: Seconds between refreshes of the live table.
REFRESH_INTERVAL = 0.25
#: Width used for the table when the output is not a terminal and COLUMNS is not set.
PIPE_WIDTH = 200
#: The keys of a telemetry object, in the order the server must send them (PROTOCOL 3.1).
TELEMETRY_KEYS = ("name", "timestamp", "response_code", "sensor_telemetry")


class SessionError(Exception):
    """A failure the user has to see; the message names the server and the reason."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived before the telemetry display started."""


# --------------------------------------------------------------------------- wire


@dataclass(frozen=True, slots=True)
class Telemetry:
    """One telemetry line. ``problem`` is set when the line breaks the CSC's schema (PROTOCOL 6.3)."""

    name: str
    timestamp: float
    response_code: int
    values: list[Any]
    raw: str
    problem: str | None = None


def parse_telemetry(message: Mapping[str, Any], raw: str) -> Telemetry:
    """Check a decoded ``{"telemetry": ...}`` message the way the CSC does.

    Raises ValueError when the line cannot be attributed to a device (no usable ``name``);
    other schema violations are reported through ``Telemetry.problem`` so they count as
    that device's errors.
    """
    body = message.get("telemetry")
    if not isinstance(body, Mapping):
        raise ValueError("'telemetry' is not an object")
    name = body.get("name")
    if not isinstance(name, str):
        raise ValueError("telemetry has no string 'name'")
    problems = []
    if set(message) != {"telemetry"}:
        problems.append(f"extra top-level keys {sorted(set(message) - {'telemetry'})}")
    if tuple(body) != TELEMETRY_KEYS:
        problems.append(f"keys are {list(body)}, expected {list(TELEMETRY_KEYS)}")
    timestamp = body.get("timestamp")
    if not _is_number(timestamp):
        problems.append(f"timestamp {timestamp!r} is not a number")
        timestamp = math.nan
    code = body.get("response_code")
    if not isinstance(code, int) or isinstance(code, bool):
        problems.append(f"response_code {code!r} is not an integer")
        code = -1
    values = body.get("sensor_telemetry")
    if not isinstance(values, list) or not values:
        problems.append(f"sensor_telemetry {values!r} is not a non-empty array")
        values = values if isinstance(values, list) else []
    return Telemetry(name, float(timestamp), code, values, raw, "; ".join(problems) or None)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _reason(error: BaseException) -> str:
    """A short human reason for a socket error, from the innermost cause (the OS's words)."""
    while error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, OSError) and not isinstance(error, socket.gaierror) and error.errno and error.errno > 0:
        return os.strerror(error.errno)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if isinstance(error, (EOFError, ConnectionError)):
        return "closed by the server"
    return str(error) or type(error).__name__


class TelemetrySession:
    """One connection to an ESS server, used exactly like the CSC uses it (PROTOCOL 6.2).

    ``start()`` connects (heartbeats every second from the first moment) and sends
    ``configure``; iterating yields :class:`Telemetry`, including lines that arrived before
    the ``configure`` response. ``rate_limit`` makes every read pass last at least that many
    seconds, like the CSC's ``rate_limit``, to try a server against a slow reader.
    """

    def __init__(
        self,
        host: str,
        port: int,
        devices: list[dict[str, Any]],
        *,
        connect_timeout: float = 10.0,
        response_timeout: float = 60.0,
        rate_limit: float = 0.0,
    ) -> None:
        self.host = host
        self.port = port
        self.devices = devices
        self.connect_timeout = connect_timeout
        self.response_timeout = response_timeout
        self.rate_limit = rate_limit
        #: lines that were neither a response nor telemetry attributable to a device
        self.bad_lines = 0
        self._client: Any = None
        self._pending: collections.deque[Telemetry] = collections.deque()
        self._last_read = -math.inf

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        await self.connect()
        await self.configure()

    async def connect(self) -> None:
        self._client = Client(
            self.host,
            self.port,
            log,
            name="rpi-ess client",
            send_heartbeats=True,
            heartbeat_interval=1.0,
            connect_timeout=self.connect_timeout,
        )
        try:
            await self._client.start_task
        except TimeoutError as e:
            raise SessionError(f"cannot connect to {self.address}: no answer within {self.connect_timeout:g} s") from e
        except OSError as e:
            raise SessionError(f"cannot connect to {self.address}: {_reason(e)}") from e
        log.info("connected to %s", self.address)

    async def configure(self) -> None:
        """Send ``configure`` and wait for its response, keeping telemetry that comes first."""
        try:
            async with asyncio.timeout(self.response_timeout):
                response = await self._send_configure()
        except TimeoutError:
            raise SessionError(
                f"server {self.address} sent no configure response within {self.response_timeout:g} s"
            ) from None
        except SessionError as e:
            raise SessionError(f"{e} (a server that already has a client closes new connections at once)") from e
        self._check_response(response)

    async def _send_configure(self) -> Mapping[str, Any]:
        command = {"command": "configure", "parameters": {"configuration": {"devices": self.devices}}}
        try:
            await self._client.write_json(command)
        except (OSError, EOFError) as e:
            raise SessionError(f"connection to {self.address} lost while sending configure: {_reason(e)}") from e
        while True:
            line = await self._read_message(" while waiting for the configure response")
            if line is None:
                continue
            raw, message = line
            if "response" in message:
                return message
            telemetry = self._telemetry(raw, message)
            if telemetry is not None:
                self._pending.append(telemetry)

    def _check_response(self, message: Mapping[str, Any]) -> None:
        problem = _describe_code(message["response"])
        if problem is None:
            log.info("configured %d devices on %s", len(self.devices), self.address)
            return
        detail = message.get("message") or "no explanation given"
        raise SessionError(f"server {self.address} refused the configuration: response {problem}: {detail}")

    def _telemetry(self, raw: str, message: Mapping[str, Any]) -> Telemetry | None:
        if "telemetry" not in message:
            self._bad(f"neither response nor telemetry: {raw!r}")
            return None
        try:
            return parse_telemetry(message, raw)
        except ValueError as e:
            self._bad(f"{e}: {raw!r}")
            return None

    def _bad(self, why: str) -> None:
        self.bad_lines += 1
        log.warning("unexpected line from %s: %s", self.address, why)

    async def _read_message(self, context: str = "") -> tuple[str, dict[str, Any]] | None:
        """Read one line and decode it; None if it was not a JSON object (logged and counted)."""
        try:
            raw = await self._client.read_str()
        except UnicodeDecodeError as e:
            self._bad(f"not UTF-8: {e}")
            return None
        except asyncio.LimitOverrunError as e:  # the stream cannot be resynchronised
            raise SessionError(f"{self.address} sent a line longer than this client accepts{context}") from e
        except (OSError, EOFError) as e:
            raise SessionError(f"connection to {self.address} lost{context}: {_reason(e)}") from e
        try:
            message = json.loads(raw)
        except ValueError:
            self._bad(f"not JSON: {raw!r}")
            return None
        if not isinstance(message, dict):
            self._bad(f"not a JSON object: {raw!r}")
            return None
        return raw, message

    def __aiter__(self) -> TelemetrySession:
        return self

    async def __anext__(self) -> Telemetry:
        if self._pending:
            return self._pending.popleft()
        while True:
            if self.rate_limit > 0:
                await asyncio.sleep(max(0.0, self._last_read + self.rate_limit - time.monotonic()))
                self._last_read = time.monotonic()
            line = await self._read_message()
            if line is None:
                continue
            raw, message = line
            if "response" in message:
                log.warning("%s sent a response with no command pending: %s", self.address, raw)
                continue
            telemetry = self._telemetry(raw, message)
            if telemetry is not None:
                return telemetry

    async def close(self) -> None:
        """Close the connection like the CSC does: no ``disconnect``, just close the socket."""
        if self._client is not None:
            await self._client.close()


# --------------------------------------------------------------------------- statistics


@dataclass
class DeviceStats:
    """What the table shows for one device; times are ``time.monotonic()`` seconds."""

    name: str
    sensor_type: str
    lines: int = 0
    errors: int = 0
    values: list[Any] | None = None
    timestamp: float | None = None
    last_seen: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    first_seen: float | None = None
    arrivals: collections.deque[float] = field(default_factory=collections.deque)

    def rate(self, now: float, window: float = RATE_WINDOW) -> float:
        """Lines per second over the last ``window`` seconds, or since the first line if that is sooner.

        The span is at least one second, so the first line of a device does not read as a burst.
        """
        self._forget(now, window)
        if self.first_seen is None:
            return 0.0
        return len(self.arrivals) / max(1.0, min(window, now - self.first_seen))

    def record(self, telemetry: Telemetry, now: float) -> None:
        self.lines += 1
        self.values = telemetry.values
        self.timestamp = telemetry.timestamp
        self.last_seen = now
        if self.first_seen is None:
            self.first_seen = now
        self.arrivals.append(now)
        self._forget(now, RATE_WINDOW)
        error = telemetry.problem or _describe_code(telemetry.response_code)
        if error is not None:
            self.errors += 1
            self.last_error = error
            self.last_error_at = now

    def _forget(self, now: float, window: float) -> None:
        while self.arrivals and self.arrivals[0] <= now - window:
            self.arrivals.popleft()


def _describe_code(code: int) -> str | None:
    """None for OK; otherwise the code with its name where it has one."""
    if code == ResponseCode.OK:
        return None
    try:
        return f"code {code} ({ResponseCode(code).name})"
    except (TypeError, ValueError):
        return f"code {code!r}"


class TelemetryStats:
    """Per-device counters, in configuration order; names nobody configured are appended."""

    def __init__(self, devices: Iterable[Mapping[str, Any]], clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.devices: dict[str, DeviceStats] = {}
        for device in devices:
            name = str(device.get("name", "?"))
            self.devices[name] = DeviceStats(name, str(device.get("sensor_type", "?")))

    def add(self, telemetry: Telemetry) -> DeviceStats:
        now = self.clock()
        stats = self.devices.get(telemetry.name)
        if stats is None:
            log.warning("telemetry from unconfigured device %r", telemetry.name)
            stats = self.devices[telemetry.name] = DeviceStats(telemetry.name, "?")
        stats.record(telemetry, now)
        return stats

    @property
    def total_lines(self) -> int:
        return sum(device.lines for device in self.devices.values())

    @property
    def total_errors(self) -> int:
        return sum(device.errors for device in self.devices.values())

    def summary(self, bad_lines: int = 0) -> str:
        elapsed = self.clock() - self.started
        reporting = sum(1 for device in self.devices.values() if device.lines)
        text = (
            f"{self.total_lines} telemetry lines from {reporting} of {len(self.devices)} devices "
            f"in {elapsed:.1f} s, {self.total_errors} error lines"
        )
        return text + (f", {bad_lines} unreadable lines" if bad_lines else "")


# --------------------------------------------------------------------------- presentation

#: (label, index, number format, unit) per value shown; units carry their own leading space.
Layout = tuple[tuple[str, int, str, str], ...]

_LAYOUTS: dict[str, Layout] = {
    "HX85A": (("RH", 0, ".1f", " %"), ("T", 1, ".1f", " °C"), ("DP", 2, ".1f", " °C")),
    "HX85BA": (("RH", 0, ".1f", " %"), ("T", 1, ".1f", " °C"), ("P", 2, ".1f", " mbar"), ("DP", 3, ".1f", " °C")),
    "Windsonic": (("", 0, ".2f", " m/s"), ("dir", 1, "", "°")),
    "CSAT3B": (("u", 0, ".2f", ""), ("v", 1, ".2f", ""), ("w", 2, ".2f", " m/s"), ("Ts", 3, ".1f", " °C"),
               ("diag", 4, "", "")),
    "EFM100C": (("E", 0, "+.2f", " kV/m"), ("fault", 1, "", "")),
    "Aurora": (("#", 0, "", ""), ("ambient", 1, ".1f", " °C"), ("sky", 2, ".1f", " °C"), ("clarity", 3, ".1f", ""),
               ("light", 4, ".1f", ""), ("rain", 5, ".1f", ""), ("alarm", 6, "", "")),
}

#: LD-250 lines are told apart by their first element (PROTOCOL 4.6).
_LD250_LAYOUTS: dict[str, tuple[str, Layout]] = {
    "WIMST": ("status", (("close", 1, "", "/min"), ("total", 2, "", "/min"), ("alarm", 3, "", ""),
                         ("severe", 4, "", ""), ("heading", 5, ".1f", "°"))),
    "WIMLI": ("strike", (("", 1, "", " mi"), ("uncorrected", 2, "", " mi"), ("bearing", 3, ".1f", "°"))),
    "WIMLN": ("noise too high", ()),
}


def _number(value: Any, fmt: str) -> str:
    """A measurement as text; raises TypeError for a non-number so the payload is shown plainly."""
    if not _is_number(value):
        raise TypeError(f"{value!r} is not a number")
    return "—" if math.isnan(value) else format(value, fmt)


def _plain(value: Any) -> str:
    return _number(value, "g") if _is_number(value) else str(value)


def _apply(layout: Layout, values: list[Any]) -> str:
    parts = []
    for label, index, fmt, unit in layout:
        text = _number(values[index], fmt) + unit
        parts.append(f"{label} {text}" if label else text)
    return " ".join(parts)


def _temperature(values: list[Any]) -> str:
    return " ".join(_number(value, ".2f") for value in values) + " °C"


def _ld250(values: list[Any]) -> str:
    title, layout = _LD250_LAYOUTS[values[0]]
    return " ".join(filter(None, (title, _apply(layout, values))))


def _sps30(values: list[Any]) -> str:
    """Mass concentration per size class plus typical particle size (CSC layout, PROTOCOL 4.9)."""
    sizes, masses = values[2:7], values[7:12]
    parts = [f"PM{_number(size, 'g')} {_number(mass, '.1f')}" for size, mass in zip(sizes, masses, strict=True)
             if not (isinstance(mass, float) and math.isnan(mass))]
    return " ".join([*parts, "µg/m³", f"typical {_number(values[17], '.2f')} µm"])


_SPECIAL: dict[str, Callable[[list[Any]], str]] = {
    "Temperature": _temperature,
    "LD250": _ld250,
    "Sps30": _sps30,
}


def format_values(sensor_type: str, values: list[Any]) -> str:
    """Compact text with units for a ``sensor_telemetry`` payload; never raises.

    Payloads that do not have the sensor's usual shape are shown as a plain list, so a
    server bug is visible rather than hidden.
    """
    if not values:
        return "(empty)"
    try:
        if sensor_type in _SPECIAL:
            return _SPECIAL[sensor_type](values)
        if sensor_type in _LAYOUTS:
            return _apply(_LAYOUTS[sensor_type], values)
    except (IndexError, KeyError, TypeError, ValueError):
        pass
    return ", ".join(_plain(value) for value in values)


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

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.render(options.max_width)

    def render(self, width: int | None = None) -> Table:
        from rich.table import Table

        wide = width is None or width >= WIDE_TABLE
        shown = [index for index, (_, _, narrow) in enumerate(_COLUMNS) if wide or narrow]
        table = Table(title=self.title, caption=self.stats.summary(self.bad_lines()), caption_justify="left")
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


# --------------------------------------------------------------------------- running


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def add_view_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every telemetry-showing command has."""
    parser.add_argument("--duration", type=positive_float, metavar="SECONDS",
                        help="stop after this many seconds and print a summary (default: run until Ctrl-C)")
    parser.add_argument("--json", action="store_true",
                        help="print every telemetry line as a JSON line on stdout (exactly as received, with "
                        "bare NaN); the table then goes to stderr at the end")
    parser.add_argument("--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="log messages of at least this level to stderr (default: %(default)s)")


@dataclass(frozen=True)
class ViewOptions:
    duration: float | None = None
    json_lines: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ViewOptions:
        return cls(duration=args.duration, json_lines=args.json)


async def until_stopped(stop: asyncio.Event, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` unless ``stop`` is set first; then cancel it and raise Interrupted."""
    task = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise Interrupted
    return task.result()


async def show_telemetry(
    host: str,
    port: int,
    devices: list[dict[str, Any]],
    options: ViewOptions,
    stop: asyncio.Event,
    *,
    connect_timeout: float = 10.0,
    rate_limit: float = 0.0,
) -> int:
    """Configure the server at ``host:port`` and show its telemetry until ``stop`` or the duration.

    Returns the exit status: 0 after a normal stop, 1 when the session failed (the reason and
    what was received up to then are printed).
    """
    session = TelemetrySession(host, port, devices, connect_timeout=connect_timeout, rate_limit=rate_limit)
    stats = TelemetryStats(devices)
    table = TelemetryTable(stats, f"rpi-ess telemetry from {session.address}", lambda: session.bad_lines)
    try:
        try:
            await until_stopped(stop, session.start())
        except SessionError as e:
            error: SessionError | None = e
        else:
            stats.started = stats.clock()
            error = await _watch(session, stats, table, options, stop)
    finally:
        await session.close()
    if error is None:
        return 0
    _print_error(str(error))
    return 1


def _print_error(message: str) -> None:
    """One unwrapped line on stderr, so that a long reason can be copied whole."""
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True, soft_wrap=True).print(Text.assemble(("error: ", "bold red"), message))


async def _watch(
    session: TelemetrySession, stats: TelemetryStats, table: TelemetryTable, options: ViewOptions,
    stop: asyncio.Event,
) -> SessionError | None:
    """Feed telemetry into ``stats`` until stopped; returns the session error that ended it, if any."""
    from rich.live import Live

    loop = asyncio.get_running_loop()
    timer = loop.call_later(options.duration, stop.set) if options.duration else None
    console = _table_console(stderr=options.json_lines)
    live = None if options.json_lines or not console.is_terminal else Live(table, console=console, auto_refresh=False)

    async def consume() -> None:
        async for telemetry in session:
            stats.add(telemetry)
            if options.json_lines:
                try:
                    sys.stdout.write(telemetry.raw + "\n")
                    sys.stdout.flush()
                except BrokenPipeError:  # `| head` had enough: stop quietly, like a Unix filter
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, sys.stdout.fileno())  # so the flush at exit does not fail again
                    os.close(devnull)
                    return

    async def refresh() -> None:
        while True:
            live.refresh()
            await asyncio.sleep(REFRESH_INTERVAL)

    tasks = {asyncio.create_task(consume()), asyncio.create_task(stop.wait())}
    if live is not None:
        tasks.add(asyncio.create_task(refresh()))
    with contextlib.nullcontext() if live is None else live:
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if timer is not None:
                timer.cancel()
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        if live is not None:
            live.refresh()
    if live is None:
        console.print(table)
    for result in results:
        if isinstance(result, Exception) and not isinstance(result, SessionError):
            raise result
    return next((result for result in results if isinstance(result, SessionError)), None)


def _table_console(stderr: bool) -> Console:
    from rich.console import Console

    console = Console(stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPE_WIDTH
    return console


@contextlib.contextmanager
def _logging_to_stderr(level: str) -> Iterator[None]:
    """Route log records to stderr through rich (so they print above a live table), for one run."""
    from rich.console import Console
    from rich.logging import RichHandler

    root = logging.getLogger()
    handler = RichHandler(console=Console(stderr=True), show_path=False)
    handler.setLevel(level)
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(min(old_level or logging.WARNING, logging.getLevelName(level)))
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def run_command(main: Callable[[asyncio.Event], Awaitable[int]], log_level: str) -> int:
    """Run an async command; SIGINT/SIGTERM set the event it is given, so it can stop cleanly.

    A signal before the display started ends the command with status 130 and no traceback.
    """

    async def with_signals() -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        installed = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, stop.set)
                installed.append(signum)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals
                pass
        try:
            return await main(stop)
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)

    with _logging_to_stderr(log_level):
        try:
            return asyncio.run(with_signals())
        except (Interrupted, KeyboardInterrupt):
            sys.stderr.write("interrupted\n")
            return 130
