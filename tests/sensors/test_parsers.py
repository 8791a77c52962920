"""Edge cases per parser: partial lines, sentinels, wrong checksums, stray bytes."""

from __future__ import annotations

import math

import pytest

from rpi_ess.sensors import SENSOR_TYPES, Sensor, create_sensor
from rpi_ess.sensors.checksums import efm100c_checksum, ld250_checksum, xor8
from rpi_ess.sensors.csat3b import signature
from rpi_ess.sensors.dewpoint import dew_point
from rpi_ess.sensors.windsonic import windsonic_line

from .test_golden import same

NAN = math.nan


def parse(sensor_type: str, record: bytes, channels: int | None = None):
    return create_sensor(sensor_type, channels).parse(record)


def assert_error(sensor: Sensor, record: bytes, *words: str) -> None:
    reading = sensor.parse(record)
    assert not reading.ok
    assert same(reading.values, sensor.error_values())
    for word in words:
        assert word in (reading.error or ""), reading.error


# -- registry ------------------------------------------------------------------------------


def test_registry_has_all_nine_types() -> None:
    assert set(SENSOR_TYPES) == {
        "Temperature", "HX85A", "HX85BA", "Windsonic", "CSAT3B", "LD250", "EFM100C", "Aurora", "Sps30",
    }
    for name, cls in SENSOR_TYPES.items():
        assert cls.sensor_type == name
        assert isinstance(create_sensor(name), cls)


def test_unknown_sensor_type_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'Barometer'.*Temperature.*Sps30"):
        create_sensor("Barometer")


def test_wire_format_attributes() -> None:
    assert create_sensor("HX85A").terminator == b"\n\r" == create_sensor("HX85BA").terminator
    assert create_sensor("HX85A").charset == "iso-8859-1"
    assert create_sensor("HX85BA").idle_flush is not None
    assert create_sensor("Aurora").terminator == b"\n"
    assert create_sensor("CSAT3B").period == 0.1
    assert create_sensor("EFM100C").period == 0.05
    assert create_sensor("Sps30").protocol == "shdlc"
    assert create_sensor("Windsonic").baud_rate == 9600


@pytest.mark.parametrize(
    ("sensor_type", "expected"),
    [
        ("HX85A", [NAN] * 3),
        ("HX85BA", [NAN] * 4),
        ("Windsonic", [NAN, NAN]),
        ("CSAT3B", [NAN] * 4 + [0, 0, 0]),
        ("LD250", ["WIMST", 0, 0, 0, 0, NAN]),
        ("EFM100C", [NAN, 1]),
        ("Aurora", [0, NAN, NAN, NAN, NAN, NAN, 0]),
    ],
)
def test_error_values(sensor_type: str, expected: list) -> None:
    assert same(create_sensor(sensor_type).error_values(), expected)


def test_error_values_are_fresh_lists() -> None:
    sensor = create_sensor("CSAT3B")
    sensor.error_values().append("mutated")
    assert len(sensor.error_values()) == 7


# -- Temperature -----------------------------------------------------------------------------


class TestTemperature:
    def test_extra_values_are_trimmed(self) -> None:
        reading = parse("Temperature", b"C01=0001.0000,C02=0002.0000,C03=0003.0000", channels=2)
        assert reading.ok and reading.values == [1.0, 2.0]

    def test_missed_leading_channels_are_nan(self) -> None:
        reading = parse("Temperature", b",,C03=0003.0000", channels=3)
        assert reading.ok and same(reading.values, [NAN, NAN, 3.0])

    @pytest.mark.parametrize("bad", [b"C02=abc", b"C02=1=2", b"C02=inf", b"C02=1_0", b"C02=\xff"])
    def test_unreadable_field_is_nan_for_that_channel_only(self, bad: bytes) -> None:
        reading = parse("Temperature", b"C01=0001.5000," + bad + b",C03=-003.2500", channels=3)
        assert reading.ok
        assert same(reading.values, [1.5, NAN, -3.25])

    def test_line_with_nothing_readable_is_an_error(self) -> None:
        assert_error(create_sensor("Temperature", 4), b"garbage", "no readable")

    def test_all_probes_disconnected_is_still_a_reading(self) -> None:
        reading = parse("Temperature", b"C01=9999.9990,C02=-201.0000", channels=2)
        assert reading.ok and same(reading.values, [NAN, NAN])

    @pytest.mark.parametrize("channels", [None, 0])
    def test_without_channels_sends_what_the_line_has(self, channels: int | None) -> None:
        sensor = create_sensor("Temperature", channels)
        assert sensor.parse(b"C01=0001.0000,C02=0002.0000").values == [1.0, 2.0]
        assert same(sensor.error_values(), [NAN])

    def test_period_follows_the_channel_count(self) -> None:
        assert create_sensor("Temperature", 12).period == pytest.approx(2.0)

    def test_from_values_pads_like_a_line(self) -> None:
        sensor = create_sensor("Temperature", 3)
        assert same(sensor.from_values([21.5, 22.0]).values, [NAN, 21.5, 22.0])
        assert not sensor.from_values([NAN]).ok


