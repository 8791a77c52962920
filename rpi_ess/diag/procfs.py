"""Who holds what: TCP sockets and open files, read from ``/proc`` like ss and fuser do.

Only processes whose ``/proc/PID/fd`` we may read are visible; as a normal user that is
our own, so callers say "no holder found", never "free for sure", unless running as root.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass

from .context import DiagContext

__all__ = ["Process", "TcpSocket", "file_holders", "socket_owners", "tcp_sockets"]

TCP_LISTEN = "0A"
TCP_ESTABLISHED = "01"


@dataclass(frozen=True, slots=True)
class Process:
    pid: int
    name: str
    cmdline: str

    def describe(self) -> str:
        return f"pid {self.pid} ({self.name})"


@dataclass(frozen=True, slots=True)
class TcpSocket:
    local: tuple[str, int]
    remote: tuple[str, int]
    state: str  # kernel state code: "0A" listen, "01" established
    inode: int


def _address(text: str) -> tuple[str, int]:
    host_hex, _, port_hex = text.partition(":")
    raw = bytes.fromhex(host_hex)
    # /proc prints the address as host-order 32-bit words
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, words), int(port_hex, 16)


def tcp_sockets(ctx: DiagContext, port: int) -> list[TcpSocket]:
    """IPv4 and IPv6 TCP sockets whose local port is ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in (ctx.read_text(table) or "").splitlines()[1:]:
            fields = line.split()
            try:
                local, remote = _address(fields[1]), _address(fields[2])
                entry = TcpSocket(local, remote, fields[3], int(fields[9]))
            except (IndexError, ValueError, OSError):
                continue
            if local[1] == port:
                found.append(entry)
    return found


def _readlink(path: os.PathLike[str]) -> str | None:
    try:
        return os.readlink(path)
    except OSError:  # closed meanwhile (listdir's own descriptor always is)
        return None


def _processes(ctx: DiagContext) -> Iterator[tuple[Process, list[str]]]:
    """Each visible process with the targets of its open file descriptors."""
    proc = ctx.path("/proc")
    try:
        pids = [entry for entry in os.listdir(proc) if entry.isdigit()]
    except OSError:
        return
    for pid in pids:
        fd_dir = proc / pid / "fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue  # gone, or not ours to read
        targets = [target for fd in fds if (target := _readlink(fd_dir / fd)) is not None]
        name = (ctx.read_text(f"/proc/{pid}/comm") or "?").strip()
        cmdline = (ctx.read_text(f"/proc/{pid}/cmdline") or "").replace("\0", " ").strip()
        yield Process(int(pid), name, cmdline), targets


def file_holders(ctx: DiagContext, path: str) -> list[Process]:
    """Other processes that have ``path`` open (a host path, symlinks resolved).

    diag's own process never counts: with --simulate (and in tests) it plays the instruments,
    which keep their end of each tty open, and it opens nothing before asking.
    """
    me = os.getpid()
    return [process for process, targets in _processes(ctx) if path in targets and process.pid != me]


def socket_owners(ctx: DiagContext, inodes: set[int]) -> list[Process]:
    wanted = {f"socket:[{inode}]" for inode in inodes}
    return [process for process, targets in _processes(ctx) if wanted.intersection(targets)]
