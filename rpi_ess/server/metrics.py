"""Prometheus metrics of a running node (opt-in ``server.metrics_port``).

Nothing is counted for Prometheus on the telemetry path: at scrape time one status
snapshot (the dict the ``status`` command returns, taken on the event loop like that
command) is turned into metric families by a custom collector, so a node with metrics on
does no more work per line than one without. The HTTP side is prometheus_client's own
WSGI app and exposition on one small thread, behind the ESS port's client allow-list.
Keys missing from the snapshot (older or newer report shapes) just leave their metrics out.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import platform
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import WSGIRequestHandler, WSGIServer, make_wsgi_app
from prometheus_client.registry import Collector, CollectorRegistry

from .. import __version__

if TYPE_CHECKING:
    from .socket_server import SocketServer

__all__ = ["MetricsServer", "StatusCollector", "status_families"]

log = logging.getLogger(__name__)

SNAPSHOT_TIMEOUT = 5.0  # a scrape fails (HTTP 500) rather than hang when the event loop does not answer
REQUEST_TIMEOUT = 5.0  # a client that sends its request slower than this is dropped
PREFIX = "rpi_ess"
ERROR_CLASSES = ("open", "timeout", "read", "parse", "overflow")

Snapshot = Callable[[], Mapping[str, Any]]


def _device_families(devices: list[Mapping[str, Any]]) -> Iterator[Metric]:
    labels = ["device"]

    def counter(name: str, doc: str, key: str) -> CounterMetricFamily:
        family = CounterMetricFamily(f"{PREFIX}_device_{name}", doc, labels=labels)
        for d in devices:
            if isinstance(d.get(key), int | float):
                family.add_metric([d["name"]], d[key])
        return family

    def gauge(name: str, doc: str, value: Callable[[Mapping[str, Any]], Any]) -> GaugeMetricFamily:
        family = GaugeMetricFamily(f"{PREFIX}_device_{name}", doc, labels=labels)
        for d in devices:
            v = value(d)
            if isinstance(v, bool | int | float):
                family.add_metric([d["name"]], float(v))
        return family

    info = InfoMetricFamily(f"{PREFIX}_device", "What each configured device is (value always 1)", labels=labels)
    state = GaugeMetricFamily(f"{PREFIX}_device_state", "1 for the state the device is in now",
                              labels=[*labels, "state"])
    errors = CounterMetricFamily(f"{PREFIX}_device_errors", "Failures by class (docs/operations.md)",
                                 labels=[*labels, "class"])
    for d in devices:
        name = d["name"]
        info.add_metric([name], {k: str(d.get(k, "")) for k in ("sensor_type", "device_type", "port")})
        if "state" in d:
            state.add_metric([name, str(d["state"])], 1.0)
        classes = d.get("error_classes")
        if isinstance(classes, Mapping):
            for cls in sorted({*ERROR_CLASSES, *classes}):
                errors.add_metric([name, cls], classes.get(cls, 0))
    yield from (info, state, errors)
    yield counter("lines", "Telemetry lines produced (good and error)", "lines")
    yield counter("good_readings", "Readings that parsed and were sent with response_code 0", "good_readings")
    yield counter("error_lines", "Lines sent with response_code 10 (all classes)", "errors")
    yield counter("reopens", "Times the port was reopened after a failure", "reopens")
    yield counter("restarts", "Crashes of the reader loop itself (bugs)", "restarts")
    yield counter("dropped_lines", "Telemetry lines dropped because the client read too slowly", "dropped")
    yield gauge("queue_depth", "Telemetry lines waiting for the client", lambda d: d.get("queue_depth"))
    yield gauge("seconds_since_good_reading", "Age of the last good reading (absent: none yet)",
                lambda d: d.get("seconds_since_good"))
    yield gauge("rate_hz", "Lines per second over the last few seconds", lambda d: d.get("rate_hz"))
    episode = lambda key: lambda d: (d.get("episode") or {}).get(key)  # noqa: E731 - four one-liners
    yield gauge("episode_active", "1 while the device is in a failure episode", episode("active"))
    yield gauge("episode_reporting", "1 while the episode's failures are being reported to the CSC",
                episode("reporting"))
    yield gauge("episode_start_timestamp_seconds", "When the current failure episode began", episode("since"))
    yield gauge("episode_duration_seconds", "How long the current failure episode has lasted", episode("seconds"))
    yield gauge("episode_failures", "Failures counted in the current episode", episode("failures"))
    yield gauge("episode_budget_remaining_seconds", "Error budget left before the CSC would fault",
                episode("budget_remaining_s"))


def _raw_port_families(raw_ports: Mapping[str, Mapping[str, Any]]) -> Iterator[Metric]:
    rows = (("readers", GaugeMetricFamily, "Readers connected to the device's raw port"),
            ("bytes_sent", CounterMetricFamily, "Instrument bytes sent to raw-port readers (all readers)"),
            ("dropped_bytes", CounterMetricFamily, "Bytes raw-port readers lost because they read too slowly"),
            ("bytes_written", CounterMetricFamily, "Bytes raw-port readers wrote to the instrument"))
    for key, kind, doc in rows:
        family = kind(f"{PREFIX}_raw_port_{key}", doc, labels=["device", "port"])
        for device, stats in sorted(raw_ports.items()):
            family.add_metric([device, str(stats.get("port", ""))], stats.get(key, 0))
        yield family


def _clock_families(clock: Any) -> Iterator[Metric]:
    info = InfoMetricFamily(f"{PREFIX}_clock", "Where the node's TAI timestamps come from")
    if isinstance(clock, Mapping):
        synced = clock.get("synchronised", clock.get("synchronized"))
        if isinstance(synced, bool):
            yield GaugeMetricFamily(f"{PREFIX}_clock_synchronised", "1 if the system clock is synchronised",
                                    value=float(synced))
        info.add_metric([], {str(k): str(v) for k, v in clock.items() if not isinstance(v, Mapping | list)})
    elif clock is not None:
        info.add_metric([], {"description": str(clock)})
    yield info


def status_families(status: Mapping[str, Any], raw_ports: Mapping[str, Mapping[str, Any]] | None = None
                    ) -> Iterator[Metric]:
    """Metric families of one ``status_report()`` snapshot (and raw-port counters)."""
    server = status.get("server") or {}
    client = status.get("client")
    build = InfoMetricFamily(f"{PREFIX}_build", "Version of the running server")
    build.add_metric([], {"version": str(server.get("version", __version__)), "python": platform.python_version()})
    yield build
    if "started" in server:
        yield GaugeMetricFamily(f"{PREFIX}_start_time_seconds", "When the server started (unix time)",
                                value=server["started"])
    yield from _clock_families(server.get("clock"))
    yield GaugeMetricFamily(f"{PREFIX}_client_connected", "1 while a CSC client is connected",
                            value=float(client is not None))
    yield GaugeMetricFamily(f"{PREFIX}_configured", "1 while devices are configured",
                            value=float(bool(status.get("configured"))))
    for key, doc in (("lines_sent", "Telemetry lines sent to the current client"),
                     ("lines_dropped", "Telemetry lines dropped for the current client (too slow)"),
                     ("bytes_sent", "Bytes sent to the current client")):
        family = CounterMetricFamily(f"{PREFIX}_client_{key}", doc)
        if isinstance(client, Mapping) and isinstance(client.get(key), int | float):
            family.add_metric([], client[key])
        yield family
    commands = CounterMetricFamily(f"{PREFIX}_commands", "Commands answered, by response code", labels=["code"])
    for code, count in sorted((status.get("commands") or {}).items()):
        commands.add_metric([str(code)], count)
    yield commands
    yield from _device_families([d for d in status.get("devices") or [] if "name" in d])
    if raw_ports is not None:
        yield from _raw_port_families(raw_ports)


class StatusCollector(Collector):
    """Builds every family from one snapshot per scrape: no cost between scrapes."""

    def __init__(self, snapshot: Snapshot, raw_ports: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None
                 ) -> None:
        self.snapshot = snapshot
        self.raw_ports = raw_ports

    def collect(self) -> Iterator[Metric]:
        yield from status_families(self.snapshot(), self.raw_ports() if self.raw_ports is not None else None)


def on_loop(loop: asyncio.AbstractEventLoop, function: Callable[[], Any], timeout: float = SNAPSHOT_TIMEOUT) -> Any:
    """Run ``function`` on the event loop from another thread and return its result.

    The snapshot is then as consistent as the ``status`` command's; a hung loop makes the
    scrape fail (which an operator sees) instead of returning stale figures.
    """
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def run() -> None:
        try:
            future.set_result(function())
        except BaseException as e:
            future.set_exception(e)

    loop.call_soon_threadsafe(run)
    return future.result(timeout)


class _Handler(WSGIRequestHandler):
    timeout = REQUEST_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every 15 s would flood the log."""


