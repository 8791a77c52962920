"""rpi_ess: Raspberry Pi environmental-sensor server, wire-compatible with the Rubin ESS controller.

Following a byte from instrument to client: ``devices`` (bytes enter; one runner thread per
device) -> ``sensors`` (bytes become numbers) -> ``server`` (numbers become telemetry lines,
written to the client's socket by ``server.telemetry``; commands). ``tcpip`` is the TCP layer
the server is built on (one client, heartbeats); telemetry does not pass through it.
``simulation`` plugs simulated instruments in under the real backends; ``diag`` and ``cli``
(the ``rpi-ess`` command) sit on top. The layers are enforced by ``lint-imports``
(docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["CommandHandler", "ResponseCode", "SocketServer", "__version__"]

# Imported on first use so that `rpi-ess --help` and the CLI start fast.
_LAZY = {
    "SocketServer": "rpi_ess.server.socket_server",
    "CommandHandler": "rpi_ess.server.command_handler",
    "ResponseCode": "rpi_ess.server.response",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rpi_ess' has no attribute {name!r}")
