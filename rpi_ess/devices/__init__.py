"""Device backends, one per bus kind, chosen by the configuration's ``device_type`` string.

Where bytes enter: :class:`Device` (``base.py``) is the interface, ``interfaces/`` holds one
backend per bus kind, ``backends.py`` is the registry, ``config.py`` validates a device entry,
``runner.py`` runs each device on its own thread.
"""

from __future__ import annotations

from .backends import BACKENDS, backend_class, create_device
from .base import Device, DeviceError, Record

__all__ = ["BACKENDS", "Device", "DeviceError", "Record", "backend_class", "create_device"]
