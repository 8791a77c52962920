"""FtdiDevice: finding an adapter by USB serial number, through the kernel's by-id links
(emulated: symlinks to pseudo-terminals) or in user space through pyftdi (emulated: a pyusb
backend with an FT232R that answers FTDI's vendor requests and bulk transfers).

pyftdi's own virtual USB backend (pyftdi/tests/backend) is not shipped in the wheel, so the
FT232R below is written here from FTDI's application notes (AN232B-04 data/latency,
AN232B-05 baud-rate divisors) and the USB 2.0 descriptor layout.
"""

from __future__ import annotations

import array
import sys
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import serial
import usb.backend
import usb.core
from pyftdi.usbtools import UsbTools

from rpi_ess.devices import create_device
from rpi_ess.devices.base import DeviceError, Record
from rpi_ess.devices.config import DeviceConfig
from rpi_ess.devices.interfaces.ftdi import FtdiDevice, serial_from_by_id
from rpi_ess.devices.serial_link import open_error_reason
from rpi_ess.sensors import create_sensor
from rpi_ess.simulation.pty import PtyInstrument

pytestmark = pytest.mark.usefixtures("no_leaks")

ReadRecords = Callable[..., list[Record]]
SERIAL = "A10KXYZ9"
BY_ID_NAME = f"usb-FTDI_FT232R_USB_UART_{SERIAL}-if00-port0"
T4 = b"C01=0032.1443,C02=0033.0320,C03=-001.3020,C04=9999.9990"


# -- an FT232R on an emulated USB bus ------------------------------------------------------


class Ft232r:
    """What the host sees of an FT232R: descriptors, vendor requests, 64-byte bulk packets."""

    VID, PID, BCD = 0x0403, 0x6001, 0x0600
    PACKET = 64
    MODEM_STATUS = b"\x01\x60"  # CTS/DSR state bits, then "transmitter empty"
    # AN232B-05: sub-integer divisor code (3 bits) -> eighths
    FRACTION_EIGHTHS = {0: 0, 1: 4, 2: 2, 3: 1, 4: 3, 5: 5, 6: 6, 7: 7}

    def __init__(self, serial: str, address: int) -> None:
        self.strings = {1: "FTDI", 2: "FT232R USB UART", 3: serial}
        self.address = address
        self.plugged = True
        self.denied = False  # USB permission refused (the node's group/mode)
        self.rx = bytearray()  # sent by the instrument, waiting for the host
        self.tx = bytearray()  # written by the host
        self.latency_ms = 16
        self.baud_rate = 9600.0
        self.line_setting = 0
        self.lock = threading.Lock()

    def instrument_sends(self, data: bytes) -> None:
        with self.lock:
            self.rx += data

    def vendor_out(self, request: int, value: int, index: int) -> None:
        if request == 0x03:  # SET_BAUDRATE: 14-bit integer divisor + 3-bit fraction of 3 MHz
            code = (value >> 14) | ((index & 1) << 2)
            eighths = (value & 0x3FFF) * 8 + self.FRACTION_EIGHTHS[code]
            self.baud_rate = {0: 3e6, 8: 2e6}.get(eighths, 24e6 / eighths if eighths else 3e6)
        elif request == 0x04:  # SET_DATA: bits, parity << 8, stop bits << 11
            self.line_setting = value
        elif request == 0x09:
            self.latency_ms = value & 0xFF
        elif request == 0x00 and value == 1:  # RESET, purge RX
            with self.lock:
                self.rx.clear()

    def vendor_in(self, request: int) -> bytes:
        return {0x05: self.MODEM_STATUS, 0x0A: bytes((self.latency_ms,))}.get(request, b"\x00\x00")

    def bulk_in(self, size: int) -> bytes:
        """Up to ``size`` bytes of packets, each the two status bytes and up to 62 data bytes."""
        out = bytearray()
        with self.lock:
            while True:
                piece = self.rx[: self.PACKET - 2]
                del self.rx[: len(piece)]
                out += self.MODEM_STATUS + piece
                if not self.rx or len(out) + self.PACKET > size:
                    return bytes(out)

    def string(self, index: int) -> bytes:
        text = self.strings[index].encode("utf-16-le") if index else b"\x09\x04"  # 0: languages
        return bytes((len(text) + 2, 3)) + text


