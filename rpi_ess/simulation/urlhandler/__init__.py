"""pyserial URL handlers for simulated instruments (``sim://<sensor_type>?...``).

pyserial finds a URL scheme's handler as module ``protocol_<scheme>`` in one of the packages
listed in ``serial.protocol_handler_packages``; :func:`register` adds this package, after
which ``serial.serial_for_url("sim://CSAT3B")`` and therefore every serial backend of
rpi-ess (``serial_port: sim://CSAT3B``) open a simulated instrument.
"""

from __future__ import annotations

import serial

__all__ = ["register"]


def register() -> None:
    """Make ``sim://`` known to pyserial; idempotent."""
    if __name__ not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(__name__)
