"""Status LED and power relay on gpiozero's MockFactory: pin histories, rate limiting, and
GPIO failures that are logged instead of raised."""

from __future__ import annotations

import itertools
import logging
import sys
import time
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from rpi_ess.devices.gpio import LED_PATTERNS, PowerRelay, StatusLed

WAIT = 10.0


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    factory = MockFactory()
    yield factory
    factory.close()


def states(pin: MockPin) -> list[bool]:
    return [bool(change.state) for change in pin.states]


def wait_for_changes(pin: MockPin, count: int) -> list[bool]:
    """The pin's history once it has at least ``count`` entries (a blink runs in a thread)."""
    deadline = time.monotonic() + WAIT
    while len(pin.states) < count:
        assert time.monotonic() < deadline, f"pin only went through {states(pin)}"
        time.sleep(0.02)
    return states(pin)


def alternates(history: list[bool]) -> bool:
    return all(a != b for a, b in itertools.pairwise(history))


@pytest.mark.usefixtures("no_leaks")
def test_status_led_shows_each_state(factory: MockFactory) -> None:
    led = StatusLed(17, pin_factory=factory)
    pin = factory.pin(17)
    try:
        led.set_state("serving")
        assert states(pin) == [False, True]  # steady on
        for state in ("streaming", "error"):
            pin.clear_states()
            led.set_state(state)
            history = wait_for_changes(pin, 5)
            assert alternates(history) and set(history) == {True, False}
        led.set_state("off")
        assert not pin.state
    finally:
        led.close()


def test_blink_patterns_are_slow_for_telemetry_and_fast_for_errors() -> None:
    slow, fast = LED_PATTERNS["streaming"], LED_PATTERNS["error"]
    assert isinstance(slow, tuple) and isinstance(fast, tuple)
    assert min(slow) > max(fast)
    assert LED_PATTERNS["serving"] == "on" and LED_PATTERNS["off"] is None


def test_status_led_ignores_unknown_and_repeated_states(factory: MockFactory,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    led = StatusLed(17, pin_factory=factory)
    pin = factory.pin(17)
    led.set_state("serving")
    led.set_state("serving")
    with caplog.at_level(logging.WARNING):
        led.set_state("party")
    assert states(pin) == [False, True] and led.state == "serving"
    assert "Unknown status LED state 'party'" in caplog.text
    led.close()
    led.close()  # twice is fine


def test_busy_pin_is_logged_and_never_raises(factory: MockFactory, caplog: pytest.LogCaptureFixture) -> None:
    first = StatusLed(22, pin_factory=factory)
    with caplog.at_level(logging.ERROR):
        second = StatusLed(22, pin_factory=factory)
        second.set_state("error")
        relay = PowerRelay(22, off_seconds=0.0, pin_factory=factory)
        assert relay.power_cycle("test") is False
        assert relay.on() is False
    assert "GPIO22 (LED) unavailable" in caplog.text and "GPIO22 (OutputDevice) unavailable" in caplog.text
    for device in (first, second, relay):
        device.close()


def test_without_gpiozero_everything_is_a_logged_no_op(monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "gpiozero", None)  # import gpiozero now raises ImportError
    with caplog.at_level(logging.ERROR):
        led = StatusLed(17)
        led.set_state("streaming")
        relay = PowerRelay(18)
        assert relay.power_cycle("test") is False
    assert "GPIO17 (LED) unavailable" in caplog.text
    led.close()
    relay.close()


def test_relay_powers_on_at_start_and_cycles(factory: MockFactory, caplog: pytest.LogCaptureFixture) -> None:
    relay = PowerRelay(18, off_seconds=0.0, pin_factory=factory)
    pin = factory.pin(18)
    assert states(pin) == [False, True]
    with caplog.at_level(logging.WARNING):
        assert relay.power_cycle("SHT4x stopped answering") is True
    assert states(pin) == [False, True, False, True]
    assert "Power-cycling the instrument on GPIO18" in caplog.text and "SHT4x stopped answering" in caplog.text
    relay.close()


def test_relay_is_rate_limited(factory: MockFactory, caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    relay = PowerRelay(18, off_seconds=0.0, min_interval=300.0, pin_factory=factory, clock=lambda: now[0])
    pin = factory.pin(18)
    assert relay.power_cycle("first")
    pin.clear_states()
    now[0] += 299.0
    with caplog.at_level(logging.WARNING):
        assert relay.power_cycle("too soon") is False
    assert states(pin) == [True]  # untouched
    assert "Not power-cycling GPIO18 again" in caplog.text
    now[0] += 2.0
    assert relay.power_cycle("later")
    assert states(pin) == [True, False, True]
    relay.close()


def test_active_low_relay(factory: MockFactory) -> None:
    relay = PowerRelay(19, active_high=False, off_seconds=0.0, pin_factory=factory)
    pin = factory.pin(19)
    assert states(pin) == [False]  # powered: the pin is driven low
    relay.power_cycle("test")
    assert states(pin) == [False, True, False]
    relay.close()
