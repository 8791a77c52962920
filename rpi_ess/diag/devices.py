"""Device checks: open each configured instrument, listen, parse, and say what is wrong.

A port the running server holds is never opened here (that would steal its bytes): its
health comes from the server's status instead. An instrument that sends only garbage is
re-read at the common baud rates to name the one that works.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from ..devices import DeviceError, backend_class, create_device
from ..devices.interfaces.serial import SerialDevice
from ..devices.readers import READERS, LineReader
from ..devices.serial_link import SerialLink, is_url
from ..sensors import create_sensor
from ..tai import tai_time
from .buses import holder_hint, is_server_process
from .context import DiagContext
from .listen import Capture, listen_device, listen_link
from .model import CheckResult, Status
from .procfs import file_holders
from .status import port_keys, server_device_on

if TYPE_CHECKING:
    from ..devices.base import Device
    from ..devices.config import DeviceConfig
    from ..sensors.base import Sensor

__all__ = ["BAUD_RATES", "plan_device_checks"]

_result = partial(CheckResult, "devices")

BAUD_RATES = (9600, 19200, 38400, 57600, 115200)
MAX_SHOWN = 120
GARBAGE_SHOWN = 24
SILENT_HINT = ("Nothing arrived. Check the instrument's power and cable, that its TX goes to our RX (a swapped "
               "null-modem pair is common), and that it is set to send continuously.")
NOISE_HINT = ("Some lines do not parse: usually electrical noise or a loose connector; check the cable, its "
              "shield and ground.")


def _build(ctx: DiagContext, config: DeviceConfig) -> tuple[Sensor, Device]:
    sensor = create_sensor(config.sensor_type, config.channels)
    if config.device_type == "I2C" and ctx.i2c_buses is not None:
        return sensor, backend_class("I2C")(config, sensor, bus_factory=ctx.i2c_buses)  # type: ignore[call-arg]
    return sensor, create_device(config, sensor)


def _identify(ctx: DiagContext, config: DeviceConfig) -> set[str]:
    """How the server names this device's port (FTDI: once the adapter's tty is found)."""
    try:
        device = _build(ctx, config)[1]
    except (ValueError, DeviceError):
        return set()  # check_device reports the error
    keys = port_keys(device.describe)
    if isinstance(device, SerialDevice):
        with contextlib.suppress(DeviceError):  # adapter missing: check_device reports it
            keys |= port_keys(device.port_url()) | port_keys(device.describe)
    return keys


def check_configuration(ctx: DiagContext) -> CheckResult:
    count = len(ctx.devices)
    summary = f"{count} device{'s' if count != 1 else ''} from {ctx.config_source}"
    data = {"source": ctx.config_source, "devices": [config.name for config in ctx.devices],
            "errors": ctx.config_errors}
    if ctx.config_errors:
        return _result("configuration", Status.FAIL, f"{summary}; {len(ctx.config_errors)} problem(s)",
                       details=ctx.config_errors, data=data,
                       hint="Fix the entries named above; diag checks only the valid ones.")
    if not count:
        return _result("configuration", Status.SKIP, f"no devices configured ({ctx.config_source})", data=data,
                       hint="List this node's instruments under 'devices:' in /etc/rpi-ess/node.yaml, or pass "
                       "--config FILE.")
    return _result("configuration", Status.PASS, summary, data=data)


def plan_device_checks(ctx: DiagContext) -> list[Callable[[DiagContext], CheckResult]]:
    """One check per configured device, plus one per server device nobody configured here."""
    checks: list[Callable[[DiagContext], CheckResult]] = [check_configuration]
    matched: list[int] = []
    for config in ctx.devices:
        on_port = server_device_on(ctx, _identify(ctx, config))
        match = on_port or _server_device_named(ctx, config.name)
        if match is not None:
            matched.append(id(match))
        checks.append(partial(check_device, config=config, server_device=match, same_port=on_port is not None))
    server_devices = (ctx.server_status or {}).get("devices") or []
    checks += [partial(check_server_device, device=device) for device in server_devices if id(device) not in matched]
    return checks


def _server_device_named(ctx: DiagContext, name: str) -> dict[str, Any] | None:
    """The server's device of this name on another port: one device, so one verdict (a server
    started with --simulate reads no port at all; otherwise the two configurations disagree)."""
    devices = (ctx.server_status or {}).get("devices") or []
    return next((device for device in devices if device.get("name") == name), None)


def _server_verdict(ctx: DiagContext, config: DeviceConfig, device: dict[str, Any], same_port: bool) -> CheckResult:
    """A configured device the server holds: its health as the server sees it."""
    if same_port:
        return _server_result(config.name, device, "held by rpi-ess: ")
    if ((ctx.server_status or {}).get("server") or {}).get("simulation_mode"):
        result = _server_result(config.name, device, "simulated by rpi-ess: ")
        result.details.append(f"the server simulates it (serve --simulate); {_port_of(ctx, config)} is not read")
        return result
    result = _server_result(config.name, device, "held by rpi-ess on another port: ")
    result.details.append(f"configured here on {_port_of(ctx, config)}, the server reads {device.get('port', '?')}")
    if result.status is Status.PASS:
        result.status = Status.WARN
        result.hint = (f"The server's configuration of {config.name} (from the CSC) and this one name different "
                       "ports; make them agree.")
    return result


def _port_of(ctx: DiagContext, config: DeviceConfig) -> str:
    try:
        return _build(ctx, config)[1].describe
    except (ValueError, DeviceError):
        return "its configured port"


def _server_result(name: str, device: dict[str, Any], prefix: str) -> CheckResult:
    """Health of a device as the running server sees it."""
    state = device.get("state", "?")
    counters = (f"{device.get('lines', 0)} lines, {device.get('errors', 0)} errors, "
                f"{device.get('dropped', 0)} dropped, {device.get('reopens', 0)} reopens")
    last = device.get("last_line")
    age = f"last record {tai_time() - last:.1f} s ago" if last else "no record yet"
    rate = device.get("rate_hz") or 0.0
    summary = f"{device.get('sensor_type', '?')}, {prefix}{state}{f' at {rate:.2f} Hz' if rate else ''}, {age}"
    details = [f"port: {device.get('port', '?')}", counters]
    if device.get("last_error"):
        details.append(f"last error: {device['last_error']}")
    data = {"source": "server", "port": device.get("port"), "server": device}
    if state == "streaming":
        if device.get("errors") or device.get("reopens"):
            return _result(name, Status.WARN, summary, details=details, data=data, hint=NOISE_HINT)
        return _result(name, Status.PASS, summary, details=details, data=data)
    if state in ("opening", "closed"):
        return _result(name, Status.WARN, summary, details=details, data=data,
                       hint="The server is (re)starting this device; run diag again in a few seconds.")
    hint = SILENT_HINT if state == "silent" else (
        "The server cannot read this instrument and keeps retrying; see the last error, and the server log "
        "(journalctl -u rpi-ess -e).")
    return _result(name, Status.FAIL, summary, details=details, data=data, hint=hint)


def check_server_device(ctx: DiagContext, device: dict[str, Any]) -> CheckResult:
    """A device the client configured on the server that this node's config does not list."""
    return _server_result(str(device.get("name", "?")), device, "held by rpi-ess (configured by the client): ")


