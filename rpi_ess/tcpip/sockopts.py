"""TCP socket options applied to every accepted or opened connection (PROTOCOL 1.1)."""

from __future__ import annotations

import socket
from typing import Any

__all__ = ["KEEPALIVE_OPTIONS", "set_socket_options"]

#: TCP keep-alive tuning of the reference: probe after 60 s idle, 4 probes 15 s apart, so a
#: half-open connection (cable pulled) is noticed in about two minutes even without heartbeats.
KEEPALIVE_OPTIONS = {"TCP_KEEPIDLE": 60, "TCP_KEEPCNT": 4, "TCP_KEEPINTVL": 15}


def set_socket_options(sock: Any) -> None:
    """Switch on keep-alive (with the options the platform has) and ``TCP_NODELAY``.

    ``sock`` is a ``socket.socket`` or the ``TransportSocket`` from ``get_extra_info("socket")``;
    None (no socket, e.g. a pipe transport) is ignored. Raises OSError if the socket refuses.
    """
    if sock is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in KEEPALIVE_OPTIONS.items():
        option = getattr(socket, name, None)
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)
    # Telemetry lines are small and latency matters more than packet count.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
