"""Prometheus metrics: scraped over HTTP and read back with prometheus_client's own parser,
while pty instruments stream, send garbage and are unplugged."""

from __future__ import annotations

import asyncio
import platform
import socket
import urllib.request
from typing import Any

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from rpi_ess import __version__
from rpi_ess.server.metrics import StatusCollector

from .conftest import configure_line, node_config, serial_entry, wait_until

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

FULL_REPORT: dict[str, Any] = {  # the agreed status_report() shape, every key present
    "server": {"version": "9.9", "started": 1700000000.5,
               "clock": {"synchronised": True, "source": "chrony", "tai_offset": 37}},
    "client": {"address": "10.0.0.5:4000", "lines_sent": 120, "lines_dropped": 3, "bytes_sent": 9000},
    "configured": True,
    "commands": {"0": 2, "23": 1},
    "devices": [{
        "name": "T1", "sensor_type": "Temperature", "device_type": "Serial", "port": "Serial /dev/ess/T1",
        "state": "streaming", "lines": 100, "errors": 7, "dropped": 2, "reopens": 1, "restarts": 0,
        "rate_hz": 1.5, "good_readings": 93, "error_classes": {"parse": 5, "read": 2}, "last_error_class": "parse",
        "seconds_since_good": 0.4, "queue_depth": 4,
        "episode": {"active": True, "since": 1700000100.0, "budget_remaining_s": 12.5, "reporting": False,
                    "seconds": 30.5, "class": "parse", "failures": 6, "message": "T1: bad line"},
    }],
}


def samples(text: str) -> Samples:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def expose(report: dict[str, Any], raw: dict[str, dict[str, int]] | None = None) -> Samples:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(lambda: report, (lambda: raw) if raw is not None else None))
    return samples(generate_latest(registry).decode())


def test_every_agreed_status_key_becomes_a_metric() -> None:
    got = expose(FULL_REPORT, {"T1": {"port": 15000, "readers": 2, "bytes_sent": 500, "dropped_bytes": 40,
                                      "bytes_written": 0}})
    t1 = (("device", "T1"),)
    expected = {
        ("rpi_ess_device_lines_total", t1): 100, ("rpi_ess_device_good_readings_total", t1): 93,
        ("rpi_ess_device_error_lines_total", t1): 7, ("rpi_ess_device_dropped_lines_total", t1): 2,
        ("rpi_ess_device_reopens_total", t1): 1, ("rpi_ess_device_queue_depth", t1): 4,
        ("rpi_ess_device_seconds_since_good_reading", t1): 0.4,
        ("rpi_ess_device_episode_active", t1): 1, ("rpi_ess_device_episode_reporting", t1): 0,
        ("rpi_ess_device_episode_budget_remaining_seconds", t1): 12.5,
        ("rpi_ess_device_episode_duration_seconds", t1): 30.5, ("rpi_ess_device_episode_failures", t1): 6,
        ("rpi_ess_device_state", (("device", "T1"), ("state", "streaming"))): 1,
        ("rpi_ess_client_connected", ()): 1, ("rpi_ess_client_lines_sent_total", ()): 120,
        ("rpi_ess_client_bytes_sent_total", ()): 9000, ("rpi_ess_client_lines_dropped_total", ()): 3,
        ("rpi_ess_commands_total", (("code", "23"),)): 1, ("rpi_ess_clock_synchronised", ()): 1,
        ("rpi_ess_build_info", (("python", platform.python_version()), ("version", "9.9"))): 1,
        ("rpi_ess_raw_port_dropped_bytes_total", (("device", "T1"), ("port", "15000"))): 40,
        ("rpi_ess_raw_port_readers", (("device", "T1"), ("port", "15000"))): 2,
    }
    for key, value in expected.items():
        assert got.get(key) == value, key
    for cls, count in {"open": 0, "timeout": 0, "read": 2, "parse": 5, "overflow": 0}.items():
        assert got[("rpi_ess_device_errors_total", (("class", cls), ("device", "T1")))] == count
    assert got[("rpi_ess_clock_info", (("source", "chrony"), ("synchronised", "True"), ("tai_offset", "37")))] == 1


