"""The SD image's size budget: the numbers docs/deployment.md states are the ones the build enforces."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_the_documented_size_budget_is_the_enforced_one():
    script = (ROOT / "deploy" / "build-sd-image.sh").read_text()
    docs = (ROOT / "docs" / "deployment.md").read_text()
    enforced = dict(re.findall(r'within_budget "\$img(?:\.xz)?" "\$\{(\w+):-(\d+)\}"', script))
    assert set(enforced) == {"RAW_BUDGET_MIB", "XZ_BUDGET_MIB"}
    for name, row in (("RAW_BUDGET_MIB", "raw SD image"), ("XZ_BUDGET_MIB", "compressed SD image")):
        line = next(line for line in docs.splitlines() if line.startswith(f"| {row} "))
        assert f"| {enforced[name]} MiB |" in line, (name, line)
