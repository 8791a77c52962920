"""A test double of the CSC's data client (``ControllerDataClient`` of ts_ess_common), from the spec.

Written from PROTOCOL.md section 6 and Appendix C, not from the reference code, so the tests can
hold our server to what the CSC does over long horizons: a rate-limited read loop, a per-sensor
error timer that survives reconnects, a raise after ``max_error_state_period``, reconnects after
``connect_timeout`` and FAULT after ``max_read_timeouts`` consecutive failures. Every period is a
parameter, so a test can scale the CSC's minutes down to seconds. Everything the double sees and
decides is recorded for the assertions (``CscRecord``). docs/csc-double.md says how it was checked
against the real client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Arrival", "CscDouble", "CscRecord", "CscTimings"]

log = logging.getLogger("tests.csc.double")

HEARTBEAT = b"heartbeat\r\n"
TERMINATOR = b"\r\n"
OK = 0
DEVICE_READ_ERROR = 10
MIN_RATE_LIMIT = 0.05  # the CSC's base class never reads faster than this
STREAM_LIMIT = 1 << 16  # asyncio's default line limit, as in tcpip.Client
TELEMETRY_KEYS = frozenset({"name", "timestamp", "response_code", "sensor_telemetry"})
#: fixed array sizes of the CSC's topics (Appendix B); the processors pad readings to them
TOPIC_ARRAY_SIZE = {"Temperature": 16}
#: elements the CSC's processors take from a code-0 reading with float() (PROTOCOL 1.2, 6.5): a
#: shorter reading (IndexError) or a null (TypeError) is a failing line of that sensor
FLOAT_INDEXES = {"HX85A": (0, 1, 2), "HX85BA": (0, 1, 2, 3), "Windsonic": (0, 1), "CSAT3B": (3,),
                 "EFM100C": (0,), "Aurora": (1, 2, 3, 4, 5)}


@dataclass(frozen=True)
class CscTimings:
    """The CSC's configuration periods (PROTOCOL 6.1); defaults are the production values."""

    connect_timeout: float = 60.0
    read_timeout: float = 60.0  # not configurable in the real CSC; a parameter here for scaling only
    max_error_state_period: float = 300.0
    rate_limit: float = 0.5
    max_read_timeouts: int = 5
    heartbeat_interval: float = 1.0


@dataclass(frozen=True)
class Arrival:
    """One telemetry line the read loop processed (``ok``: without an exception)."""

    time: float  # monotonic seconds since the double started
    code: Any
    values: list[Any]
    ok: bool


@dataclass
class CscRecord:
    """What the double saw and did, for assertions; all times are seconds since start."""

    lines: dict[str, list[Arrival]] = field(default_factory=dict)
    connect_attempts: list[float] = field(default_factory=list)
    configure_responses: list[tuple[float, Any]] = field(default_factory=list)
    configured: list[float] = field(default_factory=list)  # configure answered 0
    raises: list[tuple[float, str]] = field(default_factory=list)  # error timer expired (sensor name)
    failures: list[tuple[float, str]] = field(default_factory=list)  # every counted failure, with its cause
    silent_disconnects: list[float] = field(default_factory=list)  # EOF noticed between reads: no count
    skipped_while_configuring: int = 0
    stray_responses: int = 0
    ignored_codes: list[tuple[float, str, Any]] = field(default_factory=list)  # neither 0 nor 10
    state: str = "idle"  # idle, connecting, reading, waiting, fault, stopped
    fault_at: float | None = None

    @property
    def reconnects(self) -> int:
        return max(0, len(self.connect_attempts) - 1)

    def good(self, name: str, since: float = 0.0, until: float = math.inf) -> list[Arrival]:
        """Code-0 lines of ``name`` processed without error in [since, until)."""
        return [a for a in self.lines.get(name, []) if a.ok and a.code == OK and since <= a.time < until]


class TelemetryError(RuntimeError):
    """A telemetry line the CSC's processing rejects (counts against the sensor's error timer)."""