# -- HX85A / HX85BA --------------------------------------------------------------------------


class TestHX85:
    def test_fragment_is_an_error(self) -> None:
        assert_error(create_sensor("HX85A"), b"9.57", "no readable")

    def test_non_numeric_field_is_nan(self) -> None:
        reading = parse("HX85A", b"%RH=4x.86,AT\xf8C=24.32,DP\xf8C=9.57")
        assert reading.ok and same(reading.values, [NAN, 24.32, 9.57])

    def test_utf8_degree_sign_of_the_reference_mock_is_understood(self) -> None:
        reading = parse("HX85A", "%RH=38.86,AT°C=24.32,DP°C=9.57".encode())
        assert reading.values == [38.86, 24.32, 9.57]

    def test_two_lines_run_together_do_not_shift_fields(self) -> None:
        reading = parse("HX85BA", b"%RH=38.86,AT\xf8C=24.32,Pmb=911.40%RH=38.80,AT\xf8C=24.30,Pmb=911.38")
        assert reading.values[2] == 911.38  # the later, intact pressure field wins

    @pytest.mark.parametrize("rh", [b"0.00", b"-1.50"])
    def test_hx85ba_non_positive_humidity_gives_nan_dew_point(self, rh: bytes) -> None:
        reading = parse("HX85BA", b"%RH=" + rh + b",AT\xf8C=24.32,Pmb=911.40")
        assert reading.ok
        assert reading.values[:3] == [float(rh), 24.32, 911.4] and math.isnan(reading.values[3])

    def test_hx85ba_missing_temperature_gives_nan_dew_point(self) -> None:
        reading = parse("HX85BA", b"%RH=38.86,Pmb=911.40")
        assert same(reading.values, [38.86, NAN, 911.4, NAN])

    def test_from_values_computes_the_dew_point(self) -> None:
        assert create_sensor("HX85A").from_values([38.86, 24.32]).values == [38.86, 24.32, 9.41774591197113]
        assert create_sensor("HX85BA").from_values([38.86, 24.32, 911.4]).values == [
            38.86, 24.32, 911.4, 9.41774591197113,
        ]
        assert not create_sensor("HX85BA").from_values([38.86, 24.32]).ok


# -- Windsonic -------------------------------------------------------------------------------


class TestWindsonic:
    sensor = create_sensor("Windsonic")

    def test_bad_checksum(self) -> None:
        assert_error(self.sensor, b"\x02Q,036,002.57,M,00,\x031C", "checksum", "1B")

    def test_lower_case_checksum(self) -> None:
        assert self.sensor.parse(b"\x02Q,,000.04,M,00,\x032a").values[0] == 0.04

    @pytest.mark.parametrize(
        "record",
        [b"", b"Q,036,002.57,M,00,\x031B", b"6,002.57,M,00,\x031B", b"\x02Q,036,002.57,M,00,", b"\x00\x02Q"],
        ids=["empty", "no-stx", "tail", "no-etx", "stray"],
    )
    def test_partial_or_garbled_lines(self, record: bytes) -> None:
        assert_error(self.sensor, record, "not a Windsonic line")

    def test_valid_checksum_over_unexpected_fields(self) -> None:
        assert_error(self.sensor, windsonic_line(b"Q,036,fast,M,00,")[:-2], "unexpected")

    @pytest.mark.parametrize(("status", "meaning"), [(b"01", "axis 1 failed"), (b"09", "ROM checksum"),
                                                     (b"77", "unknown status")])
    def test_bad_status_is_named(self, status: bytes, meaning: str) -> None:
        assert_error(self.sensor, windsonic_line(b"Q,036,002.57,M," + status + b",")[:-2], status.decode(), meaning)

    def test_direction_999_means_none(self) -> None:
        reading = self.sensor.parse(windsonic_line(b"Q,999,000.00,M,00,")[:-2])
        assert reading.ok and same(reading.values, [0.0, NAN])

    def test_other_units_are_converted_to_m_s(self) -> None:
        reading = self.sensor.parse(windsonic_line(b"A,090,010.00,N,00,")[:-2])
        assert reading.values == [5.144, 90]


