"""Drive the SD image under qemu-system-aarch64 as a node with emulated FTDI adapters, from the host.

Why: the kernel's real USB-serial path (xHCI -> ftdi_sio -> tty), our udev rules, the unit's device sandbox
and the server's re-open logic only meet on a booted image. QEMU's ``usb-serial`` device is an emulated
FTDI FT232 that the guest's ``ftdi_sio`` drives; each one's other end is a host socket fed by one of
rpi_ess's instrument simulators. QMP plugs and unplugs the adapters like a hand at the USB socket, SSH (the
first-boot key) looks inside the guest, and the ESS port forwarded to 127.0.0.1 is read like the CSC does.

Used by ``deploy/smoke-test.sh hotplug`` (see ``main``); everything it measures is on the host clock.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import itertools
import json
import random
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rpi_ess.simulation.instruments import create_simulator

BY_ID = "/dev/serial/by-id/usb-QEMU_QEMU_USB_SERIAL_{serial}-if00-port0"
#: one line per boot, written by rpi-ess-node-state.service on the data partition (the journal is in RAM)
BOOTS_LOG = "/var/lib/rpi-ess-node/boots.log"


def log(message: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] hotplug: {message}\n")


class Qmp:
    """A minimal QMP client: one command at a time; events are kept for ``wait_event``."""

    def __init__(self, path: Path, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(str(path))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.reader = self.sock.makefile("rb")
        self.events: list[dict] = []
        self._read()  # greeting
        self.execute("qmp_capabilities")

    def _read(self) -> dict:
        line = self.reader.readline()
        if not line:
            raise ConnectionError("QMP socket closed")
        return json.loads(line)

    def execute(self, command: str, **arguments: object) -> object:
        self.sock.sendall(json.dumps({"execute": command, "arguments": arguments}).encode() + b"\n")
        while True:
            message = self._read()
            if "event" in message:
                self.events.append(message)
            elif "error" in message:
                raise RuntimeError(f"QMP {command}: {message['error']}")
            else:
                return message.get("return")

    def wait_event(self, name: str, timeout: float) -> dict:
        self.sock.settimeout(timeout)
        try:
            while True:
                for event in self.events:
                    if event["event"] == name:
                        self.events.remove(event)
                        return event
                self.events.append(self._read())
        finally:
            self.sock.settimeout(None)


@dataclass
class Instrument:
    """The host end of one emulated adapter: a simulator writing records, a reader draining the guest's bytes
    (QEMU stalls the whole guest when it cannot deliver what the guest writes)."""

    serial: str
    socket_path: Path
    sensor_type: str = "Temperature"
    channels: int = 4
    received: bytearray = field(default_factory=bytearray)
    #: host arrival time and size of every chunk the guest sent back (echo diagnosis)
    chunks: list[tuple[float, int]] = field(default_factory=list)
    dropped: int = 0  # records not written because QEMU had not read the previous one (no host reading)

    def start(self, stop: threading.Event) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(str(self.socket_path))
        threading.Thread(target=self._feed, args=(stop,), daemon=True).start()
        threading.Thread(target=self._drain, daemon=True).start()

    def _unread(self) -> int:
        """Bytes written to QEMU's end that it has not read yet (SIOCOUTQ)."""
        return struct.unpack("i", fcntl.ioctl(self.sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]

    def _feed(self, stop: threading.Event) -> None:
        """A record per period, dropped (and counted) while the last one is still unread: a real FT232's
        small receive FIFO overflows while no host reads the port, and ftdi_sio purges it when the port is
        opened; QEMU's usb-serial only purges its own 384 bytes ("TODO: purge from char device"), so without
        this a port opened late would receive every record written since power-on in one burst."""
        simulator = create_simulator(self.sensor_type, self.channels, seed=len(self.serial))
        while not stop.wait(simulator.period):
            try:
                record = simulator.next_bytes()
                if self._unread():
                    self.dropped += 1
                    continue
                self.sock.sendall(record)
            except OSError:
                return

    def _drain(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            if not data:
                return
            self.received += data
            self.chunks.append((time.monotonic(), len(data)))


class Guest:
    """Commands inside the guest over SSH (root, the first-boot key)."""

    def __init__(self, port: int, key: Path) -> None:
        self.base = ["ssh", "-q", "-i", str(key), "-p", str(port), "-o", "StrictHostKeyChecking=no",
                     "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
                     "root@127.0.0.1"]

    def run(self, command: str, check: bool = True, timeout: float = 60) -> str:
        done = subprocess.run([*self.base, command], capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"guest: {command!r} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout.strip()

    def wait(self, command: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.run(command, timeout=30)
            except (RuntimeError, subprocess.TimeoutExpired):
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)


class EssClient:
    """Heartbeats, ``configure``, and every telemetry line with its host arrival time; reconnects (and
    configures again) whenever the connection ends, as the CSC does: through qemu's user network a
    connection is accepted even before the guest listens, and then closed."""

    def __init__(self, port: int, devices: list[dict]) -> None:
        self.port = port
        self.configure = json.dumps({"command": "configure", "parameters": {
            "configuration": {"devices": devices}}}).encode() + b"\r\n"
        self.lines: list[tuple[float, dict]] = []
        self.response: dict | None = None
        self.sessions = 0
        self.stop = threading.Event()
        self.sock: socket.socket | None = None
        threading.Thread(target=self._run, daemon=True).start()
        threading.Thread(target=self._heartbeat, daemon=True).start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                    sock.settimeout(None)
                    self.sock = sock
                    self.sessions += 1
                    sock.sendall(b"heartbeat\r\n" + self.configure)
                    for line in sock.makefile("rb"):
                        message = json.loads(line)
                        if "response" in message:
                            self.response = message
                        elif "telemetry" in message:
                            self.lines.append((time.monotonic(), message["telemetry"]))
            except (OSError, ValueError):
                pass
            self.sock = None
            self.stop.wait(1.0)

    def _heartbeat(self) -> None:
        while not self.stop.wait(1.0):
            sock = self.sock
            try:
                if sock:
                    sock.sendall(b"heartbeat\r\n")
            except OSError:
                pass

    def of(self, name: str, since: float = 0.0) -> list[tuple[float, dict]]:
        return [(t, m) for t, m in self.lines if m["name"] == name and t >= since]

    def first_good(self, name: str) -> float | None:
        return next((t for t, m in self.of(name) if m["response_code"] == 0), None)

    def wait_lines(self, name: str, count: int, timeout: float, since: float = 0.0, good: bool = True) -> float:
        """Host time of the ``count``-th (good) line of ``name`` after ``since``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [t for t, m in self.of(name, since) if not good or m["response_code"] == 0]
            if len(hits) >= count:
                return hits[count - 1]
            time.sleep(0.05)
        raise TimeoutError(f"{name}: fewer than {count} {'good ' if good else ''}lines in {timeout:.0f} s "
                           f"(response {self.response})")

    def close(self) -> None:
        self.stop.set()
        sock = self.sock
        if sock:
            sock.close()


def max_gap(times: list[float]) -> float:
    return max((b - a for a, b in itertools.pairwise(times)), default=float("inf"))


def qemu_command(args: argparse.Namespace, work: Path) -> list[str]:
    return [
        "qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", "1024",
        "-accel", "tcg,thread=multi", "-nographic",
        "-kernel", str(args.kernel), "-initrd", str(args.initrd),
        "-append", "root=LABEL=RASPIROOT ro rootwait fsck.repair=yes console=ttyAMA0 "
                   "systemd.show_status=1 systemd.journald.forward_to_console=1",
        "-drive", f"file={args.image},format=raw,if=virtio",
        "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{args.ess_port}-:5000,"
                   f"hostfwd=tcp:127.0.0.1:{args.ssh_port}-:22",
        # romfile= : no PXE option ROM (the kernel is booted directly); hosts without ipxe-qemu lack it.
        "-device", "virtio-net-pci,netdev=net0,romfile=",
        "-device", "i6300esb",
        "-device", "qemu-xhci,id=xhci",
        *(arg for n in (1, 2) for arg in
          ("-chardev", f"socket,id=ftdi{n},path={work}/ftdi{n}.sock,server=on,wait=off")),
        "-device", "usb-serial,bus=xhci.0,chardev=ftdi1,id=u1,serial=FTESS001,always-plugged=on",
        "-qmp", f"unix:{work}/qmp.sock,server=on,wait=off",
    ]


def plug(qmp: Qmp, n: int) -> None:
    qmp.execute("device_add", driver="usb-serial", bus="xhci.0", chardev=f"ftdi{n}", id=f"u{n}",
                serial=f"FTESS00{n}", **{"always-plugged": True})


def unplug(qmp: Qmp, n: int) -> None:
    qmp.execute("device_del", id=f"u{n}")
    qmp.wait_event("DEVICE_DELETED", 30)


def check_port(guest: Guest, link: str) -> dict:
    """Driver, latency timer and termios of the port behind ``link``, as the guest sees it."""
    tty = guest.run(f"basename $(readlink -f {link})")
    return {
        "tty": tty,
        "driver": guest.run(f"basename $(readlink -f /sys/class/tty/{tty}/device/driver)"),
        "latency_timer": guest.run(f"cat /sys/class/tty/{tty}/device/latency_timer"),
        "stty": guest.run(f"stty -F /dev/{tty} -a"),
    }


def watchdog(qmp: Qmp, guest: Guest, args: argparse.Namespace) -> dict:
    """Hang the kernel (sysrq crash, no panic reboot): only the watchdog systemd arms can reset the machine."""
    boots = int(guest.run(f"wc -l < {BOOTS_LOG}"))
    try:  # the guest dies under the ssh session, which may then hang until the timeout
        subprocess.run([*guest.base, "echo c > /proc/sysrq-trigger"], capture_output=True, timeout=10, check=False)
    except subprocess.TimeoutExpired:
        pass
    crashed = time.monotonic()
    event = qmp.wait_event("WATCHDOG", 120)
    fired = time.monotonic()
    guest.wait("systemctl is-active rpi-ess.service", args.boot_timeout)
    serving = time.monotonic()
    after = int(guest.run(f"wc -l < {BOOTS_LOG}"))
    assert event["data"]["action"] == "reset", event
    assert after == boots + 1, f"{boots} boots recorded before, {after} after"
    result = {"fired_after_crash_s": round(fired - crashed, 1), "service_after_reset_s": round(serving - fired, 1)}
    log(f"watchdog: {result}")
    return result


T1 = {"name": "T1", "sensor_type": "Temperature", "channels": 4, "device_type": "Serial",
      "serial_port": "/dev/ess/FTESS001", "baud_rate": 19200}


def fsck_line(console: Path, label: str = "RASPIROOT") -> str:
    text = console.read_bytes().decode(errors="replace")
    return next((line.strip() for line in text.splitlines() if f"{label}:" in line), "no fsck line")


REPAIRED = ("UNEXPECTED INCONSISTENCY", "FILE SYSTEM WAS MODIFIED", "recovering journal")


def repairs(text: str) -> tuple[bool, bool]:
    """(root repaired, data repaired): e2fsck prefixes its findings with the file system's label, whether
    the initramfs or systemd-fsck runs it (a read-only root is checked by systemd-fsck-root). A journal
    replay counts: the read-only root must never need one."""
    lines = text.splitlines()
    return tuple(any(label + ":" in line and any(r in line for r in REPAIRED) for line in lines)
                 for label in ("RASPIROOT", "ESSDATA"))  # type: ignore[return-value]


def partitions(image: Path) -> list[tuple[int, int]]:
    """(offset, size) in bytes of each partition of ``image``."""
    table = json.loads(subprocess.run(["sfdisk", "--json", str(image)], capture_output=True, text=True,
                                      check=True).stdout)["partitiontable"]
    return [(p["start"] * 512, p["size"] * 512) for p in table["partitions"]]


def digest(image: Path, offset: int, size: int) -> str:
    """sha256 of one partition: the read-only root must come out of every power cut bit for bit the same."""
    h = hashlib.sha256()
    with open(image, "rb") as f:
        f.seek(offset)
        left = size
        while left:
            chunk = f.read(min(left, 1 << 20))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


def check_data_partition(image: Path, work: Path) -> dict:
    """e2fsck -fn (no changes) of a copy of the data partition after the last, clean, shutdown."""
    offset, size = partitions(image)[2]
    copy = work / "data.img"
    subprocess.run(["dd", f"if={image}", f"of={copy}", "bs=1M", f"skip={offset // (1 << 20)}",
                    f"count={size // (1 << 20)}", "conv=sparse", "status=none"], check=True)
    done = subprocess.run(["e2fsck", "-fn", str(copy)], capture_output=True, text=True, check=False)
    copy.unlink()
    return {"e2fsck_fn_exit": done.returncode, "summary": done.stdout.strip().splitlines()[-1:]}


def boot_once(args: argparse.Namespace, work: Path, console_path: Path, cut_after: float | None) -> dict:
    """Power on with FTESS001 streaming; SIGKILL qemu after ``cut_after`` s (the power cut), or, with None,
    run until the first good telemetry line, then shut the guest down cleanly (over SSH) and check what the
    data partition must show after a clean shutdown. Host-clock figures."""
    started = time.monotonic()
    with open(console_path, "wb") as console:
        vm = subprocess.Popen(qemu_command(args, work), stdin=subprocess.DEVNULL, stdout=console, stderr=console)
        stop = threading.Event()
        client = None
        root_mount = None
        try:
            Qmp(work / "qmp.sock")  # qemu is up and its chardev sockets exist
            Instrument("FTESS001", work / "ftdi1.sock").start(stop)
            client = EssClient(args.ess_port, [T1])
            if cut_after is None:
                client.wait_lines("T1", 1, args.boot_timeout)
                guest = Guest(args.ssh_port, args.key)
                root_mount = guest.wait("findmnt -no OPTIONS /; findmnt -no SOURCE,OPTIONS /var", 120)
                try:
                    subprocess.run([*guest.base, "systemctl poweroff"], capture_output=True, timeout=30,
                                   check=False)
                except subprocess.TimeoutExpired:
                    pass
                vm.wait(120)
            else:
                time.sleep(max(0.0, started + cut_after - time.monotonic()))
        finally:
            stop.set()
            if client:
                client.close()
            if vm.poll() is None:
                vm.kill()  # SIGKILL: the power cut
            vm.wait(60)
    served = client.first_good("T1") if client else None
    text = console_path.read_bytes().decode(errors="replace")
    data_lines = [line.strip() for line in text.splitlines() if "ESSDATA" in line]
    result = {"cut_after_s": None if cut_after is None else round(cut_after, 1),
              "telemetry_after_s": None if served is None else round(served - started, 1),
              "fsck": fsck_line(console_path),
              "repaired": repairs(text)[0], "data_repaired": repairs(text)[1],
              "reached_systemd": "Welcome to " in text,
              "data_fsck": [line for line in data_lines if "ESSDATA:" in line][-2:]}
    if root_mount is not None:
        result["mounts"] = root_mount
    return result


def powercut(args: argparse.Namespace, work: Path) -> dict:
    """Cycles of power-on -> SIGKILL at a random moment (seeded: the same moments every run) -> power-on;
    the cuts fall during boot (the first one during first boot and its writes) and while streaming. The root
    partition must be bit for bit what was built (it is read-only), every boot must find it clean, and the
    data partition must be consistent after the last, clean, shutdown."""
    rng = random.Random(args.seed)
    root_offset, root_size = partitions(args.image)[1]
    root_before = digest(args.image, root_offset, root_size)
    cycles = []
    for cycle in range(args.cycles):
        console = args.console.with_name(f"{args.console.stem}-{cycle}.log")
        cycles.append(boot_once(args, work, console, rng.uniform(5, args.cut_max)))
        log(f"cycle {cycle}: {cycles[-1]}")
    # Each cut is followed by the next cycle's boot; the last one by a clean boot that must serve.
    final = boot_once(args, work, args.console.with_name(f"{args.console.stem}-final.log"), None)
    log(f"final boot: {final}")
    served = [c["telemetry_after_s"] for c in [*cycles, final] if c["telemetry_after_s"] is not None]
    figures = {"cycles": cycles, "final": final, "boot_to_telemetry_s": {"min": min(served), "max": max(served)},
               "root_unchanged": digest(args.image, root_offset, root_size) == root_before,
               "data_partition": check_data_partition(args.image, work)}
    log(f"root unchanged: {figures['root_unchanged']}, data partition: {figures['data_partition']}")
    assert not any(c["repaired"] for c in [*cycles, final]), "the root file system needed a repair"
    # A cut during the kernel's or the initramfs's first seconds comes before the check: only boots that
    # reached systemd must show it.
    assert all(c["fsck"] != "no fsck line" for c in [*cycles, final] if c["reached_systemd"]), \
        "a boot did not check the root"
    assert final["telemetry_after_s"] is not None, "the last boot did not serve"
    assert " ro," in f" {final['mounts'].splitlines()[0]},", f"root not read-only: {final['mounts']}"
    assert figures["root_unchanged"], "the read-only root partition changed"
    assert figures["data_partition"]["e2fsck_fn_exit"] == 0, "the data partition is not clean"
    return figures


def hotplug(args: argparse.Namespace, work: Path) -> dict:
    """The scenario of issue 14 item 1/2; returns the measured figures, raises AssertionError on failure."""
    figures: dict[str, object] = {}
    console = open(args.console, "wb")  # noqa: SIM115 - lives as long as qemu
    started = time.monotonic()
    vm = subprocess.Popen(qemu_command(args, work), stdin=subprocess.DEVNULL, stdout=console, stderr=console)
    stop = threading.Event()
    client = None
    try:
        qmp = Qmp(work / "qmp.sock")
        instruments = {n: Instrument(f"FTESS00{n}", work / f"ftdi{n}.sock") for n in (1, 2)}
        for instrument in instruments.values():
            instrument.start(stop)
        guest = Guest(args.ssh_port, args.key)
        guest.wait("systemctl is-active rpi-ess.service", args.boot_timeout)
        figures["boot_to_service_s"] = round(time.monotonic() - started, 1)
        pid = guest.run("systemctl show -p MainPID --value rpi-ess.service")
        log(f"service up {figures['boot_to_service_s']} s after power-on (PID {pid})")

        # Adapter 2 arrives only now, after the unit (and its device cgroup) started.
        plug(qmp, 2)
        plugged2 = time.monotonic()
        by_id = BY_ID.format(serial="FTESS002")
        guest.wait(f"test -e {by_id}", 60)
        ports = {"FTESS001": check_port(guest, "/dev/ess/FTESS001"), "FTESS002": check_port(guest, by_id)}
        # Checked here, asserted after the unplug phase, so that one run shows every failure.
        port_failures = []
        for serial, port in ports.items():
            if port["driver"] != "ftdi_sio":
                port_failures.append(f"{serial}: driver {port['driver']}")
            if port["latency_timer"] != "1":
                port_failures.append(f"{serial}: latency_timer {port['latency_timer']}")
            if not (" -echo " in f" {port['stty']} " and " -icanon " in f" {port['stty']} "):
                port_failures.append(f"{serial}: not raw without echo: {port['stty']}")
        figures["ports"] = {s: {k: v for k, v in p.items() if k != "stty"} for s, p in ports.items()}
        figures["proc_devices"] = guest.run("grep -wE 'ttyUSB|ttyACM|i2c' /proc/devices").splitlines()

        client = EssClient(args.ess_port, [T1, {**T1, "name": "T2", "serial_port": by_id}])
        t1 = client.wait_lines("T1", 3, 60)
        t2 = client.wait_lines("T2", 3, 60)
        figures["first_telemetry_s"] = round(max(t1, t2) - started, 1)
        assert guest.run("systemctl show -p MainPID --value rpi-ess.service") == pid, "the service restarted"
        log(f"telemetry from both adapters (the late one without a restart), {figures['first_telemetry_s']} s "
            "after power-on")

        # Pull adapter 1 for 5 s, put it back.
        steady = time.monotonic()
        time.sleep(3)
        # The unplug moment is taken before device_del: the guest may see the removal (and the server
        # report it) before QMP's DEVICE_DELETED event is read.
        pulled = time.monotonic()
        unplug(qmp, 1)
        figures["device_deleted_after_s"] = round(time.monotonic() - pulled, 2)
        time.sleep(5)
        plug(qmp, 1)
        replugged = time.monotonic()
        resumed = client.wait_lines("T1", 1, 30, since=replugged)
        time.sleep(3)
        errors = [t for t, m in client.of("T1", pulled) if m["response_code"] != 0 and t < replugged]
        figures["first_error_after_unplug_s"] = round(errors[0] - pulled, 2) if errors else None
        figures["resume_after_replug_s"] = round(resumed - replugged, 2)
        figures["T2_max_gap_s"] = round(max_gap([t for t, _ in client.of("T2", steady)]), 2)
        figures["echoed_bytes"] = {i.serial: len(i.received) for i in instruments.values()}
        figures["records_dropped_unread"] = {i.serial: i.dropped for i in instruments.values()}
        figures["T1_lines_around_unplug"] = [(round(t - pulled, 2), m["response_code"])
                                             for t, m in client.of("T1", pulled - 2) if t < replugged + 3]
        figures["echo_chunks_s"] = {i.serial: [(round(t - started, 1), n) for t, n in i.chunks[:20]]
                                    for i in instruments.values()}
        figures["events_s"] = {"service": figures["boot_to_service_s"], "plug2": round(plugged2 - started, 1),
                               "pulled": round(pulled - started, 1), "replugged": round(replugged - started, 1)}
        figures["journal_unplug"] = guest.run(
            "journalctl -b -u rpi-ess.service -o short-monotonic --no-pager | tail -40", check=False)
        figures["names_after_replug"] = guest.run("ls /dev/ess/")
        figures["latency_timer_after_replug"] = check_port(guest, "/dev/ess/FTESS001")["latency_timer"]
        log(f"figures: {json.dumps(figures)}")
        assert not port_failures, "; ".join(port_failures)
        assert figures["T2_max_gap_s"] <= 2 * 1.0 + args.jitter, "the other adapter's stream had a gap"
        assert errors, "no error report for the pulled adapter"
        assert figures["resume_after_replug_s"] <= args.resume_max, "the pulled adapter resumed too late"
        assert figures["latency_timer_after_replug"] == "1"
        # Echo: none on a port plugged in while the node runs (FTESS002, and FTESS001 re-plugged). At power-on
        # FTESS001's first open (udev's raw-mode command at coldplug) may echo the one record that QEMU holds
        # for it: usb-serial does not purge its chardev when ftdi_sio resets the chip at open (a real FT232
        # purges its FIFO), so that record arrives in the few ms before the mode is set. Reported, not failed.
        figures["echo_after_boot"] = {"FTESS002": len(instruments[2].received),
                                      "FTESS001_replugged": sum(n for t, n in instruments[1].chunks if t >= pulled)}
        figures["echo_at_coldplug"] = {"FTESS001": sum(n for t, n in instruments[1].chunks if t < pulled),
                                       "bytes": bytes(instruments[1].received[:40]).decode(errors="replace")}
        assert not any(figures["echo_after_boot"].values()), "the guest sent bytes back to a hot-plugged instrument"

        # Power-cut and appliance checks that need the booted image.
        figures["root_fsck"] = b"RASPIROOT: clean" in Path(args.console).read_bytes()
        assert figures["root_fsck"], "the initramfs did not check the root file system"
        figures["grow_data"] = guest.run("journalctl -b -u rpi-ess-growroot.service -o cat | tail -1")
        figures["mounts"] = {m: guest.run(f"findmnt -no SOURCE,FSTYPE,OPTIONS {m}") for m in ("/", "/var", "/tmp")}
        assert " ro," in f" {figures['mounts']['/'].split()[-1]},", f"root not read-only: {figures['mounts']}"
        assert "ESSDATA" in guest.run("lsblk -no LABEL $(findmnt -no SOURCE /var)"), figures["mounts"]
        figures["failed_units"] = guest.run("systemctl --failed --no-legend --plain | cut -d' ' -f1").split()
        figures["node_state"] = guest.run("hostname; ls /var/lib/rpi-ess-node/keys/etc/ssh | wc -l; "
                                          "readlink /etc/rpi-ess; cat /etc/machine-id")
        figures["watchdog"] = guest.run("systemctl show -p RuntimeWatchdogUSec --value; ls /dev/watchdog0")
        # The clock line of the server's own status report, read inside its sandbox (adjtimex allowed).
        figures["status_clock"] = json.loads(guest.run(
            "python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect(\"/run/rpi-ess/status.sock\");"
            " s.sendall(b\"{\\\"command\\\": \\\"status\\\", \\\"parameters\\\": {}}\\r\\n\");"
            " print(s.makefile().readline())'"))["status"]["server"]["clock"]
        assert "synchronisation unknown" not in figures["status_clock"], figures["status_clock"]
        guest.wait("test -z \"$(findmnt -n -t vfat /boot/firmware)\"", 90)
        figures["boot_partition"] = "unmounted when idle"
        if args.watchdog:
            figures["watchdog_reset"] = watchdog(qmp, guest, args)
        return figures
    finally:
        stop.set()
        if client:
            client.close()
        vm.terminate()
        try:
            vm.wait(30)
        except subprocess.TimeoutExpired:
            vm.kill()
        console.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["hotplug", "powercut"])
    for name in ("image", "kernel", "initrd", "key", "console", "work"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--ess-port", type=int, required=True)
    parser.add_argument("--ssh-port", type=int, required=True)
    parser.add_argument("--boot-timeout", type=float, default=900)
    parser.add_argument("--resume-max", type=float, default=2.0, help="seconds from re-plug to a good line")
    parser.add_argument("--jitter", type=float, default=0.5, help="allowed scheduling jitter on a gap, s")
    parser.add_argument("--cycles", type=int, default=10, help="powercut: boots cut by SIGKILL")
    parser.add_argument("--cut-max", type=float, default=150, help="powercut: latest cut, s after power-on")
    parser.add_argument("--seed", type=int, default=14, help="powercut: seed of the cut moments")
    parser.add_argument("--no-watchdog", dest="watchdog", action="store_false",
                        help="skip the last phase: hang the kernel and wait for the watchdog's reset")
    args = parser.parse_args(argv)
    try:
        figures = (hotplug if args.scenario == "hotplug" else powercut)(args, args.work)
    except (AssertionError, RuntimeError, TimeoutError, OSError, subprocess.TimeoutExpired) as e:
        log(f"FAILED: {e}")
        return 1
    sys.stdout.write(json.dumps(figures, indent=2) + "\n")
    log("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
