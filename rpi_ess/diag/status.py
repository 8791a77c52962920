"""Ask the running server how it is doing, without disturbing the CSC.

The server answers ``{"command": "status", "parameters": {}}`` on its local Unix status
socket (any number of clients, no heartbeat) and, when no client is connected, on its TCP
port. The Unix socket is always tried first; TCP only while nobody is connected, because
the server serves one TCP client at a time.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from typing import Any

from .context import DiagContext
from .procfs import TCP_ESTABLISHED, tcp_sockets

__all__ = ["STATUS_REQUEST", "StatusError", "fetch_status", "port_keys", "query_status", "server_device_on"]

log = logging.getLogger(__name__)

STATUS_REQUEST = b'{"command": "status", "parameters": {}}\r\n'
STATUS_TIMEOUT = 2.0
MAX_REPLY = 1 << 20


class StatusError(Exception):
    """The server could not be asked, or its answer made no sense."""


def _read_line(sock: socket.socket) -> bytes:
    buffer = bytearray()
    while not buffer.endswith(b"\r\n"):
        chunk = sock.recv(65536)
        if not chunk:
            raise StatusError("connection closed before a reply" if not buffer else "reply cut short")
        buffer += chunk
        if len(buffer) > MAX_REPLY:
            raise StatusError("reply longer than 1 MiB")
    return bytes(buffer[:-2])


def query_status(address: str | tuple[str, int], timeout: float = STATUS_TIMEOUT) -> dict[str, Any]:
    """Send one status request to a Unix socket path or a (host, port); return STATUS."""
    try:
        if isinstance(address, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(address)
            except OSError:
                sock.close()
                raise
        else:
            sock = socket.create_connection(address, timeout=timeout)
        with sock:
            sock.sendall(STATUS_REQUEST)
            line = _read_line(sock)
    except OSError as e:
        raise StatusError(e.strerror or str(e)) from e
    try:
        reply = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StatusError(f"not JSON: {line[:80]!r}") from e
    if not isinstance(reply, dict) or reply.get("response") != 0:
        raise StatusError(f"status refused: {line[:120].decode(errors='replace')}")
    status = reply.get("status")
    if not isinstance(status, dict) or not isinstance(status.get("server"), dict):
        raise StatusError("reply has no status.server object")
    if not isinstance(status.get("devices"), list):
        status["devices"] = []
    return status


def fetch_status(ctx: DiagContext) -> None:
    """Fill ``ctx.server_status`` and ``ctx.status_source`` (or the reason it failed)."""
    reasons = []
    try:
        ctx.server_status = query_status(ctx.status_socket)
        ctx.status_source = f"status socket {ctx.status_socket}"
        return
    except StatusError as e:
        reasons.append(f"{ctx.status_socket}: {e}")
    if any(entry.state == TCP_ESTABLISHED for entry in tcp_sockets(ctx, ctx.port)):
        reasons.append(f"TCP {ctx.port} not tried: a client is connected")
    else:
        try:
            status = query_status((ctx.host, ctx.port))
            status["client"] = None  # the server's one client was diag itself
            ctx.server_status, ctx.status_source = status, f"TCP {ctx.host}:{ctx.port}"
            return
        except StatusError as e:
            reasons.append(f"TCP {ctx.host}:{ctx.port}: {e}")
    ctx.status_source = "; ".join(reasons)
    log.debug("no server status: %s", ctx.status_source)


def port_keys(description: str) -> set[str]:
    """Ways to recognise one port: a backend's description (``Serial /dev/ess/wind``) and the
    real paths it names, so a by-id name and its /dev/ttyUSB0 are the same port."""
    tokens = (token.strip("()") for token in description.split())  # FTDI: "FTDI A10K (/dev/serial/by-id/…)"
    return {description} | {os.path.realpath(token) for token in tokens if token.startswith("/")}


def server_device_on(ctx: DiagContext, keys: set[str]) -> dict[str, Any] | None:
    """The running server's device on the port identified by ``keys``, if it has one."""
    for device in (ctx.server_status or {}).get("devices") or []:
        if keys & port_keys(str(device.get("port", ""))):
            return device
    return None
