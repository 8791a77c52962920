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


@dataclass(frozen=True, slots=True)
class _OpenFile:
    target: str  # what the kernel names it: a path, or "socket:[INODE]"
    identity: tuple[int, int] | None  # (st_dev, st_ino) of the file itself, when it can be stat'ed


def _identity(path: os.PathLike[str] | str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _open_file(fd_path: os.PathLike[str]) -> _OpenFile | None:
    try:
        return _OpenFile(os.readlink(fd_path), _identity(fd_path))
    except OSError:  # closed meanwhile (listdir's own descriptor always is)
        return None


def _processes(ctx: DiagContext) -> Iterator[tuple[Process, list[_OpenFile]]]:
    """Each visible process with its open files."""
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
        files = [found for fd in fds if (found := _open_file(fd_dir / fd)) is not None]
        name = (ctx.read_text(f"/proc/{pid}/comm") or "?").strip()
        cmdline = (ctx.read_text(f"/proc/{pid}/cmdline") or "").replace("\0", " ").strip()
        yield Process(int(pid), name, cmdline), files


def file_holders(ctx: DiagContext, path: str) -> list[Process]:
    """Other processes that have ``path`` open (a host path, symlinks resolved).

    Files are compared by device and inode where both can be stat'ed: a getty in another
    mount namespace may hold a different ``/dev/pts/0`` than ours. diag's own process never
    counts: with --simulate (and in tests) it plays the instruments, which keep their end of
    each tty open, and it opens nothing before asking.
    """
    me = os.getpid()
    wanted = _identity(ctx.path(path))

    def same(file: _OpenFile) -> bool:
        if wanted is not None and file.identity is not None:
            return file.identity == wanted
        return file.target == path

    return [process for process, files in _processes(ctx) if process.pid != me and any(map(same, files))]


def socket_owners(ctx: DiagContext, inodes: set[int]) -> list[Process]:
    wanted = {f"socket:[{inode}]" for inode in inodes}
    return [process for process, files in _processes(ctx) if wanted.intersection(f.target for f in files)]
