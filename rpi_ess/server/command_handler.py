"""The server's commands: ``configure``, ``disconnect``, ``exit`` and ``status`` (PROTOCOL 2).

``configure`` validates the whole configuration first (every device, not only the first as
in the reference) and checks every device against the node's allow-list; an invalid one is
refused with code 4 and starts nothing. For a valid one every device starts on its own
thread, which opens it, and the answer is 0 once each has opened or failed its first
attempt (at most ``OPEN_TIMEOUT``): absent hardware never refuses a valid configuration
(PROTOCOL Appendix C); its device reports under the error budget and is reopened in the
background. ``server.open_failures: refuse`` (opt-in) answers 11 instead if any first open
failed, with nothing left running.
"""

from __future__ import annotations

import asyncio
import collections
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..devices import create_device
from ..devices.config import ConfigError, DeviceConfig, parse_configuration
from ..devices.episodes import EpisodeBook
from ..devices.runner import DeviceRunner, RunnerSettings
from ..sensors import SENSOR_TYPES, create_sensor
from ..tai import tai_time
from .commands import CommandError
from .node_config import NodeConfig
from .response import ResponseCode

if TYPE_CHECKING:
    from .socket_server import SocketServer
    from .telemetry import TelemetryQueue

__all__ = ["CommandHandler"]

OPEN_TIMEOUT = 5.0  # seconds configure waits for the first opens (both modes); inside the heartbeat limit


def in_daemon_thread(loop: asyncio.AbstractEventLoop, function: Callable[[], Any], name: str) -> asyncio.Future[Any]:
    """Run a blocking call in its own daemon thread; the future gets its result.

    Not the default executor: a call stuck in the kernel (a device that never lets go) must
    not hold up the process exit on SIGTERM, and one stuck device must not use up a shared pool.
    """
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    def run() -> None:
        result, error = None, None
        try:
            result = function()
        except BaseException as e:
            error = e
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop is gone (shutdown): nobody is waiting any more
            pass

    threading.Thread(target=run, name=f"rpi-ess-{name}", daemon=True).start()
    return future