# -- CSAT3B ----------------------------------------------------------------------------------


EXAMPLE_SIGNED = b"0.08945,0.06552,0.05726,19.69336,0"


class TestCSAT3B:
    sensor = create_sensor("CSAT3B")

    def test_signature_of_the_manufacturer_example(self) -> None:
        assert signature(EXAMPLE_SIGNED) == 0xC3A6

    def test_signature_wraps_the_carry_to_eight_bits(self) -> None:
        # lsb 0xFF with the high bit set: (0xFF << 1) + msb + byte + 1 must wrap, not overflow.
        assert signature(b"\xff\xff\xff", seed=0xFFFF) <= 0xFFFF

    def test_signature_up_to_the_counter_is_accepted_too(self) -> None:
        signed = EXAMPLE_SIGNED + b",5"
        reading = self.sensor.parse(signed + b",%04x" % signature(signed))
        assert reading.ok and reading.values[5] == 5

    def test_wrong_signature(self) -> None:
        assert_error(self.sensor, EXAMPLE_SIGNED + b",5,c3a7", "signature")

    def test_hex_prefix_is_accepted(self) -> None:
        assert self.sensor.parse(EXAMPLE_SIGNED + b",5,0xc3a6").values[6] == 0xC3A6

    def test_line_without_signature(self) -> None:
        reading = self.sensor.parse(EXAMPLE_SIGNED + b",5")
        assert reading.ok and reading.values[4:] == [0, 5, 0]

    @pytest.mark.parametrize(
        "record",
        [b"", b"0.1,0.2,0.3", EXAMPLE_SIGNED + b",5,c3a6,9", b"0.08945,x,0.05726,19.69336,0,5,c3a6",
         b"0.08945,0.06552,0.05726,19.69336,0.5,5,c3a6", EXAMPLE_SIGNED + b",5,zz"],
        ids=["empty", "short", "long", "text", "float-diag", "bad-signature-field"],
    )
    def test_bad_lines(self, record: bytes) -> None:
        assert_error(self.sensor, record)

    def test_non_zero_diagnostic_is_passed_on(self) -> None:
        signed = b"0.1,0.2,0.3,10.0,4"
        reading = self.sensor.parse(signed + b",7,%04x" % signature(signed))
        assert reading.ok and reading.values[4] == 4


# -- LD250 -----------------------------------------------------------------------------------


def ld250(body: bytes, checksum: int | None = None) -> bytes:
    return b"$%s*%02X" % (body, ld250_checksum(body) if checksum is None else checksum)


