"""Wire constants shared by the server and the client (PROTOCOL 1.1, 1.2, 1.4)."""

from __future__ import annotations

__all__ = [
    "DEFAULT_ENCODING",
    "DEFAULT_LOCALHOST",
    "DEFAULT_MAX_HEARTBEAT_INTERVAL",
    "DEFAULT_MAX_LINE_LENGTH",
    "DEFAULT_PORT",
    "DEFAULT_TERMINATOR",
    "HEARTBEAT",
    "HEARTBEAT_LINE",
    "HEARTBEAT_MONITOR_INTERVAL",
    "HEARTBEAT_SEND_INTERVAL",
    "LOCALHOST_IPV4",
    "LOCALHOST_IPV6",
]

#: Every line in both directions ends with CRLF; the CSC splits on exactly these two bytes.
DEFAULT_TERMINATOR = b"\r\n"
DEFAULT_ENCODING = "utf-8"

LOCALHOST_IPV4 = "127.0.0.1"
LOCALHOST_IPV6 = "::1"
DEFAULT_LOCALHOST = LOCALHOST_IPV4
#: The ESS controller port (``CONTROLLER_PORT`` in the reference).
DEFAULT_PORT = 5000

#: Client-to-server keep-alive line; the server never sends it.
HEARTBEAT = b"heartbeat"
HEARTBEAT_LINE = HEARTBEAT + DEFAULT_TERMINATOR
#: Seconds of silence (no heartbeat) after which the server drops the client.
DEFAULT_MAX_HEARTBEAT_INTERVAL = 10.0
#: How often (s) the server checks for a missing heartbeat.
HEARTBEAT_MONITOR_INTERVAL = 1.0
#: How often (s) a client sends a heartbeat.
HEARTBEAT_SEND_INTERVAL = 1.0

#: Longest accepted line, terminator excluded: asyncio's default stream limit, as in the reference.
DEFAULT_MAX_LINE_LENGTH = 65536
