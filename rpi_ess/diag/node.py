"""Node checks: is the Raspberry Pi itself healthy (power, heat, disk, clock, network)?"""

from __future__ import annotations

import json
import re
import time
from functools import partial

from ..tai import leap_offset, tai_time
from .context import DiagContext
from .model import CheckResult, Status, format_duration

__all__ = ["NODE_CHECKS"]

GROUP = "node"

TEMP_WARN_C = 70.0
TEMP_FAIL_C = 80.0  # the firmware starts throttling the CPU here
DISK_WARN_FREE = (1 << 30, 0.10)  # bytes, fraction
DISK_FAIL_FREE = (100 << 20, 0.02)
RECENT_BOOT_S = 600.0
COMMAND_TIMEOUT = 3.0

#: get_throttled bits: (bit, meaning, happening now?)
THROTTLE_BITS = (
    (0, "under-voltage", True),
    (1, "ARM frequency capped", True),
    (2, "throttled", True),
    (3, "soft temperature limit", True),
    (16, "under-voltage", False),
    (17, "ARM frequency capped", False),
    (18, "throttled", False),
    (19, "soft temperature limit", False),
)


_result = partial(CheckResult, GROUP)


def check_model(ctx: DiagContext) -> CheckResult:
    for source in ("/proc/device-tree/model", "/sys/firmware/devicetree/base/model", "/sys/class/dmi/id/product_name"):
        text = ctx.read_text(source)
        if text and text.strip("\0\n "):
            model = text.strip("\0\n ")
            return _result("model", Status.PASS, model, data={"model": model, "raspberry_pi": "Raspberry Pi" in model})
    return _result("model", Status.PASS, "unknown hardware", data={"model": None, "raspberry_pi": False})


def check_os(ctx: DiagContext) -> CheckResult:
    release = ctx.read_text("/etc/os-release") or ""
    match = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', release, re.MULTILINE)
    name = match.group(1) if match else "unknown OS"
    kernel = (ctx.read_text("/proc/sys/kernel/osrelease") or "unknown").strip()
    return _result("os", Status.PASS, f"{name}, kernel {kernel}", data={"os": name, "kernel": kernel})


def check_uptime(ctx: DiagContext) -> CheckResult:
    text = ctx.read_text("/proc/uptime")
    try:
        uptime = float(text.split()[0]) if text else None
    except (ValueError, IndexError):
        uptime = None
    if uptime is None:
        return _result("uptime", Status.SKIP, "unknown (/proc/uptime unreadable)")
    summary = format_duration(uptime)
    if uptime < RECENT_BOOT_S:
        return _result(
            "uptime", Status.WARN, f"{summary} (rebooted recently)", data={"uptime_s": uptime},
            hint="If nobody restarted the node, look for power problems (see 'throttling') and read the "
            "previous boot's log: journalctl -b -1 -e",
        )
    return _result("uptime", Status.PASS, summary, data={"uptime_s": uptime})


def check_soc_temperature(ctx: DiagContext) -> CheckResult:
    text = ctx.read_text("/sys/class/thermal/thermal_zone0/temp")
    try:
        celsius = int(text.strip()) / 1000.0 if text else None
    except ValueError:
        celsius = None
    if celsius is None:
        return _result("soc_temperature", Status.SKIP, "no thermal sensor readable")
    summary = f"{celsius:.1f} °C"
    data = {"celsius": celsius}
    hint = ("Improve cooling: check the enclosure fan and heat sink, keep the node out of direct sun; the "
            "Pi throttles its CPU at 80 °C.")
    if celsius >= TEMP_FAIL_C:
        return _result("soc_temperature", Status.FAIL, f"{summary} (throttling range)", data=data, hint=hint)
    if celsius >= TEMP_WARN_C:
        return _result("soc_temperature", Status.WARN, f"{summary} (hot)", data=data, hint=hint)
    return _result("soc_temperature", Status.PASS, summary, data=data)


