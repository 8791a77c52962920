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

__all__ = ["DisplayLines", "format_event", "register", "run"]

EPILOG = """\
"rx" is what the instrument sent, "tx" what the server sent to it (SPS30 requests). Text is
shown a line at a time (up to each \\n), --hex a burst at a time; a pause of 0.1 s or a change
of direction also ends a line. Text shows \\r, \\n and other non-printable bytes as escapes.
Exit status: 0 after --seconds or Ctrl-C, 1 if the server or device cannot be tapped.

Examples:
  rpi-ess tap T1                       # what the instrument named T1 sends
  rpi-ess tap PM --hex --timestamps    # SPS30 frames in both directions
  rpi-ess tap T1 --seconds 10 > t1.log
"""

MAX_LINE = 1 << 22  # one event line: a hex chunk of up to the tap buffer, with room to spare
PAUSE = 0.1  # seconds of quiet that end a displayed line: the reader's chunks are often a few bytes
MAX_SHOWN = 4096  # bytes in one displayed line at most (a babbling instrument without newlines)
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


class DisplayLines:
    """Joins the reader thread's chunks into lines a person can read.

    A serial port hands over what arrived within its latency timer (a few bytes at 19200
    baud), so one chunk per line would split every record. Text ends a line after each
    ``\\n``; any data ends one at a change of direction, a pause of ``PAUSE`` or ``MAX_SHOWN`` bytes.
    The time shown is when the line's first byte arrived.
    """

    def __init__(self, hex_dump: bool = False, timestamps: bool = False) -> None:
        self.hex_dump, self.timestamps = hex_dump, timestamps
        self._dir = ""
        self._data = bytearray()
        self._first = self._last = 0.0  # server times (arrival at the port) of the line's first and last chunk
        self._seen = 0.0  # time.monotonic() here when the last chunk was shown to us

    def add(self, direction: str, data: bytes, when: float) -> list[str]:
        lines = self.flush() if self._data and (direction != self._dir or when - self._last > PAUSE) else []
        if not self._data:
            self._dir, self._first = direction, when
        self._data += data
        self._last, self._seen = when, time.monotonic()
        while not self.hex_dump and (end := self._data.find(b"\n") + 1):
            lines.append(self._line(self._data[:end]))
            del self._data[:end]
            self._first = when
        if len(self._data) >= MAX_SHOWN:
            lines += self.flush()
        return lines

    def idle(self) -> list[str]:
        """The pending partial line, once nothing more came for ``PAUSE`` (events come in batches)."""
        return self.flush() if self._data and time.monotonic() - self._seen > 2 * PAUSE else []

    def flush(self) -> list[str]:
        if not self._data:
            return []
        line = self._line(self._data)
        self._data.clear()
        return [line]

    def _line(self, data: bytearray) -> str:
        event = {"dir": self._dir, "hex": bytes(data).hex(), "time": self._first}
        return format_event(event, self.hex_dump, self.timestamps)


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


def _open(path: str, device: str) -> tuple[socket.socket, bytearray]:
    """The tap's socket, and what came after the server's reply (the first events, maybe)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    pending = bytearray()
    try:
        sock.settimeout(5.0)
        sock.connect(path)
        request = {"command": "tap", "parameters": {"device": device}}
        sock.sendall(json.dumps(request).encode() + b"\r\n")
        while b"\n" not in pending and len(pending) < MAX_LINE and (data := sock.recv(1 << 16)):
            pending += data
        first, _, rest = bytes(pending).partition(b"\n")
        pending[:] = rest
        reply = json.loads(first or b"{}")
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
    return sock, pending


def _events(sock: socket.socket, pending: bytearray, deadline: float | None) -> list[dict[str, Any]] | None:
    """The events that arrive within ``PAUSE`` (maybe none); None once ``deadline`` has passed."""
    remaining = PAUSE if deadline is None else min(PAUSE, deadline - time.monotonic())
    if remaining <= 0:
        return None
    sock.settimeout(remaining)
    try:
        data = sock.recv(1 << 16)
    except TimeoutError:
        return []
    if not data:
        raise TapError("the server closed the tap (stopped?)")
    pending += data
    if len(pending) > MAX_LINE:
        raise TapError("the server sent an event line that is too long")
    *lines, rest = bytes(pending).split(b"\n")
    pending[:] = rest
    try:
        return [json.loads(line) for line in lines if line.strip()]
    except ValueError as e:
        raise TapError(f"the server sent a tap event that is not JSON: {e}") from e


def _stream(sock: socket.socket, pending: bytearray, args: argparse.Namespace, out: IO[str],
            totals: dict[str, int]) -> None:
    """Print events until --seconds have passed; ``totals`` counts bytes per direction and drops."""
    deadline = time.monotonic() + args.seconds if args.seconds else None
    display = DisplayLines(args.hex, args.timestamps)
    try:
        while (events := _events(sock, pending, deadline)) is not None:
            for event in events:
                if "hex" in event:
                    data = bytes.fromhex(event["hex"])
                    totals[event["dir"]] = totals.get(event["dir"], 0) + len(data)
                    lines = display.add(event["dir"], data, event["time"])
                else:
                    totals["dropped"] += event.get("dropped_bytes", 0)
                    lines = [*display.flush(), format_event(event, args.hex, args.timestamps)]
                _print(lines, out)
            _print(display.idle(), out)
    finally:
        _print(display.flush(), out)


def _print(lines: list[str], out: IO[str]) -> None:
    if lines:
        print("\n".join(lines), file=out, flush=True)


def run(args: argparse.Namespace) -> int:
    totals = {"rx": 0, "tx": 0, "dropped": 0}
    try:
        sock, pending = _open(_socket_path(args), args.device)
        with sock:
            _stream(sock, pending, args, sys.stdout, totals)
    except TapError as e:
        print(f"rpi-ess tap: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    print(f"rpi-ess tap: {totals['rx']} bytes rx, {totals['tx']} bytes tx, {totals['dropped']} bytes dropped",
          file=sys.stderr)
    return 0
