"""The reference's JSON dialect: Python ``json`` defaults, with bare ``NaN``/``Infinity`` tokens.

The CSC decodes with ``json.loads`` and calls ``float()`` on sensor values, so NaN must go out as
the bare token ``NaN`` (never ``null``) and key order must be kept (PROTOCOL 1.2).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps_json", "loads_json"]


def dumps_json(obj: Any) -> str:
    """Encode like ``json.dumps`` with defaults: ``", "``/``": "`` separators, ASCII, NaN allowed."""
    return json.dumps(obj)


def loads_json(text: str | bytes) -> Any:
    """Decode JSON, accepting the ``NaN``, ``Infinity`` and ``-Infinity`` tokens."""
    return json.loads(text)
