"""Service checks: is rpi-ess running, reachable, serving a client, and streaming?"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from ..tai import tai_time
from .context import DiagContext
from .model import CheckResult, Status, format_duration
from .procfs import TCP_ESTABLISHED, TCP_LISTEN, socket_owners, tcp_sockets

__all__ = ["SERVICE_CHECKS"]

_result = partial(CheckResult, "service")

COMMAND_TIMEOUT = 3.0
STALE_TELEMETRY_S = 10.0
LOG_HINT = "Read the server log: journalctl -u rpi-ess -e"


def check_systemd(ctx: DiagContext) -> CheckResult:
    if ctx.simulated:
        return _result("systemd", Status.SKIP, "simulated server (no systemd unit)")
    done = ctx.run(["systemctl", "show", "-p", "LoadState", "-p", "ActiveState", "-p", "SubState",
                    "-p", "MainPID", "-p", "NRestarts", ctx.unit], COMMAND_TIMEOUT)
    if done is None or done.returncode != 0:
        return _result("systemd", Status.SKIP, "systemd not available on this host")
    state = dict(line.partition("=")[::2] for line in done.stdout.splitlines())
    data: dict[str, Any] = {"unit": ctx.unit, **{key.lower(): value for key, value in state.items()}}
    if state.get("LoadState") == "not-found":
        return _result("systemd", Status.FAIL, f"{ctx.unit} is not installed", data=data,
                       hint="Install the service unit (see docs/deployment.md), then: "
                       "sudo systemctl enable --now rpi-ess")
    active, sub = state.get("ActiveState", "?"), state.get("SubState", "?")
    summary = f"{ctx.unit} {active} ({sub})"
    if active != "active":
        hint = (f"{LOG_HINT}; fix the cause, then: sudo systemctl restart rpi-ess" if active == "failed"
                else "Start it: sudo systemctl enable --now rpi-ess")
        return _result("systemd", Status.FAIL, summary, data=data, hint=hint)
    restarts = int(state.get("NRestarts") or 0)
    summary += f", pid {state.get('MainPID', '?')}"
    if restarts:
        return _result("systemd", Status.WARN, f"{summary}, restarted {restarts} times since boot", data=data,
                       hint=f"The server crashed and was restarted. {LOG_HINT}")
    return _result("systemd", Status.PASS, summary, data=data)


def check_listening(ctx: DiagContext) -> CheckResult:
    listeners = [entry for entry in tcp_sockets(ctx, ctx.port) if entry.state == TCP_LISTEN]
    if not listeners:
        return _result("port", Status.FAIL, f"nothing listens on TCP port {ctx.port}", data={"port": ctx.port},
                       hint="The server is not running (see systemd above) or was started with another --port.")
    owners = socket_owners(ctx, {entry.inode for entry in listeners})
    where = ", ".join(sorted({f"{host}:{port}" for host, port in (entry.local for entry in listeners)}))
    by = f" by {', '.join(owner.describe() for owner in owners)}" if owners else ""
    return _result("port", Status.PASS, f"listening on {where}{by}",
                   data={"port": ctx.port, "addresses": where.split(", "), "pids": [o.pid for o in owners]})


def check_status(ctx: DiagContext) -> CheckResult:
    status = ctx.server_status
    if status is None:
        return _result("status", Status.FAIL, "the server does not answer", details=[ctx.status_source],
                       hint="Start the server, or point diag at it with --status-socket PATH (a server started "
                       "by hand logs 'Status socket at PATH') or --port PORT. An rpi-ess older than this diag "
                       "cannot answer the status command.")
    server = status["server"]
    summary = (f"rpi-ess {server.get('version', '?')}, pid {server.get('pid', '?')}, "
               f"up {format_duration(server.get('uptime_s') or 0.0)}")
    if server.get("simulation_mode"):
        summary += ", SIMULATION mode"
    details = [f"asked via {ctx.status_source}", f"server clock: {server.get('clock', '?')}",
               f"diag clock:   {tai_time.describe()}"]
    data = {"source": ctx.status_source, "server": server, "configured": bool(status.get("configured"))}
    if server.get("simulation_mode") and not ctx.simulated:
        return _result("status", Status.WARN, summary, details=details, data=data,
                       hint="The server sends simulated telemetry, not instrument data: restart it without "
                       "--simulate.")
    return _result("status", Status.PASS, summary, details=details, data=data)


def _since(unix: float | None) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(unix)) if unix else "?"


def check_client(ctx: DiagContext) -> CheckResult:
    status = ctx.server_status
    if status is None:
        peers = [entry.remote for entry in tcp_sockets(ctx, ctx.port) if entry.state == TCP_ESTABLISHED]
        if not peers:
            return _result("client", Status.SKIP, "unknown (no server status)")
        host, port = peers[0]
        return _result("client", Status.PASS, f"{host}:{port} connected (from the socket table)",
                       data={"address": f"{host}:{port}"})
    client = status.get("client")
    if not client:
        return _result("client", Status.WARN, "no client connected", data={"client": None},
                       hint="The CSC is not connected: check that the ESS CSC is enabled and that its config "
                       f"points at this node's address and port {ctx.port}; check firewalls on the way.")
    summary = (f"{client.get('address', '?')} since {_since(client.get('connected_since'))}, "
               f"{client.get('lines_sent', 0)} lines sent")
    dropped = client.get("lines_dropped", 0)
    if dropped:
        return _result("client", Status.WARN, f"{summary}, {dropped} dropped", data={"client": client},
                       hint="Telemetry lines were dropped because the client read too slowly: check the "
                       "network between node and CSC, and the CSC host's load.")
    return _result("client", Status.PASS, summary, data={"client": client})


def check_telemetry(ctx: DiagContext) -> CheckResult:
    status = ctx.server_status
    if status is None:
        return _result("telemetry", Status.SKIP, "unknown (no server status)")
    devices = status.get("devices") or []
    if not devices:
        if status.get("client"):
            return _result("telemetry", Status.WARN, "client connected but no device configured",
                           hint="The CSC has not sent 'configure' (or it failed): check the CSC's log for "
                           "the response code.")
        return _result("telemetry", Status.PASS, "idle: no device configured until a client configures one")
    last = max((device.get("last_line") or 0.0 for device in devices), default=0.0)
    totals = {key: sum(int(device.get(key) or 0) for device in devices)
              for key in ("lines", "errors", "dropped", "reopens")}
    counters = ", ".join(f"{value} {key}" for key, value in totals.items())
    data = {"last_line": last or None, **totals}
    if not last:
        return _result("telemetry", Status.FAIL, f"no telemetry yet from {len(devices)} device(s); {counters}",
                       data=data, hint="See the device lines below for the instrument that is silent.")
    age = tai_time() - last
    summary = f"last record {age:.1f} s ago; {counters}"
    data["age_s"] = round(age, 3)
    if age > STALE_TELEMETRY_S:
        return _result("telemetry", Status.FAIL, summary, data=data,
                       hint="No device has produced a record recently; see the device lines below.")
    if totals["errors"] or totals["dropped"] or totals["reopens"]:
        return _result("telemetry", Status.WARN, summary, data=data,
                       hint="Some records failed to parse, were dropped or devices reopened; the device lines "
                       f"below say which. {LOG_HINT}")
    return _result("telemetry", Status.PASS, summary, data=data)


SERVICE_CHECKS = (check_systemd, check_listening, check_status, check_client, check_telemetry)
