"""``rpi-ess tap DEVICE``: the live raw bytes of one device of the running server.

What a technician runs when a device shows parse errors: exactly what the instrument sends
(and, for request/response instruments such as the SPS30, what the server asks), without
stopping the service or unplugging anything. It goes through the local status socket,
is read-only, and cannot slow the telemetry: a tap that cannot keep up loses bytes and
prints how many (docs/diagnostics.md, "rpi-ess tap").
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

__all__ = ["format_event", "register", "run"]

EPILOG = """\
Each line is one chunk as the device's reader thread saw it: "rx" from the instrument,
"tx" to it (SPS30 requests). Text shows \\r, \\n and other non-printable bytes as escapes.
Exit status: 0 after --seconds or Ctrl-C, 1 if the server or device cannot be tapped.

Examples:
  rpi-ess tap T1                       # what the instrument named T1 sends
  rpi-ess tap PM --hex --timestamps    # SPS30 frames in both directions
  rpi-ess tap T1 --seconds 10 > t1.log
"""

MAX_LINE = 1 << 22  # one event line: a hex chunk of up to the tap buffer, with room to spare
_ESCAPES = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x5C: "\\\\"}


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tap",
        help="show the live raw bytes of one device of the running server (read-only)",
        description="Show the raw bytes a device of the running rpi-ess server reads (and writes), live, through\n"
        "its local status socket. Read-only; the telemetry to the CSC is not affected.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("device", metavar="DEVICE", help="device name, as in the CSC's configuration")
    parser.add_argument("--hex", action="store_true", help="show bytes as hex instead of escaped text")
    parser.add_argument("--timestamps", action="store_true", help="prefix each chunk with its UTC arrival time")
    parser.add_argument("--seconds", type=_seconds, metavar="N", help="stop after N seconds (default: until Ctrl-C)")
    parser.add_argument("--status-socket", metavar="PATH",
                        help="the server's status socket (default: node configuration, else "
                        "$RUNTIME_DIRECTORY/status.sock or /run/rpi-ess/status.sock)")
    parser.add_argument("--node-config", metavar="FILE", help="node configuration (default /etc/rpi-ess/node.yaml)")
    parser.set_defaults(func=run)


def _text(data: bytes) -> str:
    return "".join(_ESCAPES.get(b) or (chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}") for b in data)


def format_event(event: dict[str, Any], hex_dump: bool = False, timestamps: bool = False) -> str:
    """One output line for one event of the status socket's tap stream."""
    if "hex" in event:
        data = bytes.fromhex(event["hex"])
        shown = data.hex(" ") if hex_dump else _text(data)
        stamp = ""
        if timestamps:
            stamp = datetime.fromtimestamp(event["time"], UTC).strftime("%H:%M:%S.%f")[:-3] + " "
        return f"{stamp}{event['dir']} {shown}"
    if "dropped_bytes" in event:
        return f"-- {event['dropped_bytes']} bytes dropped: this tap read too slowly --"
    if "attached" in event:
        return f"-- attached to {event['attached']} --"
    if "detached" in event:
        return f"-- {event['detached']} --"
    return f"-- {json.dumps(event)} --"


def _socket_path(args: argparse.Namespace) -> str:
    if args.status_socket:
        return str(args.status_socket)
    from ..server.status_socket import default_status_socket_path

    try:
        from ..server.node_config import load_node_config

        node_socket = load_node_config(args.node_config).status_socket
    except Exception:  # a bad or unreadable node file: the default path still works
        node_socket = None
    return node_socket or default_status_socket_path()


class TapError(Exception):
    pass


def _open(path: str, device: str) -> tuple[socket.socket, IO[bytes]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(5.0)
        sock.connect(path)
        request = {"command": "tap", "parameters": {"device": device}}
        sock.sendall(json.dumps(request).encode() + b"\r\n")
        stream = sock.makefile("rb")
        reply = json.loads(stream.readline(MAX_LINE) or b"{}")
    except OSError as e:
        sock.close()
        raise TapError(f"cannot reach the server's status socket {path}: {e.strerror or e} "
                       "(is rpi-ess serve running? see --status-socket)") from e
    except ValueError as e:
        sock.close()
        raise TapError(f"{path}: the server's reply is not JSON") from e
    if reply.get("response") != 0:
        sock.close()
        message = reply.get("message") or "the server does not support tap (older version?)"
        raise TapError(f"cannot tap {device!r}: {message}")
    return sock, stream


def _stream(sock: socket.socket, stream: IO[bytes], args: argparse.Namespace, out: IO[str],
            totals: dict[str, int]) -> None:
    """Print events until --seconds have passed; ``totals`` counts bytes per direction and drops."""
    deadline = time.monotonic() + args.seconds if args.seconds else None
    while True:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            sock.settimeout(remaining)
        else:
            sock.settimeout(None)
        try:
            line = stream.readline(MAX_LINE)
        except TimeoutError:
            break
        if not line:
            raise TapError("the server closed the tap (stopped?)")
        event = json.loads(line)
        if "hex" in event:
            totals[event["dir"]] = totals.get(event["dir"], 0) + len(event["hex"]) // 2
        totals["dropped"] += event.get("dropped_bytes", 0)
        print(format_event(event, args.hex, args.timestamps), file=out, flush=True)


def run(args: argparse.Namespace) -> int:
    totals = {"rx": 0, "tx": 0, "dropped": 0}
    try:
        sock, stream = _open(_socket_path(args), args.device)
        with sock, stream:
            _stream(sock, stream, args, sys.stdout, totals)
    except TapError as e:
        print(f"rpi-ess tap: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    print(f"rpi-ess tap: {totals['rx']} bytes rx, {totals['tx']} bytes tx, {totals['dropped']} bytes dropped",
          file=sys.stderr)
    return 0