class TestLD250:
    sensor = create_sensor("LD250")

    def test_status_with_activity(self) -> None:
        reading = self.sensor.parse(ld250(b"WIMST,12,345,1,0,123.4"))
        assert reading.ok and reading.values == ["WIMST", 12, 345, 1, 0, 123.4]

    @pytest.mark.parametrize(
        "checksum",
        [ld250_checksum(b"WIMLI,5,7,270.5"), efm100c_checksum(b"WIMLI,5,7,270.5"), xor8(b"WIMLI,5,7,270.5")],
        ids=["sum", "sum-with-star", "nmea-xor"],
    )
    def test_accepted_checksum_conventions(self, checksum: int) -> None:
        assert self.sensor.parse(ld250(b"WIMLI,5,7,270.5", checksum)).values == ["WIMLI", 5, 7, 270.5]

    def test_lower_case_checksum(self) -> None:
        assert self.sensor.parse(b"$WIMLI,10,11,000.0*db").ok

    @pytest.mark.parametrize(
        ("record", "words"),
        [
            (b"", ("not an LD-250",)),
            (b"$WIMLN", ("not an LD-250",)),
            (b"WIMST,0,0,0,0,000.0*42", ("not an LD-250",)),
            (b"$WIMST,0,0,0,0,000.0*43", ("checksum",)),
            (ld250(b"WIMXX,1"), ("unknown",)),
            (ld250(b"WIMST,0,0,0,000.0"), ("field count",)),
            (ld250(b"WIMST,0,0,2,0,000.0"), ("range",)),
            (ld250(b"WIMLI,301,11,000.0"), ("range",)),
            (ld250(b"WIMLI,10,11,360.0"), ("range",)),
        ],
        ids=["empty", "no-checksum", "no-dollar", "bad-checksum", "unknown", "short", "alarm-2", "far", "bearing"],
    )
    def test_unreadable_lines_send_a_non_empty_payload(self, record: bytes, words: tuple[str, ...]) -> None:
        assert_error(self.sensor, record, *words)


# -- EFM100C ---------------------------------------------------------------------------------


class TestEFM100C:
    sensor = create_sensor("EFM100C")

    def test_negative_field_with_fault(self) -> None:
        body = b"-12.34,1"
        assert self.sensor.parse(b"$%s*%02x" % (body, efm100c_checksum(body))).values == [-12.34, 1]

    def test_line_without_checksum(self) -> None:
        assert self.sensor.parse(b"$+00.65,0").values == [0.65, 0]

    @pytest.mark.parametrize(
        ("record", "words"),
        [(b"$+00.65,0*CF", ("checksum",)), (b"$+0.65,0*CE", ("not an EFM",)), (b"", ("not an EFM",)),
         (b"$+00.65,2*CE", ("not an EFM",)), (b"00.65,0*CE", ("not an EFM",))],
        ids=["bad-checksum", "padding", "empty", "fault-2", "partial"],
    )
    def test_bad_lines(self, record: bytes, words: tuple[str, ...]) -> None:
        assert_error(self.sensor, record, *words)


# -- Aurora ----------------------------------------------------------------------------------


AURORA = b"$20,FF,00742,02368,02458,-0090,252,032,8FFF,0104,37,00!"


class TestAurora:
    sensor = create_sensor("Aurora")

    def test_stray_carriage_return_is_ignored(self) -> None:
        assert self.sensor.parse(AURORA + b"\r").values[0] == 742

    @pytest.mark.parametrize(
        "record",
        [b"", AURORA[:30], AURORA + b",extra", AURORA.replace(b"02368", b"0x368"),
         AURORA.replace(b",37,", b",ab,"), AURORA[1:]],
        ids=["empty", "short", "long", "bad-number", "bad-alarm", "no-dollar"],
    )
    def test_bad_lines(self, record: bytes) -> None:
        assert_error(self.sensor, record)


# -- Sps30 -----------------------------------------------------------------------------------


class TestSps30:
    sensor = create_sensor("Sps30")

    @pytest.mark.parametrize("size", [0, 39, 41, 47])
    def test_wrong_payload_length(self, size: int) -> None:
        assert_error(self.sensor, bytes(size), "40 bytes")

    def test_error_values_keep_the_strings_in_place(self) -> None:
        values = self.sensor.error_values()
        assert len(values) == 19 and values[0] == "SPS30" and values[18] == ""
        assert all(isinstance(value, float) for value in values[1:18])

    def test_non_finite_value(self) -> None:
        assert not self.sensor.from_values([NAN] + [1.0] * 9).ok

    def test_wrong_value_count(self) -> None:
        assert not self.sensor.from_values([1.0] * 9).ok


def test_dew_point_of_saturated_air_is_the_air_temperature() -> None:
    assert dew_point(100.0, 12.5) == pytest.approx(12.5)
    assert math.isnan(dew_point(NAN, 12.5))
