"""The Ansible role: lint and syntax check (fast, when ansible-lint is installed); a real run (slow)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ANSIBLE_DIR = Path(__file__).parents[2] / "deploy" / "ansible"


def tool(name: str) -> str:
    """The tool from this interpreter's environment (the test extra), else from PATH; skip when absent."""
    found = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if found is None:
        pytest.skip(f"{name} not installed (pip install ansible-core ansible-lint)")
    return found


def run(*command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(command, cwd=ANSIBLE_DIR, capture_output=True, text=True, timeout=timeout, env=env,
                          check=False)


def test_syntax_check():
    result = run(tool("ansible-playbook"), "--syntax-check", "-i", "inventory.example.ini", "site.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_production_profile():
    result = run(tool("ansible-lint"), "--offline", "--profile", "production")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_real_run_is_idempotent_and_restarts_only_on_change():
    """deploy/ansible/test-local.sh: a systemd-nspawn Debian node over SSH (root, several minutes)."""
    tool("ansible-playbook")
    if os.geteuid() != 0 or shutil.which("systemd-nspawn") is None or shutil.which("mmdebstrap") is None:
        pytest.skip("needs root, systemd-nspawn (systemd-container) and mmdebstrap")
    env = os.environ | {"PATH": f"{Path(tool('ansible-playbook')).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([str(ANSIBLE_DIR / "test-local.sh")], capture_output=True, text=True, timeout=1800,
                            env=env, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "ansible test PASSED" in result.stderr
