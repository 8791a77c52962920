"""The node configuration shown to operators in docs/operations.md is one the server accepts."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from rpi_ess.server.node_config import node_config_from_dict

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def test_the_operations_example_configures_metrics_and_raw_ports():
    block = re.search(r"```yaml\n(.*?)```", DOC.read_text(), re.S).group(1)
    node = node_config_from_dict(yaml.safe_load(block))
    assert node.metrics_port == 9105
    assert dict(node.raw_ports) == {"WS1": 15000, "T1": 4001}
    assert node.raw_ports_writable == frozenset({"WS1"})
