"""The server's commands: ``configure``, ``disconnect``, ``exit`` and ``status`` (PROTOCOL 2).

``configure`` is all-or-nothing: the whole configuration is validated first (every device,
not only the first as in the reference), every device is checked against the node's
allow-list, then all devices are opened in parallel with a time limit. If any fails, the
ones already open are closed and the client gets one error naming each failure; nothing is
left running to leak telemetry into the next connection (PROTOCOL 8, item 7).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..devices import DeviceError, create_device
from ..devices.runner import DeviceRunner, RunnerSettings
from ..sensors import SENSOR_TYPES, create_sensor
from ..tai import tai_time
from .commands import CommandError
from .config import ConfigError, DeviceConfig, parse_configuration
from .node_config import NodeConfig
from .response import ResponseCode

if TYPE_CHECKING:
    from .socket_server import SocketServer

__all__ = ["CommandHandler"]

OPEN_TIMEOUT = 5.0  # seconds for all devices to open; keeps configure well inside the heartbeat limit
CLEANUP_WAIT = 0.5  # seconds a client close waits for ports of an abandoned configure to close


def in_daemon_thread(loop: asyncio.AbstractEventLoop, function: Callable[[], None], name: str) -> asyncio.Future[None]:
    """Run a blocking device call in its own daemon thread.

    Not the default executor: an open stuck in the kernel (a network port that never
    answers) must not hold up the process exit on SIGTERM, and one stuck device must not
    use up a shared pool.
    """
    future: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)

    def run() -> None:
        try:
            function()
        except BaseException as e:
            error: BaseException | None = e
        else:
            error = None
        try:
            loop.call_soon_threadsafe(settle, error)
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
        self._cleanups: set[asyncio.Future[None]] = set()

    @property
    def started(self) -> bool:
        return bool(self.runners)

    # --- commands --------------------------------------------------------------------------

    async def configure(self, configuration: Any) -> dict[str, Any]:
        if self._stop_task is not None and not self._stop_task.done():
            await asyncio.shield(self._stop_task)  # the previous client's devices are still closing
        if self.started:
            return {"response": int(ResponseCode.ALREADY_STARTED)}
        try:
            configs = parse_configuration(configuration, tuple(SENSOR_TYPES), self.node_config.max_devices)
        except ConfigError as e:
            self.log.warning("configure refused: %s", e)
            raise CommandError(ResponseCode.INVALID_CONFIGURATION, str(e)) from None
        if not self.simulation_mode:
            refused = [f"{c.name}: {problem}" for c in configs
                       if (problem := self.node_config.allowed_devices.problem(c)) is not None]
            if refused:
                self.log.warning("configure refused by the node's allow-list: %s", "; ".join(refused))
                raise CommandError(ResponseCode.DEVICE_NOT_ALLOWED, "; ".join(refused))
        runners = [self._make_runner(config) for config in configs]
        failures = await self._open_all(runners)
        if failures and self.node_config.open_failures == "retry":
            for runner in [r for r, (_, retryable) in failures.items() if retryable]:
                self.log.warning("%s: starting without its port (%s); retrying in the background",
                                 runner.name, failures.pop(runner)[0])
        if failures:
            await self._stop_runners([r for r in runners if r not in failures])
            message = "; ".join(f"{r.name}: {reason}" for r, (reason, _) in failures.items())
            self.log.warning("configure failed, nothing left running: %s", message)
            raise CommandError(ResponseCode.DEVICE_OPEN_ERROR, message)
        self.runners = runners
        for runner in runners:
            runner.start()
        self.log.info("Configured %d device(s): %s", len(runners), ", ".join(r.name for r in runners))
        return {"response": int(ResponseCode.OK)}

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
            "devices": [
                {
                    "name": r.name,
                    "sensor_type": r.sensor.sensor_type,
                    "device_type": r.device.config.device_type,
                    "port": r.device.describe,
                    "state": r.stats.state,
                    "lines": r.stats.lines,
                    "errors": r.stats.errors,
                    "dropped": r.sink.dropped,
                    "reopens": r.stats.reopens,
                    "restarts": r.stats.restarts,
                    "last_line": r.stats.last_line,
                    "last_error": r.stats.last_error,
                    "rate_hz": round(r.stats.current_rate(now), 3),
                }
                for r in self.runners
            ],
        }

    def _make_runner(self, config: DeviceConfig) -> DeviceRunner:
        sensor = create_sensor(config.sensor_type, config.channels)
        device = create_device(config, sensor, simulate=bool(self.simulation_mode))
        queue = self.server.telemetry.add_device(config.name)
        silence = config.extra.get("silence_timeout")
        period_based = max(5.0, 3.0 * sensor.period)
        settings = RunnerSettings(
            silence_timeout=float(silence) if isinstance(silence, int | float) and silence > 0 else period_based
        )
        return DeviceRunner(config.name, device, sensor, queue, settings, relay=self._relay(config))

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

    async def _open_all(self, runners: list[DeviceRunner]) -> dict[DeviceRunner, tuple[str, bool]]:
        """Open every device in parallel; return the failures: (reason, whether the runner may retry it).

        An open that timed out is not retryable: it may still complete in its thread.
        """
        loop = asyncio.get_running_loop()
        tasks = [in_daemon_thread(loop, r.open, f"open-{r.name}") for r in runners]
        try:
            _, pending = await asyncio.wait(tasks, timeout=OPEN_TIMEOUT)
        except asyncio.CancelledError:  # the client went away mid-configure: close what still opens
            self._close_late_opens(list(zip(runners, tasks, strict=True)))
            raise
        failures: dict[DeviceRunner, tuple[str, bool]] = {}
        self._close_late_opens([(r, t) for r, t in zip(runners, tasks, strict=True) if t in pending])
        for runner, task in zip(runners, tasks, strict=True):
            if task in pending:
                failures[runner] = (f"{runner.device.describe}: open timed out after {OPEN_TIMEOUT:.0f} s", False)
            elif (error := task.exception()) is not None:
                if isinstance(error, DeviceError):
                    failures[runner] = (str(error), True)
                else:
                    self.log.error("Unexpected error opening %s", runner.device.describe, exc_info=error)
                    failures[runner] = (f"{runner.device.describe}: {error!r}", False)
        return failures

    def _close_late_opens(self, pairs: list[tuple[DeviceRunner, asyncio.Future[None]]]) -> None:
        """Opens that were abandoned (timeout, cancelled configure) still run in their threads:
        close each port once its open returns, so nothing is left open."""
        if not pairs:
            return

        async def close_when_opened() -> None:
            await asyncio.gather(*(task for _, task in pairs), return_exceptions=True)
            opened = [r for r, task in pairs if not task.cancelled() and task.exception() is None]
            await self._stop_runners(opened)

        cleanup = asyncio.ensure_future(close_when_opened())
        self._cleanups.add(cleanup)
        cleanup.add_done_callback(self._cleanups.discard)

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
        if self._cleanups:  # ports of an abandoned configure: give them a moment, never wait on a stuck open
            await asyncio.wait(self._cleanups, timeout=CLEANUP_WAIT)

    def begin_stop(self) -> asyncio.Future[None] | None:
        """Start stopping the devices (if running) without waiting; returns the stop in progress."""
        if (self._stop_task is None or self._stop_task.done()) and self.runners:
            self._stop_task = asyncio.ensure_future(self._stop_all())
        return self._stop_task if self._stop_task is not None and not self._stop_task.done() else None

    async def _stop_all(self) -> None:
        runners = self.runners
        await self._stop_runners(runners)
        self.runners = []
        self.log.info("Stopped %d device(s)", len(runners))
