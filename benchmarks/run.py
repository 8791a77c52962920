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
import shutil
import signal
import statistics
import subprocess
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
from .ops import OpsLoad, write_node_config
from .report import Check, checks, markdown_table, print_table, write_json
from .scenarios import Bench
from .server import FloorProcess, ServerProcess, free_port, import_floor_rss_mb

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
    floor_seconds: float = 10.0


QUICK = Plan(startup_runs=1, idle_seconds=1.0, typical_seconds=1.0, fast_seconds=1.0,
             saturation_rates=(1000, 5000), saturation_seconds=0.5, slow_seconds=2.0, floor_seconds=1.0)
#: figures a --quick run can still judge: correctness and size, not time (1 s of load on a busy
#: machine says nothing about CPU, latency, start-up or a queue that needs a minute to fill)
QUICK_JUDGED = frozenset({"lines lost", "peak RSS (VmHWM)", "instrument writes that blocked"})
QUICK_NOT_JUDGED = "n/a (quick)"
TYPICAL = (4, 10.0)  # instruments, lines/s each: a typical node
FAST = (8, 144.0)  # eight 115200-baud lines at their physical limit
RATE_LIMIT = 0.5  # the CSC's default: one line per 0.5 s


def mark_quick(all_checks: list[Check]) -> None:
    """A --quick run gives no verdict on what it cannot judge, instead of a FAIL that is none."""
    for check in all_checks:
        if check.target and check.figure not in QUICK_JUDGED:
            check.not_judged = QUICK_NOT_JUDGED


def _loadavg() -> list[float]:
    """Other work on the machine inflates latency (and, through cold caches, CPU per line)."""
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def _source_version() -> str:
    """Which server was measured: the commit of the checkout, '+dirty' with uncommitted changes."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty=+dirty"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


def _cpu_idle_total() -> tuple[int, int]:
    """Idle (idle + iowait) and total ticks of all CPUs since boot, from /proc/stat."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return ticks[3] + ticks[4], sum(ticks)


def _startup_samples(workdir: Path, runs: int) -> list[float]:
    samples = []
    for i in range(runs):
        with ServerProcess(workdir, f"startup{i}") as server:
            samples.append(server.start())
    return samples


SCENARIOS = ("idle", "typical", "fast", "saturation", "slow_client", "floor")


async def _floor(workdir: Path, instruments: InstrumentProcess, plan: Plan) -> dict[str, Any]:
    """The typical and fast flows through the minimal forwarder: this machine's floor."""
    with FloorProcess(workdir, "floor") as floor:
        floor.start()
        bench = Bench(floor, instruments)
        return {"typical": await bench.flow(*TYPICAL, plan.floor_seconds),
                "fast": await bench.flow(*FAST, plan.floor_seconds), "peak_rss_mb": floor.peak_rss_mb()}


async def _scenarios(server: ServerProcess, plan: Plan, only: tuple[str, ...], workdir: Path,
                     metrics_port: int | None = None, tap: bool = False) -> dict[str, Any]:
    instruments = InstrumentProcess(max(TYPICAL[0], FAST[0]))
    ops = OpsLoad(metrics_port, tap, server.status_socket, server.cpu_seconds) if metrics_port or tap else None
    bench = Bench(server, instruments, ops.on_configured if ops is not None else None)
    if ops is not None:
        ops.start()
    runs = {
        "floor": lambda: _floor(workdir, instruments, plan),
        "idle": lambda: bench.idle(TYPICAL[0], plan.idle_seconds),
        "typical": lambda: bench.flow(*TYPICAL, plan.typical_seconds),
        "fast": lambda: bench.flow(*FAST, plan.fast_seconds),
        "saturation": lambda: bench.saturation(plan.saturation_rates, plan.saturation_seconds),
        "slow_client": lambda: bench.slow_client(*FAST, plan.slow_seconds, RATE_LIMIT),
    }
    try:
        results = {name: await runs[name]() for name in SCENARIOS if name in only}
        if ops is not None:
            results.update(ops.summary())
        return results
    finally:
        if ops is not None:
            await ops.close()
        instruments.close()


