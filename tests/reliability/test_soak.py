"""Soak: minutes of high line rates with reconnects and unplugs; memory and descriptors stay flat.

Not part of the normal run. Command (docs/security.md):

    .venv/bin/python -m pytest -m slow tests/reliability -s

``RPI_ESS_SOAK_SECONDS`` sets the length (default 300 s). The test prints the line counts
and the memory samples it judged.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest

from rpi_ess.server.node_config import NodeConfig

from .conftest import Resources, configure_line, numbers, serial_entry, settle_to, vm_rss_kib, wait_until

DURATION = float(os.environ.get("RPI_ESS_SOAK_SECONDS", "300"))
SESSION = 30.0  # the client reconnects (and reconfigures) this often
UNPLUG_EVERY = 20.0
SAMPLE_EVERY = 5.0
RSS_SLACK_KIB = 8 * 1024  # allocator noise; a leak of one line per reading would be far larger
#: name -> seconds between lines: ~870 lines/s in total, a CSAT3B-like 100 Hz among them
INSTRUMENTS = {"fast": 0.002, "wind": 0.01, "field": 0.05, "temp": 0.2}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(DURATION + 300)]


async def read_session(client, seconds: float, seen: dict[str, list[int]]) -> int:
    """Read telemetry for ``seconds``; record each device's sequence numbers; return the line count."""
    count = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        telemetry = await client.telemetry()
        count += 1
        number = numbers(telemetry)
        if telemetry["response_code"] == 0 and number is not None:
            seen.setdefault(telemetry["name"], []).append(number)
    return count


async def unplug_now_and_then(pty) -> None:
    while True:
        await asyncio.sleep(UNPLUG_EVERY)
        pty.unplug()
        await asyncio.sleep(1.0)
        pty.replug()


async def test_soak(make_instrument, make_server, connect) -> None:
    server = await make_server(simulation_mode=0, node_config=NodeConfig(heartbeat_timeout=30.0))
    ptys = {name: make_instrument(name, period)[0] for name, period in INSTRUMENTS.items()}
    config = configure_line(*(serial_entry(name, pty.port) for name, pty in ptys.items()))
    samples: list[tuple[float, int, int]] = []
    seen: dict[str, list[int]] = {}
    total = sessions = 0
    start = time.monotonic()
    before: Resources | None = None
    faults = asyncio.create_task(unplug_now_and_then(ptys["temp"]))
    try:
        while time.monotonic() - start < DURATION:
            client = await connect(server.port)
            await client.send(config)
            assert (await client.response())[1] == {"response": 0}
            if before is None:
                await read_session(client, 5.0, {})  # warm-up: caches, executor threads, buffers
                before = Resources.now()
            left = DURATION - (time.monotonic() - start)
            for _ in range(max(1, int(min(SESSION, left) / SAMPLE_EVERY))):
                total += await read_session(client, SAMPLE_EVERY, seen)
                samples.append((round(time.monotonic() - start), vm_rss_kib(), len(os.listdir("/proc/self/fd"))))
            await client.close()
            sessions += 1
            await wait_until(lambda: not server._has_client, what="the server to close the session")
    finally:
        faults.cancel()
        await asyncio.gather(faults, return_exceptions=True)
    ptys["temp"].replug()
    assert before is not None
    await settle_to(before, same_fds=False)  # the re-plugged instrument has a new tty
    report(total, sessions, seen, samples, server)
    judge(samples)
    assert all(got == sorted(got) for got in seen.values()), "readings out of order or duplicated"
    assert set(seen) == set(INSTRUMENTS)


def report(total: int, sessions: int, seen: dict[str, list[int]], samples: list[Any], server: Any) -> None:
    print(f"\nsoak: {DURATION:.0f} s, {sessions} sessions, {total} telemetry lines ({total / DURATION:.0f}/s)")
    for name, got in sorted(seen.items()):
        print(f"  {name}: {len(got)} good readings, numbers increasing: {got == sorted(got)}")
    print("  (t s, VmRSS KiB, fds):", samples)
    print(f"  client lines dropped in the last session: {server.telemetry.lines_dropped}")


def judge(samples: list[tuple[float, int, int]]) -> None:
    third = max(1, len(samples) // 3)
    early = max(rss for _, rss, _ in samples[:third])
    late = max(rss for _, rss, _ in samples[-third:])
    assert late <= early + RSS_SLACK_KIB, f"VmRSS grew from {early} to {late} KiB"
    fds = {count for _, _, count in samples}
    assert max(fds) - min(fds) <= 8, f"descriptor count wandered: {sorted(fds)}"  # 8: an unplug in progress

