"""``diag --simulate``: a whole node without hardware, so the report can be tried anywhere.

Serial instruments are pseudo-terminals fed by the instrument simulators; I2C chips sit
on an emulated bus; a real rpi-ess server runs in a background thread with a CSC-like
client that configured some of the instruments, so those ports are genuinely busy and
their health comes from the server's status socket. With ``faults`` a silent instrument
and one at the wrong baud rate are added, to show what failures look like.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import termios
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..devices import DeviceError
from ..devices.interfaces.i2c import I2cDevice
from ..sensors import create_sensor
from ..simulation.i2c import EmulatedBuses, emulate_devices
from ..simulation.instruments import create_simulator
from ..simulation.line import garble
from ..simulation.pty import PtyInstrument
from .config import parse_devices
from .context import DiagContext
from .status import StatusError, query_status

if TYPE_CHECKING:
    from ..devices.config import DeviceConfig

__all__ = ["BaudSensitiveSource", "LiveServer", "SimulatedInstrument", "SimulatedNode", "garble"]

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0
MIN_LINES = 3  # lines each served device has sent before diag looks (the served ones are fast)


@dataclass(frozen=True)
class SimulatedInstrument:
    """One instrument of the simulated node; ``behaviour`` is how it misbehaves, if at all."""

    config: Mapping[str, Any]  # the device entry, without its port
    behaviour: str = "healthy"  # "healthy", "server" (held by the running server), "silent", "baud"
    true_baud: int | None = None  # for "baud": the rate the instrument really uses


HEALTHY_NODE = (
    SimulatedInstrument({"name": "TempDome", "sensor_type": "Temperature", "channels": 4, "device_type": "Serial",
                         "baud_rate": 19200}),
    SimulatedInstrument({"name": "WindTower", "sensor_type": "Windsonic", "device_type": "Serial",
                         "baud_rate": 9600}),
    SimulatedInstrument({"name": "WindDomeSlit", "sensor_type": "CSAT3B", "device_type": "Serial",
                         "baud_rate": 115200}, behaviour="server"),
    SimulatedInstrument({"name": "FieldMill", "sensor_type": "EFM100C", "device_type": "Serial",
                         "baud_rate": 19200}, behaviour="server"),
    SimulatedInstrument({"name": "HumidityEnclosure", "sensor_type": "HX85A", "device_type": "I2C",
                         "chip": "SHT4x", "i2c_bus": 1}),
)
FAULTY_INSTRUMENTS = (
    SimulatedInstrument({"name": "HumidityMirror", "sensor_type": "HX85A", "device_type": "Serial",
                         "baud_rate": 9600}, behaviour="baud", true_baud=19200),
    SimulatedInstrument({"name": "LightningMast", "sensor_type": "LD250", "device_type": "Serial",
                         "baud_rate": 19200}, behaviour="silent"),
)


class BaudSensitiveSource:
    """An instrument's bytes as a reader at ``baud_rate`` receives them, garbled at any other speed.

    A pty carries bytes, not bits, so the mismatch is emulated: the speed the reader set with
    termios (visible on every descriptor of the tty) decides whether lines arrive intact.
    """

    def __init__(self, sensor_type: str, channels: int | None, baud_rate: int, tty_path: str) -> None:
        self.simulator = create_simulator(sensor_type, channels, seed=1)
        self.speed = getattr(termios, f"B{baud_rate}")
        self._fd = os.open(tty_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)

    def reader_speed(self) -> int | None:
        try:
            return termios.tcgetattr(self._fd)[4]
        except (termios.error, OSError):
            return None

    def __call__(self) -> bytes:
        line = self.simulator.next_bytes()
        return line if self.reader_speed() == self.speed else garble(line)

    def close(self) -> None:
        os.close(self._fd)


class LiveServer:
    """A real rpi-ess server on 127.0.0.1 in a background thread, with a status socket and a
    CSC-like client (heartbeats, configure, telemetry drained) that configured ``devices``."""

    def __init__(self, devices: list[dict[str, Any]], status_socket: str, simulation_mode: int = 0) -> None:
        self.devices = devices
        self.status_socket = status_socket
        self.simulation_mode = simulation_mode
        self.port = 0
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="diag-live-server", daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            self.stop()
            raise RuntimeError(f"simulated server did not start within {START_TIMEOUT:g} s")
        if self._error is not None:
            self._thread.join()
            raise RuntimeError(f"simulated server failed: {self._error}") from self._error
        return self

    def wait_streaming(self, min_lines: int, timeout: float) -> None:
        """Wait (bounded) until every device has sent ``min_lines``, as on a node that has run a while."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                devices = query_status(self.status_socket)["devices"]
            except StatusError:
                devices = []
            if devices and all(device.get("lines", 0) >= min_lines for device in devices):
                return
            time.sleep(0.05)

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(stop.set)
        self._thread.join()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as e:  # reported to start(); the thread must not die silently
            self._error = e
        finally:
            self._ready.set()

    async def _main(self) -> None:
        from ..server.socket_server import SocketServer
        from ..tcpip import Client

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = SocketServer(name="rpi-ess (diag --simulate)", host="127.0.0.1", port=0, log=log,
                              simulation_mode=self.simulation_mode, status_socket=self.status_socket)
        client: Client | None = None
        drain: asyncio.Task[None] | None = None
        try:
            await server.start_task
            self.port = server.port
            client = Client("127.0.0.1", server.port, log, send_heartbeats=True)
            await client.start_task
            if self.devices:
                await self._configure(client)
            drain = asyncio.create_task(self._drain(client))
            self._ready.set()
            await self._stop.wait()
        finally:
            if drain is not None:
                drain.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drain
            if client is not None:
                await client.close()
            await server.close()

    async def _configure(self, client: Any) -> None:
        await client.write_json({"command": "configure", "parameters": {"configuration": {"devices": self.devices}}})
        while True:
            message = await asyncio.wait_for(client.read_json(), START_TIMEOUT)
            if "response" in message:
                if message["response"] != 0:
                    raise RuntimeError(f"configure refused: {message}")
                return

    @staticmethod
    async def _drain(client: Any) -> None:
        """Read telemetry like the CSC does, so the server's queues never fill."""
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
            while await client.readline():
                pass