class CscDouble:
    """Connects to ``host:port``, configures ``devices`` and reads like the CSC until stopped or FAULT."""

    def __init__(self, host: str, port: int, devices: Sequence[Mapping[str, Any]],
                 timings: CscTimings | None = None) -> None:
        self.host = host
        self.port = port
        self.devices = [dict(d) for d in devices]
        self.timings = timings or CscTimings()
        self.rate_limit = max(MIN_RATE_LIMIT, self.timings.rate_limit)
        self.sensor_types = {d["name"]: d["sensor_type"] for d in self.devices}
        self.channels = {d["name"]: d.get("channels", 0) for d in self.devices}
        #: monotonic time of each sensor's first failing line; 0.0 = none. Never reset on reconnect.
        self.first_read_error_times: dict[str, float] = {}
        self.consecutive_failures = 0
        self.record = CscRecord()
        self._t0 = time.monotonic()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._should_end = False

    # --- life cycle ------------------------------------------------------------------------

    def now(self) -> float:
        return time.monotonic() - self._t0

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._task = asyncio.create_task(self.run(), name="csc-double")

    async def stop(self) -> None:
        """Stop as the CSC does on disable (close the socket; never a disconnect command)."""
        self._should_end = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._disconnect()
        if self.record.state != "fault":
            self.record.state = "stopped"

    def drop_connection(self) -> None:
        """Cut the TCP connection under the client (a network drop): it fails and reconnects."""
        if self._writer is not None:
            self._writer.transport.abort()

    @property
    def faulted(self) -> bool:
        return self.record.state == "fault"

    @property
    def connected(self) -> bool:
        return not (self._reader is None or self._writer is None or self._reader.at_eof()
                    or self._writer.is_closing())

    async def run(self) -> None:
        """The CSC's life cycle: connect + configure, read while connected, count failures, retry."""
        self.consecutive_failures = 0
        while not self._should_end:
            try:
                if not self.connected:
                    await self._connect()
                self.record.state = "reading"
                while self.connected and not self._should_end:
                    rate_limit = asyncio.create_task(asyncio.sleep(self.rate_limit))
                    try:
                        await self._read_once()
                        self.consecutive_failures = 0
                    finally:
                        await rate_limit
                if not self._should_end:  # EOF seen between two reads: reconnect, nothing counted
                    self.record.silent_disconnects.append(self.now())
            except asyncio.CancelledError:
                self._should_end = True
            except Exception as e:
                self.consecutive_failures += 1
                self.record.failures.append((self.now(), repr(e)))
                log.info("failure %d of %d: %r", self.consecutive_failures, self.timings.max_read_timeouts, e)
                if self.consecutive_failures >= self.timings.max_read_timeouts:
                    self._should_end = True
                    self.record.state = "fault"
                    self.record.fault_at = self.now()
            finally:
                await self._disconnect()
                if not self._should_end:
                    self.record.state = "waiting"
                    await asyncio.sleep(self.timings.connect_timeout)

    # --- connection ------------------------------------------------------------------------

    async def _connect(self) -> None:
        self.record.state = "connecting"
        self.record.connect_attempts.append(self.now())
        async with asyncio.timeout(self.timings.connect_timeout):
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port, limit=STREAM_LIMIT)
        self._heartbeat = asyncio.create_task(self._send_heartbeats(self._writer))
        await asyncio.sleep(0)  # the first heartbeat goes out before configure, as in tcpip.Client
        command = {"command": "configure", "parameters": {"configuration": {"devices": self.devices}}}
        async with asyncio.timeout(self.timings.connect_timeout):
            self._writer.write(json.dumps(command).encode() + TERMINATOR)
            while True:
                if not self.connected:
                    raise ConnectionError("disconnected while waiting for the configure response")
                message = await self._read_json()
                if "response" in message:
                    break
                self.record.skipped_while_configuring += 1
        response = message["response"]
        self.record.configure_responses.append((self.now(), response))
        if response != OK:
            raise RuntimeError(f"configure failed: response={response!r}")
        self.record.configured.append(self.now())

    async def _send_heartbeats(self, writer: asyncio.StreamWriter) -> None:
        """Written without waiting for drain, like tcpip.Client."""
        while not writer.is_closing():
            writer.write(HEARTBEAT)
            await asyncio.sleep(self.timings.heartbeat_interval)

    async def _disconnect(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _read_json(self) -> Any:
        """One CRLF line, decoded the way Python's json does it (NaN accepted)."""
        if not self.connected:
            raise ConnectionError("not connected")
        assert self._reader is not None
        line = await self._reader.readuntil(TERMINATOR)
        return json.loads(line[:-2].decode("utf-8", errors="strict"))

    # --- read loop -------------------------------------------------------------------------

    async def _read_once(self) -> None:
        async with asyncio.timeout(self.timings.read_timeout):
            data = await self._read_json()
        if "response" in data:
            self.record.stray_responses += 1
            log.warning("read a command response with no command pending: %r", data)
        elif "telemetry" in data and "name" in data["telemetry"]:
            self._telemetry(data)
        else:
            raise RuntimeError(f"unparsable {data=}")

    def _telemetry(self, data: dict[str, Any]) -> None:
        """Process one line; a failing line starts the sensor's timer and raises once it is too old."""
        telemetry = data["telemetry"]
        name = telemetry["name"]
        self.first_read_error_times.setdefault(name, 0.0)
        now = self.now()
        try:
            self._check_schema(data)
            self._process(name, telemetry["response_code"], telemetry["sensor_telemetry"])
        except Exception as e:
            self._arrive(name, telemetry, now, ok=False)
            if self.first_read_error_times[name] == 0.0:
                log.info("first error of %s: %r", name, e)
                self.first_read_error_times[name] = time.monotonic()
            if time.monotonic() - self.first_read_error_times[name] > self.timings.max_error_state_period:
                self.record.raises.append((now, name))
                raise
        else:
            self._arrive(name, telemetry, now, ok=True)
            self.first_read_error_times[name] = 0.0

    def _arrive(self, name: str, telemetry: Mapping[str, Any], now: float, ok: bool) -> None:
        values = telemetry.get("sensor_telemetry")
        arrival = Arrival(now, telemetry.get("response_code"), values if isinstance(values, list) else [], ok)
        self.record.lines.setdefault(name, []).append(arrival)

    @staticmethod
    def _check_schema(data: Mapping[str, Any]) -> None:
        """PROTOCOL 6.3: only ``telemetry`` at the top; inside exactly the four keys, minItems 1."""
        if set(data) != {"telemetry"} or not isinstance(data["telemetry"], dict):
            raise TelemetryError(f"schema: top level must hold only a telemetry object: {data!r}")
        telemetry = data["telemetry"]
        if set(telemetry) != TELEMETRY_KEYS:
            raise TelemetryError(f"schema: telemetry keys {sorted(telemetry)}")

        def number(value: Any) -> bool:
            return isinstance(value, int | float) and not isinstance(value, bool)

        if not (isinstance(telemetry["name"], str) and number(telemetry["timestamp"])
                and number(telemetry["response_code"])):
            raise TelemetryError(f"schema: name/timestamp/response_code types: {telemetry!r}")
        values = telemetry["sensor_telemetry"]
        if not isinstance(values, list) or not values:
            raise TelemetryError(f"schema: sensor_telemetry must be a non-empty array: {values!r}")

    def _process(self, name: str, code: Any, values: list[Any]) -> None:
        """The CSC's process_telemetry: unknown sensor and code 10 fail, other codes are only logged."""
        sensor_type = self.sensor_types.get(name)
        if sensor_type is None:
            raise TelemetryError(f"no device configuration for sensor_name={name}")
        if code == OK:
            self._processor(name, sensor_type, values)
        elif code == DEVICE_READ_ERROR:
            raise TelemetryError(f"error reading sensor {name}; please check the hardware")
        else:
            self.record.ignored_codes.append((self.now(), name, code))
            log.warning("ignoring telemetry for sensor %s with unknown response code %r", name, code)

    def _processor(self, name: str, sensor_type: str, values: list[Any]) -> None:
        """The strict parts of the CSC's processors: fixed topic arrays and float() per element."""
        for index in FLOAT_INDEXES.get(sensor_type, ()):
            float(values[index])
        if sensor_type in TOPIC_ARRAY_SIZE:
            size = TOPIC_ARRAY_SIZE[sensor_type]
            channels = self.channels[name]
            # the processor assigns the reading into a slice of `channels` items of a `size` array
            if size - channels + len(values) != size:
                raise TelemetryError(f"{name}: {len(values)} values for {channels} channels changes the "
                                     f"temperature array size from {size}")