def _descriptor(**fields: Any) -> types.SimpleNamespace:
    return types.SimpleNamespace(extra_descriptors=[], **fields)


class EmulatedUsbBus(usb.backend.IBackend):
    """A pyusb backend whose bus holds emulated FT232R chips (methods not needed raise)."""

    def __init__(self) -> None:
        self.chips: list[Ft232r] = []

    def plug(self, serial: str) -> Ft232r:
        chip = Ft232r(serial, address=len(self.chips) + 2)
        self.chips.append(chip)
        return chip

    def enumerate_devices(self) -> Iterator[Ft232r]:
        return iter([chip for chip in self.chips if chip.plugged])

    def get_device_descriptor(self, dev: Ft232r) -> types.SimpleNamespace:
        return _descriptor(
            bLength=18, bDescriptorType=1, bcdUSB=0x0200, bDeviceClass=0, bDeviceSubClass=0,
            bDeviceProtocol=0, bMaxPacketSize0=8, idVendor=dev.VID, idProduct=dev.PID, bcdDevice=dev.BCD,
            iManufacturer=1, iProduct=2, iSerialNumber=3, bNumConfigurations=1, address=dev.address,
            bus=1, port_number=dev.address, port_numbers=(dev.address,), speed=2,
        )

    def get_configuration_descriptor(self, dev: Ft232r, config: int) -> types.SimpleNamespace:
        return _descriptor(bLength=9, bDescriptorType=2, wTotalLength=32, bNumInterfaces=1,
                           bConfigurationValue=1, iConfiguration=0, bmAttributes=0xA0, bMaxPower=45)

    def get_interface_descriptor(self, dev: Ft232r, intf: int, alt: int, config: int) -> types.SimpleNamespace:
        return _descriptor(bLength=9, bDescriptorType=4, bInterfaceNumber=0, bAlternateSetting=0, bNumEndpoints=2,
                           bInterfaceClass=0xFF, bInterfaceSubClass=0xFF, bInterfaceProtocol=0xFF, iInterface=2)

    def get_endpoint_descriptor(self, dev: Ft232r, ep: int, intf: int, alt: int,
                                config: int) -> types.SimpleNamespace:
        return _descriptor(bLength=7, bDescriptorType=5, bEndpointAddress=(0x81, 0x02)[ep], bmAttributes=2,
                           wMaxPacketSize=Ft232r.PACKET, bInterval=0, bRefresh=0, bSynchAddress=0)

    def open_device(self, dev: Ft232r) -> Ft232r:
        if dev.denied:
            raise usb.core.USBError("Access denied (insufficient permissions)", errno=13)
        return self._check(dev)

    def close_device(self, dev_handle: Ft232r) -> None:
        pass

    def set_configuration(self, dev_handle: Ft232r, config_value: int) -> None:
        pass

    def get_configuration(self, dev_handle: Ft232r) -> int:
        return 1

    def claim_interface(self, dev_handle: Ft232r, intf: int) -> None:
        pass

    def release_interface(self, dev_handle: Ft232r, intf: int) -> None:
        pass

    def is_kernel_driver_active(self, dev_handle: Ft232r, intf: int) -> bool:
        return False

    def reset_device(self, dev_handle: Ft232r) -> None:
        pass

    def ctrl_transfer(self, dev_handle: Ft232r, bmRequestType: int, bRequest: int, wValue: int, wIndex: int,
                      data: array.array[int], timeout: int) -> int:
        chip = self._check(dev_handle)
        if bmRequestType == 0x80 and bRequest == 0x06 and wValue >> 8 == 3:  # GET_DESCRIPTOR string
            reply = chip.string(wValue & 0xFF)
        elif bmRequestType == 0xC0:
            reply = chip.vendor_in(bRequest)
        elif bmRequestType == 0x40:
            chip.vendor_out(bRequest, wValue, wIndex)
            return len(data)
        else:
            raise usb.core.USBError("request not supported by the emulated FT232R", errno=32)
        reply = reply[: len(data)]
        data[: len(reply)] = array.array("B", reply)
        return len(reply)

    def bulk_write(self, dev_handle: Ft232r, ep: int, intf: int, data: array.array[int], timeout: int) -> int:
        self._check(dev_handle).tx += bytes(data)
        return len(data)

    def bulk_read(self, dev_handle: Ft232r, ep: int, intf: int, buff: array.array[int], timeout: int) -> int:
        packet = self._check(dev_handle).bulk_in(len(buff))
        buff[: len(packet)] = array.array("B", packet)
        return len(packet)

    @staticmethod
    def _check(chip: Ft232r) -> Ft232r:
        if not chip.plugged:
            raise usb.core.USBError("No such device (it may have been disconnected)", errno=19)
        return chip