def test_missing_keys_leave_their_metrics_out() -> None:
    got = expose({"server": {}, "client": None, "devices": [{"name": "T1"}]})
    assert got[("rpi_ess_client_connected", ())] == 0
    assert got[("rpi_ess_device_info", (("device", "T1"), ("device_type", ""), ("port", ""),
                                        ("sensor_type", "")))] == 1
    assert not any(name.startswith("rpi_ess_device_seconds_since") for name, _ in got)


async def scrape(port: int) -> Samples:
    def get() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            return response.read().decode()

    return samples(await asyncio.to_thread(get))


async def test_scrape_while_instruments_stream_and_fail(make_server: Any, connect: Any, make_instrument: Any) -> None:
    good, _ = make_instrument("T1", period=0.02)
    garbage, _ = make_instrument("T2")
    garbage.start_stream(lambda: b"C01=not a number\r\n", 0.02)
    unplugged, _ = make_instrument("T3", period=0.02)
    server = await make_server(simulation_mode=0, node_config=node_config(metrics_port=0, open_failures="retry"))
    port = server.side_servers.metrics.port
    idle = await scrape(port)
    assert idle[("rpi_ess_client_connected", ())] == 0 and idle[("rpi_ess_configured", ())] == 0
    assert idle[("rpi_ess_build_info", (("python", platform.python_version()), ("version", __version__)))] == 1
    client = await connect(server.port)
    await client.send(configure_line(*(serial_entry(p.name, p.port) for p in (good, garbage, unplugged))))
    assert (await client.response())[1]["response"] == 0
    runners = {r.name: r for r in server.command_handler.runners}
    await wait_until(lambda: runners["T1"].stats.lines >= 5 and runners["T2"].stats.errors >= 5
                     and runners["T3"].stats.lines >= 1)
    unplugged.unplug()
    await wait_until(lambda: runners["T3"].stats.state == "reopening")
    unplugged.replug()
    await wait_until(lambda: runners["T3"].stats.reopens >= 1)
    report = server.command_handler.status_report()
    got = await scrape(port)
    assert got[("rpi_ess_client_connected", ())] == 1 and got[("rpi_ess_configured", ())] == 1
    for device in report["devices"]:  # counters only grow: the scrape is at least the earlier report
        label = (("device", device["name"]),)
        for key, metric in (("lines", "lines"), ("errors", "error_lines"), ("reopens", "reopens"),
                            ("good_readings", "good_readings"), ("dropped", "dropped_lines")):
            if key in device:
                assert got[(f"rpi_ess_device_{metric}_total", label)] >= device[key], (device["name"], key)
        for cls, count in (device.get("error_classes") or {}).items():
            assert got[("rpi_ess_device_errors_total", (("class", cls), *label))] >= count
    assert got[("rpi_ess_device_lines_total", (("device", "T1"),))] >= 5
    assert got[("rpi_ess_device_error_lines_total", (("device", "T2"),))] >= 5
    assert got[("rpi_ess_device_reopens_total", (("device", "T3"),))] >= 1
    assert got[("rpi_ess_client_lines_sent_total", ())] > 0
    assert got[("rpi_ess_device_state", (("device", "T1"), ("state", "streaming")))] == 1


async def test_metrics_refuse_clients_outside_the_allow_list(make_server: Any) -> None:
    server = await make_server(node_config=node_config(metrics_port=0, allowed_clients=("10.0.0.0/8",)))
    with pytest.raises(OSError):  # closed before any answer (RemoteDisconnected, reset)
        await scrape(server.side_servers.metrics.port)


async def test_metrics_port_in_use_is_a_readable_start_error(make_server: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match=rf"metrics port {taken.getsockname()[1]}: .*in use"):
            await make_server(node_config=node_config(metrics_port=taken.getsockname()[1]))
