"""An emulated I2C bus with the Blinka ``busio.I2C`` interface, for the real Adafruit drivers.

The drivers (through ``adafruit_bus_device.I2CDevice``) only ever call ``try_lock``,
``unlock``, ``writeto``, ``readfrom_into`` and ``writeto_then_readfrom``; here each transfer
goes to the :class:`ChipEmulator` attached at the address, which answers with the chip's own
register or command protocol. A missing or faulty chip fails the way Linux reports it: an
``OSError`` with errno EREMOTEIO (121) for an address NACK.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

__all__ = ["ChipEmulator", "EmulatedBuses", "EmulatedI2C", "Nack", "nack_error"]


class Nack(Exception):
    """Raised by an emulator when the chip would not acknowledge a byte."""


def nack_error(address: int) -> OSError:
    """The error Linux i2c-dev gives when nobody acknowledges the address."""
    return OSError(errno.EREMOTEIO, f"{os.strerror(errno.EREMOTEIO)} (no ACK from 0x{address:02x})")


class ChipEmulator:
    """One chip on the bus: protocol hooks plus fault injection shared by all chips.

    Subclasses implement :meth:`on_write` and :meth:`on_read` (raise :class:`Nack` where
    the chip NACKs, e.g. an unknown command or a read with no data pending).
    """

    #: Chip name as used in configurations (``chip``), e.g. "SHT4x".
    chip: str = ""
    default_address: int = 0

    def __init__(self) -> None:
        self.connected = True
        self._nacks = 0

    # Fault injection -----------------------------------------------------------------

    def unplug(self) -> None:
        """Disconnect the chip: every transfer NACKs until :meth:`plug`."""
        self.connected = False

    def plug(self) -> None:
        self.connected = True

    def nack_next(self, count: int = 1) -> None:
        """Make the next ``count`` transfers NACK (a glitch on the wire)."""
        self._nacks += count

    # Bus side ------------------------------------------------------------------------

    def acknowledge(self) -> bool:
        """Whether the chip acknowledges its address for this transfer."""
        if not self.connected:
            return False
        if self._nacks:
            self._nacks -= 1
            return False
        return True

    def on_write(self, data: bytes) -> None:
        """Bytes written by the controller (never empty: an empty write is an address probe)."""
        raise Nack

    def on_read(self, length: int) -> bytes:
        """Bytes the chip sends for a read of ``length`` bytes (shorter: the rest reads 0xFF)."""
        raise Nack

    def on_write_then_read(self, data: bytes, length: int) -> bytes:
        """A write followed by a repeated-start read; most chips treat it as write then read."""
        self.on_write(data)
        return self.on_read(length)


class EmulatedI2C:
    """One open handle on an emulated bus, drop-in for ``busio.I2C`` / ``ExtendedI2C``."""

    def __init__(
        self,
        chips: Mapping[int, ChipEmulator] | None = None,
        before_transfer: Callable[[ChipEmulator], None] | None = None,
    ) -> None:
        # Shared with other handles on the same bus (see EmulatedBuses): the chips are the wire.
        self.chips: dict[int, ChipEmulator] = chips if isinstance(chips, dict) else dict(chips or {})
        #: Called with the addressed chip before each transfer (e.g. to let its values drift).
        self.before_transfer = before_transfer
        self._lock = threading.Lock()
        self._open = True

    # busio.I2C interface -------------------------------------------------------------

    def try_lock(self) -> bool:
        return self._lock.acquire(blocking=False)

    def unlock(self) -> None:
        if self._lock.locked():
            self._lock.release()

    def scan(self) -> list[int]:
        return sorted(address for address, chip in self.chips.items() if chip.connected)

    def writeto(self, address: int, buffer: Any, *, start: int = 0, end: int | None = None) -> None:
        chip = self._target(address)
        data = bytes(buffer[start:end])
        if data:
            self._call(address, chip.on_write, data)

    def readfrom_into(self, address: int, buffer: Any, *, start: int = 0, end: int | None = None) -> None:
        chip = self._target(address)
        end = len(buffer) if end is None else end
        self._fill(buffer, start, end, self._call(address, chip.on_read, end - start))

    def writeto_then_readfrom(
        self,
        address: int,
        buffer_out: Any,
        buffer_in: Any,
        *,
        out_start: int = 0,
        out_end: int | None = None,
        in_start: int = 0,
        in_end: int | None = None,
        stop: bool = False,
    ) -> None:
        chip = self._target(address)
        data = bytes(buffer_out[out_start:out_end])  # copied first: drivers reuse one buffer
        in_end = len(buffer_in) if in_end is None else in_end
        reply = self._call(address, chip.on_write_then_read, data, in_end - in_start)
        self._fill(buffer_in, in_start, in_end, reply)

    def deinit(self) -> None:
        self._open = False

    def __enter__(self) -> EmulatedI2C:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.deinit()

    # helpers -------------------------------------------------------------------------

    def _target(self, address: int) -> ChipEmulator:
        if not self._open:
            raise OSError(errno.EBADF, "I2C bus handle is closed")
        if not self._lock.locked():
            raise RuntimeError("I2C transfer without holding the bus lock (call try_lock first)")
        chip = self.chips.get(address)
        if chip is None or not chip.acknowledge():
            raise nack_error(address)
        if self.before_transfer is not None:
            self.before_transfer(chip)
        return chip

    @staticmethod
    def _call(address: int, hook: Any, *args: Any) -> Any:
        try:
            return hook(*args)
        except Nack:
            raise nack_error(address) from None

    @staticmethod
    def _fill(buffer: Any, start: int, end: int, reply: bytes) -> None:
        length = end - start
        buffer[start:end] = reply[:length].ljust(length, b"\xff")


class EmulatedBuses:
    """A node's I2C buses: chips attached per bus number; calling it opens a handle.

    Pass it as ``bus_factory`` to the I2C device backend: ``buses(1)`` plays the part of
    opening ``/dev/i2c-1``, and every handle sees the same chips, as handles on one wire do.
    """

    def __init__(self, before_transfer: Callable[[ChipEmulator], None] | None = None) -> None:
        self._buses: dict[int, dict[int, ChipEmulator]] = {}
        self.before_transfer = before_transfer

    def attach(self, bus: int, chip: ChipEmulator, address: int | None = None) -> ChipEmulator:
        chips = self._buses.setdefault(bus, {})
        chips[chip.default_address if address is None else address] = chip
        return chip

    def present(self, bus: int) -> bool:
        return bus in self._buses

    def __call__(self, bus: int) -> EmulatedI2C:
        if bus not in self._buses:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), f"/dev/i2c-{bus}")
        return EmulatedI2C(self._buses[bus], self.before_transfer)