def _throttled_flags(ctx: DiagContext) -> tuple[int, str] | None:
    done = ctx.run(["vcgencmd", "get_throttled"], COMMAND_TIMEOUT)
    if done is not None and done.returncode == 0:
        match = re.search(r"throttled=(0x[0-9a-fA-F]+)", done.stdout)
        if match:
            return int(match.group(1), 16), "vcgencmd get_throttled"
    text = ctx.read_text("/sys/devices/platform/soc/soc:firmware/get_throttled")
    if text and text.strip():
        try:
            return int(text.strip(), 16), "sysfs get_throttled"
        except ValueError:
            return None
    return None


def check_throttling(ctx: DiagContext) -> CheckResult:
    found = _throttled_flags(ctx)
    if found is None:
        return _result("throttling", Status.SKIP, "not exposed on this host (not a Raspberry Pi?)")
    flags, source = found
    now = sorted({text for bit, text, current in THROTTLE_BITS if current and flags >> bit & 1})
    since_boot = sorted({text for bit, text, current in THROTTLE_BITS if not current and flags >> bit & 1})
    data = {"flags": f"0x{flags:x}", "now": now, "since_boot": since_boot, "source": source}
    power_hint = ("Use the official 5.1 V supply (3 A for a Pi 4, 5 A for a Pi 5), a short thick cable, and "
                  "power USB instruments from a powered hub; under-voltage corrupts SD cards and serial data.")
    if now:
        hint = power_hint if "under-voltage" in now else "The SoC is too hot; see soc_temperature."
        return _result("throttling", Status.FAIL, f"now: {', '.join(now)} (0x{flags:x})", data=data, hint=hint)
    if since_boot:
        hint = power_hint if "under-voltage" in since_boot else "The SoC overheated since boot; check cooling."
        return _result("throttling", Status.WARN, f"since boot: {', '.join(since_boot)} (0x{flags:x})",
                       data=data, hint=hint)
    return _result("throttling", Status.PASS, "no under-voltage or throttling since boot", data=data)


def check_disk(ctx: DiagContext) -> CheckResult:
    try:
        usage = ctx.disk_usage(ctx.path("/"))
    except OSError as e:
        return _result("disk", Status.SKIP, f"cannot read disk usage: {e}")
    fraction = usage.free / usage.total if usage.total else 0.0
    summary = f"{usage.free / 2**30:.1f} GiB free of {usage.total / 2**30:.1f} GiB ({fraction:.0%})"
    data = {"free_bytes": usage.free, "total_bytes": usage.total}
    hint = "Free space: sudo journalctl --vacuum-size=100M; sudo apt-get clean; remove old files in /var/log."
    if usage.free < DISK_FAIL_FREE[0] or fraction < DISK_FAIL_FREE[1]:
        return _result("disk", Status.FAIL, summary, data=data, hint=hint)
    if usage.free < DISK_WARN_FREE[0] or fraction < DISK_WARN_FREE[1]:
        return _result("disk", Status.WARN, summary, data=data, hint=hint)
    return _result("disk", Status.PASS, summary, data=data)


def _sync_from_timedatectl(ctx: DiagContext) -> tuple[bool, str] | None:
    done = ctx.run(["timedatectl", "show", "-p", "NTPSynchronized", "-p", "NTP"], COMMAND_TIMEOUT)
    if done is None or done.returncode != 0:
        return None
    values = dict(line.partition("=")[::2] for line in done.stdout.splitlines() if "=" in line)
    if "NTPSynchronized" not in values:
        return None
    detail = "timedatectl: NTP service " + ("active" if values.get("NTP") == "yes" else "inactive")
    return values["NTPSynchronized"] == "yes", detail


def _sync_from_chrony(ctx: DiagContext) -> tuple[bool, str] | None:
    done = ctx.run(["chronyc", "tracking"], COMMAND_TIMEOUT)
    if done is None or done.returncode != 0:
        return None
    fields = {key.strip(): value.strip() for key, _, value in
              (line.partition(":") for line in done.stdout.splitlines()) if value}
    if "Leap status" not in fields:
        return None
    detail = f"chronyc: leap status {fields['Leap status']}, system time {fields.get('System time', '?')}"
    return fields["Leap status"] != "Not synchronised", detail