def _open_hint(message: str) -> str:
    if "permission" in message:
        return "The port needs group dialout: sudo usermod -aG dialout USER, then log in again."
    if "does not exist" in message or "not found" in message:
        return ("The port is missing: check the adapter's USB cable, its serial number (ftdi_id) and the udev "
                "names (ls -l /dev/ess /dev/serial/by-id; see 'buses' above).")
    if "busy" in message:
        return "Another program holds the port; see 'buses' above for which one, and stop it."
    return "Check the port setting in the configuration and the adapter (dmesg | tail)."


def _open_failed(name: str, port: str, error: DeviceError, hint: str) -> CheckResult:
    return _result(name, Status.FAIL, f"cannot open {port}", details=[str(error)], hint=hint,
                   data={"source": "listen", "port": port, "open_error": str(error)})


def _shown(data: bytes | tuple[float, ...], charset: str) -> str:
    text = repr(data.decode(charset, errors="backslashreplace")) if isinstance(data, bytes) else repr(data)
    return _clip(text)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def _describe_capture(capture: Capture, sensor: Sensor, port: str) -> tuple[list[str], dict[str, Any]]:
    details = [f"port: {port}"]
    if capture.garbage and capture.raw_head:  # undecodable text would only hide the bytes
        details.append(f"first bytes: {capture.raw_head[:GARBAGE_SHOWN].hex(' ')} …")
    else:
        details += [f"raw: {_shown(sample, sensor.charset)}" for sample in capture.samples]
    if capture.values is not None:
        details.append(f"parsed: {capture.values}")
    details += [f"error: {_clip(error)}" for error in capture.errors]
    rate = capture.rate_hz
    data = {
        "port": port, "seconds": round(capture.seconds, 3), "bytes": capture.bytes_received,
        "records": capture.records, "good": capture.good, "errors": capture.error_count,
        "error_messages": capture.errors, "rate_hz": round(rate, 3) if rate is not None else None,
        "values": capture.values, "raw_samples": [_shown(sample, sensor.charset) for sample in capture.samples],
    }
    return details, data


