"""Build the arm64 OCI and SD-card images and smoke-test both under qemu (tens of minutes, root).

Run with: sudo .venv/bin/python -m pytest -m slow tests/deploy/test_images_slow.py
(the same as `sudo deploy/build-all.sh`; see docs/deployment.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).parents[2] / "deploy"
TOOLS = ("buildah", "mmdebstrap", "qemu-aarch64-static", "qemu-system-aarch64", "umoci", "mcopy", "mkfs.vfat",
         "sfdisk")


@pytest.mark.slow
@pytest.mark.timeout(3 * 3600)
def test_build_images_and_smoke_test_under_qemu():
    missing = [name for name in TOOLS if shutil.which(name) is None]
    if missing or os.geteuid() != 0:
        pytest.skip(f"needs root and {', '.join(missing) or 'nothing else'} (see docs/deployment.md)")
    result = subprocess.run([str(DEPLOY / "build-all.sh")], capture_output=True, text=True, timeout=3 * 3600,
                            check=False)
    assert result.returncode == 0, result.stderr[-6000:]
    assert "smoke test (all) PASSED" in result.stderr
    assert (DEPLOY / "out" / "rpi-ess-arm64.oci.tar").exists()
    assert (DEPLOY / "out" / "rpi-ess-sd.img.xz.sha256").exists()


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("scenario", ["hotplug", "powercut"])
def test_sd_image_scenarios_under_qemu(scenario):
    """deploy/smoke-test.sh hotplug|powercut on an SD image already built (deploy/build-sd-image.sh).

    hotplug: the kernel's ftdi_sio path, an adapter plugged in after the service started, one pulled and put
    back; root fsck in the initramfs, raw ports, root growth, idle boot partition, and a watchdog reset of a
    hung kernel. powercut: 10 boots cut by SIGKILL at seeded moments, no root repair, the node serves after.
    """
    missing = [name for name in ("qemu-system-aarch64", "mcopy", "sfdisk", "ssh") if shutil.which(name) is None]
    if missing or os.geteuid() != 0:
        pytest.skip(f"needs root and {', '.join(missing) or 'nothing else'}")
    if not (DEPLOY / "out" / "rpi-ess-sd.img").exists():
        pytest.skip("no SD image: run deploy/build-sd-image.sh first")
    result = subprocess.run([str(DEPLOY / "smoke-test.sh"), scenario], capture_output=True, text=True,
                            timeout=3600, check=False)
    assert result.returncode == 0, result.stderr[-6000:]
    assert f"smoke test ({scenario}) PASSED" in result.stderr
