"""`rpi-ess serve` with a bad node configuration: one line naming file and setting, status 2, no traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from rpi_ess.devices.config import ConfigError
from rpi_ess.server.node_config import load_node_config

NOBODY = 65534


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rpi_ess", "serve", "--status-socket", "", *args],
                          check=False, capture_output=True, text=True, timeout=60)


def assert_one_line(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].endswith(f"ERROR rpi_ess.serve: Invalid node configuration: {message}")


@pytest.mark.parametrize(("text", "message"), [
    ("server:\n  port: 70000\n", "server.port: must be an integer from 0 to 65535, got 70000"),
    ("server: 5000\n", "server: must be a mapping of settings (e.g. 'port: 5000' indented under it), got 5000"),
    ("devices:\n  - {name: T2, sensor_type: Temprature, device_type: Serial, serial_port: /dev/ttyUSB0}\n",
     "devices[0] ('T2'): sensor_type must be one of Temperature, HX85A, HX85BA, Windsonic, CSAT3B, LD250, "
     "EFM100C, Aurora, Sps30; got 'Temprature'"),
])
def test_bad_file(tmp_path, text, message):
    path = tmp_path / "node.yaml"
    path.write_text(text)
    assert_one_line(serve("--config", str(path)), f"{path}: {message}")


def test_bad_port_option():
    assert_one_line(serve("--port", "70000"), "--port: must be an integer from 0 to 65535, got 70000")


def test_missing_tls_file_is_named(tmp_path):
    path = tmp_path / "node.yaml"
    path.write_text(f"server:\n  tls: {{certfile: {tmp_path}/node.pem, keyfile: {tmp_path}/node.key}}\n")
    result = serve("--config", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 2  # one line per missing file
    assert f"{path}: server.tls.certfile: {tmp_path}/node.pem: no such file" in result.stderr
    assert f"{path}: server.tls.keyfile: {tmp_path}/node.key: no such file" in result.stderr


def errors_as_other_user(path: Path) -> list[str]:
    """Load ``path`` as a user who may not read it: the service user facing a root-owned 0600 file."""
    if os.geteuid() != 0:
        path.chmod(0)
        try:
            load_node_config(path)
        except ConfigError as e:
            return e.errors
        return []
    read, write = os.pipe()
    with warnings.catch_warnings():  # Python 3.12 warns about fork with threads; the child only reads a file
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child drops to nobody; the real kernel permission check does the rest
        os.close(read)
        try:
            os.setegid(NOBODY)
            os.seteuid(NOBODY)
            load_node_config(path)
            errors: list[str] = []
        except ConfigError as e:
            errors = e.errors
        finally:
            os.write(write, json.dumps(locals().get("errors", ["child failed"])).encode())
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(text)


def test_unreadable_file_names_the_user_and_the_fix(tmp_path):
    path = tmp_path / "node.yaml"
    path.write_text("server:\n  port: 5000\n")
    path.chmod(0o600)
    tmp_path.chmod(0o755)
    user = "nobody" if os.geteuid() == 0 else __import__("getpass").getuser()
    assert errors_as_other_user(path) == [
        f"{path}: permission denied for user {user} (make it readable by the service, e.g. group rpi-ess, mode 0640)"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl command not available")
    folder = tmp_path_factory.mktemp("tls")
    for name in ("a", "b"):
        subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "1", "-subj", f"/CN={name}"],
                       cwd=folder, check=True, capture_output=True, timeout=60)
    subprocess.run([openssl, "ec", "-in", "a.key", "-out", "encrypted.key", "-aes256", "-passout", "pass:x"],
                   cwd=folder, check=True, capture_output=True, timeout=60)
    (folder / "garbage.pem").write_text("not a certificate\n")
    return folder


@pytest.mark.parametrize(("files", "message"), [
    (("a.pem", "a.key"), None),
    (("a.pem", "b.key"), "server.tls.keyfile: {d}/b.key: does not match the certificate in {d}/a.pem"),
    (("garbage.pem", "a.key"),
     "server.tls.certfile: {d}/garbage.pem: not a PEM certificate (no BEGIN CERTIFICATE line)"),
    (("a.pem", "garbage.pem"),
     "server.tls.keyfile: {d}/garbage.pem: not a PEM private key (no BEGIN PRIVATE KEY line)"),
    (("a.pem", "encrypted.key"),
     "server.tls.keyfile: {d}/encrypted.key: the key is encrypted; the service needs an unencrypted key (mode 0600)"),
    (("a.pem", "a.key", "garbage.pem"),
     "server.tls.client_ca: {d}/garbage.pem: not a PEM CA certificate bundle (NO_CERTIFICATE_OR_CRL_FOUND)"),
    (("a.pem", "a.key", "."), "server.tls.client_ca: {d}: is a directory, not a file"),
])
def test_tls_files_are_checked_at_load(tmp_path, pki, files, message):
    names = dict(zip(("certfile", "keyfile", "client_ca"), (str(pki / f) for f in files), strict=False))
    path = tmp_path / "node.yaml"
    path.write_text(json.dumps({"server": {"tls": names}}))
    if message is None:
        assert load_node_config(path).tls.context() is not None
        return
    with pytest.raises(ConfigError) as info:
        load_node_config(path)
    assert info.value.errors == [f"{path}: {message.format(d=pki)}"]


def test_status_socket_in_a_missing_directory_is_named(tmp_path):
    assert_one_line(serve("--status-socket", f"{tmp_path}/none/status.sock"),
                    f"--status-socket: {tmp_path}/none/status.sock: its directory {tmp_path}/none does not exist")
    path = tmp_path / "node.yaml"
    path.write_text(f"server:\n  status_socket: {tmp_path}/gone/s.sock\n")
    result = subprocess.run([sys.executable, "-m", "rpi_ess", "serve", "--config", str(path)],
                            check=False, capture_output=True, text=True, timeout=60)
    assert_one_line(result, f"{path}: server.status_socket: {tmp_path}/gone/s.sock: its directory {tmp_path}/gone "
                    "does not exist")
