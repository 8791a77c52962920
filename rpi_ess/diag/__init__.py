"""``rpi-ess diag``: one report a field technician can read (or a machine can parse).

Every check is a small function that returns :class:`CheckResult` lines; :mod:`.runner`
runs them with bounded time, :mod:`.report` renders them as coloured text or JSON.
"""

from .model import CheckResult, Report, Status

__all__ = ["CheckResult", "Report", "Status"]