def _readable(config: DeviceConfig, buses: EmulatedBuses) -> bool:
    """False for an emulated chip whose driver is not installed (a plain ``pip install rpi-ess``).

    On a real node a missing driver is a FAIL; in the simulated node the chip is only left
    out (the bus scan still shows it).
    """
    if config.device_type != "I2C":
        return True
    device = I2cDevice(config, create_sensor(config.sensor_type, config.channels), bus_factory=buses)
    try:
        device.open()
    except DeviceError as e:
        log.info("simulated %s left out: %s", config.name, e)
        return False
    finally:
        device.close()
    return True


class SimulatedNode:
    """Context manager: start the simulated node and point a :class:`DiagContext` at it."""

    def __init__(self, ctx: DiagContext, faults: bool = False) -> None:
        self.ctx = ctx
        self.instruments = list(HEALTHY_NODE) + (list(FAULTY_INSTRUMENTS) if faults else [])
        self._tmp = tempfile.TemporaryDirectory(prefix="rpi-ess-diag-")
        self._ptys: list[PtyInstrument] = []
        self._sources: list[BaudSensitiveSource] = []
        self._server: LiveServer | None = None

    def __enter__(self) -> DiagContext:
        try:
            return self._start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _start(self) -> DiagContext:
        links = Path(self._tmp.name) / "ess"
        entries: list[dict[str, Any]] = []
        served: list[dict[str, Any]] = []
        for instrument in self.instruments:
            entry = dict(instrument.config)
            if entry["device_type"] == "Serial":
                entry["serial_port"] = self._start_pty(instrument, links)
            entries.append(entry)
            if instrument.behaviour == "server":
                served.append(entry)
        ctx = self.ctx
        found = parse_devices(entries, "simulated node")
        ctx.i2c_buses = emulate_devices(found.devices)
        ctx.devices = [config for config in found.devices if _readable(config, ctx.i2c_buses)]
        ctx.config_source, ctx.config_errors = found.source, found.errors
        ctx.i2c_bus_numbers = sorted({config.i2c_bus for config in found.devices if config.device_type == "I2C"})
        ctx.serial_ports = [pty.slave_path for pty in self._ptys]
        ctx.alias_dirs = [str(links)]
        ctx.status_socket = str(Path(self._tmp.name) / "status.sock")
        self._server = LiveServer(served, ctx.status_socket).start()
        self._server.wait_streaming(MIN_LINES, START_TIMEOUT)
        ctx.host, ctx.port, ctx.simulated = "127.0.0.1", self._server.port, True
        return ctx

    def _start_pty(self, instrument: SimulatedInstrument, links: Path) -> str:
        config = instrument.config
        pty = PtyInstrument(str(config["name"]), link_dir=links)
        self._ptys.append(pty)
        if instrument.behaviour == "silent":
            return pty.port
        if instrument.behaviour == "baud":
            source = BaudSensitiveSource(config["sensor_type"], config.get("channels"),
                                         instrument.true_baud or 19200, pty.slave_path)
            self._sources.append(source)
            pty.start_stream(source, source.simulator.period)
        else:
            simulator = create_simulator(config["sensor_type"], config.get("channels"), seed=len(self._ptys))
            pty.start_stream(simulator.next_bytes, simulator.period)
        return pty.port

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        for pty in self._ptys:
            pty.close()
        self._ptys.clear()
        for source in self._sources:
            source.close()
        self._sources.clear()
        self._tmp.cleanup()