class _FilteredServer(WSGIServer):
    """One request at a time (a scrape is small), refused before reading it unless allowed."""

    allowed: Callable[[str], bool] = staticmethod(lambda _host: True)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if self.allowed(client_address[0]):
            return True
        log.warning("Metrics request from %s refused (not in server.allowed_clients)", client_address[0])
        return False


class MetricsServer:
    """The HTTP endpoint on ``metrics_port``: ``/metrics`` (any path works, as in prometheus_client)."""

    def __init__(self, host: str, port: int, collector: Collector, allowed: Callable[[str], bool]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        server_class = type("MetricsHttpServer", (_FilteredServer,), {
            "address_family": socket.AF_INET6 if ":" in host else socket.AF_INET,
            "allowed": staticmethod(allowed),
        })
        self._httpd = server_class((host, port), _Handler)
        self._httpd.set_app(make_wsgi_app(self.registry))
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="rpi-ess-metrics", daemon=True)

    @classmethod
    def for_server(cls, server: SocketServer, port: int, allowed: Callable[[str], bool],
                   raw_ports: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None) -> MetricsServer:
        """The endpoint of a running :class:`SocketServer` (call it on the event loop)."""
        loop = asyncio.get_running_loop()

        def report() -> Mapping[str, Any]:
            return server.command_handler.status_report()  # looked up each time: the handler may be replaced

        collector = StatusCollector(lambda: on_loop(loop, report),
                                    (lambda: on_loop(loop, raw_ports)) if raw_ports is not None else None)
        return cls(server.host or "0.0.0.0", port, collector, allowed)

    def start(self) -> None:
        self._thread.start()
        log.info("Metrics on port %d", self.port)

    async def close(self) -> None:
        """Stop serving; the wait for the HTTP thread (up to its poll interval) runs off the loop."""
        if self._thread.is_alive():
            await asyncio.to_thread(self._httpd.shutdown)
            self._thread.join()
        self._httpd.server_close()
