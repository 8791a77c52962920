"""Hot-plug recovery through the whole server (issue 5): instruments on pseudo-terminals.

Three instruments stream; one is unplugged for 5 s (its /dev/ess-style name disappears)
and plugged back in behind the same name. The other two must keep streaming, the
unplugged one must report response_code 10 and then resume by itself. Timing figures are
logged for the closing note, not asserted (DEVELOPERS.md rule 4); the bounds below only
catch a device that never recovers.
"""

from __future__ import annotations

import itertools
import json
import logging
import time

from rpi_ess.simulation.instruments import create_simulator
from rpi_ess.simulation.pty import PtyInstrument

log = logging.getLogger(__name__)
PERIOD = 0.1


async def test_unplugged_instrument_recovers_while_others_keep_streaming(make_server, clients, tmp_path):
    names = ("TempA", "TempB", "TempC")
    instruments = [PtyInstrument(name, link_dir=tmp_path / "ess") for name in names]
    try:
        for instrument in instruments:
            instrument.start_stream(create_simulator("Temperature", channels=4, seed=1).next_bytes, PERIOD)
        server = await make_server(simulation_mode=0)
        client = await clients(server.port)
        devices = [{"name": i.name, "sensor_type": "Temperature", "channels": 4, "device_type": "Serial",
                    "serial_port": i.port, "baud_rate": 19200} for i in instruments]
        await client.command("configure", configuration={"devices": devices})
        assert (await client.response(timeout=20))[1] == {"response": 0}

        arrivals: dict[str, list[tuple[float, int]]] = {name: [] for name in names}

        async def collect(until: float) -> None:
            while time.monotonic() < until:
                try:
                    message = json.loads(await client.line(timeout=max(0.05, until - time.monotonic())))
                except TimeoutError:
                    return
                if "telemetry" in message:
                    t = message["telemetry"]
                    arrivals[t["name"]].append((time.monotonic(), t["response_code"]))

        await collect(time.monotonic() + 2.0)
        assert all(arrivals[name] for name in names), "every instrument streams before the unplug"

        unplug_time = time.monotonic()
        instruments[1].unplug()
        await collect(unplug_time + 5.0)
        instruments[1].replug()  # its writer thread keeps running and now reaches the new tty
        replug_time = time.monotonic()
        await collect(replug_time + 10.0)

        during = {name: [t for t, code in arrivals[name] if unplug_time <= t < replug_time] for name in names}
        for name in ("TempA", "TempC"):
            times = [unplug_time, *during[name], replug_time]
            gap = max(b - a for a, b in itertools.pairwise(times))
            log.info("%s: longest gap while TempB was unplugged: %.3f s", name, gap)
            assert len(during[name]) > 10, f"{name} kept streaming while TempB was unplugged"
        codes_b = [code for t, code in arrivals["TempB"] if unplug_time <= t < replug_time]
        assert 10 in codes_b, "the unplugged instrument reports response_code 10"
        resumed = [t for t, code in arrivals["TempB"] if t >= replug_time and code == 0]
        assert resumed, "the re-plugged instrument streams again"
        log.info("TempB resumed %.3f s after re-plug", resumed[0] - replug_time)
        status = server.command_handler.status_report()
        (b_status,) = [d for d in status["devices"] if d["name"] == "TempB"]
        assert b_status["reopens"] >= 1 and b_status["state"] == "streaming"
    finally:
        for instrument in instruments:
            instrument.close()


async def test_absent_instrument_never_refuses_the_configure(make_server, clients, tmp_path):
    """By default (``open_failures: retry``, PROTOCOL Appendix C) a missing port does not refuse
    the configure: the device reports code 10 until the instrument is plugged in, then streams."""
    link_dir = tmp_path / "ess"
    server = await make_server(simulation_mode=0)
    client = await clients(server.port)
    device = {"name": "Late", "sensor_type": "Temperature", "channels": 4, "device_type": "Serial",
              "serial_port": str(link_dir / "Late")}
    await client.command("configure", configuration={"devices": [device]})
    assert (await client.response())[1] == {"response": 0}
    assert (await client.telemetry())["response_code"] in (10, 40)
    with PtyInstrument("Late", link_dir=link_dir) as instrument:
        instrument.start_stream(create_simulator("Temperature", channels=4, seed=3).next_bytes, PERIOD)
        while (telemetry := await client.telemetry(timeout=20))["response_code"] != 0:
            pass
        assert len(telemetry["sensor_telemetry"]) == 4


async def test_refuse_policy_is_an_opt_in(make_server, clients, tmp_path):
    from rpi_ess.server.node_config import NodeConfig

    server = await make_server(simulation_mode=0, node_config=NodeConfig(open_failures="refuse"))
    client = await clients(server.port)
    device = {"name": "Late", "sensor_type": "Temperature", "channels": 4, "device_type": "Serial",
              "serial_port": str(tmp_path / "missing")}
    await client.command("configure", configuration={"devices": [device]})
    _, message = await client.response()
    assert message["response"] == 11 and "does not exist" in message["message"]
