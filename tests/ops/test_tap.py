"""``tap`` on the status socket and ``rpi-ess tap``: the live raw bytes of a running device.

Real server, real serial path: pty instruments behind /dev/ess-style links, the CSC's
configure over TCP, the tap over the Unix status socket.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from rpi_ess.cli.tap import DisplayLines, format_event
from rpi_ess.simulation.pty import PtyInstrument
from rpi_ess.simulation.sps30_emulator import Sps30ShdlcEmulator

from .conftest import (
    WAIT,
    assert_contiguous,
    by_name,
    configure_line,
    serial_entry,
    telemetry_until,
    wait_until,
)


async def tap_events(reader: asyncio.StreamReader, done: Any, timeout: float = WAIT) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while not done(events):
        events.append(json.loads(await asyncio.wait_for(reader.readline(), timeout)))
    return events


def rx_bytes(events: list[dict[str, Any]]) -> bytes:
    return b"".join(bytes.fromhex(e["hex"]) for e in events if e.get("dir") == "rx")


async def start(make_server: Any, connect: Any, status_path: str, *devices: dict[str, Any]) -> tuple[Any, Any]:
    server = await make_server(simulation_mode=0, status_socket=status_path)
    client = await connect(server.port)
    await client.send(configure_line(*devices))
    _, reply = await client.response()
    assert reply["response"] == 0, reply
    return server, client


async def test_tap_shows_exactly_what_the_instrument_sends(make_server: Any, connect: Any, make_instrument: Any,
                                                           status_path: str, open_tap: Any) -> None:
    instrument, source = make_instrument("T1", period=0.02)
    _, client = await start(make_server, connect, status_path, serial_entry("T1", instrument.port))
    reader, reply = await open_tap("T1")
    assert reply == {"response": 0, "tap": {"device": "T1", "max_bytes": 65536}}
    events = await tap_events(reader, lambda ev: rx_bytes(ev).count(b"\r\n") >= 6)
    assert events[0] == {"attached": f"Serial {instrument.port}"}
    seen = rx_bytes(events)
    first = int(seen.split(b"\r\n")[1].split(b"=")[1].split(b".")[0])  # the first whole line's number
    expected = b"".join(source.line(n) for n in range(first, first + 5))
    assert expected in seen  # byte for byte, nothing added or lost
    assert all(e["dir"] == "rx" and isinstance(e["time"], float) for e in events[1:])
    lines = await telemetry_until(client, lambda got: len(by_name(got, "T1", 0)) >= 5)
    assert_contiguous(by_name(lines, "T1"))  # the tap changed nothing for the CSC


async def test_stalled_tap_never_slows_the_telemetry(make_server: Any, connect: Any, make_instrument: Any,
                                                     status_path: str, open_tap: Any) -> None:
    """A tap whose reader has stopped reading: the CSC still gets every line, in order."""
    instrument, _ = make_instrument("T1", period=0.002)
    server, client = await start(make_server, connect, status_path, serial_entry("T1", instrument.port))
    _, reply = await open_tap("T1", max_bytes=4096)
    assert reply["response"] == 0
    lines = await telemetry_until(client, lambda got: len(by_name(got, "T1", 0)) >= 1000)
    assert_contiguous(by_name(lines, "T1")[5:])
    assert server.command_handler.runners[0].sink.dropped == 0


async def test_sps30_tap_shows_both_directions(make_server: Any, connect: Any, tmp_path: Path, status_path: str,
                                               open_tap: Any) -> None:
    with Sps30ShdlcEmulator(PtyInstrument("PM", tmp_path / "ess")) as sps30:
        await start(make_server, connect, status_path, {
            "name": "PM", "sensor_type": "Sps30", "device_type": "Serial", "serial_port": sps30.port,
            "baud_rate": 115200, "poll_interval": 0.1})
        reader, _ = await open_tap("PM")
        events = await tap_events(reader, lambda ev: sum(e.get("dir") == "rx" for e in ev) >= 3)
    sent = b"".join(bytes.fromhex(e["hex"]) for e in events if e.get("dir") == "tx")
    assert b"\x7e\x00\x03\x00\xfc\x7e" in sent  # "read measured values", as the poller sends it
    assert rx_bytes(events).startswith(b"\x7e\x00\x03\x00")  # the sensor's reply frame to it


async def test_tap_follows_the_device_across_a_csc_reconnect(make_server: Any, connect: Any, make_instrument: Any,
                                                            status_path: str, open_tap: Any) -> None:
    instrument, _ = make_instrument("T1", period=0.05)
    server, client = await start(make_server, connect, status_path, serial_entry("T1", instrument.port))
    reader, _ = await open_tap("T1")
    await tap_events(reader, lambda ev: bool(rx_bytes(ev)))
    await client.close()
    events = await tap_events(reader, lambda ev: any("detached" in e for e in ev))
    await wait_until(lambda: not server._has_client)
    again = await connect(server.port)
    await again.send(configure_line(serial_entry("T1", instrument.port)))
    assert (await again.response())[1]["response"] == 0
    events = await tap_events(reader, lambda ev: any("attached" in e for e in ev) and bool(rx_bytes(ev)))
    assert rx_bytes(events)


async def test_tap_refuses_unknown_devices_and_bad_parameters(make_server: Any, connect: Any, make_instrument: Any,
                                                             status_path: str, open_tap: Any) -> None:
    instrument, _ = make_instrument("T1")
    await start(make_server, connect, status_path, serial_entry("T1", instrument.port))
    for device, parameters, code, words in (("T9", {}, 1, "device 'T9' is not configured (running: T1)"),
                                            ("T1", {"max_bytes": 0}, 23, "max_bytes must be"),
                                            ("T1", {"hex": True}, 23, "tap takes 'device'")):
        _, reply = await open_tap(device, **parameters)
        assert reply["response"] == code and words in reply["message"], reply


def test_format_event() -> None:
    chunk = {"time": 0.25, "dir": "rx", "hex": b"C01=1\r\n\x00\\".hex()}
    assert format_event(chunk) == "rx C01=1\\r\\n\\x00\\\\"
    assert format_event(chunk, hex_dump=True, timestamps=True) == "00:00:00.250 rx 43 30 31 3d 31 0d 0a 00 5c"
    assert format_event({"dropped_bytes": 12}) == "-- 12 bytes dropped: this tap read too slowly --"
    assert format_event({"detached": "device stopped"}) == "-- device stopped --"


async def run_cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "rpi_ess", "tap", *args,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli_tap_session(make_server: Any, connect: Any, make_instrument: Any, status_path: str) -> None:
    instrument, _ = make_instrument("T1", period=0.05)
    await start(make_server, connect, status_path, serial_entry("T1", instrument.port))
    code, out, err = await run_cli("T1", "--seconds", "1.5", "--timestamps", "--status-socket", status_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"-- attached to Serial {instrument.port} --"
    assert any(line.endswith("\\r\\n") and " rx C01=" in line for line in lines[1:]), out
    assert "bytes rx, 0 bytes tx, 0 bytes dropped" in err
    code, _, err = await run_cli("nope", "--status-socket", status_path)
    assert code == 1 and "cannot tap 'nope': device 'nope' is not configured (running: T1)" in err
    code, _, err = await run_cli("T1", "--status-socket", status_path + ".missing")
    assert code == 1 and "cannot reach the server's status socket" in err and "Traceback" not in err


def test_display_joins_chunks_into_lines() -> None:
    # a serial port hands over a few bytes at a time: the technician sees whole records
    text = DisplayLines(timestamps=True)
    assert text.add("rx", b"C01=1", 0.25) == []
    assert text.add("rx", b".5\r\nC0", 0.26) == ["00:00:00.250 rx C01=1.5\\r\\n"]
    assert text.add("rx", b"1=2", 0.27) == []
    assert text.add("tx", b"\x7e", 0.28) == ["00:00:00.260 rx C01=2"]  # a change of direction ends a line
    assert text.add("tx", b"\x7e", 0.5) == ["00:00:00.280 tx ~"]  # so does a pause
    assert text.flush() == ["00:00:00.500 tx ~"]
    frames = DisplayLines(hex_dump=True)
    assert frames.add("rx", b"\x7e\x00", 1.0) == [] and frames.add("rx", b"\x0a\x7e", 1.01) == []
    assert frames.add("tx", b"\x7e", 1.02) == ["rx 7e 00 0a 7e"]
