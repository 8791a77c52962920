"""Fuzzing the command channel: whatever a client sends, the server answers each line with a
documented response code (or ignores it, heartbeats), keeps the connection, never dies, and a
valid ``configure`` still works afterwards.

One real server for the whole module runs in its own thread and event loop; the fuzzing
client is a plain blocking socket, as another process on the network would be. Nothing the
fuzzer sends can open a device: the node's allow-list names one pty only, which the random
configurations never name; the final check configures exactly that pty.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rpi_ess.server.node_config import DeviceAllowList, NodeConfig
from rpi_ess.server.socket_server import SocketServer
from rpi_ess.simulation.pty import PtyInstrument

from .conftest import WAIT, NumberedLines, configure_line, serial_entry

#: What a line may get back when nothing is configured: OK (status), 4, 12, 20-24 (PROTOCOL
#: 2.5 and rpi_ess/server/response.py). 30 (internal error) would be a server bug.
DOCUMENTED = {0, 4, 12, 20, 21, 22, 23, 24}
MAX_LINE = 16384  # the node's max_line_length for this module (default is 64 KiB)
CSC_LINE_LIMIT = 65536  # asyncio's default stream limit: the CSC cannot read a longer line

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class ServerThread:
    """A SocketServer on 127.0.0.1 in a thread of its own; loop errors are collected."""

    def __init__(self, node_config: NodeConfig) -> None:
        self.errors: list[dict[str, Any]] = []
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(lambda _loop, context: self.errors.append(context))
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-server", daemon=True)
        self.thread.start()
        self.server: SocketServer = self.run(self._start(node_config))

    async def _start(self, node_config: NodeConfig) -> SocketServer:
        server = SocketServer(name="fuzz", host="127.0.0.1", port=0, log=logging.getLogger("fuzz.server"),
                              simulation_mode=0, node_config=node_config)
        await server.start_task
        return server

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(WAIT)

    def close(self) -> None:
        self.run(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()


class Session:
    """The fuzzing client: one connection (the fuzzer never sends ``disconnect``)."""

    def __init__(self, server: ServerThread, instrument: PtyInstrument) -> None:
        self.server = server
        self.instrument = instrument
        self.sentinels = itertools.count()
        self.sock: socket.socket | None = None
        self.stream: Any = None
        self.connect()

    def connect(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.server.server.port), timeout=WAIT)
        self.stream = self.sock.makefile("rb")

    def close(self) -> None:
        self.stream.close()
        self.sock.close()

    def readline(self) -> bytes:
        line = self.stream.readline(1 << 20)
        assert line == b"" or line.endswith(b"\r\n"), f"line not ended by CRLF: {line[:200]!r}"
        return line

    def send(self, payload: bytes) -> list[dict[str, Any]]:
        """Send ``payload`` as one line (it may hold more), then a sentinel; return the responses before it.

        The sentinel is an unknown command with a unique name, answered with code 22 naming
        it, so every response to the payload is read and nothing is left for the next example.
        """
        name = f"sentinel-{next(self.sentinels)}"
        assert self.sock is not None
        self.sock.sendall(payload + b"\r\n" + json.dumps({"command": name, "parameters": {}}).encode() + b"\r\n")
        responses = []
        while True:
            line = self.readline()
            assert line, f"server closed the connection after {payload[:200]!r}"
            assert len(line) <= CSC_LINE_LIMIT, f"response of {len(line)} bytes: the CSC cannot read it"
            message = json.loads(line)
            if message.get("response") == 22 and repr(name) in message.get("message", ""):
                return responses
            responses.append(message)

    def check(self, payload: bytes) -> None:
        for message in self.send(payload):
            assert set(message) <= {"response", "message", "status"}, message
            assert message["response"] in DOCUMENTED, f"{message} for {payload[:300]!r}"
            assert message["response"] == 0 or isinstance(message.get("message"), str), message
        assert not self.server.errors, self.server.errors

    def valid_configure_works(self) -> None:
        """The allowed pty configures, streams, and disconnects cleanly (then reconnect)."""
        self.sock.sendall(b"heartbeat\r\n" + configure_line(serial_entry("T", self.instrument.port)))
        while "telemetry" in (message := json.loads(self.readline())):
            assert message["telemetry"]["name"] == "T"  # telemetry may precede the response (PROTOCOL 2.2)
        assert message == {"response": 0}
        assert json.loads(self.readline())["telemetry"]["name"] == "T"
        self.sock.sendall(b'{"command": "disconnect", "parameters": {}}\r\n')
        while self.readline():
            pass
        self.close()
        self.connect()


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    instrument = PtyInstrument("T", link_dir=tmp_path_factory.mktemp("fuzz") / "ess")
    instrument.start_stream(NumberedLines().next_bytes, 0.05)
    node = NodeConfig(max_line_length=MAX_LINE, max_commands_per_second=0, heartbeat_timeout=3600.0,
                      allow_exit=False,
                      allowed_devices=DeviceAllowList(serial_ports=(instrument.port,), ftdi_ids=(), i2c=()))
    server = ServerThread(node)
    fuzz_session = Session(server, instrument)
    yield fuzz_session
    fuzz_session.close()
    server.close()
    instrument.close()
    assert not server.errors


# --- strategies --------------------------------------------------------------------------------

huge_numbers = st.one_of(
    st.integers(min_value=1, max_value=6000).map(lambda n: "9" * n),  # > 4300 digits: Python refuses
    st.integers(min_value=300, max_value=99999).map(lambda e: f"1e{e}"),  # inf
    st.integers(min_value=300, max_value=99999).map(lambda e: f"-1.5e-{e}"),
    st.sampled_from(["18446744073709551617", "-9223372036854775809", "1" + "0" * 400 + ".5"]),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=20)

VALID_DEVICE = {"name": "T", "sensor_type": "Temperature", "device_type": "Serial", "serial_port": "/dev/ttyUSB9",
                "channels": 2, "baud_rate": 19200, "location": "x", "num_samples": 2, "safe_interval": 10,
                "threshold": 1.0, "ftdi_id": "A", "chip": "SHT4x", "i2c_bus": 1, "address": "0x44",
                "poll_interval": 1.0, "power_relay_pin": 5}
FIELDS = [*VALID_DEVICE, "silence_timeout", "extra"]


def dumps(value: Any) -> str:
    return json.dumps(value)  # the reference dialect: NaN and Infinity written bare


@st.composite
def mutated_device(draw: st.DrawFn) -> str:
    """A device entry (as JSON text) with one to three fields wrong: type, value, absent, or a huge number."""
    device = {key: dumps(value) for key, value in VALID_DEVICE.items()}
    device["device_type"] = dumps(draw(st.sampled_from(["Serial", "FTDI", "I2C"])))
    for key in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)):
        action = draw(st.sampled_from(["value", "delete", "huge"]))
        if action == "delete":
            device.pop(key, None)
        else:
            device[key] = draw(huge_numbers) if action == "huge" else dumps(draw(json_values))
    return "{" + ", ".join(f"{dumps(key)}: {value}" for key, value in device.items()) + "}"


@st.composite
def configure_payloads(draw: st.DrawFn) -> bytes:
    devices = draw(st.lists(mutated_device(), min_size=0, max_size=34))
    configuration = "{" + f'"devices": [{", ".join(devices)}]'
    if draw(st.booleans()):
        configuration += f", {dumps(draw(st.text(max_size=8)))}: {dumps(draw(json_values))}"
    configuration += "}"
    if draw(st.integers(0, 9)) == 0:
        configuration = dumps(draw(json_values))  # not even an object
    parameters = f'{{"configuration": {configuration}}}'
    if draw(st.integers(0, 9)) == 0:
        parameters = "{}"
    return f'{{"command": "configure", "parameters": {parameters}}}'.encode()


commands = st.builds(
    lambda command, parameters, extra: dumps({"command": command, "parameters": parameters, **extra}).encode(),
    st.one_of(st.sampled_from(["configure", "status", "exit", "start", "Configure", ""]),
              st.text(max_size=40), json_values),
    st.one_of(st.just({}), json_values),
    st.one_of(st.just({}), st.dictionaries(st.text(max_size=8), json_values, max_size=2)),
)


def nested(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    body = b'{"a": ' * depth + b"1" + b"}" * depth
    return b'{"command": "configure", "parameters": {"configuration": ' + body + b"}}"


# --- tests ---------------------------------------------------------------------------------------

def test_random_bytes(session: Session) -> None:
    @FUZZ
    @given(st.binary(max_size=3000))
    @example(b"\xff\xfe\x00")
    @example(b"heartbeat")
    @example(b"heartbeat\nheartbeat \r\n{}")
    @example(b"\r" * 50)
    def check(data: bytes) -> None:
        session.check(data)

    check()
    session.valid_configure_works()


def test_random_json_shapes(session: Session) -> None:
    @FUZZ
    @given(json_values.map(lambda value: dumps(value).encode()) | commands)
    def check(line: bytes) -> None:
        session.check(line)

    check()
    session.valid_configure_works()


def test_wrong_types_in_every_configure_field(session: Session) -> None:
    @FUZZ
    @given(configure_payloads())
    def check(line: bytes) -> None:
        session.check(line)

    check()
    session.valid_configure_works()


def test_huge_numbers_deep_nesting_and_long_lines(session: Session) -> None:
    @FUZZ
    @given(st.one_of(
        st.builds(nested, st.integers(1, MAX_LINE // 16), st.sampled_from(["list", "dict"])),
        huge_numbers.map(lambda number: (
            '{"command": "configure", "parameters": {"configuration": {"devices": [{"name": "T", '
            f'"sensor_type": "Temperature", "device_type": "Serial", "serial_port": "/dev/x", "channels": {number}'
            "}]}}}").encode()),
        st.integers(MAX_LINE - 64, 4 * MAX_LINE).map(lambda n: b"x" * n),
    ))
    def check(line: bytes) -> None:
        session.check(line)

    check()
    session.valid_configure_works()


def i2c_configure(**fields: Any) -> bytes:
    device = {"name": "T", "sensor_type": "Temperature", "device_type": "I2C", "chip": "SHT4x", **fields}
    return json.dumps({"command": "configure", "parameters": {"configuration": {"devices": [device]}}}).encode()


def test_huge_hex_i2c_address_is_an_invalid_configuration(session: Session) -> None:
    (response,) = session.send(i2c_configure(address="0x" + "f" * 4000))
    assert response["response"] == 4


def test_error_responses_fit_the_csc_line_limit(session: Session) -> None:
    name = "\u00e9" * 150  # 2 bytes in the request, 6 in the response (JSON escape)
    bad = {key: name for key in ("sensor_type", "device_type", "baud_rate", "channels", "i2c_bus", "address",
                                 "poll_interval", "power_relay_pin", "location", "num_samples", "threshold")}
    devices = [dict(bad, name=name) for _ in range(4)]
    line = json.dumps({"command": "configure", "parameters": {"configuration": {"devices": devices}}},
                      ensure_ascii=False).encode()
    assert len(line) < MAX_LINE
    (response,) = session.send(line)
    assert response["response"] == 4
