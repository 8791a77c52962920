"""Soak: minutes of high line rates with reconnects and unplugs; memory and descriptors stay flat.

Every 30 s the client reconnects and reconfigures; in each session one instrument is unplugged
for 5 s and plugged back in.

Not part of the normal run. Command (docs/security.md):

    .venv/bin/python -m pytest -m slow tests/reliability -s

``RPI_ESS_SOAK_SECONDS`` sets the length (default 300 s). The test prints the line counts
and the memory samples it judged.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from rpi_ess.server.node_config import NodeConfig

from .conftest import Resources, client_gone, configure_line, numbers, serial_entry, settle_to, vm_rss_kib

DURATION = float(os.environ.get("RPI_ESS_SOAK_SECONDS", "300"))
SESSION = 30.0  # the client reconnects (and reconfigures) this often
SAMPLE_EVERY = 5.0
RSS_SLACK_KIB = 2 * 1024  # allocator noise (300 s measured: +128 KiB); leaking one line per reading: +100 MiB
#: name -> seconds between lines: ~870 lines/s in total, a CSAT3B-like 100 Hz among them
INSTRUMENTS = {"fast": 0.002, "wind": 0.01, "field": 0.05, "temp": 0.2}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(DURATION + 300)]


class Tally:
    """Per device: good readings and whether their numbers only ever increased (O(1) memory,
    so the test itself does not grow while it watches the server's memory)."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self.out_of_order: dict[str, int] = {}

    def add(self, name: str, number: int) -> None:
        self.count[name] = self.count.get(name, 0) + 1
        if number <= self.last.get(name, -1):
            self.out_of_order[name] = self.out_of_order.get(name, 0) + 1
        self.last[name] = number


async def read_session(client, seconds: float, tally: Tally) -> int:
    """Read telemetry for ``seconds``; tally each device's sequence numbers; return the line count."""
    count = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        telemetry = await client.telemetry()
        count += 1
        number = numbers(telemetry)
        if telemetry["response_code"] == 0 and number is not None:
            tally.add(telemetry["name"], number)
    return count


async def test_soak(make_instrument, make_server, connect) -> None:
    server = await make_server(simulation_mode=0, node_config=NodeConfig(heartbeat_timeout=30.0))
    ptys = {name: make_instrument(name, period)[0] for name, period in INSTRUMENTS.items()}
    config = configure_line(*(serial_entry(name, pty.port) for name, pty in ptys.items()))
    samples: list[tuple[float, int, int]] = []
    tally = Tally()
    total = sessions = 0
    start = time.monotonic()
    before: Resources | None = None
    while time.monotonic() - start < DURATION:
        client = await connect(server.port)
        await client.send(config)
        assert (await client.response())[1] == {"response": 0}
        if before is None:
            await read_session(client, 5.0, Tally())  # warm-up: caches, executor threads, buffers
            before = Resources.now()
        left = DURATION - (time.monotonic() - start)
        for i in range(max(1, int(min(SESSION, left) / SAMPLE_EVERY))):
            if i == 1:
                ptys["temp"].unplug()  # for one sample period of each session
            total += await read_session(client, SAMPLE_EVERY, tally)
            samples.append((round(time.monotonic() - start), vm_rss_kib(), len(os.listdir("/proc/self/fd"))))
            if not ptys["temp"].plugged:
                ptys["temp"].replug()
        await client.close()
        sessions += 1
        await client_gone(server)
    assert before is not None
    await settle_to(before, same_fds=False)  # the re-plugged instrument has a new tty
    report(total, sessions, tally, samples, server)
    judge(samples)
    assert not tally.out_of_order, f"readings out of order or duplicated: {tally.out_of_order}"
    assert set(tally.count) == set(INSTRUMENTS)


def report(total: int, sessions: int, tally: Tally, samples: list[Any], server: Any) -> None:
    print(f"\nsoak: {DURATION:.0f} s, {sessions} sessions, {total} telemetry lines ({total / DURATION:.0f}/s)")
    for name, count in sorted(tally.count.items()):
        print(f"  {name}: {count} good readings, {tally.out_of_order.get(name, 0)} out of order")
    print("  (t s, VmRSS KiB, fds):", samples)
    print(f"  client lines dropped in the last session: {server.telemetry.lines_dropped}")


def judge(samples: list[tuple[float, int, int]]) -> None:
    third = max(1, len(samples) // 3)
    early = max(rss for _, rss, _ in samples[:third])
    late = max(rss for _, rss, _ in samples[-third:])
    assert late <= early + RSS_SLACK_KIB, f"VmRSS grew from {early} to {late} KiB"
    fds = {count for _, _, count in samples}
    assert max(fds) - min(fds) <= 8, f"descriptor count wandered: {sorted(fds)}"  # 8: an unplug in progress