@pytest.fixture
def usb_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatedUsbBus]:
    """Route pyftdi's USB access to an emulated bus (also keeps the host's real USB out of tests)."""
    bus = EmulatedUsbBus()
    module = types.ModuleType("rpi_ess_emulated_usb")
    module.get_backend = lambda: bus  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(UsbTools, "BACKENDS", (module.__name__,))
    UsbTools.flush_cache()
    yield bus
    UsbTools.release_all_devices()
    UsbTools.flush_cache()


# -- devices -------------------------------------------------------------------------------


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    """Empty stand-ins for /dev/serial/by-id and /dev/ess."""
    return tmp_path / "by-id", tmp_path / "ess"


@pytest.fixture
def make_ftdi(roots: tuple[Path, Path], usb_bus: EmulatedUsbBus) -> Iterator[Callable[..., FtdiDevice]]:
    devices: list[FtdiDevice] = []

    def make(ftdi_id: str = SERIAL, sensor_type: str = "Temperature", channels: int | None = 4) -> FtdiDevice:
        config = DeviceConfig(name="ftdi1", sensor_type=sensor_type, device_type="FTDI", ftdi_id=ftdi_id,
                              channels=channels)
        device = FtdiDevice(config, create_sensor(sensor_type, channels), by_id_root=roots[0], ess_root=roots[1])
        devices.append(device)
        return device

    yield make
    for device in devices:
        device.close()


@pytest.fixture
def by_id_instrument(roots: tuple[Path, Path]) -> Iterator[PtyInstrument]:
    """An FTDI adapter bound to ftdi_sio: a tty with udev's by-id link."""
    with PtyInstrument(BY_ID_NAME, roots[0]) as instrument:
        yield instrument


@pytest.mark.parametrize(
    ("name", "serial"),
    [
        (BY_ID_NAME, SERIAL),
        ("usb-FTDI_FT4232H_Quad_HS_FT5XYZ12-if03-port0", "FT5XYZ12"),
        ("usb-FTDI_TTL232R-3V3_FTB6SPL3-if00-port0", "FTB6SPL3"),
        ("pci-0000:01:00.0-usb-0:1.2:1.0-port0", None),
        ("usb-FTDI_FT232R_USB_UART_A10KXYZ9", None),
    ],
)
def test_serial_from_by_id(name: str, serial: str | None) -> None:
    assert serial_from_by_id(name) == serial


def test_registered_as_ftdi(make_ftdi: Callable[..., FtdiDevice]) -> None:
    device = make_ftdi()
    assert type(create_device(device.config, device.sensor)) is FtdiDevice
    assert device.describe == f"FTDI {SERIAL}"


