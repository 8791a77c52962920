"""Operations tests: the real server on loopback with pty instruments, plus metrics, tap and raw ports.

Reuses the reliability kit (pty instruments that number their lines, the in-process server,
the loop-error check). Two bridges until the lead's refactor lands on main, both applied
only while main lacks the real thing:

* byte monitors: every SerialDevice gets a ``monitor`` fed by its link's raw-byte hook
  (``SerialDevice.tap``), and queued raw-port writes are sent before each read;
* node settings: ``metrics_port``, ``raw_ports`` and ``raw_ports_writable`` on NodeConfig.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rpi_ess.devices.interfaces import serial as serial_interface
from rpi_ess.devices.monitor import ByteMonitor
from rpi_ess.server.node_config import NodeConfig

from ..reliability.conftest import (
    WAIT,
    WireClient,
    assert_contiguous,
    by_name,
    configure_line,
    connect,
    loop_errors,
    make_instrument,
    make_server,
    serial_entry,
    telemetry_until,
    wait_until,
)

__all__ = ["WAIT", "WireClient", "assert_contiguous", "by_name", "configure_line", "connect", "loop_errors",
           "make_instrument", "make_server", "node_config", "serial_entry", "telemetry_until",
           "wait_until"]

_OPS_FIELDS = {"metrics_port", "raw_ports", "raw_ports_writable"}


@dataclasses.dataclass(frozen=True)
class _OpsNodeConfig(NodeConfig):
    """NodeConfig with the operations settings another engineer adds to node_config.py."""

    metrics_port: int | None = None
    raw_ports: dict[str, int] = dataclasses.field(default_factory=dict)
    raw_ports_writable: tuple[str, ...] = ()


def node_config(**settings: Any) -> NodeConfig:
    """A node configuration with the operations settings, whether or not main has them yet."""
    have = {f.name for f in dataclasses.fields(NodeConfig)}
    cls = NodeConfig if have >= _OPS_FIELDS else _OpsNodeConfig
    if "raw_ports_writable" in settings:
        settings["raw_ports_writable"] = tuple(settings["raw_ports_writable"])
    return cls(**settings)


@pytest.fixture(autouse=True)
def monitored_devices(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Give serial devices a ByteMonitor on their link's raw-byte hook (``SerialDevice.tap``) and
    send queued raw-port writes before each read, unless the source already does."""
    if "monitor" in inspect.getsource(serial_interface):
        yield
        return
    device_class = serial_interface.SerialDevice
    device_init, read_internal = device_class.__init__, device_class._read_internal

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        device_init(self, *args, **kwargs)
        self.monitor = ByteMonitor()
        self.tap = self.monitor.publish

    def read_with_writes(self: Any, timeout: float) -> Any:
        if (pending := self.monitor.take_writes()) and self._link is not None:
            self._link.write(pending)
        return read_internal(self, timeout)

    monkeypatch.setattr(device_class, "__init__", init)
    monkeypatch.setattr(device_class, "_read_internal", read_with_writes)
    yield


@pytest.fixture
def status_path(tmp_path: Path) -> str:
    return str(tmp_path / "status.sock")


OpenTap = Callable[..., Awaitable[tuple[asyncio.StreamReader, dict[str, Any]]]]


@pytest.fixture
async def open_tap(status_path: str) -> AsyncIterator[OpenTap]:
    """``await open_tap(device, **parameters)``: a tap on the status socket (reader, first reply),
    closed after the test."""
    opened: list[asyncio.StreamWriter] = []

    async def factory(device: str, **parameters: Any) -> tuple[asyncio.StreamReader, dict[str, Any]]:
        reader, writer = await asyncio.open_unix_connection(status_path, limit=1 << 22)
        opened.append(writer)
        request = {"command": "tap", "parameters": {"device": device, **parameters}}
        writer.write(json.dumps(request).encode() + b"\r\n")
        await writer.drain()
        return reader, json.loads(await asyncio.wait_for(reader.readline(), WAIT))

    yield factory
    for writer in opened:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
