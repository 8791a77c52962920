"""rpi_ess: Raspberry Pi environmental-sensor server, wire-compatible with the Rubin ESS controller.

Layers, following a byte from instrument to client:
``devices`` (bytes enter) -> ``sensors`` (bytes become numbers) -> ``server`` (numbers become
telemetry lines) -> ``tcpip`` (lines leave). ``simulation`` stands in for hardware; ``cli`` is the
``rpi-ess`` command.
"""

__version__ = "0.1.0"
