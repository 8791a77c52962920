"""The benchmark harness works: a --quick run against the real server produces every figure.

No figure is asserted (performance is measured, not tested): a few seconds of load on a
busy CI machine say nothing. Only that the report is complete and the accounting adds up.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from array import array
from pathlib import Path

import pytest

from benchmarks.instruments import Burst
from benchmarks.scenarios import flow_result, percentile

ROOT = Path(__file__).resolve().parents[2]
FIGURES = {
    "CPU per telemetry line", "latency p50", "latency p99", "latency max", "lines lost", "server CPU",
    "max sustained rate, no loss", "peak RSS (VmHWM)", "RSS of importing the server only",
    "start-up to accepting connections", "idle CPU (configured, silent)", "RSS growth once queues are full",
    "lines dropped (status devices[].dropped)", "drop warnings in the server log", "instrument writes that blocked",
}


def test_quick_run_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--json-out", str(out)],
                         check=False, cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "CPU per telemetry line" in run.stdout  # the table was printed
    report = json.loads(out.read_text())
    assert {c["figure"] for c in report["checks"]} == FIGURES
    for flow in (report["typical"], report["fast"], report["floor"]["typical"]):
        assert flow["lines_sent"] > 0
        assert flow["lines_received"] + flow["lines_lost"] == flow["lines_sent"]
        assert not math.isnan(flow["cpu_ms_per_line"])
    assert report["saturation"]["steps"]
    assert report["slow_client"]["lines_read"] > 0
    assert report["startup"]["median_s"] > 0
    assert Path(report["meta"]["server_log"]).read_text()


def _burst(sent: list[list[float]], overruns: int = 0) -> Burst:
    return Burst([100, 0], [array("d", times) for times in sent], overruns, 1 if overruns else 0, 0.0, 1.0)


def test_lines_are_matched_by_device_and_sequence() -> None:
    nan = math.nan
    burst = _burst([[1.0, 2.0, nan], [1.5, 2.5]], overruns=1)
    arrivals = {"T1": {100: 1.001, 101: 2.003}, "T2": {0: 1.502}}  # T2 line 1 never arrived
    result = flow_result(burst, arrivals, ["T1", "T2"])
    assert result["lines_sent"] == 5
    assert result["lines_received"] == 3
    assert result["lines_lost"] == 2  # one overrun at the tty, one missing at the client
    assert result["latency_ms"]["max"] == pytest.approx(3.0)  # T1 line 101: 3 ms


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert math.isnan(percentile([], 0.5))
