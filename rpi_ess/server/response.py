"""Response codes sent in ``{"response": <code>}`` lines (PROTOCOL 2.5), plus our additions.

Codes 0-4 and 10 keep the reference's meaning. Codes 11 and up are new: the existing CSC
never triggers them, and any non-zero response already means "failed" to it.
"""

from __future__ import annotations

import enum

__all__ = ["ResponseCode"]


class ResponseCode(enum.IntEnum):
    OK = 0
    NOT_CONFIGURED = 1
    NOT_STARTED = 2
    ALREADY_STARTED = 3
    INVALID_CONFIGURATION = 4
    DEVICE_READ_ERROR = 10  # telemetry only: the reading failed
    DEVICE_OPEN_ERROR = 11  # configure: a device could not be opened (nothing left running)
    DEVICE_NOT_ALLOWED = 12  # configure: the node configuration does not allow this device
    MALFORMED_JSON = 20  # line is not valid UTF-8 JSON
    INVALID_COMMAND = 21  # not an object, or `command`/`parameters` missing or of the wrong type
    UNKNOWN_COMMAND = 22
    INVALID_PARAMETERS = 23  # parameters do not fit the command
    LINE_TOO_LONG = 24  # line longer than the server's limit; it was discarded
    RATE_LIMITED = 25  # too many commands per second; the command was not run
    INTERNAL_ERROR = 30  # unexpected server fault while running a command (logged with a traceback)
