"""``device_type: Sensirion``: an SPS30 on a UART, as the production configuration names it.

The newest reference controller maps ``Sensirion`` to its SPS30 UART device, and three
production nodes use it with ``baud_rate: 0`` (PROTOCOL Appendix C). Here it is a serial
port read by the SHDLC poller: ``serial_port`` is honoured (absent: the reference's fixed
``/dev/ttyUSB_upper_right``), ``baud_rate`` 0 or absent means the sensor's 115200.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .serial import SerialDevice

if TYPE_CHECKING:
    from ..config import FieldChecker

__all__ = ["SensirionDevice"]

SPS30_SENSOR = "Sps30"
SPS30_BAUD = 115200
DEFAULT_PORT = "/dev/ttyUSB_upper_right"


class SensirionDevice(SerialDevice):
    kind = "Sensirion"

    @classmethod
    def sensor_types(cls, known: tuple[str, ...]) -> tuple[str, ...]:
        return (SPS30_SENSOR, SPS30_SENSOR.upper())

    @classmethod
    def check_config(cls, check: FieldChecker, sensor_type: str | None) -> dict[str, Any]:
        return {
            "sensor_type": SPS30_SENSOR,  # "SPS30" is accepted as the same parser
            "serial_port": check.string("serial_port", default=DEFAULT_PORT),
            "baud_rate": check.baud_rate(SPS30_BAUD, zero_means_default=True),
            "poll_interval": check.number("poll_interval", 0.05, 3600.0),
        }
