"""Validation of the configure payload: every device, every rule, messages naming device and field."""

import pytest

from rpi_ess.devices.config import ConfigError, parse_configuration

TYPES = ("Temperature", "HX85A", "HX85BA", "Windsonic", "CSAT3B", "LD250", "EFM100C", "Aurora", "Sps30")


def errors_of(configuration) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_configuration(configuration, TYPES)
    return info.value.errors


def test_csc_example_is_accepted_with_extra_keys():
    # PROTOCOL 2.6, from ts_ess_csc test_one_temp_sensor.yaml
    devices = [{"name": "EssTemperature4Ch", "channels": 4, "device_type": "FTDI", "ftdi_id": "ABC",
                "sensor_type": "Temperature", "location": "Test1", "baud_rate": 19200, "safe_interval": 10,
                "num_samples": 2, "threshold": 3.5, "host": None, "port": None}]
    (config,) = parse_configuration({"devices": devices}, TYPES)
    assert (config.name, config.channels, config.ftdi_id, config.baud_rate) == ("EssTemperature4Ch", 4, "ABC", 19200)
    assert config.extra["location"] == "Test1"


def test_baud_rate_defaults_and_integral_float_is_accepted():
    (config,) = parse_configuration(
        {"devices": [{"name": "W", "sensor_type": "Windsonic", "device_type": "Serial", "serial_port": "/dev/x"}]},
        TYPES)
    assert config.baud_rate == 19200
    (config,) = parse_configuration(
        {"devices": [{"name": "W", "sensor_type": "Windsonic", "device_type": "Serial", "serial_port": "/dev/x",
                      "baud_rate": 9600.0}]}, TYPES)
    assert config.baud_rate == 9600 and isinstance(config.baud_rate, int)


def test_later_devices_are_validated_too():
    # The reference validated only devices[0] (PROTOCOL 2.6 caveat).
    good = {"name": "T", "sensor_type": "Temperature", "channels": 2, "device_type": "Serial", "serial_port": "/dev/a"}
    bad = {"name": "X", "sensor_type": "Nope", "device_type": "Serial", "serial_port": "/dev/b"}
    (message,) = errors_of({"devices": [good, bad]})
    assert message.startswith("devices[1] ('X'): sensor_type must be one of")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"name": ""}, "name must be a non-empty string"),
        ({"name": 5}, "name must be a non-empty string"),
        ({"sensor_type": "temperature"}, "sensor_type must be one of"),
        ({"device_type": "USB"}, "device_type must be one of Serial, FTDI, Sensirion, I2C"),
        ({"baud_rate": "9600"}, "baud_rate must be an integer"),
        ({"baud_rate": 0}, "baud_rate must be an integer"),
        ({"baud_rate": True}, "baud_rate must be an integer"),
        ({"channels": 2.5}, "channels must be an integer from 1 to 64"),
        ({"channels": 0}, "channels must be an integer from 1 to 64"),
        ({"serial_port": None}, "serial_port is required"),
        ({"location": 3}, "location must be of type str"),
        ({"num_samples": "2"}, "num_samples must be of type int"),
        ({"poll_interval": -1}, "poll_interval must be a number"),
        ({"power_relay_pin": 99}, "power_relay_pin must be an integer"),
    ],
)
def test_each_device_rule(change, expected):
    device = {"name": "T", "sensor_type": "Temperature", "channels": 4, "device_type": "Serial",
              "serial_port": "/dev/ttyUSB0", **change}
    device = {k: v for k, v in device.items() if v is not None}
    messages = errors_of({"devices": [device]})
    assert any(expected in m for m in messages), messages
    assert all(m.startswith("devices[0]") for m in messages)


def test_kind_specific_required_keys():
    messages = errors_of({"devices": [
        {"name": "A", "sensor_type": "Temperature", "device_type": "Serial", "serial_port": "/dev/a"},
        {"name": "B", "sensor_type": "HX85A", "device_type": "FTDI"},
        {"name": "C", "sensor_type": "HX85A", "device_type": "I2C"},
    ]})
    assert "devices[0] ('A'): channels is required for sensor_type Temperature" in messages
    assert "devices[1] ('B'): ftdi_id is required" in messages
    assert "devices[2] ('C'): chip is required" in messages


def test_top_level_rules():
    assert errors_of([]) == ["configuration must be an object, got list"]
    assert errors_of({"devices": []}) == ["configuration: devices must be a non-empty list"]
    assert "configuration: unexpected key 'extra' (only 'devices' is allowed)" in errors_of(
        {"devices": [], "extra": 1})
    assert errors_of({"devices": [3]}) == ["devices[0]: must be an object, got int"]
    too_many = [{"name": f"D{i}", "sensor_type": "LD250", "device_type": "Serial", "serial_port": "/dev/a"}
                for i in range(3)]
    with pytest.raises(ConfigError, match="exceed this node's limit of 2"):
        parse_configuration({"devices": too_many}, TYPES, max_devices=2)


def test_duplicate_names_are_refused():
    device = {"name": "Same", "sensor_type": "LD250", "device_type": "Serial", "serial_port": "/dev/a"}
    assert errors_of({"devices": [device, dict(device)]}) == ["configuration: duplicate device name 'Same'"]


def test_i2c_address_as_hex_string():
    (config,) = parse_configuration({"devices": [
        {"name": "H", "sensor_type": "HX85A", "device_type": "I2C", "chip": "SHT4x", "address": "0x44"}]}, TYPES)
    assert (config.address, config.i2c_bus) == (0x44, 1)
    messages = errors_of({"devices": [
        {"name": "H", "sensor_type": "HX85A", "device_type": "I2C", "chip": "SHT4x", "address": "zz"}]})
    assert any("address must be an integer or a hex string" in m for m in messages)


NULLABLE_BY_BACKEND = {
    "Serial": ({"name": "T", "sensor_type": "Temperature", "channels": 2, "device_type": "Serial",
                "serial_port": "/dev/a", "baud_rate": 9600},
               ("name", "sensor_type", "device_type", "channels", "serial_port", "baud_rate", "poll_interval",
                "power_relay_pin", "silence_timeout", "location", "num_samples", "safe_interval", "threshold")),
    "FTDI": ({"name": "T", "sensor_type": "Windsonic", "device_type": "FTDI", "ftdi_id": "A1"},
             ("ftdi_id", "baud_rate")),
    "Sensirion": ({"name": "PM", "sensor_type": "Sps30", "device_type": "Sensirion", "baud_rate": 0},
                  ("serial_port", "baud_rate")),
    "I2C": ({"name": "H", "sensor_type": "HX85A", "device_type": "I2C", "chip": "SHT4x"},
            ("chip", "address", "i2c_bus")),
}


@pytest.mark.parametrize(("device", "key"), [(device, key) for device, keys in NULLABLE_BY_BACKEND.values()
                                             for key in keys])
def test_a_null_field_is_an_error_that_says_null(device, key):
    # issue 15.2: ``"baud_rate": null`` used to be internal error 30; absent means the default, null is a wrong type
    errors = errors_of({"devices": [{**device, key: None}]})
    assert any(f"{key} " in error and "null" in error for error in errors), errors


def test_ignored_fields_may_be_null_as_the_cscs_as_dict_emits_them():
    (config,) = parse_configuration({"devices": [{**NULLABLE_BY_BACKEND["Serial"][0], "host": None, "port": None}]},
                                    TYPES)
    assert config.extra == {"host": None, "port": None}
