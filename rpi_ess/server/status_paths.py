"""Where the local status socket lives when nobody names it, so ``serve`` and ``diag`` agree.

The service gets ``$RUNTIME_DIRECTORY`` from systemd. A ``serve`` started by hand has no such
directory, so it falls back to a per-user runtime directory; ``diag`` looks in the same places,
in the same order, and finds a hand-started server without options.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

__all__ = ["find_status_socket", "serve_status_socket", "status_socket_candidates"]

SOCKET_NAME = "status.sock"
SERVICE_DIR = "/run/rpi-ess"


def _per_user_dirs() -> list[Path]:
    """Directories only this user may use: $XDG_RUNTIME_DIR/rpi-ess, else /tmp/rpi-ess-UID."""
    dirs = []
    if xdg := os.environ.get("XDG_RUNTIME_DIR"):
        dirs.append(Path(xdg) / "rpi-ess")
    dirs.append(Path("/tmp") / f"rpi-ess-{os.getuid()}")
    return dirs


def status_socket_candidates() -> list[str]:
    """Every default location, the service's first."""
    dirs = []
    if runtime := os.environ.get("RUNTIME_DIRECTORY"):
        dirs.append(Path(runtime.split(":")[0]))
    dirs += [Path(SERVICE_DIR), *_per_user_dirs()]
    return list(dict.fromkeys(str(folder / SOCKET_NAME) for folder in dirs))


def _private_dir(folder: Path) -> bool:
    """Create (mode 0700) or accept a per-user directory: ours, a real directory, not a symlink."""
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    try:
        info = folder.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022


def serve_status_socket() -> str | None:
    """The path a server started without ``--status-socket`` uses, or None if none is usable."""
    for path in status_socket_candidates():
        folder = Path(path).parent
        if folder in _per_user_dirs():
            with contextlib.suppress(OSError):
                if _private_dir(folder):
                    return path
        elif os.access(folder, os.W_OK):
            return path
    return None


def find_status_socket() -> str:
    """Where diag looks without ``--status-socket``: the first default path that has a socket."""
    candidates = status_socket_candidates()
    for path in candidates:
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(os.stat(path).st_mode):
                return path
    return candidates[0]