def _counts(capture: Capture) -> str:
    rate = capture.rate_hz
    text = f"{capture.good} good lines in {capture.seconds:.1f} s"
    if rate is not None:
        text += f" ({rate:.2f} Hz)"
    if capture.error_count:
        text += f", {capture.error_count} unparsable"
    return text


def _probe(config: DeviceConfig, sensor: Sensor, url: str, where: str, seconds: float) -> int | None:
    """The first common baud rate at which the instrument's bytes parse, or None."""
    candidates = dict.fromkeys((sensor.baud_rate, *BAUD_RATES))
    candidates.pop(config.baud_rate, None)
    for rate in candidates:
        try:
            link = SerialLink.open(url, rate, where)
        except DeviceError:
            continue  # a UART that cannot do this rate
        try:
            capture = listen_link(link, sensor, seconds, tai_time, stop_after=1)
        finally:
            link.close()
        if capture.good and capture.good >= capture.error_count:
            return rate
    return None


def _listen_serial(ctx: DiagContext, config: DeviceConfig, sensor: Sensor, device: SerialDevice,
                   url: str, window: float) -> CheckResult:
    name, port = config.name, device.describe
    try:
        link = SerialLink.open(url, config.baud_rate, device.where)
    except DeviceError as e:
        return _open_failed(name, port, e, _open_hint(str(e)))
    try:
        capture = listen_link(link, sensor, window, tai_time)
    finally:
        link.close()
    details, data = _describe_capture(capture, sensor, port)
    data.update(source="listen", baud_rate=config.baud_rate, working_baud_rate=None)
    head = f"{sensor.sensor_type} at {config.baud_rate} baud: "
    if capture.failure:
        return _result(name, Status.FAIL, head + "port failed while listening", details=[capture.failure, *details],
                       data=data, hint=_open_hint(capture.failure))
    if capture.good:
        return _classified(name, head, capture, details, data)
    if not capture.garbage:
        return _result(name, Status.FAIL, head + f"SILENT, no byte in {capture.seconds:.1f} s", details=details,
                       data=data, hint=SILENT_HINT)
    found = _probe(config, sensor, url, device.where, max(ctx.probe, 2 * sensor.period + 0.5))
    data["working_baud_rate"] = found
    garbage = f"{capture.bytes_received} bytes but no valid line"
    if found is not None:
        return _result(name, Status.FAIL, head + f"{garbage}; it answers at {found} baud", details=details,
                       data=data, hint=f"Wrong baud rate: set baud_rate: {found} for {name} in the configuration "
                       f"(CSC and node), or set the instrument back to {config.baud_rate} baud.")
    return _result(name, Status.FAIL, head + f"{garbage} at any common baud rate", details=details, data=data,
                   hint=f"Bytes arrive but never form a valid {sensor.sensor_type} line at "
                   f"{', '.join(map(str, BAUD_RATES))} baud. Check that sensor_type is right, that the "
                   "instrument sends 8N1 without parity, and for RS-485 the A/B wires.")


