"""Golden tests: the PROTOCOL section 4 examples and their verified outputs."""

from __future__ import annotations

import math
import struct

import pytest

from rpi_ess.sensors import create_sensor

NAN = math.nan
# PROTOCOL 4.9 test frame (a real sensor's read reply); the 40 data bytes sit between
# the 5-byte header (7E ADR CMD STATE LEN) and CHK 7E.
SPS30_FRAME = bytes.fromhex(
    "7e 00 03 00 28 3f 3a 86 54 40 b8 4a 0a 41 1d 3d 52 41 3e 91 a3 00 00 00 00 3e 7a e8 00"
    " 40 a1 ba dc 40 c0 18 1e 40 c4 ba ea 3f d0 a3 d7 17 7e"
)

GOLDEN = [
    ("Temperature", 4, b"C01=0032.1443,C02=0033.0320,C03=-001.3020,C04=9999.9990", [32.1443, 33.032, -1.302, NAN]),
    ("Temperature", 5, b"C00=0025.4300,C01=0032.1443,C02=0033.0320,C03=-001.3020,C04=-201.0000",
     [25.43, 32.1443, 33.032, -1.302, NAN]),
    ("Temperature", 4, b"3.0320,C03=-001.3020,C04=0012.5000", [NAN, NAN, -1.302, 12.5]),
    ("HX85A", None, b"%RH=38.86,AT\xf8C=24.32,DP\xf8C=9.57", [38.86, 24.32, 9.57]),
    ("HX85A", None, b"AT\xf8C=24.32,DP\xf8C=9.57", [NAN, 24.32, 9.57]),
    ("HX85BA", None, b"%RH=38.86,AT\xf8C=24.32,Pmb=911.40", [38.86, 24.32, 911.4, 9.41774591197113]),
    ("Windsonic", None, b"\x02Q,036,002.57,M,00,\x031B", [2.57, 36]),
    ("Windsonic", None, b"\x02Q,,000.04,M,00,\x032A", [0.04, NAN]),
    ("CSAT3B", None, b"0.08945,0.06552,0.05726,19.69336,0,5,c3a6", [0.08945, 0.06552, 0.05726, 19.69336, 0, 5, 50086]),
    ("LD250", None, b"$WIMST,0,0,0,0,000.0*42", ["WIMST", 0, 0, 0, 0, 0.0]),
    ("EFM100C", None, b"$+00.65,0*CE", [0.65, 0]),
    ("EFM100C", None, b"$+00.64,0*CD", [0.64, 0]),
    ("Aurora", None, b"$20,FF,00742,02368,02458,-0090,252,032,8FFF,0104,37,00!",
     [742, 23.68, 24.580000000000002, -0.9, 25.200000000000003, 3.2, 37]),
]


def same(actual: list, expected: list) -> bool:
    """Equal element by element, with NaN equal to NaN and int/float kept apart."""
    if len(actual) != len(expected):
        return False
    for a, e in zip(actual, expected, strict=True):
        if type(a) is not type(e):
            return False
        if not (a == e or (isinstance(e, float) and math.isnan(e) and math.isnan(a))):
            return False
    return True


@pytest.mark.parametrize(("sensor_type", "channels", "record", "expected"), GOLDEN)
def test_protocol_example(sensor_type: str, channels: int | None, record: bytes, expected: list) -> None:
    reading = create_sensor(sensor_type, channels).parse(record)
    assert reading.ok, reading.error
    assert same(reading.values, expected), reading.values


def test_sps30_protocol_frame() -> None:
    payload = SPS30_FRAME[5:-2]
    assert len(payload) == 40
    reading = create_sensor("Sps30").parse(payload)
    assert reading.ok
    values = reading.values
    assert len(values) == 19
    assert values[0] == "SPS30" and values[-1] == ""
    assert values[2:7] == [0.5, 1.0, 2.5, 4.0, 10.0]
    assert math.isnan(values[7])  # PM0.5 mass is not measured
    measured = values[8:12] + values[12:17] + [values[17]]
    assert measured == pytest.approx([0.729, 5.759, 9.827, 11.911, 0.0, 0.245, 5.054, 6.003, 6.148, 1.63])


def test_sps30_from_values_matches_parse() -> None:
    payload = SPS30_FRAME[5:-2]
    sensor = create_sensor("Sps30")
    assert same(sensor.from_values(struct.unpack(">10f", payload)).values, sensor.parse(payload).values)


@pytest.mark.parametrize(
    "record",
    [b"$WIMLI,10,11,000.0*42", b"$WIMLN*CE"],
    ids=["strike", "noise"],
)
def test_ld250_documented_placeholder_checksums_are_rejected(record: bytes) -> None:
    """The LD-250 doc copied these checksums from other examples; they match no convention."""
    reading = create_sensor("LD250").parse(record)
    assert not reading.ok
    assert "checksum" in (reading.error or "")


@pytest.mark.parametrize(
    ("record", "expected"),
    [(b"$WIMLI,10,11,000.0*DB", ["WIMLI", 10, 11, 0.0]), (b"$WIMLN*AB", ["WIMLN"])],
    ids=["strike", "noise"],
)
def test_ld250_documented_lines_with_real_checksums(record: bytes, expected: list) -> None:
    reading = create_sensor("LD250").parse(record)
    assert reading.ok, reading.error
    assert same(reading.values, expected)
