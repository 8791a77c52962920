"""Our own asyncio TCP layer: line/JSON streams, a one-client server with heartbeats, a client.

Mirrors the API of Rubin's ``lsst-ts-tcpip`` (not on PyPI) and knows nothing about ESS.
"""

from . import constants
from .addresses import format_address
from .client import DEFAULT_CONNECT_TIMEOUT, Client
from .constants import *  # noqa: F403  (every wire constant is public)
from .jsonfmt import dumps_json, loads_json
from .one_client_server import OneClientServer
from .read_loop_server import OneClientReadLoopServer
from .sockopts import set_socket_options
from .stream import CLOSE_TIMEOUT, BaseClientOrServer, ConnectCallback, LineTooLongError, close_writer
from .tasks import cancel_tasks

__all__ = [
    "CLOSE_TIMEOUT",
    "DEFAULT_CONNECT_TIMEOUT",
    "BaseClientOrServer",
    "Client",
    "ConnectCallback",
    "LineTooLongError",
    "OneClientReadLoopServer",
    "OneClientServer",
    "cancel_tasks",
    "close_writer",
    "dumps_json",
    "format_address",
    "loads_json",
    "set_socket_options",
]
__all__ += constants.__all__
