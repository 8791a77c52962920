"""Tell systemd how the service is doing (the sd_notify protocol), without depending on libsystemd.

Why: the unit is ``Type=notify`` so systemd starts dependent units and reports "started" only once the server
really listens, and ``WatchdogSec=`` restarts a server whose event loop hangs. Outside systemd
(``NOTIFY_SOCKET`` unset: a terminal, a container, tests) every call is a cheap no-op.

Usage by the server::

    sdnotify.ready("listening on port 5000")      # after the listening socket is open
    interval = sdnotify.watchdog_interval()        # None when systemd wants no watchdog pings
    ... every `interval` seconds while healthy: sdnotify.watchdog()
    sdnotify.stopping()                            # when shutdown begins
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["notify", "ready", "status", "stopping", "watchdog", "watchdog_interval"]

log = logging.getLogger(__name__)


def _address(environ: Mapping[str, str]) -> str | None:
    """The datagram socket address from ``NOTIFY_SOCKET``; a leading ``@`` names an abstract socket."""
    path = environ.get("NOTIFY_SOCKET", "")
    if not path:
        return None
    if path.startswith("@"):
        return "\0" + path[1:]
    if path.startswith("/"):
        return path
    log.warning("ignoring NOTIFY_SOCKET=%r: neither a path nor an abstract socket name", path)
    return None


def notify(*assignments: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``KEY=value`` assignments in one datagram; return True when one was sent.

    Failures are logged, never raised: losing a status message must not take the server down.
    """
    address = _address(os.environ if environ is None else environ)
    if address is None or not assignments:
        return False
    message = "\n".join(assignments).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message, address)
    except OSError as e:
        log.warning("sd_notify to %r failed: %s", address.replace("\0", "@"), e)
        return False
    return True


def _status_line(text: str) -> str:
    # One assignment per line in the protocol, so a newline in the text would start a bogus one.
    return "STATUS=" + " ".join(text.splitlines())


def ready(text: str | None = None, *, environ: Mapping[str, str] | None = None) -> bool:
    """The service is up (``READY=1``), optionally with a status line."""
    extra = (_status_line(text),) if text else ()
    return notify("READY=1", *extra, environ=environ)


def status(text: str, *, environ: Mapping[str, str] | None = None) -> bool:
    """Free-form status shown by ``systemctl status``."""
    return notify(_status_line(text), environ=environ)


def watchdog(*, environ: Mapping[str, str] | None = None) -> bool:
    """Keep-alive ping (``WATCHDOG=1``); send one every :func:`watchdog_interval` seconds."""
    return notify("WATCHDOG=1", environ=environ)


def stopping(text: str | None = None, *, environ: Mapping[str, str] | None = None) -> bool:
    """Shutdown has begun (``STOPPING=1``), so systemd does not mistake it for a crash or a hang."""
    extra = (_status_line(text),) if text else ()
    return notify("STOPPING=1", *extra, environ=environ)


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings: half of ``WATCHDOG_USEC`` (systemd's advice), or None when disabled.

    None also when ``WATCHDOG_PID`` names another process (the variable was inherited, not meant for us)
    or the value is malformed.
    """
    env = os.environ if environ is None else environ
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2 / 1_000_000
