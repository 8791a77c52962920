"""Container health check: is the rpi-ess server accepting connections?

Why the status socket first: the ESS port takes one client at a time, so probing port 5000 briefly
occupies the slot a real client might want; the local status socket answers `status` at no such cost.
The TCP probe is the fallback for servers started without a status socket. A second TCP client is
closed by the server without touching the first (PROTOCOL 1.3), so the probe never disturbs a connected
controller.
"""

from __future__ import annotations

import json
import os
import socket
import sys

TIMEOUT = 3.0


def status_socket_path() -> str:
    runtime = os.environ.get("RUNTIME_DIRECTORY", "/run/rpi-ess").split(":")[0]
    return os.environ.get("RPI_ESS_STATUS_SOCKET", os.path.join(runtime, "status.sock"))


def probe() -> str:
    """Return what answered; raise OSError when nothing did."""
    path = status_socket_path()
    if os.path.exists(path):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(path)
            sock.sendall(b'{"command": "status", "parameters": {}}\r\n')
            answer = json.loads(sock.makefile("rb").readline() or b"null")
        if not isinstance(answer, dict) or answer.get("response") != 0:
            raise ValueError(f"status socket {path} answered {answer!r}")
        return f"status socket {path}"
    port = int(os.environ.get("RPI_ESS_PORT", "5000"))
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT):
        return f"tcp port {port}"


def main() -> int:
    try:
        what = probe()
    except (OSError, ValueError) as e:
        sys.stderr.write(f"rpi-ess unhealthy: {e}\n")
        return 1
    sys.stdout.write(f"rpi-ess healthy: {what}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