def _classified(name: str, head: str, capture: Capture, details: list[str], data: dict[str, Any]) -> CheckResult:
    if capture.error_count:
        return _result(name, Status.WARN, head + _counts(capture), details=details, data=data, hint=NOISE_HINT)
    return _result(name, Status.PASS, head + _counts(capture), details=details, data=data)


def _listen_backend(config: DeviceConfig, sensor: Sensor, device: Device, window: float) -> CheckResult:
    """Chips and polled instruments: records through the backend (no raw bytes, no baud probing)."""
    name, port = config.name, device.describe
    head = f"{sensor.sensor_type}: "
    try:
        capture = listen_device(device, window)
    except DeviceError as e:
        hint = ("Check the chip's wiring (3V3, GND, SDA, SCL) and its address in the I2C scan above."
                if config.device_type == "I2C" else _open_hint(str(e)))
        return _open_failed(name, port, e, hint)
    details, data = _describe_capture(capture, sensor, port)
    data["source"] = "listen"
    if capture.failure:
        return _result(name, Status.FAIL, head + "failed while reading", details=[capture.failure, *details],
                       data=data, hint=_open_hint(capture.failure))
    if capture.good:
        return _classified(name, head, capture, details, data)
    if capture.records:
        return _result(name, Status.FAIL, head + "no valid reading", details=details, data=data, hint=NOISE_HINT)
    return _result(name, Status.FAIL, head + f"no reading in {capture.seconds:.1f} s", details=details, data=data,
                   hint=SILENT_HINT)


def check_device(ctx: DiagContext, config: DeviceConfig, server_device: dict[str, Any] | None,
                 same_port: bool = True) -> CheckResult:
    name = config.name
    if server_device is not None:
        return _server_verdict(ctx, config, server_device, same_port)
    try:
        sensor, device = _build(ctx, config)
    except (ValueError, DeviceError) as e:  # unknown sensor or chip, a backend's package missing
        return _result(name, Status.FAIL, str(e), data={"source": "config"},
                       hint="Fix this device's entry in the configuration, or install what the message names.")
    try:
        url = device.port_url() if isinstance(device, SerialDevice) else None
    except DeviceError as e:  # FTDI: no adapter with this serial number
        return _open_failed(name, device.describe, e, _open_hint(str(e)))
    window = max(ctx.listen, 2 * sensor.period + 0.5)
    if url is not None and not is_url(url):
        holders = file_holders(ctx, os.path.realpath(url))
        if holders:
            who = ", ".join(holder.describe() for holder in holders)
            data = {"source": "holders", "port": device.describe, "holders": [holder.pid for holder in holders]}
            if any(is_server_process(ctx, holder) for holder in holders):
                return _result(name, Status.WARN, f"{device.describe} is held by rpi-ess ({who}); not opened",
                               details=[f"server status: {ctx.status_source}"], data=data,
                               hint="The server holds this port but diag could not read its status; check the "
                               "status socket path (--status-socket).")
            return _result(name, Status.FAIL, f"{device.describe} is busy, held by {who}", data=data,
                           hint=holder_hint(holders))
    if isinstance(device, SerialDevice) and url is not None and READERS.get(sensor.protocol) is LineReader:
        return _listen_serial(ctx, config, sensor, device, url, window)
    return _listen_backend(config, sensor, device, window)
