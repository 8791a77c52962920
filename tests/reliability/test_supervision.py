"""Supervision: bugs (unexpected exceptions) in a backend, a parser or a command are contained.

The instruments are real pty devices behind the real serial backend; a thin wrapper injects
the bug (an exception no backend is supposed to raise) on demand. Each test checks that the
bug is logged with the device's name and port, counted, retried with backoff rather than in
a tight loop, that the other device and the client never notice, and that the device
recovers once the bug stops firing.
"""

from __future__ import annotations

import collections
import logging
import time
from typing import Any

import pytest

from rpi_ess.devices import create_device as real_create_device
from rpi_ess.devices.base import Device, DeviceError, Record
from rpi_ess.server import command_handler
from rpi_ess.server.node_config import NodeConfig

from .conftest import assert_contiguous, by_name, configure_line, serial_entry, telemetry_until

#: With backoff starting at 0.5 s and doubling, a few seconds of a permanent bug allow a
#: handful of retries; a tight loop makes thousands.
MAX_RETRIES_IN_BUG_WINDOW = 12
BUG_WINDOW = 2.0


class Buggy(Device):
    """Delegates to the real device; raises ``open_bug``/``read_bug`` while they are set."""

    def __init__(self, inner: Device) -> None:
        super().__init__(inner.config, inner.sensor, inner.clock)
        self.inner = inner
        self.open_bug: Exception | None = None
        self.read_bug: Exception | None = None
        self.calls: collections.Counter[str] = collections.Counter()
        self._lost = False

    def lose_port(self) -> None:
        """The next read fails as an unplugged port does (a DeviceError, which is no bug)."""
        self._lost = True

    @property
    def describe(self) -> str:
        return self.inner.describe

    def open(self) -> None:
        self.calls["open"] += 1
        if self.open_bug is not None:
            raise self.open_bug
        self.inner.open()

    def _read_internal(self, timeout: float) -> list[Record]:
        self.calls["read"] += 1
        if self._lost:
            self._lost = False
            raise DeviceError(f"{self.describe}: port lost")
        if self.read_bug is not None:
            raise self.read_bug
        return self.inner.read(timeout)

    def close(self) -> None:
        self.inner.close()

    def _wake(self) -> None:
        self.inner.interrupt()

    def present(self) -> bool | None:
        return self.inner.present()


@pytest.fixture
def buggy(monkeypatch: pytest.MonkeyPatch) -> dict[str, Buggy]:
    """Every device the server creates is wrapped; the wrappers by device name."""
    made: dict[str, Buggy] = {}

    def create(config: Any, sensor: Any) -> Device:
        made[config.name] = Buggy(real_create_device(config, sensor))
        return made[config.name]

    monkeypatch.setattr(command_handler, "create_device", create)
    return made


async def streaming_pair(make_instrument, make_server, connect):
    server = await make_server(simulation_mode=0, node_config=NodeConfig(heartbeat_timeout=30.0))
    ok, _ = make_instrument("ok", 0.02)
    bad, _ = make_instrument("bad", 0.02)
    client = await connect(server.port)
    await client.send(configure_line(serial_entry("ok", ok.port), serial_entry("bad", bad.port)))
    assert (await client.response())[1] == {"response": 0}
    await telemetry_until(client, lambda lines: len(by_name(lines, "bad", 0)) >= 2)
    (runner,) = [r for r in server.command_handler.runners if r.name == "bad"]
    return client, runner


async def bug_window(client, device: Buggy, call: str) -> tuple[int, list[dict[str, Any]]]:
    """Let the bug fire for BUG_WINDOW seconds; return how often ``call`` ran and the telemetry."""
    before = device.calls[call]
    start = time.monotonic()
    lines = await telemetry_until(client, lambda _: time.monotonic() - start > BUG_WINDOW)
    return device.calls[call] - before, lines


def logged_with_context(caplog: pytest.LogCaptureFixture, runner) -> bool:
    return any(r.levelno >= logging.ERROR and r.exc_info and runner.device.describe in r.getMessage()
               for r in caplog.records)


async def test_bug_in_read_is_retried_with_backoff(make_instrument, make_server, connect, buggy, caplog):
    client, runner = await streaming_pair(make_instrument, make_server, connect)
    buggy["bad"].read_bug = RuntimeError("bug in a backend's read")
    reads, lines = await bug_window(client, buggy["bad"], "read")
    buggy["bad"].read_bug = None
    lines += await telemetry_until(client, lambda lines: len(by_name(lines, "bad", 0)) >= 3)
    assert by_name(lines, "bad", 10), "the client was told the device failed"
    assert logged_with_context(caplog, runner)
    assert_contiguous(by_name(lines, "ok"))
    assert reads <= MAX_RETRIES_IN_BUG_WINDOW, f"{reads} reads in {BUG_WINDOW} s: a tight loop"


async def test_bug_in_open_is_retried_with_backoff(make_instrument, make_server, connect, buggy, caplog):
    client, runner = await streaming_pair(make_instrument, make_server, connect)
    buggy["bad"].open_bug = TypeError("bug in a backend's open")
    buggy["bad"].lose_port()  # the runner will have to reopen
    opens, lines = await bug_window(client, buggy["bad"], "open")
    buggy["bad"].open_bug = None
    lines += await telemetry_until(client, lambda lines: len(by_name(lines, "bad", 0)) >= 3)
    assert logged_with_context(caplog, runner)
    assert_contiguous(by_name(lines, "ok"))
    assert opens <= MAX_RETRIES_IN_BUG_WINDOW, f"{opens} opens in {BUG_WINDOW} s: a tight loop"


async def test_parser_bug_that_breaks_encoding_restarts_the_reader(make_instrument, make_server, connect, buggy,
                                                                   monkeypatch, caplog):
    client, runner = await streaming_pair(make_instrument, make_server, connect)
    real_parse = runner.sensor.parse
    fired = []

    def parse(record: bytes):
        reading = real_parse(record)
        if not fired:
            fired.append(record)
            reading.values.append(object())  # not JSON: encoding the line raises in the reader thread
        return reading

    monkeypatch.setattr(runner.sensor, "parse", parse)
    lines = await telemetry_until(client, lambda lines: fired and len(by_name(lines, "bad", 0)) >= 3)
    assert runner.stats.restarts == 1
    assert any(r.exc_info and runner.device.describe in r.getMessage() for r in caplog.records)
    assert_contiguous(by_name(lines, "ok"))


async def test_bug_in_a_command_gets_code_30_and_the_session_goes_on(make_instrument, make_server, connect,
                                                                     monkeypatch, caplog):
    server = await make_server(simulation_mode=0)
    pty, _ = make_instrument("T", 0.02)
    client = await connect(server.port)
    monkeypatch.setattr(server.command_handler, "status_report", lambda: 1 / 0)
    await client.command("status")
    _, message = await client.response()
    assert message["response"] == 30 and "ZeroDivisionError" in message["message"]
    assert any(r.exc_info for r in caplog.records if r.levelno >= logging.ERROR)
    await client.send(configure_line(serial_entry("T", pty.port)))
    assert (await client.response())[1] == {"response": 0}
    assert_contiguous(await telemetry_until(client, lambda lines: len(lines) >= 5))
