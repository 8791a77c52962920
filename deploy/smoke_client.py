"""Minimal ESS client for smoke tests: connect, heartbeat, configure one device, wait for telemetry.

Standard library only, independent of the rpi_ess package, so it checks the wire protocol as the CSC sees it
(PROTOCOL 1.4: heartbeats from the first moment; 2: configure; 3.1: telemetry lines) against a server
running anywhere: under qemu-user, in a qemu-system VM behind a forwarded port, or on a real node.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time

CONFIGURE = {
    "command": "configure",
    "parameters": {"configuration": {"devices": [{
        "name": "SmokeTemp", "sensor_type": "Temperature", "channels": 4, "device_type": "Serial",
        "serial_port": "/dev/null", "baud_rate": 19200,
    }]}},
}


def connect(host: str, port: int, deadline: float) -> socket.socket:
    """Retry until the server accepts and keeps the connection (it may still be starting)."""
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            sock = socket.create_connection((host, port), timeout=5)
        except OSError as e:
            last = e
            time.sleep(1)
            continue
        return sock
    raise TimeoutError(f"no server at {host}:{port}: {last}")


def heartbeat(sock: socket.socket, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            sock.sendall(b"heartbeat\r\n")
        except OSError:
            return
        stop.wait(1.0)


def session(host: str, port: int, want: int, deadline: float) -> list[dict]:
    """One client session; returns the telemetry records, raises on any protocol failure."""
    sock = connect(host, port, deadline)
    stop = threading.Event()
    beater = threading.Thread(target=heartbeat, args=(sock, stop), daemon=True)
    beater.start()
    try:
        sock.sendall(json.dumps(CONFIGURE).encode() + b"\r\n")
        reader = sock.makefile("rb")
        sock.settimeout(max(1.0, deadline - time.monotonic()))
        telemetry: list[dict] = []
        configured = False
        while len(telemetry) < want:
            line = reader.readline()
            if not line:
                raise ConnectionError("server closed the connection")
            if not line.endswith(b"\r\n"):
                raise ValueError(f"line without CRLF: {line!r}")
            message = json.loads(line)
            if "response" in message:
                if message["response"] != 0:
                    raise ValueError(f"configure refused: {message}")
                configured = True
            elif "telemetry" in message and configured:
                # Lines before the response are allowed (PROTOCOL 2.2) and skipped, as the CSC does.
                telemetry.append(message["telemetry"])
        return telemetry
    finally:
        stop.set()
        sock.close()
        beater.join(timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--telemetry", type=int, default=3, help="telemetry lines to wait for")
    parser.add_argument("--timeout", type=float, default=120, help="seconds, including server start-up")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            records = session(args.host, args.port, args.telemetry, deadline)
            break
        except (ConnectionError, TimeoutError, OSError) as e:
            # A connection closed at once is a server still starting or busy with a stale client: retry.
            if time.monotonic() >= deadline:
                sys.stderr.write(f"smoke client: FAILED: {e}\n")
                return 1
            time.sleep(1)
        except ValueError as e:
            sys.stderr.write(f"smoke client: FAILED: {e}\n")
            return 1
    for record in records:
        sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.write(f"smoke client: OK, configured and received {len(records)} telemetry lines\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
