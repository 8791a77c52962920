"""Node checks against a fake /proc, /sys and /etc tree and canned command output."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rpi_ess.diag.context import DiskUsage
from rpi_ess.diag.model import CheckResult, Status
from rpi_ess.diag.node import NODE_CHECKS, check_clock_sync, check_disk, check_network, check_tai
from rpi_ess.diag.runner import run_checks
from rpi_ess.tai import tai_time

GIB = 1 << 30

IP_JSON = [
    {"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host"}]},
    {"ifname": "eth0", "addr_info": [
        {"family": "inet", "local": "10.0.0.7", "prefixlen": 24, "scope": "global"},
        {"family": "inet6", "local": "fe80::1", "prefixlen": 64, "scope": "link"},
    ]},
]


def healthy_pi(host: Any) -> None:
    host.write("/proc/device-tree/model", "Raspberry Pi 4 Model B Rev 1.4\0")
    host.write("/etc/os-release", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')
    host.write("/proc/sys/kernel/osrelease", "6.6.31+rpt-rpi-v8\n")
    host.write("/proc/sys/kernel/hostname", "ess-node-3\n")
    host.write("/proc/uptime", "86400.12 170000.00\n")
    host.write("/sys/class/thermal/thermal_zone0/temp", "48250\n")
    host.write("/sys/devices/platform/soc/soc:firmware/get_throttled", "0\n")
    host.command("timedatectl show", "NTPSynchronized=yes\nNTP=yes\n")
    host.command("ip -j address", json.dumps(IP_JSON))


def run_node(host: Any, **kwargs: object) -> dict[str, CheckResult]:
    ctx = host.context(**kwargs)
    return {result.name: result for result in run_checks(ctx, [("node", check) for check in NODE_CHECKS], timeout=30)}


def test_healthy_pi_passes_every_node_check(host: Any) -> None:
    healthy_pi(host)
    results = run_node(host)
    assert {name: r.status for name, r in results.items()} == dict.fromkeys(results, Status.PASS)
    assert results["model"].summary == "Raspberry Pi 4 Model B Rev 1.4"
    assert results["model"].data["raspberry_pi"] is True
    assert results["os"].summary == "Debian GNU/Linux 12 (bookworm), kernel 6.6.31+rpt-rpi-v8"
    assert results["uptime"].summary == "1 d 0 h"
    assert results["soc_temperature"].data["celsius"] == pytest.approx(48.25)
    assert results["throttling"].data["source"] == "sysfs get_throttled"
    assert results["network"].summary == "ess-node-3: 10.0.0.7/24"
    assert results["network"].data["addresses"] == {"eth0": ["10.0.0.7/24"]}


@pytest.mark.parametrize(
    ("output", "status", "summary"),
    [
        ("throttled=0x50005\n", Status.FAIL, "now: throttled, under-voltage (0x50005)"),
        ("throttled=0x50000\n", Status.WARN, "since boot: throttled, under-voltage (0x50000)"),
        ("throttled=0x80008\n", Status.FAIL, "now: soft temperature limit (0x80008)"),
        ("throttled=0x0\n", Status.PASS, "no under-voltage or throttling since boot"),
    ],
)
def test_throttling_flags_from_vcgencmd(host: Any, output: str, status: Status, summary: str) -> None:
    healthy_pi(host)
    host.command("vcgencmd get_throttled", output)
    result = run_node(host)["throttling"]
    assert (result.status, result.summary) == (status, summary)
    assert result.data["source"] == "vcgencmd get_throttled"
    if status is Status.PASS:
        assert result.hint is None
    elif "under-voltage" in summary:
        assert "5.1 V supply" in result.hint
    else:
        assert "too hot" in result.hint


@pytest.mark.parametrize(("millidegrees", "status"), [("69999", Status.PASS), ("72000", Status.WARN),
                                                      ("81500", Status.FAIL)])
def test_soc_temperature_thresholds(host: Any, millidegrees: str, status: Status) -> None:
    healthy_pi(host)
    host.write("/sys/class/thermal/thermal_zone0/temp", millidegrees)
    result = run_node(host)["soc_temperature"]
    assert result.status is status
    assert (result.hint is None) == (status is Status.PASS)


def test_recent_reboot_warns(host: Any) -> None:
    healthy_pi(host)
    host.write("/proc/uptime", "95.0 100.0\n")
    result = run_node(host)["uptime"]
    assert result.status is Status.WARN
    assert "journalctl -b -1" in result.hint


@pytest.mark.parametrize(("free", "status"), [(5 * GIB, Status.PASS), (int(0.5 * GIB), Status.WARN),
                                              (50 << 20, Status.FAIL)])
def test_disk_thresholds(host: Any, free: int, status: Status) -> None:
    ctx = host.context(disk_usage=lambda path: DiskUsage(8 * GIB, 8 * GIB - free, free))
    result = check_disk(ctx)
    assert result.status is status
    assert result.data["free_bytes"] == free


def test_clock_not_synchronised_fails_with_hint(host: Any) -> None:
    host.command("timedatectl show", "NTPSynchronized=no\nNTP=yes\n")
    result = check_clock_sync(host.context())
    assert result.status is Status.FAIL
    assert "timestamps will be wrong" in result.hint
    assert result.details == ["timedatectl: NTP service active"]


def test_clock_falls_back_to_chrony_then_kernel(host: Any) -> None:
    host.command("chronyc tracking", "Reference ID    : C0A80001 (ntp)\nLeap status     : Not synchronised\n"
                 "System time     : 0.000001 seconds fast of NTP time\n")
    assert check_clock_sync(host.context()).status is Status.FAIL
    host.commands.clear()
    result = check_clock_sync(host.context())  # kernel clock: synchronised
    assert result.status is Status.PASS
    assert result.data["source"].startswith("kernel adjtimex")
    unknown = check_clock_sync(host.context(kernel_clock=lambda: None))
    assert unknown.status is Status.WARN
    assert "chrony" in unknown.hint


def test_tai_offset_reports_the_method_in_use(host: Any) -> None:
    result = check_tai(host.context())
    assert result.status is Status.PASS
    assert result.summary == tai_time.describe()
    assert result.data["tai_minus_utc"] == 37
    assert result.details == ["kernel TAI offset: 37 s"]


def test_no_network_address_fails(host: Any) -> None:
    host.command("ip -j address", json.dumps(IP_JSON[:1]))
    result = check_network(host.context())
    assert result.status is Status.FAIL
    assert "CSC cannot reach" in result.hint
    host.commands.clear()
    assert check_network(host.context()).status is Status.SKIP


def test_bare_host_never_crashes(host: Any) -> None:
    """A tree with nothing in it: every check answers PASS or SKIP (or a clear WARN), none crashes."""
    results = run_node(host, kernel_clock=lambda: None)
    assert all("crashed" not in result.summary for result in results.values())
    assert results["model"].summary == "unknown hardware"
    assert results["soc_temperature"].status is Status.SKIP
    assert results["throttling"].status is Status.SKIP
    assert results["uptime"].status is Status.SKIP
    assert results["clock_sync"].status is Status.WARN
