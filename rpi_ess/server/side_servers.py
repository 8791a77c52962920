"""The node's side servers (raw instrument ports, Prometheus metrics), started and stopped with
the ESS server by two lines in :class:`~rpi_ess.server.socket_server.SocketServer`.

Both are opt-in in the node configuration (``raw_ports``, ``metrics_port``) and share the ESS
port's host and client allow-list. prometheus_client is imported only when metrics are on,
so a node without them pays no memory for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .raw_ports import RawPorts

if TYPE_CHECKING:
    from .metrics import MetricsServer
    from .socket_server import SocketServer

__all__ = ["SideServers", "start_side_servers"]

log = logging.getLogger(__name__)


def allow_list(server: SocketServer) -> Callable[[str], bool]:
    node = server.node_config
    return node.client_allowed if node.allowed_clients else (lambda _host: True)


class SideServers:
    def __init__(self, raw_ports: RawPorts, metrics: MetricsServer | None) -> None:
        self.raw_ports = raw_ports
        self.metrics = metrics

    async def close(self) -> None:
        if self.metrics is not None:
            await self.metrics.close()
        await self.raw_ports.close()


async def start_side_servers(server: SocketServer) -> SideServers:
    """Start what the node configuration asks for; an OSError (port in use) stops what started."""
    node: Any = server.node_config
    raw_ports = RawPorts.for_server(server, allow_list(server))
    await raw_ports.start()
    metrics_port = getattr(node, "metrics_port", None)
    metrics = None
    if metrics_port is not None:
        try:
            from .metrics import MetricsServer

            metrics = MetricsServer.for_server(server, metrics_port, allow_list(server), raw_ports.stats)
        except (OSError, ImportError) as e:
            await raw_ports.close()
            if isinstance(e, ImportError):
                raise OSError(f"server.metrics_port needs prometheus_client (pip install 'rpi-ess[metrics]'): {e}"
                              ) from e
            raise OSError(f"metrics port {metrics_port}: {e.strerror or e}") from e
        metrics.start()
    return SideServers(raw_ports, metrics)