def test_kernel_tty_found_by_serial(by_id_instrument: PtyInstrument, make_ftdi: Callable[..., FtdiDevice],
                                    read_records: ReadRecords) -> None:
    device = make_ftdi()
    assert device.present() is True
    device.open()
    assert device.describe == f"FTDI {SERIAL} ({by_id_instrument.port})"
    by_id_instrument.write(T4 + b"\r\n")
    assert [r.data for r in read_records(device, 1)] == [T4]


def test_ess_name_found(roots: tuple[Path, Path], make_ftdi: Callable[..., FtdiDevice],
                        read_records: ReadRecords) -> None:
    with PtyInstrument(f"temperature-{SERIAL}", roots[1]) as instrument:
        device = make_ftdi()
        device.open()
        assert device.resolved == instrument.port
        instrument.write(T4 + b"\r\n")
        assert [r.data for r in read_records(device, 1)] == [T4]


def test_part_of_a_serial_is_no_match(by_id_instrument: PtyInstrument,
                                      make_ftdi: Callable[..., FtdiDevice]) -> None:
    device = make_ftdi(SERIAL[:-1])
    assert device.present() is False
    with pytest.raises(DeviceError) as error:
        device.open()
    assert str(error.value) == (f"ftdi1: FTDI {SERIAL[:-1]}: adapter not found; "
                                f"adapters present: {SERIAL} (kernel tty)")


def test_missing_adapter_lists_what_is_plugged(by_id_instrument: PtyInstrument, usb_bus: EmulatedUsbBus,
                                               make_ftdi: Callable[..., FtdiDevice]) -> None:
    usb_bus.plug(SERIAL)  # the same chip is also visible on the bus: listed once
    usb_bus.plug("FTZZ0002")  # a second adapter without a kernel driver
    with pytest.raises(DeviceError, match=f"adapters present: {SERIAL} \\(kernel tty\\), "
                                          "FTZZ0002 \\(USB, no kernel driver\\)$"):
        make_ftdi("A10KXYZ8").open()


def test_nothing_plugged(make_ftdi: Callable[..., FtdiDevice]) -> None:
    with pytest.raises(DeviceError, match=r"adapter not found; no USB serial adapters present$"):
        make_ftdi().open()