class CommandHandler:
    """Executes commands for one :class:`SocketServer` and owns its device runners."""

    def __init__(self, server: SocketServer, simulation_mode: int = 0, node_config: NodeConfig | None = None) -> None:
        self.server = server
        self.simulation_mode = simulation_mode
        self.node_config = node_config or NodeConfig()
        self.runners: list[DeviceRunner] = []
        self.log = server.log.getChild("CommandHandler")
        self.commands = {
            "configure": self.configure,
            "disconnect": self.disconnect,
            "exit": self.exit,
            "status": self.status,
        }
        self._relays: dict[int, Any] = {}
        self._stop_task: asyncio.Future[None] | None = None
        #: failure episodes by instrument identity: they outlive sessions (PROTOCOL Appendix C)
        self.episodes = EpisodeBook()
        self._abandoned: set[asyncio.Future[None]] = set()  # stops of cancelled configures
        self.configs: list[DeviceConfig] = []  # of the running devices
        #: the running devices were kept for the client that replaced theirs (takeover)
        self.handed_over = False
        #: command results by response code, for the status report and the metrics
        self.results: collections.Counter[int] = collections.Counter()

    @property
    def started(self) -> bool:
        return bool(self.runners)

    # --- commands --------------------------------------------------------------------------

    async def configure(self, configuration: Any) -> dict[str, Any]:
        if self._stop_task is not None and not self._stop_task.done():
            await asyncio.shield(self._stop_task)  # the previous client's devices are still closing
        if self.started and not self.handed_over:
            return {"response": int(ResponseCode.ALREADY_STARTED)}
        if self.simulation_mode:  # the real backends, on simulated instruments (sim:// ports, emulated I2C)
            from ..simulation.configs import simulated_configuration

            configuration = simulated_configuration(configuration)
        try:
            configs = parse_configuration(configuration, tuple(SENSOR_TYPES), self.node_config.max_devices)
        except ConfigError as e:
            self.log.warning("configure refused: %s", e)
            raise CommandError(ResponseCode.INVALID_CONFIGURATION, str(e)) from None
        if self.handed_over:
            self.handed_over = False
            if configs == self.configs:
                self.log.info("configure continues the %d device(s) of the replaced client", len(configs))
                return {"response": int(ResponseCode.OK)}
            await self._stop_all()
        if not self.simulation_mode:
            refused = [f"{c.name}: {problem}" for c in configs
                       if (problem := self.node_config.allowed_devices.problem(c)) is not None]
            if refused:
                message = "; ".join(refused)
                self.log.warning("configure refused by server.allowed_devices: %s", message)
                raise CommandError(ResponseCode.DEVICE_NOT_ALLOWED, message)
        runners = [self._make_runner(config) for config in configs]
        for runner in runners:
            runner.start()
        try:
            failures = await self._first_opens(runners)
        except asyncio.CancelledError:  # the client went away mid-configure: nothing may keep running
            self._abandon(runners)
            raise
        if failures and self.node_config.open_failures == "refuse":
            await self._stop_runners(runners)
            self.server.telemetry.remove_devices([r.sink for r in runners])  # type: ignore[misc]
            message = "; ".join(failures)
            self.log.warning("configure failed (server.open_failures is refuse), nothing left running: %s", message)
            raise CommandError(ResponseCode.DEVICE_OPEN_ERROR, message)
        self.runners, self.configs = runners, configs
        self.log.info("Configured %d device(s): %s", len(runners), ", ".join(r.name for r in runners))
        return {"response": int(ResponseCode.OK)}

    def _abandon(self, runners: list[DeviceRunner]) -> None:
        """Stop the runners of a configure that was cancelled, without waiting for them here."""
        self.server.telemetry.remove_devices([r.sink for r in runners])  # type: ignore[misc]
        task = asyncio.ensure_future(self._stop_runners(runners))
        self._abandoned.add(task)
        task.add_done_callback(self._abandoned.discard)

    async def _first_opens(self, runners: list[DeviceRunner]) -> list[str]:
        """Wait (bounded) for every device's first open, as the reference answered only once its
        ports were open; the errors of those that failed. A device that is absent or slow to
        open does not hold the answer back for more than ``OPEN_TIMEOUT`` seconds."""
        loop = asyncio.get_running_loop()
        results = await asyncio.gather(*(in_daemon_thread(loop, lambda r=r: r.wait_first_open(OPEN_TIMEOUT),
                                                          f"open-{r.name}") for r in runners))
        return [error for error in results if error is not None]

    def hand_over(self, telemetry: TelemetryQueue) -> None:
        """The new client (takeover) receives the running devices' telemetry from now on."""
        for runner in self.runners:
            runner.attach(telemetry.add_device(runner.name))

    async def disconnect(self) -> None:
        self.server.schedule_close_client()

    async def exit(self) -> None:
        if not self.node_config.allow_exit:
            raise CommandError(ResponseCode.INVALID_COMMAND, "exit is disabled by this node's configuration")
        self.log.info("exit command received: shutting the server down")
        self.server.schedule_exit()

    async def status(self) -> dict[str, Any]:
        return {"response": int(ResponseCode.OK), "status": self.status_report()}

    # --- helpers ---------------------------------------------------------------------------

    def status_report(self) -> dict[str, Any]:
        """Health snapshot for the ``status`` command and ``rpi-ess diag`` (docs/diagnostics.md)."""
        server = self.server
        now = time.monotonic()
        return {
            "server": {
                "version": __version__,
                "pid": os.getpid(),
                "started": server.started_at,
                "uptime_s": round(time.time() - server.started_at, 3),
                "host": server.host or "",
                "port": server.port,
                "simulation_mode": self.simulation_mode,
                "clock": tai_time.describe(),
            },
            "client": server.client_info(),
            "configured": self.started,
            "commands": {str(code): count for code, count in sorted(self.results.items())},
            "devices": [self._device_report(r, now) for r in self.runners],
        }

    def _device_report(self, runner: DeviceRunner, now: float) -> dict[str, Any]:
        stats = runner.stats
        episode = self.episodes.get(runner.identity)
        remaining = runner.budget_remaining(now)
        return {
            "name": runner.name,
            "sensor_type": runner.sensor.sensor_type,
            "device_type": runner.device.config.device_type,
            "port": runner.device.describe,
            "state": stats.state,
            "lines": stats.lines,
            "good_readings": stats.good,
            "errors": stats.errors,
            "error_classes": dict(stats.error_classes),
            "last_error_class": stats.last_error_class,
            "dropped": runner.sink.dropped,
            "queue_depth": runner.sink.depth,
            "reopens": stats.reopens,
            "restarts": stats.restarts,
            "last_line": stats.last_line,
            "seconds_since_good": None if stats.last_good_mono is None else round(now - stats.last_good_mono, 3),
            "last_error": stats.last_error,
            "rate_hz": round(stats.current_rate(now), 3),
            "episode": {
                **(episode.as_dict(now) if episode is not None else {}),
                "active": episode is not None,
                "budget_remaining_s": None if remaining is None else round(remaining, 3),
            },
        }

    def _make_runner(self, config: DeviceConfig) -> DeviceRunner:
        sensor = create_sensor(config.sensor_type, config.channels)
        device = create_device(config, sensor)
        queue = self.server.telemetry.add_device(config.name)
        settings = RunnerSettings(
            # three records missed; a polled device (SPS30, I2C) sends one record per poll_interval
            silence_timeout=config.silence_timeout or max(5.0, 3.0 * max(sensor.period, config.poll_interval or 0.0)),
            error_budget=self.node_config.error_report_seconds,
        )
        return DeviceRunner(config.name, device, sensor, queue, settings, relay=self._relay(config),
                            episodes=self.episodes)

    def _relay(self, config: DeviceConfig) -> Any:
        """The power relay of this instrument, if it has one and GPIO is available."""
        pin = config.power_relay_pin
        if pin is None or self.simulation_mode:
            return None
        if pin not in self._relays:
            try:
                from ..devices.gpio import PowerRelay

                self._relays[pin] = PowerRelay(pin)
            except Exception as e:  # no GPIO on this machine: run without the relay
                self.log.warning("%s: power relay on pin %d unavailable: %s", config.name, pin, e)
                self._relays[pin] = None
        return self._relays[pin]

    async def _stop_runners(self, runners: list[DeviceRunner]) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(in_daemon_thread(loop, r.stop, f"stop-{r.name}") for r in reversed(runners)))

    async def stop_devices(self) -> None:
        """Stop telemetry and close every device (part of closing the client).

        Concurrent callers (read loop at EOF, server shutdown) share one stop, and cancelling
        a caller does not abandon reader threads half-way.
        """
        task = self.begin_stop()
        if task is not None:
            await asyncio.shield(task)
        if self._abandoned:
            await asyncio.shield(asyncio.gather(*self._abandoned))

    def begin_stop(self) -> asyncio.Future[None] | None:
        """Start stopping the devices (if running) without waiting; returns the stop in progress."""
        if (self._stop_task is None or self._stop_task.done()) and self.runners:
            self._stop_task = asyncio.ensure_future(self._stop_all())
        return self._stop_task if self._stop_task is not None and not self._stop_task.done() else None

    async def _stop_all(self) -> None:
        runners = self.runners
        await self._stop_runners(runners)
        self.runners, self.configs, self.handed_over = [], [], False
        self.log.info("Stopped %d device(s)", len(runners))
