"""README and .ci/run agree with the code (issue 15 items 5 and 6)."""

import re
import subprocess
from pathlib import Path

from rpi_ess.server.node_config import load_node_config

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
CI_RUN = (ROOT / ".ci" / "run").read_text()


def test_readme_node_yaml_is_valid_and_does_not_lock_out_localhost(tmp_path):
    section = README[README.index("## Node configuration"):]
    example = section[section.index("```yaml\n") + 8:section.index("\n```", section.index("```yaml\n"))]
    path = tmp_path / "node.yaml"
    path.write_text(example)
    node = load_node_config(path)
    assert node.client_allowed("127.0.0.1") and node.client_allowed("::1")
    assert node.allow_exit is False  # what docs/security.md recommends
    assert "allow_exit: false" in (ROOT / "docs" / "security.md").read_text()


def test_ci_runs_exactly_the_readme_test_command():
    tests = README[README.index("**Tests**"):]
    command = next(line.strip() for line in tests.splitlines() if line.startswith("    "))
    assert command in CI_RUN.splitlines()
    subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], check=True, timeout=30)


def test_every_package_ci_installs_is_in_the_readme():
    packages = re.search(r"PACKAGES=\(([^)]*)\)", CI_RUN).group(1).split()
    table = README[README.index("Which tests skip"):README.index("## Other commands")]
    assert [p for p in packages if f"`{p}`" not in table] == []
