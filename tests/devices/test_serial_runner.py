"""The serial backends under the real DeviceRunner: an instrument pulled out and plugged back
in gives code-10 lines while away and data again after, with no restart (PROTOCOL 3.3)."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from rpi_ess.devices.interfaces.serial import SerialDevice
from rpi_ess.devices.runner import DeviceRunner, RunnerSettings
from rpi_ess.server.telemetry import encode_telemetry
from rpi_ess.simulation.instruments import create_simulator
from rpi_ess.simulation.pty import PtyInstrument
from rpi_ess.simulation.sps30_emulator import Sps30ShdlcEmulator

pytestmark = pytest.mark.usefixtures("no_leaks")

FAST = RunnerSettings(silence_timeout=1.0, error_interval=0.2, backoff_min=0.1, backoff_max=0.5)


class Lines:
    """Collects the runner's telemetry lines (the client's queue stands in here)."""

    def __init__(self) -> None:
        self.dropped = 0
        self.items: list[dict[str, Any]] = []
        self._changed = threading.Condition()

    def send(self, readings: list[tuple[float, int, list[Any]]]) -> None:
        """The runner's sink interface; lines encoded as the server encodes them."""
        for timestamp, code, values in readings:
            self.push(encode_telemetry('"dev1"', timestamp, code, values))

    def push(self, line: bytes) -> None:
        assert line.endswith(b"\r\n")
        with self._changed:
            self.items.append(json.loads(line)["telemetry"])
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], after: int = 0) -> int:
        """Index of the first line from ``after`` on that satisfies ``predicate``."""
        deadline = time.monotonic() + 20.0
        with self._changed:
            while True:
                for index in range(after, len(self.items)):
                    if predicate(self.items[index]):
                        return index
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no matching line in {self.items[after:]}"
                self._changed.wait(remaining)


def is_data(line: dict[str, Any]) -> bool:
    return line["response_code"] == 0


def is_error(line: dict[str, Any]) -> bool:
    return line["response_code"] == 10


def run(device: SerialDevice) -> tuple[DeviceRunner, Lines]:
    lines = Lines()
    runner = DeviceRunner(device.config.name, device, device.sensor, lines, FAST)
    runner.start()
    return runner, lines


def test_unplug_replug_under_runner(instrument: PtyInstrument, make_device: Callable[..., SerialDevice]) -> None:
    simulator = create_simulator("Temperature", 4, seed=5)
    instrument.start_stream(simulator.next_bytes, 0.05)
    runner, lines = run(make_device(instrument.port, channels=4))
    try:
        first = lines.wait_for(is_data)
        assert len(lines.items[first]["sensor_telemetry"]) == 4
        instrument.unplug()
        lost = lines.wait_for(is_error, first)
        payload = lines.items[lost]["sensor_telemetry"]
        assert len(payload) == 4 and all(math.isnan(v) for v in payload)
        instrument.replug()
        lines.wait_for(is_data, lost)
    finally:
        runner.stop()
        instrument.stop_stream()
    assert runner.stats.reopens >= 1


def test_sps30_under_runner(link_dir: object, make_device: Callable[..., SerialDevice]) -> None:
    with Sps30ShdlcEmulator(PtyInstrument("sps30", link_dir)) as sps30:  # type: ignore[arg-type]
        runner, lines = run(make_device(sps30.port, "Sps30", baud_rate=115200, poll_interval=0.2))
        try:
            first = lines.wait_for(is_data)
            sps30.corrupt_next_checksum = True
            bad = lines.wait_for(is_error, first)
            lines.wait_for(is_data, bad)
        finally:
            runner.stop()
        assert lines.items[first]["sensor_telemetry"][8] == 0.729
        assert sps30.commands()[-1] == 0x01  # stopped when the runner let go
