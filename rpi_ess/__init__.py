"""rpi_ess: Raspberry Pi environmental-sensor server, wire-compatible with the Rubin ESS controller.

Layers, following a byte from instrument to client:
``devices`` (bytes enter) -> ``sensors`` (bytes become numbers) -> ``server`` (numbers become
telemetry lines) -> ``tcpip`` (lines leave). ``simulation`` stands in for hardware; ``cli`` is the
``rpi-ess`` command.
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
