"""`benchmarks.run --quick` marks what a few seconds cannot judge as such, never as FAIL (issue 15)."""

from __future__ import annotations

from benchmarks.report import Check, markdown_table
from benchmarks.run import mark_quick


def test_quick_run_does_not_fail_what_it_cannot_judge() -> None:
    rows = [Check("latency p99", "4 x 10 Hz", 2.9, "ms", "<= 2"),
            Check("start-up to accepting connections", "median of runs", 2.17, "s", "<= 0.3"),
            Check("lines dropped (status devices[].dropped)", "slow client, 2 s", 0, "", "> 0"),
            Check("lines lost", "4 x 10 Hz", 3, "", "== 0"),
            Check("peak RSS (VmHWM)", "whole run", 26.3, "MB", "<= 30"),
            Check("latency p50", "4 x 10 Hz", 0.66, "ms", "")]
    mark_quick(rows)
    assert [row.passed for row in rows] == [None, None, None, False, True, None]
    table = markdown_table(rows, "quick").splitlines()[4:]
    assert [line.split(" | ")[4] for line in table] == ["n/a (quick)"] * 3 + ["FAIL", "PASS", ""]
