"""Issue 13 / PROTOCOL Appendix C: a node whose only instrument is dead is never silent for 60 s,
and the CSC's error timer for that sensor never reaches the node's error budget.

Several production nodes run one instrument only, so nothing else keeps the CSC's reads
alive. The node's ``keepalive_seconds`` (30 s) and ``error_report_seconds`` (120 s) are
scaled down like the CSC's periods in tests/csc/test_long_horizon.py (which checks that the
CSC double never reconnects); here the lines themselves are checked: the longest silence,
the response codes (41 keep-alive while no device is failing, 40 still-failing while one
is, 10 at most once per 5 s) and that every non-reading line carries the sensor's error
payload (the same values as its code-10 lines).
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from rpi_ess.devices.runner import KEEPALIVE, STILL_FAILING
from rpi_ess.sensors import create_sensor
from rpi_ess.server.node_config import NodeConfig
from rpi_ess.server.socket_server import MONITOR_INTERVAL

from .conftest import configure_line, device_entry, same_values, serial_entry, timed_lines

KEEPALIVE_SECONDS = 1.0
BUDGET = 3.0  # error_report_seconds, below the CSC double's scaled 6 s period
MARGIN = 1.0  # scheduling slack on a loaded machine
#: a keep-alive is due ``KEEPALIVE_SECONDS`` after the last line and sent at the next monitor tick
LONGEST_SILENCE = KEEPALIVE_SECONDS + MONITOR_INTERVAL + MARGIN
READ_ERROR = 10
ERROR_INTERVAL = 5.0  # runner.RunnerSettings.error_interval: at most one code-10 line per 5 s


def csc_timer_ages(lines: list[tuple[float, dict[str, Any]]]) -> list[float]:
    """The CSC's per-sensor error timer (Appendix C facts 1-2), replayed: its age at every code-10 line.

    A code-10 line starts the timer if none runs; any other code clears it.
    """
    ages, since = [], None
    for arrived, message in lines:
        code = message["telemetry"]["response_code"]
        if code == READ_ERROR:
            since = arrived if since is None else since
            ages.append(arrived - since)
        else:
            since = None
    return ages


def silences(start: float, lines: list[tuple[float, dict[str, Any]]], end: float) -> list[float]:
    times = [start, *(arrived for arrived, _ in lines), end]
    return [b - a for a, b in itertools.pairwise(times)]


async def dead_node(make_server: Any, connect: Any, entry: dict[str, Any], keepalive: float = KEEPALIVE_SECONDS,
                    seconds: float = 8.0) -> tuple[float, list[tuple[float, dict[str, Any]]], float]:
    """Configure ``entry`` alone on a node, then record every line for ``seconds``."""
    server = await make_server(simulation_mode=0, node_config=NodeConfig(
        keepalive_seconds=keepalive, error_report_seconds=BUDGET, heartbeat_timeout=30.0))
    client = await connect(server.port)
    start = time.monotonic()
    await client.send(configure_line(entry))
    lines = await timed_lines(client, seconds)
    # (a failed first open is reported at once, so its lines may come before the response: the CSC skips them)
    responses = [message for _, message in lines if "response" in message]
    assert responses == [{"response": 0}], "absent hardware never refuses a valid configuration"
    return start, [(arrived, message) for arrived, message in lines if "telemetry" in message], time.monotonic()


def assert_error_payloads(lines: list[tuple[float, dict[str, Any]]], sensor_type: str, channels: int | None) -> None:
    payload = create_sensor(sensor_type, channels).error_values()
    for _, message in lines:
        values = message["telemetry"]["sensor_telemetry"]
        assert same_values(values, payload), f"{message}: not the sensor's error payload {payload}"


async def test_silent_instrument_gets_keepalive_then_still_failing_lines(make_server, connect, make_instrument):
    """A plugged-in instrument that sends nothing: keep-alive lines (41) until it counts as silent
    (5 s), then code 10 and still-failing lines (40); never a silence longer than the keep-alive."""
    pty, _ = make_instrument("T")
    start, lines, end = await dead_node(make_server, connect, serial_entry("T", pty.port))
    codes = [message["telemetry"]["response_code"] for _, message in lines]
    assert max(silences(start, lines, end)) <= LONGEST_SILENCE, (
        f"silent for {max(silences(start, lines, end)):.1f} s; codes {codes}")
    first_error = codes.index(READ_ERROR)  # the 5 s silence limit
    assert codes[:first_error] and set(codes[:first_error]) == {KEEPALIVE}, codes
    assert set(codes[first_error:]) == {READ_ERROR, STILL_FAILING}, codes  # a failing device: 40, not 41
    assert_error_payloads(lines, "Temperature", 2)
    assert max(csc_timer_ages(lines)) < BUDGET


async def test_absent_port_reports_within_the_error_budget(make_server, connect, tmp_path):
    """A port that does not exist (open_failures: retry): still-failing lines from the start, one
    code-10 line per 5 s, keep-alives in between."""
    entry = device_entry("W", "Windsonic", str(tmp_path / "ess" / "absent"), baud_rate=9600)
    start, lines, end = await dead_node(make_server, connect, entry)
    codes = [message["telemetry"]["response_code"] for _, message in lines]
    assert max(silences(start, lines, end)) <= LONGEST_SILENCE, codes
    assert codes[0] == STILL_FAILING, "a new session starts by clearing a timer the CSC may still hold"
    assert set(codes) == {READ_ERROR, STILL_FAILING}, codes
    errors = [arrived for (arrived, message) in lines if message["telemetry"]["response_code"] == READ_ERROR]
    assert all(b - a >= ERROR_INTERVAL - 0.5 for a, b in itertools.pairwise(errors)), "at most one code 10 per 5 s"
    assert_error_payloads(lines, "Windsonic", None)
    assert max(csc_timer_ages(lines)) < BUDGET


async def test_error_budget_without_keepalives(make_server, connect, tmp_path):
    """With keep-alives out of the way (59 s), the error budget alone keeps the CSC's timer short:
    every code-10 line that would find the timer older than the budget comes after a 40 line."""
    entry = device_entry("H", "HX85A", str(tmp_path / "ess" / "absent"))
    _, lines, _ = await dead_node(make_server, connect, entry, keepalive=59.0, seconds=ERROR_INTERVAL + 2.0)
    codes = [message["telemetry"]["response_code"] for _, message in lines]
    assert codes == [STILL_FAILING, READ_ERROR] * 2, codes
    assert_error_payloads(lines, "HX85A", None)
    assert max(csc_timer_ages(lines)) < BUDGET


async def test_clearing_line_reaches_a_csc_that_held_a_timer(make_server, connect, make_instrument, tmp_path):
    """Production settings (budget 120 s, keep-alive 30 s), another instrument streaming. The CSC
    skips every line before its configure response (PROTOCOL 6.2) and may hold an old timer for
    the dead sensor (Appendix C facts 1-2: a reconnect during an outage): the dead sensor's first
    line after the response must clear that timer, not be a code-10 line that makes the CSC raise."""
    server = await make_server(simulation_mode=0, node_config=NodeConfig(heartbeat_timeout=30.0))
    ok, _ = make_instrument("ok", 0.2)
    client = await connect(server.port)
    await client.send(configure_line(serial_entry("ok", ok.port), serial_entry("bad", str(tmp_path / "absent"))))
    await client.response()  # the CSC: lines before it are skipped
    after = await timed_lines(client, ERROR_INTERVAL + 1.0)
    bad = [message["telemetry"]["response_code"] for _, message in after if message["telemetry"]["name"] == "bad"]
    assert bad and bad[0] != READ_ERROR, f"codes of 'bad' after the configure response: {bad}"
