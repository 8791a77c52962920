"""Turning one received line into a command call (PROTOCOL 2.1), with a clear error for each fault.

The reference closed the connection on any malformed line. Here every fault becomes a
:class:`CommandError` carrying a response code and a readable message, which the server
sends back as ``{"response": code, "message": ...}`` before reading the next line.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .response import ResponseCode

__all__ = ["CommandError", "RateLimiter", "call_command", "error_response", "parse_command"]

_MAX_JSON_DEPTH = 32


class CommandError(Exception):
    """A command that cannot be run; becomes one error response line."""

    def __init__(self, code: ResponseCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


MAX_MESSAGE = 4000  # characters; an error line must stay far below the client's 64 KiB line limit


def error_response(code: ResponseCode, message: str) -> dict[str, Any]:
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    return {"response": int(code), "message": message}


def _depth(value: Any, limit: int) -> int:
    """Nesting depth, stopping early past ``limit`` (deeply nested input is refused)."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_command(line: bytes) -> tuple[str, dict[str, Any]]:
    """Decode one line (terminator already removed) into ``(command, parameters)``."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CommandError(ResponseCode.MALFORMED_JSON, f"line is not valid UTF-8 (byte {e.start})") from None
    if not text.strip():
        raise CommandError(ResponseCode.MALFORMED_JSON, "empty line")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise CommandError(ResponseCode.MALFORMED_JSON, f"line is not valid JSON: {e}") from None
    if not isinstance(message, dict):
        raise CommandError(ResponseCode.INVALID_COMMAND,
                           f"a command must be a JSON object, got {type(message).__name__}")
    if _depth(message, _MAX_JSON_DEPTH) > _MAX_JSON_DEPTH:
        raise CommandError(ResponseCode.INVALID_COMMAND, f"command nested deeper than {_MAX_JSON_DEPTH} levels")
    missing = [key for key in ("command", "parameters") if key not in message]
    if missing:
        raise CommandError(ResponseCode.INVALID_COMMAND, f"command object lacks {' and '.join(missing)}")
    extra = sorted(set(message) - {"command", "parameters"})
    if extra:
        raise CommandError(ResponseCode.INVALID_COMMAND, f"unexpected key(s) in command object: {', '.join(extra)}")
    command, parameters = message["command"], message["parameters"]
    if not isinstance(command, str):
        raise CommandError(ResponseCode.INVALID_COMMAND, f"command must be a string, got {command!r}"[:200])
    if not isinstance(parameters, dict):
        raise CommandError(ResponseCode.INVALID_COMMAND,
                           f"parameters must be an object, got {type(parameters).__name__}")
    return command, parameters


async def call_command(
    commands: Mapping[str, Callable[..., Awaitable[dict[str, Any] | None]]],
    command: str,
    parameters: dict[str, Any],
) -> dict[str, Any] | None:
    """Run ``commands[command](**parameters)`` after checking the name and the parameter names."""
    try:
        method = commands[command]
    except KeyError:
        raise CommandError(ResponseCode.UNKNOWN_COMMAND,
                           f"unknown command {command[:64]!r}; known: {', '.join(sorted(commands))}") from None
    try:
        inspect.signature(method).bind(**parameters)
    except TypeError as e:
        raise CommandError(ResponseCode.INVALID_PARAMETERS, f"{command}: {e}") from None
    return await method(**parameters)


class RateLimiter:
    """Token bucket: ``rate`` commands per second with bursts of ``2 * rate``."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(1.0, 2 * rate)
        self.tokens = self.capacity
        self.clock = clock
        self.stamp = clock()

    def allow(self) -> bool:
        if self.rate <= 0:
            return True
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True
