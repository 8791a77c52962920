"""Instrument simulators: exact wire bytes that the real framer and parsers accept."""

from __future__ import annotations

import itertools
import math
import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rpi_ess.devices.framing import LineFramer
from rpi_ess.sensors import SENSOR_TYPES, Reading, create_sensor
from rpi_ess.simulation.instruments import SIMULATORS, create_simulator
from rpi_ess.simulation.instruments.base import RandomWalk

CHANNELS = 6


def round_trip(sensor_type: str, count: int, seed: int = 1, channels: int | None = CHANNELS) -> list[Reading]:
    """Simulator bytes -> LineFramer (as a port would feed it) -> parser, on a simulated clock."""
    simulator = create_simulator(sensor_type, channels, seed=seed)
    sensor = create_sensor(sensor_type, channels)
    if sensor.protocol == "shdlc":
        return [sensor.parse(simulator.next_bytes()) for _ in range(count)]
    framer = LineFramer(sensor.terminator, idle_flush=sensor.idle_flush, synced=True)
    records = []
    now = 1000.0
    for _ in range(count):
        now += simulator.period
        records += framer.feed(simulator.next_bytes(), now)
        if sensor.idle_flush is not None:
            records += framer.flush_idle(now + sensor.idle_flush)
    assert all(record.error is None for record in records)
    return [sensor.parse(record.data) for record in records]


def test_every_sensor_type_has_a_simulator() -> None:
    assert set(SIMULATORS) == set(SENSOR_TYPES)


@pytest.mark.parametrize("sensor_type", list(SENSOR_TYPES))
def test_round_trip_gives_ok_readings(sensor_type: str) -> None:
    count = 300
    readings = round_trip(sensor_type, count)
    assert len(readings) == count  # one reading per record, none lost or merged
    bad = [reading for reading in readings if not reading.ok]
    assert not bad, bad[:3]


@pytest.mark.parametrize("sensor_type", list(SENSOR_TYPES))
def test_seed_makes_the_stream_reproducible(sensor_type: str) -> None:
    def stream(seed: int) -> list[bytes]:
        simulator = create_simulator(sensor_type, 3, seed=seed)
        return [simulator.next_bytes() for _ in range(20)]

    assert stream(7) == stream(7)
    assert stream(7) != stream(8)


@pytest.mark.parametrize(
    ("sensor_type", "channels", "period"),
    [("CSAT3B", None, 0.1), ("EFM100C", None, 0.05), ("Aurora", None, 2.0), ("HX85A", None, 1.35),
     ("Temperature", 6, 1.0), ("LD250", None, 1.0), ("Sps30", None, 1.0)],
)
def test_periods_are_the_instruments(sensor_type: str, channels: int | None, period: float) -> None:
    assert create_simulator(sensor_type, channels).period == pytest.approx(period)


def test_unknown_type() -> None:
    with pytest.raises(ValueError, match=r"'Radar'.*Aurora"):
        create_simulator("Radar")


def test_temperature_lines_and_disconnected_probe() -> None:
    simulator = create_simulator("Temperature", 3, seed=3)
    lines = [simulator.next_bytes() for _ in range(500)]
    assert all(re.fullmatch(rb"C01=-?[0-9.]{8,9},C02=-?[0-9.]{8,9},C03=-?[0-9.]{8,9}\r\n", line) for line in lines)
    dropouts = [line for line in lines if b"=9999.9990" in line]
    assert dropouts, "an occasional disconnected probe is part of the simulation"
    reading = create_sensor("Temperature", 3).parse(dropouts[0].removesuffix(b"\r\n"))
    assert reading.ok and sum(math.isnan(value) for value in reading.values) == 1


def test_temperature_without_channels_is_one_probe() -> None:
    assert create_simulator("Temperature", None, seed=1).next_bytes().count(b"=") == 1


@pytest.mark.parametrize("sensor_type", ["HX85A", "HX85BA"])
def test_hx85_sends_its_terminator_before_the_next_line(sensor_type: str) -> None:
    simulator = create_simulator(sensor_type, seed=4)
    first, second = simulator.next_bytes(), simulator.next_bytes()
    assert first.startswith(b"%RH=") and b"\n" not in first and b"\r" not in first
    assert second.startswith(b"\n\r%RH=")
    assert b"AT\xf8C=" in first  # the instrument's 0xF8 degree sign, not UTF-8


def test_hx85_humidity_is_consistent_with_a_dew_point_below_the_air() -> None:
    for reading in round_trip("HX85A", 200, seed=5):
        rh, temperature, dew = reading.values
        assert 0.0 < rh <= 100.0
        assert dew < temperature


def test_windsonic_leaves_out_the_direction_when_calm() -> None:
    simulator = create_simulator("Windsonic", seed=6)
    simulator.weather.wind = RandomWalk(random.Random(0), -0.5, 0.0, -1.0, 20.0)
    line = simulator.next_bytes()
    assert line.startswith(b"\x02Q,,000.00,M,00,\x03")
    reading = create_sensor("Windsonic").parse(line.removesuffix(b"\r\n"))
    assert reading.ok and reading.values[0] == 0.0 and math.isnan(reading.values[1])


def test_csat3b_counter_wraps_and_signatures_verify() -> None:
    counters = [reading.values[5] for reading in round_trip("CSAT3B", 130, seed=7)]
    assert all(later == (earlier + 1) % 64 for earlier, later in itertools.pairwise(counters))
    assert 63 in counters and 0 in counters


def test_ld250_sends_status_and_occasional_strikes() -> None:
    readings = round_trip("LD250", 300, seed=8)
    kinds = {reading.values[0] for reading in readings}
    assert kinds == {"WIMST", "WIMLI"}
    after_strike = readings[[r.values[0] for r in readings].index("WIMLI") + 1 :]
    status = next(r for r in after_strike if r.values[0] == "WIMST")
    assert status.values[2] >= 1  # the total strike rate counts the strike


def test_efm100c_line_format() -> None:
    simulator = create_simulator("EFM100C", seed=9)
    assert all(re.fullmatch(rb"\$[+-][0-9]{2}\.[0-9]{2},0\*[0-9A-F]{2}\r\n", simulator.next_bytes())
               for _ in range(200))


def test_aurora_lines_are_56_characters() -> None:
    simulator = create_simulator("Aurora", seed=10)
    for _ in range(200):
        line = simulator.next_bytes()
        assert len(line) == 56 and line.endswith(b"00!\n") and line.startswith(b"$20,FF,")


def test_sps30_concentrations_are_cumulative() -> None:
    for reading in round_trip("Sps30", 100, seed=11):
        mass, number = reading.values[8:12], reading.values[12:17]
        assert mass == sorted(mass) and number == sorted(number)
        assert 0.0 < reading.values[17] < 2.0  # typical particle size in um


@given(seed=st.integers(0, 2**32), steps=st.lists(st.floats(0.01, 100.0), min_size=1, max_size=50))
def test_random_walk_stays_in_bounds(seed: int, steps: list[float]) -> None:
    walk = RandomWalk(random.Random(seed), 0.5, 3.0, -1.0, 2.0)
    for dt in steps:
        assert -1.0 <= walk.step(dt) <= 2.0
