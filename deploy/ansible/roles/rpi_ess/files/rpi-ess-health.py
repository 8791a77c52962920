"""Is the rpi-ess release on this node healthy? Asked through the server's own ``status`` command.

Why not a TCP connect: a server that listens but whose instruments stopped streaming after an update is a
failed update. Healthy means: the local status socket answers ``status`` (response 0), the running version
is the expected one, and every configured instrument is streaming, or at least as many as before the update
(``--baseline``, this script's own earlier output). Retries until ``--timeout``, so devices have time to
start. Prints one JSON line (the last status summary, with ``healthy`` and ``reason``); exit 0 when healthy.
Standard library only: it runs with the node's python3, whichever release is installed.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time

DEFAULT_SOCKET = "/run/rpi-ess/status.sock"


def status(path: str, timeout: float = 3.0) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(b'{"command": "status", "parameters": {}}\r\n')
        answer = json.loads(sock.makefile("rb").readline() or b"null")
    if not isinstance(answer, dict) or answer.get("response") != 0:
        raise ValueError(f"status answered {answer!r}")
    return answer


def summary(answer: dict) -> dict:
    """The few fields the comparison needs, from the ``status`` report (docs/diagnostics.md)."""
    report = answer.get("status", answer)
    devices = report.get("devices") or []
    return {
        "version": (report.get("server") or {}).get("version"),
        "pid": (report.get("server") or {}).get("pid"),
        "devices": len(devices),
        "streaming": sum(1 for d in devices if d.get("state") == "streaming"),
    }


def verdict(now: dict, expect_version: str | None, baseline: dict | None) -> str | None:
    """None when healthy, else the reason."""
    if expect_version and now["version"] != expect_version:
        return f"version {now['version']} is running, expected {expect_version}"
    if now["streaming"] == now["devices"]:
        return None
    before = (baseline or {}).get("streaming", 0)
    if now["streaming"] >= before:
        return None
    return f"{now['streaming']} of {now['devices']} instruments streaming, {before} before the update"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", default=DEFAULT_SOCKET)
    parser.add_argument("--expect-version")
    parser.add_argument("--baseline", help="JSON printed by an earlier run (before the update)")
    parser.add_argument("--timeout", type=float, default=0, help="keep trying this many seconds")
    args = parser.parse_args(argv)
    baseline = json.loads(args.baseline) if args.baseline else None
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            now = summary(status(args.socket))
            reason = verdict(now, args.expect_version, baseline)
        except (OSError, ValueError) as e:
            now, reason = {"version": None, "pid": None, "devices": 0, "streaming": 0}, f"no status: {e}"
        if reason is None or time.monotonic() >= deadline:
            break
        time.sleep(2)
    sys.stdout.write(json.dumps({**now, "healthy": reason is None, "reason": reason}) + "\n")
    return 0 if reason is None else 1


if __name__ == "__main__":
    sys.exit(main())
