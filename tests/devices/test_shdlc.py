"""SHDLC framing against the exact byte strings of PROTOCOL 4.9 and the datasheet rules."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rpi_ess.devices.shdlc import (
    MAX_FRAME,
    Reply,
    ShdlcError,
    build_request,
    checksum,
    next_frame,
    parse_reply,
    stuff,
    unstuff,
)

H = bytes.fromhex

#: A real sensor's read reply (PROTOCOL 4.9) and its values rounded to 3 decimals.
MEASURED = H(
    "7e 00 03 00 28 3f 3a 86 54 40 b8 4a 0a 41 1d 3d 52 41 3e 91 a3 00 00 00 00 3e 7a e8 00 40 a1 ba dc"
    " 40 c0 18 1e 40 c4 ba ea 3f d0 a3 d7 17 7e"
)
MEASURED_VALUES = [0.729, 5.759, 9.827, 11.911, 0.0, 0.245, 5.054, 6.003, 6.148, 1.63]
#: The reference test's "TOO_LONG" frame: 48 bytes on the wire because one data byte (0x13)
#: is stuffed as 7D 33; a valid reply with checksum 0x97.
STUFFED = H(
    "7e 00 03 00 28 3f 8b e4 bf 41 0a 37 88 41 6b db fb 41 8e ed 3a 00 00 00 00 3e bc 2e 00 40 f2 98 4a"
    " 41 10 12 16 41 7d 33 8c 30 3f d0 a3 d7 97 7e"
)


@pytest.mark.parametrize(
    ("command", "data", "wire"),
    [
        (0x00, b"\x01\x03", "7E 00 00 02 01 03 F9 7E"),  # start measurement, float format
        (0x01, b"", "7E 00 01 00 FE 7E"),  # stop measurement
        (0x03, b"", "7E 00 03 00 FC 7E"),  # read measured values
    ],
)
def test_requests_match_the_reference_bytes(command: int, data: bytes, wire: str) -> None:
    assert build_request(command, data) == H(wire)


@pytest.mark.parametrize(
    ("wire", "reply"),
    [
        ("7E 00 00 00 00 FF 7E", Reply(0x00, 0x00, b"")),  # start ok
        ("7E 00 00 43 00 BC 7E", Reply(0x00, 0x43, b"")),  # start refused: not allowed in state
        ("7E 00 01 00 00 FE 7E", Reply(0x01, 0x00, b"")),  # stop ok
        ("7E 00 01 43 00 BB 7E", Reply(0x01, 0x43, b"")),  # stop refused
        ("7E 00 03 00 00 FC 7E", Reply(0x03, 0x00, b"")),  # read: no new data
    ],
)
def test_short_replies(wire: str, reply: Reply) -> None:
    assert parse_reply(H(wire)) == reply


def test_measured_values_frame() -> None:
    command, state, data = parse_reply(MEASURED)
    assert (command, state, len(MEASURED), len(data)) == (0x03, 0, 47, 40)
    assert [round(v, 3) for v in struct.unpack(">10f", data)] == MEASURED_VALUES


def test_stuffed_frame_is_valid() -> None:
    assert len(STUFFED) == 48 and b"\x7d\x33" in STUFFED
    reply = parse_reply(STUFFED)
    assert len(reply.data) == 40 and b"\x13" in reply.data
    assert checksum(unstuff(STUFFED[1:-2])) == 0x97


@pytest.mark.parametrize(
    ("raw", "stuffed"),
    [("7e", "7d 5e"), ("7d", "7d 5d"), ("11", "7d 31"), ("13", "7d 33"), ("00 12 7f ff", "00 12 7f ff")],
)
def test_stuffing_table(raw: str, stuffed: str) -> None:
    assert stuff(H(raw)) == H(stuffed)
    assert unstuff(H(stuffed)) == H(raw)


def test_checksum_is_inverted_low_byte_of_sum() -> None:
    assert checksum(H("00 00 02 01 03")) == 0xF9
    assert checksum(bytes([0xFF, 0xFF])) == 0x01  # 0x1FE -> FE -> inverted 01


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (MEASURED[:-1], "must start and end with 7E"),
        (b"", "must start and end with 7E"),
        (MEASURED[:-2] + b"\x18\x7e", "checksum mismatch: got 18, expected 17"),
        (H("7e 00 03 00 7e"), "too short"),
        (H("7e 00 03 00 05 f7 7e"), "length byte says 5 data bytes, frame has 0"),
        (H("7e 01 03 00 00 fb 7e"), "reply from address 1, expected 0"),
        (H("7e 00 03 00 00 7d 7e"), "lone 7D"),
        (H("7e 00 03 00 00 7d 41 fc 7e"), "invalid escape sequence 7D 41"),
        (H("7e 00 7e 03 00 00 fc 7e"), "unexpected 7E flag"),
    ],
)
def test_bad_frames_raise_clear_errors(frame: bytes, message: str) -> None:
    with pytest.raises(ShdlcError, match=message):
        parse_reply(frame)


def test_request_data_limit() -> None:
    with pytest.raises(ValueError, match="255"):
        build_request(0x00, bytes(256))


def test_next_frame_from_a_stream() -> None:
    stream = b"\x00noise" + STUFFED + H("7e 00 01")
    frame, rest = next_frame(stream)
    assert frame == STUFFED and rest == H("7e 00 01")
    assert next_frame(rest) == (None, rest)
    assert next_frame(b"no flag at all") == (None, b"")
    frame, rest = next_frame(H("7e 7e 00 01 00 00 fe 7e"))  # an empty frame's end, then a frame
    assert parse_reply(frame) == Reply(0x01, 0, b"") and rest == b""


@given(st.binary(max_size=300))
def test_unstuff_inverts_stuff(raw: bytes) -> None:
    stuffed = stuff(raw)
    assert not {0x7E, 0x11, 0x13} & set(stuffed)
    assert unstuff(stuffed) == raw


@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=255))
def test_any_reply_round_trips(command: int, state: int, data: bytes) -> None:
    content = bytes((0, command, state, len(data))) + data
    frame = b"\x7e" + stuff(content + bytes((checksum(content),))) + b"\x7e"
    assert len(frame) <= MAX_FRAME
    assert next_frame(b"\x00" + frame) == (frame, b"")
    assert parse_reply(frame) == Reply(command, state, data)
