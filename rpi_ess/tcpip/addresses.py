"""Readable ``host:port`` strings for log and error messages."""

from __future__ import annotations

from typing import Any

__all__ = ["format_address", "peer_address"]


def format_address(host: str | None, port: int | str) -> str:
    """``127.0.0.1:5000``, ``[::1]:5000`` or ``*:5000`` (all interfaces)."""
    if not host:
        host = "*"
    elif ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}"


def peer_address(info: Any) -> tuple[str, str]:
    """``(host, "host:port")`` from a ``peername`` extra-info value (a tuple, or None if unknown)."""
    if not isinstance(info, tuple) or len(info) < 2:
        return "", "unknown peer"
    return str(info[0]), format_address(str(info[0]), info[1])
