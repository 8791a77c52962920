"""GPIO helpers on gpiozero: a status LED and a relay that can power-cycle an instrument.

Both are conveniences, never requirements: gpiozero is imported lazily, and any GPIO
failure (no gpiozero, no pin factory, pin busy) is logged and the object carries on
without the pin, so a missing LED never stops telemetry. gpiozero picks the pin factory
(lgpio or RPi.GPIO on a Pi) unless one is given; tests pass ``MockFactory()``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["LED_PATTERNS", "PowerRelay", "StatusLed"]

log = logging.getLogger(__name__)

#: state -> None (dark), "on" (steady) or (on seconds, off seconds) of a blink
LED_PATTERNS: dict[str, str | tuple[float, float] | None] = {
    "off": None,
    "serving": "on",  # server up, no client telemetry flowing
    "streaming": (0.5, 0.5),  # telemetry flowing to a client
    "error": (0.1, 0.1),  # a device is failing
}


def _output_device(kind: str, pin: int, pin_factory: Any, **options: Any) -> Any:
    """Build a gpiozero output device, or log why not and return None."""
    try:
        import gpiozero

        return getattr(gpiozero, kind)(pin, pin_factory=pin_factory, **options)
    except Exception as e:  # ImportError, BadPinFactory, PinInUse, fallback warnings ...
        log.error("GPIO%d (%s) unavailable, continuing without it: %s", pin, kind, e)
        return None


def _guarded(what: str, action: Callable[[], object]) -> bool:
    """Run a gpiozero call; log and report failure instead of raising."""
    try:
        action()
    except Exception as e:
        log.error("GPIO %s failed: %s", what, e)
        return False
    return True


class StatusLed:
    """An LED showing the server's state (see :data:`LED_PATTERNS`)."""

    def __init__(self, pin: int, pin_factory: Any = None) -> None:
        self.pin = pin
        self.state = "off"
        self._led = _output_device("LED", pin, pin_factory)

    def set_state(self, state: str) -> None:
        if state not in LED_PATTERNS:
            log.warning("Unknown status LED state %r ignored; known: %s", state, ", ".join(LED_PATTERNS))
            return
        if state == self.state:
            return  # restarting a blink would make it stutter
        self.state = state
        led = self._led
        if led is None:
            return
        pattern = LED_PATTERNS[state]
        if pattern is None:
            _guarded(f"LED {self.pin} off", led.off)
        elif pattern == "on":
            _guarded(f"LED {self.pin} on", led.on)
        else:
            on_time, off_time = pattern
            _guarded(f"LED {self.pin} blink", lambda: led.blink(on_time=on_time, off_time=off_time))

    def close(self) -> None:
        led, self._led = self._led, None
        if led is not None:
            _guarded(f"LED {self.pin} close", led.close)


class PowerRelay:
    """A relay in an instrument's supply: switched on at start, power-cycled on request.

    ``active_high`` says whether driving the pin high powers the instrument. Power cycles
    are rate-limited to one per ``min_interval`` seconds so that a dead instrument is not
    switched on and off for ever.
    """

    def __init__(
        self,
        pin: int,
        active_high: bool = True,
        off_seconds: float = 3.0,
        min_interval: float = 300.0,
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pin = pin
        self.off_seconds = off_seconds
        self.min_interval = min_interval
        self._clock = clock
        self._last_cycle: float | None = None
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._relay = _output_device("OutputDevice", pin, pin_factory, active_high=active_high,
                                     initial_value=True)

    def on(self) -> bool:
        """Power the instrument; False if the GPIO is unavailable."""
        return self._relay is not None and _guarded(f"relay {self.pin} on", self._relay.on)

    def power_cycle(self, reason: str) -> bool:
        """Switch the instrument off for ``off_seconds``, then on; False if skipped or failed."""
        with self._lock:
            now = self._clock()
            if self._last_cycle is not None and now - self._last_cycle < self.min_interval:
                log.warning("Not power-cycling GPIO%d again %.0f s after the last time (limit %.0f s): %s",
                            self.pin, now - self._last_cycle, self.min_interval, reason)
                return False
            if self._relay is None:
                log.warning("Cannot power-cycle GPIO%d (no GPIO): %s", self.pin, reason)
                return False
            self._last_cycle = now
            log.warning("Power-cycling the instrument on GPIO%d for %.1f s: %s", self.pin, self.off_seconds, reason)
            switched_off = _guarded(f"relay {self.pin} off", self._relay.off)
            self._closing.wait(self.off_seconds)
            return self.on() and switched_off

    def close(self) -> None:
        """Release the pin (ends a power cycle's off time early, leaving the instrument on)."""
        self._closing.set()
        with self._lock:
            relay, self._relay = self._relay, None
        if relay is not None:
            _guarded(f"relay {self.pin} close", relay.close)
