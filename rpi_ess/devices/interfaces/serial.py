"""``device_type: Serial``: a tty path or any pyserial URL, read through :class:`SerialLink`.

The port is opened 8N1 without flow control, exclusively, with stale input discarded; the
records come from the reader that the sensor's ``protocol`` names (``readers.READERS``):
streaming lines for text instruments, SHDLC polling for the SPS30.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from ...tai import tai_time
from ..base import Device, DeviceError, Record
from ..monitor import ByteMonitor
from ..readers import READERS, PortReader
from ..serial_link import SerialLink, is_url

if TYPE_CHECKING:
    from ...sensors.base import Sensor
    from ..config import DeviceConfig, FieldChecker

__all__ = ["SerialDevice"]

log = logging.getLogger(__name__)


class SerialDevice(Device):
    """``device_type: Serial``: ``serial_port`` is a device path or a pyserial URL."""

    kind = "Serial"
    config_keys: ClassVar[frozenset[str]] = frozenset({"baud_rate", "serial_port", "poll_interval"})

    def __init__(self, config: DeviceConfig, sensor: Sensor, clock: Callable[[], float] = tai_time) -> None:
        super().__init__(config, sensor, clock)
        self._link: SerialLink | None = None
        self._reader: PortReader | None = None
        self._lock = threading.Lock()  # interrupt() (any thread) against open/close (owner thread)
        #: the raw bytes of every link this device opens, for the tap and raw ports
        self.monitor = ByteMonitor()
        self.tap: Callable[[str, bytes], None] | None = self.monitor.publish

    @classmethod
    def check_config(cls, check: FieldChecker, sensor_type: str | None) -> dict[str, Any]:
        return {
            "serial_port": check.string("serial_port", required=True),
            "baud_rate": check.baud_rate(),
            "poll_interval": check.number("poll_interval", 0.05, 3600.0),
        }

    @property
    def describe(self) -> str:
        return f"{self.kind} {self.config.serial_port}"

    def port_url(self) -> str:
        """What to hand to pyserial; subclasses resolve it (FTDI serial number -> tty)."""
        if not self.config.serial_port:
            raise DeviceError(f"{self.where}: no serial_port configured", "open")
        return self.config.serial_port

    def open(self) -> None:
        self.close()
        link = SerialLink.open(self.port_url(), self.config.baud_rate, self.where, self._interrupted)
        link.tap = self.tap
        reader = READERS[self.sensor.protocol](link, self.config, self.sensor, self.clock)
        try:
            reader.start()
        except BaseException:
            link.close()
            raise
        with self._lock:
            self._link, self._reader = link, reader
        log.info("%s open at %d baud", self.where, self.config.baud_rate)

    def _read_internal(self, timeout: float) -> list[Record]:
        reader = self._reader
        if reader is None:
            raise DeviceError(f"{self.where}: port is not open")
        if (pending := self.monitor.take_writes()) and self._link is not None:
            self._link.write(pending)  # a writable raw port's bytes, sent by the owning thread
        return reader.read_once(timeout)

    def _wake(self) -> None:
        with self._lock:
            if self._link is not None:
                self._link.interrupt()

    def close(self) -> None:
        reader = self._reader
        if reader is not None:
            try:
                reader.stop()
            except Exception as e:  # best effort (SPS30 stop command on a dead port)
                log.debug("%s: stop failed: %s", self.where, e)
        with self._lock:
            link, self._link, self._reader = self._link, None, None
        if link is not None:
            link.close()

    def present(self) -> bool | None:
        port = self.config.serial_port
        if not port or is_url(port):
            return None
        return os.path.exists(port)  # follows symlinks: a udev /dev/ess/<name> link that is
        # removed on unplug and recreated on re-plug is seen as it changes
