"""The telemetry table shared by ``demo`` and ``client``: line checks, per-device stats, rendering.

Lines are written exactly as a server puts them on the wire (bare NaN, PROTOCOL 3.1) and go
through the same decode and check path the session uses.
"""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from rich.console import Console

from rpi_ess.cli.live import (
    Telemetry,
    TelemetryStats,
    TelemetryTable,
    format_age,
    format_values,
    parse_telemetry,
)
from rpi_ess.cli.live.show import stop_hint
from rpi_ess.sensors import SENSOR_TYPES, create_sensor
from rpi_ess.sensors.windsonic import Windsonic

DEVICES = [
    {"name": "TempDome", "sensor_type": "Temperature", "channels": 4},
    {"name": "HumidityMirror", "sensor_type": "HX85A"},
    {"name": "CloudSensor", "sensor_type": "Aurora"},
]


class FakeClock:
    """A monotonic clock the test moves by hand, so rates and ages are exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def line(name: str, values: str, code: int = 0, timestamp: float = 1795534583.8971343) -> Telemetry:
    raw = (f'{{"telemetry": {{"name": "{name}", "timestamp": {timestamp}, "response_code": {code}, '
           f'"sensor_telemetry": {values}}}}}')
    return parse_telemetry(json.loads(raw), raw)


def render(table: TelemetryTable, width: int = 250) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(table)
    return console.file.getvalue()


@pytest.mark.parametrize(
    ("sensor_type", "values", "expected"),
    [
        ("Temperature", [-7.468, -8.8741, 12.5, float("nan")], "-7.47 -8.87 12.50 — °C"),
        ("HX85A", [38.86, 24.32, 9.57], "RH 38.9 % T 24.3 °C DP 9.6 °C"),
        ("HX85BA", [38.86, 24.32, 911.4, 9.41774591197113], "RH 38.9 % T 24.3 °C P 911.4 mbar DP 9.4 °C"),
        ("Windsonic", [2.57, 36], "2.57 m/s dir 36°"),
        ("Windsonic", [0.04, float("nan")], "0.04 m/s dir —°"),
        ("CSAT3B", [0.08945, 0.06552, 0.05726, 19.69336, 0, 5, 50086], "u 0.09 v 0.07 w 0.06 m/s Ts 19.7 °C diag 0"),
        ("LD250", ["WIMST", 0, 3, 0, 1, 123.4], "status close 0/min total 3/min alarm 0 severe 1 heading 123.4°"),
        ("LD250", ["WIMLI", 10, 11, 0.0], "strike 10 mi uncorrected 11 mi bearing 0.0°"),
        ("LD250", ["WIMLN"], "noise too high"),
        ("EFM100C", [0.65, 0], "E +0.65 kV/m fault 0"),
        ("Aurora", [742, 23.68, 24.580000000000002, -0.9, 25.200000000000003, 3.2, 37],
         "# 742 ambient 23.7 °C sky 24.6 °C clarity -0.9 light 25.2 rain 3.2 alarm 37"),
        ("Sps30", ["SPS30", 1795534583.9, 0.5, 1.0, 2.5, 4.0, 10.0, float("nan"), 0.729, 5.759, 9.827, 11.911,
                   0.0, 0.245, 5.054, 6.003, 6.148, 1.63, "Dome floor"],
         "PM1 0.7 PM2.5 5.8 PM4 9.8 PM10 11.9 µg/m³ typical 1.63 µm"),
    ],
)
def test_values_are_compact_with_units(sensor_type: str, values: list, expected: str) -> None:
    assert format_values(sensor_type, values) == expected


@pytest.mark.parametrize(
    ("sensor_type", "values", "expected"),
    [
        ("HX85A", [38.86], "38.86"),  # too short for the layout: shown as a plain list
        ("HX85A", ["x", "y", "z"], "x, y, z"),
        ("LD250", ["WIMXX", 1], "WIMXX, 1"),  # unknown LD-250 line type
        ("Sps30", [1.0, 2.0], "1, 2"),
        ("NewSensor", [1.5, 2], "1.5, 2"),
        ("CSAT3B", [], "(empty)"),
    ],
)
def test_unexpected_payloads_are_shown_plainly(sensor_type: str, values: list, expected: str) -> None:
    assert format_values(sensor_type, values) == expected


@pytest.mark.parametrize("sensor_type", sorted(SENSOR_TYPES))
def test_every_sensor_describes_each_element_of_its_payload(sensor_type: str) -> None:
    """The table reads units and decimals from the sensors: each must describe what it sends."""
    values = create_sensor(sensor_type, channels=4).error_values()
    fields = SENSOR_TYPES[sensor_type].fields_for(values)
    assert len(fields) == len(values)
    assert all(field.quantity for field in fields)
    assert format_values(sensor_type, values) != ", ".join(map(str, values))  # not the plain fallback


def test_the_table_takes_units_and_decimals_from_the_sensor(monkeypatch: pytest.MonkeyPatch) -> None:
    speed, direction = Windsonic.fields
    monkeypatch.setattr(Windsonic, "fields", (dataclasses.replace(speed, unit="kn", decimals=1), direction))
    assert format_values("Windsonic", [2.57, 36]) == "2.6 kn dir 36°"


def test_parse_accepts_a_wire_line_with_bare_nan() -> None:
    telemetry = line("TempDome", "[-7.465, NaN, 1, 2]")
    assert telemetry.name == "TempDome"
    assert telemetry.response_code == 0
    assert telemetry.values[0] == -7.465
    assert telemetry.problem is None
    assert "NaN" in telemetry.raw


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"telemetry": {"name": "A", "timestamp": 1.0, "response_code": 0, "sensor_telemetry": []}},
         "non-empty array"),
        ({"telemetry": {"name": "A", "timestamp": 1.0, "response_code": 0, "sensor_telemetry": [1], "x": 1}},
         "keys are"),
        ({"telemetry": {"name": "A", "timestamp": 1.0, "response_code": 0, "sensor_telemetry": [1]}, "y": 2},
         "extra top-level keys"),
        ({"telemetry": {"name": "A", "timestamp": "now", "response_code": 0, "sensor_telemetry": [1]}},
         "timestamp"),
        ({"telemetry": {"name": "A", "timestamp": 1.0, "response_code": True, "sensor_telemetry": [1]}},
         "response_code"),
    ],
)
def test_schema_violations_are_attributed_to_the_device(message: dict, problem: str) -> None:
    telemetry = parse_telemetry(message, json.dumps(message))
    assert telemetry.name == "A"
    assert problem in (telemetry.problem or "")


@pytest.mark.parametrize("message", [{"telemetry": [1]}, {"telemetry": {"timestamp": 1.0}}, {"telemetry": {"name": 3}}])
def test_lines_without_a_device_name_are_rejected(message: dict) -> None:
    with pytest.raises(ValueError, match="telemetry"):
        parse_telemetry(message, json.dumps(message))


def test_stats_count_lines_and_errors_per_device() -> None:
    clock = FakeClock()
    stats = TelemetryStats(DEVICES, clock=clock)
    for _ in range(3):
        stats.add(line("TempDome", "[1.0, 2.0, 3.0, 4.0]"))
        clock.now += 1
    stats.add(line("HumidityMirror", "[NaN, NaN, NaN]", code=10))
    stats.add(line("HumidityMirror", "[38.86, 24.32, 9.57]"))
    temp, humidity, cloud = stats.devices.values()
    assert (temp.lines, temp.errors) == (3, 0)
    assert (humidity.lines, humidity.errors) == (2, 1)
    assert humidity.last_error == "code 10 (DEVICE_READ_ERROR)"
    assert humidity.values == [38.86, 24.32, 9.57]
    assert cloud.lines == 0
    assert stats.total_lines == 5
    assert stats.total_errors == 1


def test_schema_problems_count_as_errors() -> None:
    stats = TelemetryStats(DEVICES, clock=FakeClock())
    stats.add(line("CloudSensor", "[]"))
    cloud = stats.devices["CloudSensor"]
    assert cloud.errors == 1
    assert "non-empty array" in (cloud.last_error or "")


def test_unconfigured_devices_get_a_row() -> None:
    stats = TelemetryStats(DEVICES, clock=FakeClock())
    stats.add(line("Stranger", "[1]"))
    assert list(stats.devices) == ["TempDome", "HumidityMirror", "CloudSensor", "Stranger"]
    assert stats.devices["Stranger"].sensor_type == "?"


def test_rate_is_averaged_over_a_sliding_window() -> None:
    clock = FakeClock()
    stats = TelemetryStats(DEVICES, clock=clock)
    device = stats.devices["TempDome"]
    for _ in range(40):  # 20 s at 2 lines/s
        stats.add(line("TempDome", "[1.0, 2.0, 3.0, 4.0]"))
        clock.now += 0.5
    assert device.rate(clock.now) == pytest.approx(2.0, rel=0.06)
    clock.now += 30  # the device went silent: the rate decays to zero
    assert device.rate(clock.now) == 0.0


def test_rate_just_after_the_first_lines_is_not_diluted_by_the_window() -> None:
    clock = FakeClock()
    stats = TelemetryStats(DEVICES, clock=clock)
    for _ in range(10):  # 10 Hz for one second
        stats.add(line("TempDome", "[1.0, 2.0, 3.0, 4.0]"))
        clock.now += 0.1
    assert stats.devices["TempDome"].rate(clock.now) == pytest.approx(10.0)


def test_a_first_line_does_not_read_as_a_burst() -> None:
    clock = FakeClock()
    stats = TelemetryStats(DEVICES, clock=clock)
    stats.add(line("TempDome", "[1.0, 2.0, 3.0, 4.0]"))
    clock.now += 0.01
    assert stats.devices["TempDome"].rate(clock.now) == 1.0


def test_table_shows_every_device_with_values_errors_and_waiting_rows() -> None:
    clock = FakeClock()
    stats = TelemetryStats(DEVICES, clock=clock)
    stats.add(line("TempDome", "[-7.468, -8.8741, -5.8528, NaN]"))
    stats.add(line("HumidityMirror", "[NaN, NaN, NaN]", code=10))
    clock.now += 2.5
    text = render(TelemetryTable(stats, title="rpi-ess telemetry from test"))
    rows = {row.split("│")[1].strip(): row for row in text.splitlines() if row.count("│") > 2}
    assert "-7.47 -8.87 -5.85 — °C" in rows["TempDome"]
    assert "2.5 s" in rows["TempDome"]
    assert "code 10 (DEVICE_READ_ERROR), 2.5 s ago" in rows["HumidityMirror"]
    assert "waiting…" in rows["CloudSensor"]
    assert "2 telemetry lines from 2 of 3 devices" in text
    assert "1 error lines" in text


def test_a_narrow_terminal_keeps_the_values_and_drops_secondary_columns() -> None:
    stats = TelemetryStats(DEVICES, clock=FakeClock())
    stats.add(line("HumidityMirror", "[38.86, 24.32, 9.57]"))
    text = render(TelemetryTable(stats), width=80)
    assert max(len(row) for row in text.splitlines()) <= 80
    header = next(row for row in text.splitlines() if "Device" in row)
    assert "Sensor" not in header and "Last error" not in header
    assert "RH 38.9 %" in text


def test_summary_counts_unreadable_lines_from_the_session() -> None:
    stats = TelemetryStats(DEVICES, clock=FakeClock())
    assert "4 unreadable lines" in render(TelemetryTable(stats, bad_lines=lambda: 4))


@pytest.mark.parametrize(("duration", "hint"), [(None, "Press Ctrl-C to stop."),
                                                 (10.0, "Stops after 10 s; press Ctrl-C to stop sooner.")])
def test_the_live_table_says_how_to_stop(duration: float | None, hint: str) -> None:
    table = TelemetryTable(TelemetryStats(DEVICES, clock=FakeClock()))
    table.hint = stop_hint(duration)
    assert hint in render(table)


def test_summary_mentions_unreadable_lines() -> None:
    stats = TelemetryStats(DEVICES, clock=FakeClock())
    assert "4 unreadable lines" in stats.summary(bad_lines=4)
    assert "unreadable" not in stats.summary()


@pytest.mark.parametrize(("seconds", "text"), [(0.04, "0.0 s"), (9.94, "9.9 s"), (42.4, "42 s"), (600, "10 min")])
def test_age_format(seconds: float, text: str) -> None:
    assert format_age(seconds) == text