def _sync_from_kernel(ctx: DiagContext) -> tuple[bool, str] | None:
    clock = ctx.kernel_clock()
    if clock is None:
        return None
    return clock.synchronised, f"kernel adjtimex: max error {clock.max_error_us / 1e6:.3f} s"


def check_clock_sync(ctx: DiagContext) -> CheckResult:
    for source in (_sync_from_timedatectl, _sync_from_chrony, _sync_from_kernel):
        found = source(ctx)
        if found is not None:
            break
    else:
        return _result("clock_sync", Status.WARN, "synchronisation status unknown",
                       hint="Install chrony (sudo apt-get install chrony) so the clock is disciplined and "
                       "checkable; telemetry timestamps are only as good as this clock.")
    synchronised, detail = found
    data = {"synchronised": synchronised, "source": detail}
    if not synchronised:
        return _result(
            "clock_sync", Status.FAIL, "NOT synchronised", details=[detail], data=data,
            hint="Telemetry timestamps will be wrong. The Pi has no battery clock: check that the node reaches "
            "its NTP server (chronyc sources -v, or timedatectl timesync-status), then wait a minute.",
        )
    return _result("clock_sync", Status.PASS, "synchronised", details=[detail], data=data)


def check_tai(ctx: DiagContext) -> CheckResult:
    """TAI offset in use: the CSC compares our timestamps with its own TAI clock."""
    now = time.time()
    expected = leap_offset(now)
    in_use = tai_time() - time.time()
    kernel = ctx.kernel_clock()
    details = [f"kernel TAI offset: {kernel.tai_offset} s" if kernel else "kernel TAI offset: unknown"]
    data = {"tai_minus_utc": expected, "in_use_s": round(in_use, 3), "method": tai_time.describe(),
            "kernel_tai_offset": kernel.tai_offset if kernel else None}
    if abs(in_use - expected) > 1.0:
        return _result("tai_offset", Status.FAIL, f"timestamps are UTC + {in_use:.1f} s, expected + {expected} s",
                       details=details, data=data,
                       hint="The kernel's TAI offset is wrong; fix chrony's leapsectz setting or remove it, "
                       "then restart rpi-ess.")
    return _result("tai_offset", Status.PASS, tai_time.describe(), details=details, data=data)


def check_network(ctx: DiagContext) -> CheckResult:
    hostname = (ctx.read_text("/proc/sys/kernel/hostname") or "?").strip()
    done = ctx.run(["ip", "-j", "address", "show"], COMMAND_TIMEOUT)
    try:
        interfaces = json.loads(done.stdout) if done is not None and done.returncode == 0 else None
    except json.JSONDecodeError:
        interfaces = None
    if not isinstance(interfaces, list):
        return _result("network", Status.SKIP, f"{hostname}: addresses unknown ('ip' not available)")
    addresses: dict[str, list[str]] = {}
    for interface in interfaces:
        for info in interface.get("addr_info", []):
            if info.get("scope") == "global":
                addresses.setdefault(interface.get("ifname", "?"), []).append(f"{info['local']}/{info['prefixlen']}")
    details = [f"{name}: {', '.join(found)}" for name, found in addresses.items()]
    data = {"hostname": hostname, "addresses": addresses}
    if not addresses:
        return _result("network", Status.FAIL, f"{hostname}: no network address", data=data,
                       hint="The CSC cannot reach this node. Check the Ethernet cable and link LEDs, then "
                       "the DHCP server (ip address; journalctl -u NetworkManager).")
    first = next(iter(addresses.values()))[0]
    return _result("network", Status.PASS, f"{hostname}: {first}" + (" …" if len(details) > 1 else ""),
                   details=details, data=data)


NODE_CHECKS = (
    check_model, check_os, check_uptime, check_soc_temperature, check_throttling, check_disk,
    check_clock_sync, check_tai, check_network,
)
