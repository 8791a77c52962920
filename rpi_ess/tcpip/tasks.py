"""Stopping background tasks safely, including from inside one of them."""

from __future__ import annotations

import asyncio
import logging

__all__ = ["cancel_tasks"]

_log = logging.getLogger(__name__)


async def cancel_tasks(*tasks: asyncio.Future | None, grace: float = 0.0) -> None:
    """Cancel ``tasks`` and wait until they have finished.

    The calling task is skipped (it may be closing the connection it serves, and a task can
    neither await itself nor be cancelled half-way through its own cleanup); None and finished
    tasks are ignored. With ``grace`` > 0 the tasks first get that many seconds to finish on
    their own: a task cancelled before its first step never runs its cleanup code.
    An exception other than cancellation that a task ends with is logged, not raised.
    """
    current = asyncio.current_task()
    pending = {t for t in tasks if t is not None and t is not current and not t.done()}
    if not pending:
        return
    if grace > 0:
        await asyncio.wait(pending, timeout=grace)
    for task in pending:
        task.cancel()
    await asyncio.wait(pending)
    for task in pending:
        if not task.cancelled() and task.exception() is not None:
            _log.error("Task %r failed while being cancelled", task, exc_info=task.exception())
