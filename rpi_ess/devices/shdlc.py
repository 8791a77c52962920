"""Sensirion SHDLC framing (PROTOCOL 4.9): byte stuffing, checksum, requests and replies.

Pure functions, no I/O, so the SPS30 poller and the tests share one definition of the wire
format. Frames are ``7E ADR CMD LEN DATA CHK 7E`` (master) and ``7E ADR CMD STATE LEN DATA
CHK 7E`` (sensor); the reference never un-stuffed replies, which silently dropped every
valid frame whose payload happened to contain a flag or XON/XOFF byte.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "FLAG",
    "STATE_MEANINGS",
    "Reply",
    "ShdlcError",
    "build_request",
    "checksum",
    "next_frame",
    "parse_reply",
    "stuff",
    "unstuff",
]

FLAG = 0x7E
ESCAPE = 0x7D
_ESCAPE_XOR = 0x20
#: Bytes that must not appear raw inside a frame: flag, escape, XON, XOFF.
_SPECIAL = frozenset((0x7E, 0x7D, 0x11, 0x13))
_MAX_DATA = 255
#: Longest possible stuffed frame: flags plus ADR CMD STATE LEN, 255 data bytes and CHK all escaped.
MAX_FRAME = 2 + 2 * (4 + _MAX_DATA + 1)

#: SHDLC state codes (low 7 bits of the state byte; bit 7 flags a device error).
STATE_MEANINGS: dict[int, str] = {
    0x00: "ok",
    0x01: "wrong data length",
    0x02: "unknown command",
    0x03: "no access right",
    0x04: "illegal command parameter",
    0x28: "argument out of range",
    0x43: "command not allowed in current state",
}


class ShdlcError(ValueError):
    """A frame that is not a valid SHDLC reply (bad flags, stuffing, length or checksum)."""


class Reply(NamedTuple):
    command: int
    state: int
    data: bytes


def stuff(content: bytes) -> bytes:
    """Escape flag, escape, XON and XOFF bytes (everything between the two flags)."""
    out = bytearray()
    for byte in content:
        if byte in _SPECIAL:
            out += bytes((ESCAPE, byte ^ _ESCAPE_XOR))
        else:
            out.append(byte)
    return bytes(out)


def unstuff(content: bytes) -> bytes:
    """Undo :func:`stuff`; raise :class:`ShdlcError` on a dangling or invalid escape."""
    out = bytearray()
    escaped = False
    for byte in content:
        if escaped:
            original = byte ^ _ESCAPE_XOR
            if original not in _SPECIAL:
                raise ShdlcError(f"invalid escape sequence 7D {byte:02X}")
            out.append(original)
            escaped = False
        elif byte == ESCAPE:
            escaped = True
        elif byte == FLAG:
            raise ShdlcError("unexpected 7E flag inside frame")
        else:
            out.append(byte)
    if escaped:
        raise ShdlcError("frame ends with a lone 7D escape byte")
    return bytes(out)


def checksum(content: bytes) -> int:
    """Low byte of the sum of the un-stuffed bytes between the flags (CHK excluded), inverted."""
    return ~sum(content) & 0xFF


def build_request(command: int, data: bytes = b"", address: int = 0) -> bytes:
    """A complete, stuffed master-to-sensor frame."""
    if len(data) > _MAX_DATA:
        raise ValueError(f"SHDLC data is limited to {_MAX_DATA} bytes, got {len(data)}")
    content = bytes((address, command, len(data))) + data
    return bytes((FLAG,)) + stuff(content + bytes((checksum(content),))) + bytes((FLAG,))


def next_frame(buffer: bytes) -> tuple[bytes | None, bytes]:
    """Split the first complete frame (flags included) off a received byte stream.

    Returns ``(frame, rest)``, or ``(None, rest)`` when no frame is complete yet. Bytes before
    the first flag are noise (or the tail of a frame from before the request) and are dropped;
    two adjacent flags are an empty frame's end and the next one's start, so the second
    flag is kept as the start.
    """
    start = buffer.find(FLAG)
    while start >= 0:
        end = buffer.find(FLAG, start + 1)
        if end < 0:
            return None, buffer[start:]
        if end > start + 1:
            return buffer[start : end + 1], buffer[end + 1 :]
        start = end
    return None, b""


def parse_reply(frame: bytes, address: int = 0) -> Reply:
    """Check and decode one complete sensor-to-master frame, flags included."""
    if len(frame) < 2 or frame[0] != FLAG or frame[-1] != FLAG:
        raise ShdlcError(f"frame must start and end with 7E: {frame.hex(' ')}")
    content = unstuff(frame[1:-1])
    if len(content) < 5:
        raise ShdlcError(f"frame too short ({len(content)} bytes un-stuffed): {frame.hex(' ')}")
    body, received = content[:-1], content[-1]
    expected = checksum(body)
    if received != expected:
        raise ShdlcError(f"checksum mismatch: got {received:02X}, expected {expected:02X}")
    frame_address, command, state, length = body[:4]
    data = body[4:]
    if length != len(data):
        raise ShdlcError(f"length byte says {length} data bytes, frame has {len(data)}")
    if frame_address != address:
        raise ShdlcError(f"reply from address {frame_address}, expected {address}")
    return Reply(command, state, data)
