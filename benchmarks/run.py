"""Run the whole benchmark: ``python -m benchmarks.run [--quick] [--json-out PATH]``.

Order: import-only RSS, start-up samples, then one server process for the scenarios
(idle, typical node, eight fast lines, saturation ramp, slow client); its peak RSS is
taken at the end. The default run takes about 2.5 minutes on 2 cores; ``--quick`` a few
seconds (it only proves the harness works: its figures mean little).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

from .instruments import InstrumentProcess
from .report import checks, print_table, write_json
from .scenarios import Bench
from .server import ServerProcess, import_floor_rss_mb

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latest.json"


@dataclass(frozen=True)
class Plan:
    startup_runs: int = 5
    idle_seconds: float = 10.0
    typical_seconds: float = 20.0
    fast_seconds: float = 15.0
    saturation_rates: tuple[float, ...] = (1000, 2000, 5000, 8000, 12000, 16000, 24000)
    saturation_seconds: float = 3.0
    slow_seconds: float = 60.0


QUICK = Plan(startup_runs=1, idle_seconds=1.0, typical_seconds=1.0, fast_seconds=1.0,
             saturation_rates=(1000, 5000), saturation_seconds=0.5, slow_seconds=2.0)
TYPICAL = (4, 10.0)  # instruments, lines/s each: a typical node
FAST = (8, 144.0)  # eight 115200-baud lines at their physical limit
RATE_LIMIT = 0.5  # the CSC's default: one line per 0.5 s


def _startup_samples(workdir: Path, runs: int) -> list[float]:
    samples = []
    for i in range(runs):
        with ServerProcess(workdir, f"startup{i}") as server:
            samples.append(server.start())
    return samples


async def _scenarios(server: ServerProcess, plan: Plan) -> dict[str, Any]:
    instruments = InstrumentProcess(max(TYPICAL[0], FAST[0]))
    try:
        bench = Bench(server, instruments)
        results: dict[str, Any] = {"idle": await bench.idle(TYPICAL[0], plan.idle_seconds)}
        results["typical"] = await bench.flow(*TYPICAL, plan.typical_seconds)
        results["fast"] = await bench.flow(*FAST, plan.fast_seconds)
        results["saturation"] = await bench.saturation(plan.saturation_rates, plan.saturation_seconds)
        results["slow_client"] = await bench.slow_client(*FAST, plan.slow_seconds, RATE_LIMIT)
        return results
    finally:
        instruments.close()


def run(plan: Plan, workdir: Path) -> dict[str, Any]:
    began = time.monotonic()
    results: dict[str, Any] = {
        "meta": {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "plan": plan.__dict__,
        },
        "import_floor_rss_mb": import_floor_rss_mb(),
    }
    startup = _startup_samples(workdir, plan.startup_runs - 1)
    with ServerProcess(workdir) as server:
        startup.append(server.start())
        results.update(asyncio.run(_scenarios(server, plan)))
        results["peak_rss_mb"] = server.peak_rss_mb()
        results["final_rss_mb"] = server.rss_mb()
    results["startup"] = {"samples_s": startup, "median_s": statistics.median(startup), "max_s": max(startup)}
    results["meta"]["wall_seconds"] = round(time.monotonic() - began, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds: smoke-test the harness")
    parser.add_argument("--json-out", type=Path, default=DEFAULT_JSON, help=f"JSON report (default {DEFAULT_JSON})")
    parser.add_argument("--slow-seconds", type=float, help="length of the slow-client scenario (default 60 s)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else Plan()
    if args.slow_seconds is not None:
        plan = Plan(**{**plan.__dict__, "slow_seconds": args.slow_seconds})
    with tempfile.TemporaryDirectory(prefix="rpi-ess-bench-") as tmp:
        results = run(plan, Path(tmp))
    all_checks = checks(results)
    title = (f"rpi-ess serve, {results['meta']['cpus']} CPUs, Python {results['meta']['python']}"
             f"{' (--quick: figures not meaningful)' if args.quick else ''}, {results['meta']['wall_seconds']} s")
    print_table(all_checks, title)
    write_json(results, all_checks, args.json_out)
    print(f"JSON report: {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