def _start_profiler(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling every thread of the server (collapsed stacks, one line per stack)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [py_spy, "record", "--pid", str(pid), "--rate", "500", "--idle", "--threads", "--nonblocking",
               "--format", "raw", "--output", str(output)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop_profiler(profiler: subprocess.Popen[bytes]) -> None:
    profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
    try:
        profiler.wait(30)
    except subprocess.TimeoutExpired:
        profiler.kill()
        profiler.wait()


def run(plan: Plan, workdir: Path, only: tuple[str, ...] = SCENARIOS, profile: Path | None = None,
        metrics: bool = False, tap: bool = False) -> dict[str, Any]:
    began, (idle_before, total_before) = time.monotonic(), _cpu_idle_total()
    results: dict[str, Any] = {
        "meta": {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "loadavg_before": _loadavg(),
            "source": _source_version(),
            "plan": plan.__dict__,
            "metrics": metrics,
            "tap": tap,
        },
        "import_floor_rss_mb": import_floor_rss_mb(),
    }
    startup = _startup_samples(workdir, plan.startup_runs - 1)
    metrics_port = free_port() if metrics else None
    node_config = write_node_config(workdir / "node.yaml", metrics_port) if metrics_port is not None else None
    with ServerProcess(workdir, node_config=node_config) as server:
        startup.append(server.start())
        profiler = _start_profiler(server.pid, profile) if profile else None
        try:
            results.update(asyncio.run(_scenarios(server, plan, only, workdir, metrics_port, tap)))
        finally:
            if profiler is not None:
                _stop_profiler(profiler)
        results["peak_rss_mb"] = server.peak_rss_mb()
        results["final_rss_mb"] = server.rss_mb()
        server.stop()
        results["server_log"] = server.log_text()
    results["startup"] = {"samples_s": startup, "median_s": statistics.median(startup), "max_s": max(startup)}
    results["meta"]["wall_seconds"] = round(time.monotonic() - began, 1)
    results["meta"]["loadavg_after"] = _loadavg()
    idle_after, total_after = _cpu_idle_total()
    results["meta"]["machine_idle_percent"] = round(100 * (idle_after - idle_before) / (total_after - total_before), 1)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds: smoke-test the harness")
    parser.add_argument("--json-out", type=Path, default=DEFAULT_JSON, help=f"JSON report (default {DEFAULT_JSON})")
    parser.add_argument("--slow-seconds", type=float, help="length of the slow-client scenario (default 60 s)")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated subset of {','.join(SCENARIOS)} (default: all)")
    parser.add_argument("--metrics", action="store_true", help="server.metrics_port set, scraped every 15 s")
    parser.add_argument("--tap", action="store_true", help="a tap attached to T1 for the whole run")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="sample the server with py-spy (pip install py-spy) into FILE, collapsed stacks")
    args = parser.parse_args(argv)
    only = tuple(name.strip() for name in args.only.split(","))
    if unknown := set(only) - set(SCENARIOS):
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    plan = QUICK if args.quick else Plan()
    if args.slow_seconds is not None:
        plan = Plan(**{**plan.__dict__, "slow_seconds": args.slow_seconds})
    with tempfile.TemporaryDirectory(prefix="rpi-ess-bench-") as tmp:
        results = run(plan, Path(tmp), only, args.profile, args.metrics, args.tap)
    log = results.pop("server_log")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    log_path = args.json_out.with_suffix(".server.log")
    log_path.write_text(log)
    results["meta"]["server_log"] = str(log_path)
    all_checks = checks(results)
    if args.quick:
        mark_quick(all_checks)
    meta = results["meta"]
    title = (f"rpi-ess serve ({meta['source']}), {meta['cpus']} CPUs, Python {meta['python']}, "
             f"{meta['wall_seconds']} s, "
             f"load average before/after {meta['loadavg_before'][0]:.2f}/{meta['loadavg_after'][0]:.2f}, "
             f"CPUs idle {meta['machine_idle_percent']:g} % of the run"
             f"{', metrics on (scraped every 15 s)' if args.metrics else ''}{', tap on T1' if args.tap else ''}"
             f"{' (--quick: only lines lost, peak RSS and blocked writes are judged)' if args.quick else ''}")
    print_table(all_checks, title)
    write_json(results, all_checks, args.json_out)
    args.json_out.with_suffix(".md").write_text(markdown_table(all_checks, title))
    print(f"JSON report: {args.json_out} (table in Markdown: {args.json_out.with_suffix('.md')}); "
          f"server log: {log_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
