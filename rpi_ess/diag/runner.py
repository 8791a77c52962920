"""Run every check with bounded time and collect the report in a stable order.

Checks run in parallel threads (device listening dominates the time, and instruments are
independent); results keep the order of the check list, not the order they finished in.
"""

from __future__ import annotations

import concurrent.futures
import logging
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from functools import partial

from .buses import BUS_CHECKS
from .context import DiagContext
from .devices import BAUD_RATES, plan_device_checks
from .model import GROUPS, CheckResult, Report, Status
from .node import NODE_CHECKS
from .service import SERVICE_CHECKS
from .status import fetch_status

__all__ = ["CheckFunction", "diagnose", "run_checks"]

log = logging.getLogger(__name__)

CheckFunction = Callable[[DiagContext], CheckResult | Iterable[CheckResult]]
MAX_WORKERS = 16
#: groups about the host diag runs on: --simulate does not simulate them, so it does not judge them
HOST_GROUPS = ("node",)
NOT_JUDGED = ("Not judged by --simulate, which checks simulated instruments and a simulated server, not this "
              "host; on a real node this would be a FAIL. ")
#: Slack on top of the longest device listen + baud probe before a check counts as hung.
DEADLINE_MARGIN = 10.0
SLOW_INSTRUMENT = 5.0


def _check_name(check: CheckFunction) -> str:
    target = check.func if isinstance(check, partial) else check
    return getattr(target, "__name__", "check").removeprefix("check_")


def _guarded(group: str, check: CheckFunction, ctx: DiagContext) -> list[CheckResult]:
    """A crashing check becomes a FAIL line; the rest of the report still appears."""
    try:
        outcome = check(ctx)
    except Exception as e:
        log.exception("check %s crashed", _check_name(check))
        return [CheckResult(group, _check_name(check), Status.FAIL, f"check crashed: {e!r}",
                            hint="This is a bug in rpi-ess diag: please report it with the --json output.")]
    return [outcome] if isinstance(outcome, CheckResult) else list(outcome)


def run_checks(ctx: DiagContext, checks: Sequence[tuple[str, CheckFunction]], timeout: float) -> list[CheckResult]:
    results: list[CheckResult] = []
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="diag")
    try:
        futures = [pool.submit(_guarded, group, check, ctx) for group, check in checks]
        concurrent.futures.wait(futures, timeout=timeout)
        for (group, check), future in zip(checks, futures, strict=True):
            if future.done():
                results += future.result()
            else:
                results.append(CheckResult(group, _check_name(check), Status.FAIL,
                                           f"did not finish within {timeout:.0f} s",
                                           hint="Something blocks (a hung driver or device); see dmesg."))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return results


def _not_judged(result: CheckResult) -> CheckResult:
    """A FAIL about the host (its clock, its disk) is a WARN in --simulate, explained."""
    if result.group not in HOST_GROUPS or result.status is not Status.FAIL:
        return result
    return replace(result, status=Status.WARN, hint=NOT_JUDGED + (result.hint or ""),
                   data={**result.data, "simulate_not_judged": True})


def diagnose(ctx: DiagContext, groups: Sequence[str] = GROUPS) -> Report:
    """Ask the server first (the device checks need to know what it holds), then run everything."""
    started = time.monotonic()
    generated = time.time()
    if set(groups) - {"node"}:  # service, buses and devices all need to know what the server holds
        fetch_status(ctx)
    checks: list[tuple[str, CheckFunction]] = []
    for group, functions in (("node", NODE_CHECKS), ("service", SERVICE_CHECKS), ("buses", BUS_CHECKS)):
        if group in groups:
            checks += [(group, function) for function in functions]
    if "devices" in groups:
        checks += [("devices", check) for check in plan_device_checks(ctx)]
    # A safety net for a hung driver, never reached by a working check: listen, then probe every rate,
    # each window stretched for slow instruments (two periods of up to 2.5 s).
    budget = (max(ctx.listen, ctx.probe) + SLOW_INSTRUMENT) * (len(BAUD_RATES) + 1) + DEADLINE_MARGIN
    results = run_checks(ctx, checks, budget)
    if ctx.simulated:
        results = [_not_judged(result) for result in results]
    return Report(results, socket.gethostname(), generated, time.monotonic() - started, ctx.simulated)
