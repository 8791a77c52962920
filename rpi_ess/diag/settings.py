"""Turn command-line options and the node configuration into a :class:`DiagContext`."""

from __future__ import annotations

import argparse

from ..devices.config import ConfigError
from ..server.node_config import DEFAULT_NODE_CONFIG_PATH, NodeConfig, load_node_config
from .config import DeviceList, parse_devices, read_config_file
from .context import DiagContext

__all__ = ["build_context"]

WILDCARDS = ("", "0.0.0.0", "::")


def build_context(args: argparse.Namespace) -> DiagContext:
    """Options win over the node configuration, which wins over the defaults."""
    ctx = DiagContext(listen=args.listen)
    node_source = args.node_config or str(DEFAULT_NODE_CONFIG_PATH)
    node_errors: list[str] = []
    try:
        node = load_node_config(args.node_config, check_devices=False)  # each entry reported below
    except ConfigError as e:
        node, node_errors = NodeConfig(), e.errors
    if args.config:
        found = read_config_file(args.config)
    elif node.devices:
        found = parse_devices(list(node.devices), node_source)
    else:
        found = DeviceList(source=f"{node_source} (no devices listed)")
    ctx.devices, ctx.config_source, ctx.config_errors = found.devices, found.source, node_errors + found.errors
    ctx.port = args.port if args.port is not None else node.port
    if node.host not in WILDCARDS:  # the server listens on one address only
        ctx.host = node.host
    ctx.status_socket = args.status_socket or node.status_socket or ctx.status_socket
    return ctx