def test_without_libusb_only_ttys_are_checked(make_ftdi: Callable[..., FtdiDevice],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(UsbTools, "BACKENDS", ())  # pyftdi: "No backend available"
    with pytest.raises(DeviceError, match=r"no USB serial adapters present \(only kernel ttys were checked: "
                                          r"cannot list USB devices: No backend available\)$"):
        make_ftdi().open()


def test_usb_permission_problem_is_named(usb_bus: EmulatedUsbBus, make_ftdi: Callable[..., FtdiDevice]) -> None:
    usb_bus.plug(SERIAL).denied = True  # no udev rule grants the service user this USB device
    device = make_ftdi()
    assert device.present() is False
    with pytest.raises(DeviceError, match=r"cannot list USB devices: .*permission issue"):
        device.open()


def test_usb_open_permission_reason() -> None:
    """pyftdi wraps libusb's EACCES in a SerialException without errno; the cause is found."""
    try:
        try:
            raise usb.core.USBError("Access denied (insufficient permissions)", errno=13)
        except usb.core.USBError as e:
            raise serial.SerialException(f"Unable to open USB port ftdi://::{SERIAL}/1: {e}") from e
    except serial.SerialException as e:
        assert open_error_reason(e, usb=True).startswith("permission denied on the USB device")
        assert open_error_reason(e) == "permission denied (is the service user in group dialout?)"


def test_no_ftdi_id(make_ftdi: Callable[..., FtdiDevice]) -> None:
    with pytest.raises(DeviceError, match="no ftdi_id configured"):
        make_ftdi("").open()


def test_by_id_unplug_and_replug(by_id_instrument: PtyInstrument, make_ftdi: Callable[..., FtdiDevice],
                                 read_records: ReadRecords) -> None:
    device = make_ftdi()
    device.open()
    by_id_instrument.unplug()  # udev removes the by-id link with the tty
    with pytest.raises(DeviceError, match="port lost"):
        read_records(device, 1)
    device.close()
    assert device.present() is False
    by_id_instrument.replug()
    assert device.present() is True
    device.open()
    by_id_instrument.write(T4 + b"\r\n")
    assert [r.data for r in read_records(device, 1)] == [T4]


# -- user space (pyftdi) -------------------------------------------------------------------


def test_user_space_adapter(usb_bus: EmulatedUsbBus, make_ftdi: Callable[..., FtdiDevice],
                            read_records: ReadRecords) -> None:
    chip = usb_bus.plug(SERIAL)
    device = make_ftdi()
    assert device.present() is True
    device.open()
    assert device.resolved == f"ftdi://::{SERIAL}/1"
    assert chip.latency_ms == 1  # pyftdi alone would leave 12-200 ms dynamic latency
    assert abs(chip.baud_rate - 19200) < 19200 * 0.01 and chip.line_setting == 0x0008  # 8N1
    lines = b"".join(b"%s,C05=%04d.0000\r\n" % (T4, i) for i in range(40))  # > one 64-byte packet each
    chip.instrument_sends(lines)
    records = read_records(device, 40)
    assert [r.data for r in records] == lines.split(b"\r\n")[:-1]


def test_user_space_unplug(usb_bus: EmulatedUsbBus, make_ftdi: Callable[..., FtdiDevice],
                           read_records: ReadRecords) -> None:
    chip = usb_bus.plug(SERIAL)
    device = make_ftdi()
    device.open()
    chip.plugged = False
    with pytest.raises(DeviceError, match=f"ftdi1: FTDI {SERIAL} \\(ftdi://::{SERIAL}/1\\): port lost"):
        read_records(device, 1)
    device.close()
    device.usb_listing_ttl = 0.0
    assert device.present() is False
    chip.plugged = True
    assert device.present() is True


def test_udev_name_of_a_user_space_adapter(usb_bus: EmulatedUsbBus, roots: tuple[Path, Path], tmp_path: Path,
                                           make_ftdi: Callable[..., FtdiDevice]) -> None:
    """`rpi-ess udev-rule` names a driverless adapter's USB node /dev/ess/usb-<serial>: not a tty."""
    usb_bus.plug(SERIAL)
    node = tmp_path / "bus" / "usb" / "001" / "002"
    node.parent.mkdir(parents=True)
    node.touch()
    roots[1].mkdir()
    (roots[1] / f"usb-{SERIAL}").symlink_to(node)
    device = make_ftdi()
    device.usb_nodes = tmp_path / "bus" / "usb"
    assert device.find_tty() is None
    device.open()
    assert device.resolved == f"ftdi://::{SERIAL}/1"


def test_hx85_bytes_over_user_space(usb_bus: EmulatedUsbBus, make_ftdi: Callable[..., FtdiDevice],
                                    read_records: ReadRecords) -> None:
    """The reference decoded FTDI input as ASCII, so the HX85's 0xF8 degree sign killed it."""
    chip = usb_bus.plug(SERIAL)
    device = make_ftdi(sensor_type="HX85A", channels=None)
    device.open()
    line = b"%RH=38.86,AT\xf8C=24.32,DP\xf8C=9.57"
    chip.instrument_sends(b"\n\r" + line + b"\n\r" + line + b"\n\r")
    record = read_records(device, 1)[0]
    assert device.sensor.parse(record.data).values == [38.86, 24.32, 9.57]


def test_serial_device_accepts_ftdi_url(usb_bus: EmulatedUsbBus, make_device: Callable[..., Any],
                                        read_records: ReadRecords) -> None:
    chip = usb_bus.plug(SERIAL)
    device = make_device(f"ftdi://::{SERIAL}/1", channels=4)
    device.open()
    chip.instrument_sends(T4 + b"\r\n")
    assert [r.data for r in read_records(device, 1)] == [T4]
