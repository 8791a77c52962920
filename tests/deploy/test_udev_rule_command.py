"""``rpi-ess udev-rule`` reading a simulated sysfs tree (kernel layout, symlinks and all) through --sysfs."""

from __future__ import annotations

import pytest

from rpi_ess.cli.main import main
from rpi_ess.cli.udev import Adapter, UdevRuleError, render_rule

from .sysfs_devices import ALL, PI5, PI_UART, build_sysfs

RULE_ACM = ('SUBSYSTEM=="tty", ENV{ID_VENDOR_ID}=="2341", ENV{ID_MODEL_ID}=="0043", '
            'ENV{ID_SERIAL_SHORT}=="7573530303335140A1C1", ENV{ID_USB_INTERFACE_NUM}=="00", SYMLINK+="ess/dome"')


@pytest.fixture
def sysfs(tmp_path):
    return str(build_sysfs(tmp_path / "sys", ALL))


def udev_rule(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["udev-rule", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_named_rule_for_one_port(sysfs, capsys):
    code, out, _ = udev_rule(capsys, "/dev/ttyACM0", "--name", "dome", "--sysfs", sysfs)
    assert code == 0
    assert RULE_ACM in out.splitlines()
    assert "# Arduino (www.arduino.cc) Uno, serial 7573530303335140A1C1, interface 00, now /dev/ttyACM0" in out


def test_second_port_of_a_dual_chip_matches_its_interface(sysfs, capsys):
    code, out, _ = udev_rule(capsys, "ttyUSB2", "--sysfs", sysfs)
    assert code == 0
    assert 'ENV{ID_SERIAL_SHORT}=="FT4XYZ12", ENV{ID_USB_INTERFACE_NUM}=="01", SYMLINK+="ess/usb-FT4XYZ12-if01"' in out


def test_all_adapters(sysfs, capsys):
    code, out, err = udev_rule(capsys, "--sysfs", sysfs)
    assert code == 0
    links = [line.rsplit("SYMLINK+=", 1)[1] for line in out.splitlines() if "SYMLINK+=" in line]
    assert links == ['"ess/usb-A10KZP4X"', '"ess/usb-FT4XYZ12"', '"ess/usb-FT4XYZ12-if01"',
                     '"ess/usb-7573530303335140A1C1"', '"ess/usb-FT9ABC77"']
    # the user-space FTDI chip (no tty) is matched as a USB device, with its pyftdi URL
    assert "pyftdi URL ftdi://0403:6014:FT9ABC77/1" in out
    assert 'ATTR{serial}=="FT9ABC77", GROUP="dialout", MODE="0660"' in out
    # the CH340 without a serial number is reported, not silently dropped
    assert "skipped 1-1.1.1: the adapter reports no USB serial number" in err
    assert "name its USB socket instead (--socket)" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ttyAMA0"], "ttyAMA0: not a USB adapter"),
        (["ttyUSB9"], "ttyUSB9: no such serial port"),
        (["ttyUSB3"], "no USB serial number"),
        (["ttyUSB0", "--name", "bad/name"], "name 'bad/name'"),
        (["--name", "x"], "--name needs a DEVICE"),
        (["--socket", "x"], "--socket needs a DEVICE"),
        (["ttyUSB0", "--socket", "a/b"], "socket 'a/b'"),
        (["ttyAMA0", "--socket", "x"], "ttyAMA0: not a USB adapter"),
    ],
)
def test_errors_are_explained(sysfs, capsys, args, message):
    code, out, err = udev_rule(capsys, *args, "--sysfs", sysfs)
    assert code == 1
    assert out == ""
    assert message in err


def test_no_adapters(tmp_path, capsys):
    code, _, err = udev_rule(capsys, "--sysfs", str(build_sysfs(tmp_path / "sys", PI_UART)))
    assert code == 1
    assert "no USB serial adapter found" in err


def test_symlinked_device_path_is_followed(sysfs, tmp_path, capsys):
    link = tmp_path / "ess-dome"
    link.symlink_to("/dev/ttyACM0")  # like /dev/ess/dome -> ../ttyACM0; the target need not exist here
    code, out, _ = udev_rule(capsys, str(link), "--name", "dome", "--sysfs", sysfs)
    assert code == 0
    assert RULE_ACM in out


def test_serial_is_spelled_as_udev_does():
    adapter = Adapter("0403", "6001", " AB 12/x ", "00", "ttyUSB0", "FTDI")
    assert adapter.serial_short == "AB_12_x"
    assert 'ENV{ID_SERIAL_SHORT}=="AB_12_x"' in render_rule(adapter)


def test_serial_that_a_rule_cannot_match_literally_is_refused():
    with pytest.raises(UdevRuleError, match="cannot match literally"):
        render_rule(Adapter("0403", "6014", 'A"*', None, None, "FTDI"))


@pytest.mark.parametrize(
    ("devices", "tty", "path"),
    [
        (ALL, "ttyUSB0", "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.2:1.0"),
        (ALL, "ttyUSB2", "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.3:1.1"),
        (ALL, "ttyUSB3", "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.1.1:1.0"),  # behind a hub, no serial
        (ALL, "ttyACM0", "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.4:1.0"),
        (PI5, "ttyUSB6", "platform-xhci-hcd.1-usb-0:2:1.0"),
    ],
)
def test_socket_rule_matches_the_port_path(tmp_path, capsys, devices, tty, path):
    sysfs = str(build_sysfs(tmp_path / "sys", devices))
    code, out, _ = udev_rule(capsys, tty, "--socket", "mast", "--sysfs", sysfs)
    assert code == 0
    assert f'SUBSYSTEM=="tty", ENV{{ID_PATH}}=="{path}", SYMLINK+="ttyUSB_mast"' in out.splitlines()


def test_name_and_socket_exclude_each_other(sysfs, capsys):
    with pytest.raises(SystemExit):
        main(["udev-rule", "ttyUSB0", "--name", "a", "--socket", "b", "--sysfs", sysfs])
    assert "not allowed with argument" in capsys.readouterr().err
