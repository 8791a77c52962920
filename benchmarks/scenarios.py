"""The measured scenarios. Each opens its own client connection, as the CSC does after a reconnect.

* ``idle``: devices configured, instruments silent; CPU share of the server.
* ``flow``: N instruments at R lines/s each; CPU per telemetry line, latency, loss.
* ``saturation``: one instrument, rate ramped until a step loses lines or lags.
* ``slow_client``: the client reads one line per 0.5 s; memory, drops, instrument never blocked.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .client import CscClient, device_config, query_status
from .instruments import Burst, InstrumentProcess
from .server import ServerProcess

__all__ = ["Bench", "flow_result", "percentile", "rss_growth"]

RSS_SAMPLE_INTERVAL = 0.5
SETTLE = 0.3  # after configure: reader threads started, framers synced
DRAIN_TIMEOUT = 2.0  # after the last line is written, wait this long for stragglers
#: a saturation step passes with no loss, the rate reached, and telemetry this close behind
SATURATION_MAX_P99_MS = 50.0
SATURATION_MIN_ACHIEVED = 0.95
_PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
_DROP_LOG = re.compile(r"WARNING.*dropped", re.IGNORECASE)


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (NaN if empty)."""
    if not sorted_values:
        return math.nan
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


def flow_result(burst: Burst, arrivals: Mapping[str, Mapping[int, float]], names: Sequence[str]) -> dict[str, Any]:
    """Match sent lines to telemetry by (device, sequence): latency, received, lost."""
    latencies: list[float] = []
    missing = 0
    for name, first, times in zip(names, burst.first_seq, burst.sent, strict=True):
        got = arrivals.get(name, {})
        for offset, sent in enumerate(times):
            if math.isnan(sent):
                continue  # lost before the server could read it: counted in overruns
            arrived = got.get(first + offset)
            if arrived is None:
                missing += 1
            else:
                latencies.append(arrived - sent)
    latencies.sort()
    return {
        "lines_sent": burst.lines,
        "lines_received": len(latencies),
        "lines_lost": missing + burst.overruns,
        "overruns": burst.overruns,
        "write_stalls": burst.stalls,
        "latency_ms": {key: percentile(latencies, q) * 1e3 for key, q in _PERCENTILES},
    }


def rss_growth(samples: Sequence[tuple[float, float]]) -> float:
    """MB the RSS grew after the first third of the run (queues full by then): ~0 if bounded."""
    if len(samples) < 3:
        return math.nan
    third = len(samples) // 3
    return max(rss for _, rss in samples[third:]) - samples[third][1]


@dataclass
class Bench:
    server: ServerProcess
    instruments: InstrumentProcess
    on_configured: Callable[[], Awaitable[None]] | None = None  # --ops: attach the tap

    async def _open(self, count: int) -> tuple[CscClient, list[str]]:
        devices = [device_config(i + 1, port) for i, port in enumerate(self.instruments.ports[:count])]
        client = await CscClient.connect(self.server.port, devices)
        if self.on_configured is not None:
            await self.on_configured()
        await asyncio.to_thread(self.instruments.sync, count)
        return client, [d["name"] for d in devices]

    async def idle(self, count: int, seconds: float) -> dict[str, Any]:
        client, _ = await self._open(count)
        client.start_reading()
        await asyncio.sleep(SETTLE)
        cpu, wall = self.server.cpu_seconds(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu, wall = self.server.cpu_seconds() - cpu, time.monotonic() - wall
        await client.disconnect()
        return {"instruments": count, "seconds": round(wall, 3), "cpu_percent": 100 * cpu / wall,
                "error_lines": client.error_lines}

    async def flow(self, count: int, rate: float, seconds: float) -> dict[str, Any]:
        client, names = await self._open(count)
        client.start_reading()
        await asyncio.sleep(SETTLE)
        cpu = self.server.cpu_seconds()
        burst = await asyncio.to_thread(self.instruments.run, count, rate, seconds)
        expected = burst.lines - burst.overruns
        while sum(map(len, client.arrivals.values())) < expected:
            client.changed.clear()
            try:
                await asyncio.wait_for(client.changed.wait(), DRAIN_TIMEOUT)
            except TimeoutError:
                break  # nothing more is coming
        cpu, wall = self.server.cpu_seconds() - cpu, time.monotonic() - burst.started
        await client.disconnect()
        result = flow_result(burst, client.arrivals, names)
        lines = result["lines_received"]
        written_for = max(seconds, burst.ended - burst.started)
        result.update(
            instruments=count,
            rate_per_instrument=rate,
            seconds=seconds,
            achieved_lines_per_s=burst.lines / written_for,
            cpu_ms_per_line=1e3 * cpu / lines if lines else math.nan,
            cpu_percent=100 * cpu / wall,
            error_lines=client.error_lines,
            bad_lines=client.bad_lines,
        )
        return result

    async def saturation(self, rates: Sequence[float], seconds: float) -> dict[str, Any]:
        """Ramp one instrument's rate; stop at the first step that loses lines, lags or falls short."""
        steps = []
        for rate in rates:
            step = await self.flow(1, rate, seconds)
            step["passed"] = (step["lines_lost"] == 0
                              and step["achieved_lines_per_s"] >= SATURATION_MIN_ACHIEVED * rate
                              and step["latency_ms"]["p99"] <= SATURATION_MAX_P99_MS)
            steps.append(step)
            if not step["passed"]:
                break
        passed = [s["rate_per_instrument"] for s in steps if s["passed"]]
        return {"max_sustained_lines_per_s": max(passed, default=0.0), "steps": steps}

    async def slow_client(self, count: int, rate: float, seconds: float, rate_limit: float) -> dict[str, Any]:
        client, _ = await self._open(count)
        log_start = len(self.server.log_text())
        client.start_reading(rate_limit)
        writing = asyncio.ensure_future(asyncio.to_thread(self.instruments.run, count, rate, seconds))
        started = time.monotonic()
        samples = []
        while not writing.done():
            samples.append((round(time.monotonic() - started, 2), self.server.rss_mb()))
            await asyncio.wait([writing], timeout=RSS_SAMPLE_INTERVAL)
        burst = writing.result()
        status = await query_status(self.server.status_socket)
        lines_read = client.lines
        await client.disconnect()
        devices = status.get("devices", [])
        return {
            "instruments": count,
            "rate_per_instrument": rate,
            "seconds": seconds,
            "rate_limit": rate_limit,
            "lines_written": burst.lines,
            "lines_read": lines_read,
            "overruns": burst.overruns,
            "write_stalls": burst.stalls,
            "dropped_per_device": {d.get("name"): d.get("dropped") for d in devices},
            "dropped_total": sum(d.get("dropped") or 0 for d in devices),
            "client_lines_dropped": (status.get("client") or {}).get("lines_dropped"),
            "drop_warnings_in_log": len(_DROP_LOG.findall(self.server.log_text()[log_start:])),
            "rss_mb_samples": samples,
            "rss_growth_mb": rss_growth(samples),
        }
