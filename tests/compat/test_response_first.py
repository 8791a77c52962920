"""The configure response comes before any telemetry of the new session (PROTOCOL 6.2).

The CSC reads lines until one holds ``response`` and *skips the others*: a reading sent before
the response is lost for it, and so is the clearing line a failing device sends before its first
error line (Appendix C). The server holds the session's telemetry until the response is out.
"""

from __future__ import annotations

import asyncio
import json

from rpi_ess.server.node_config import NodeConfig

from ..reliability.conftest import WAIT, raw_connect, reset
from .conftest import configure_line, make_instrument, make_server, serial_entry

__all__ = ["make_instrument", "make_server"]  # fixtures


async def test_no_line_precedes_the_configure_response(make_server, make_instrument, tmp_path):
    server = await make_server(simulation_mode=0, node_config=NodeConfig(heartbeat_timeout=30.0))
    fast = [make_instrument(f"F{i}", 0.0005)[0] for i in range(3)]  # streaming before and during configure
    entries = [serial_entry(f"F{i}", pty.port) for i, pty in enumerate(fast)]
    entries.append(serial_entry("Absent", str(tmp_path / "absent")))  # failing at once: its 40 and 10 lines
    for attempt in range(10):
        reader, writer = await raw_connect(server.port)
        writer.write(b"heartbeat\r\n" + configure_line(*entries))
        first = json.loads(await asyncio.wait_for(reader.readuntil(b"\r\n"), WAIT))
        assert first == {"response": 0}, f"attempt {attempt}: {first}"
        codes = {}
        while len(codes) < len(entries):  # every device's lines follow: readings, and 40 before 10
            line = json.loads(await asyncio.wait_for(reader.readuntil(b"\r\n"), WAIT))["telemetry"]
            codes.setdefault(line["name"], line["response_code"])
        assert codes == {"F0": 0, "F1": 0, "F2": 0, "Absent": 40}, f"attempt {attempt}: {codes}"
        await reset(writer)
