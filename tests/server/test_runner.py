"""DeviceRunner supervision: a crashing read loop is restarted, a crashing parser is contained."""

from __future__ import annotations

import time
from typing import Any

from rpi_ess.devices.base import Device, Record
from rpi_ess.devices.config import DeviceConfig
from rpi_ess.devices.runner import DeviceRunner, RunnerSettings
from rpi_ess.sensors import create_sensor
from rpi_ess.server.telemetry import encode_telemetry


class Sink:
    """Collects lines; the first push fails, as a bug outside the read path would."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.dropped = 0
        self.failures = 1

    def send(self, readings: list[tuple[float, int, list[Any]]]) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("bug while queueing a line")
        self.lines.extend(encode_telemetry('"dev"', *reading) for reading in readings)


class FlakyDevice(Device):
    """Returns real instrument lines, but its read() blows up once (a backend bug).

    The code-10 line reporting that bug is then lost by the failing sink, which crashes the
    read loop itself: both faults must be survived.
    """

    describe = "Flaky test port"

    def __init__(self, config, sensor) -> None:
        super().__init__(config, sensor, clock=time.time)
        self.crashes = 1

    def open(self) -> None:
        pass

    def _read_internal(self, timeout: float) -> list[Record]:
        time.sleep(0.01)
        if self.crashes:
            self.crashes -= 1
            raise ZeroDivisionError("bug in a backend's read")
        return [Record(self.clock(), b"C01=0012.5000,C02=9999.9990")]

    def close(self) -> None:
        pass


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_unexpected_exceptions_never_end_the_reader():
    config = DeviceConfig(name="T2", sensor_type="Temperature", device_type="Serial", channels=2, serial_port="x")
    sensor = create_sensor("Temperature", 2)
    sink = Sink()
    runner = DeviceRunner("T2", FlakyDevice(config, sensor), sensor, sink, RunnerSettings(backoff_min=0.01))
    runner.start()
    try:
        assert wait_for(lambda: any(b'"response_code": 0' in line for line in sink.lines))
    finally:
        runner.stop()
    assert b'"sensor_telemetry": [12.5, NaN]' in next(line for line in sink.lines if b'"response_code": 0' in line)
    assert runner.stats.restarts == 1, "the crashed read loop was restarted by its supervisor"
    assert runner.stats.state == "closed" and runner.stats.lines >= 1
