"""Number, checksum and dew-point helpers shared by the parsers."""

from __future__ import annotations

import math

import pytest

from rpi_ess.sensors.checksums import split_sentence, sum8, xor8
from rpi_ess.sensors.dewpoint import dew_point, relative_humidity
from rpi_ess.sensors.fields import snippet, to_float, to_int


@pytest.mark.parametrize(("text", "expected"), [(" 1.5 ", 1.5), ("-.5", -0.5), ("+0012.50", 12.5), ("3.", 3.0),
                                                ("1e3", 1000.0)])
def test_to_float_accepts_instrument_numbers(text: str, expected: float) -> None:
    assert to_float(text) == expected


@pytest.mark.parametrize("text", ["", "1_000", "inf", "-Infinity", "1e999", "\u0661", "1.2.3", "0x10", "."])
def test_to_float_rejects_what_python_would_bend(text: str) -> None:
    assert to_float(text) is None


def test_to_float_nan() -> None:
    assert math.isnan(to_float(" NaN") or 0.0)


@pytest.mark.parametrize(("text", "expected"), [("7", 7), (" -12 ", -12), ("007", 7), ("1" * 5000, None),
                                                ("1_0", None), ("1.0", None), ("", None)])
def test_to_int(text: str, expected: int | None) -> None:
    assert to_int(text) == expected


def test_snippet_is_short() -> None:
    assert snippet(b"x" * 100, limit=5) == "b'xxxxx'..."
    assert snippet(b"ab") == "b'ab'"


def test_checksum_primitives() -> None:
    assert xor8(b"Q,036,002.57,M,00,") == 0x1B
    assert sum8(b"$+00.65,0*") == 0xCE


@pytest.mark.parametrize(
    ("record", "expected"),
    [(b"$WIMLN*ab", (b"WIMLN", 0xAB)), (b"$+00.65,0", (b"+00.65,0", None)), (b"WIMLN*AB", None),
     (b"$WIMLN*A", None)],
)
def test_split_sentence(record: bytes, expected: tuple[bytes, int | None] | None) -> None:
    assert split_sentence(record) == expected


@pytest.mark.parametrize(("temperature", "dew"), [(24.32, 9.41774591197113), (-5.0, -12.0), (10.0, 9.9)])
def test_relative_humidity_inverts_dew_point(temperature: float, dew: float) -> None:
    assert dew_point(relative_humidity(temperature, dew), temperature) == pytest.approx(dew)


@pytest.mark.parametrize(("rh", "temperature"), [(0.0, 20.0), (-3.0, 20.0), (50.0, -243.12), (50.0, math.nan)])
def test_dew_point_undefined_is_nan(rh: float, temperature: float) -> None:
    assert math.isnan(dew_point(rh, temperature))
