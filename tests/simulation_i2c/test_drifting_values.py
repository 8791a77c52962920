"""DriftingValues: simulated chips read a changing night, not their constructor defaults."""

from __future__ import annotations

import itertools

from rpi_ess.simulation.i2c import Bme280Emulator, DriftingValues, EmulatedBuses, Mcp9808Emulator


def test_values_follow_the_weather_on_each_transfer() -> None:
    clock = itertools.count(0.0, 60.0).__next__  # a minute per call
    drift = DriftingValues(seed=1, clock=clock)
    buses = EmulatedBuses(drift)
    bme = buses.attach(1, Bme280Emulator())
    mcp = buses.attach(1, Mcp9808Emulator())
    bus = buses(1)
    assert bus.try_lock()
    seen = []
    for _ in range(3):
        bus.writeto_then_readfrom(0x77, b"\xd0", bytearray(1))  # BME280 chip id
        bus.writeto_then_readfrom(0x18, b"\x05", bytearray(2))  # MCP9808 ambient temperature
        seen.append((bme.temperature, bme.humidity, bme.pressure))
        assert mcp.temperature == drift.weather.temperature and not hasattr(mcp, "humidity")
    assert len(set(seen)) == 3  # a different night each minute
    assert all(700 <= pressure <= 1000 and 0 <= humidity <= 100 for _, humidity, pressure in seen)
