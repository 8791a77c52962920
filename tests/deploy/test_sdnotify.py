"""sd_notify messages arrive on a real AF_UNIX datagram socket, as systemd would receive them."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

from rpi_ess import sdnotify


@pytest.fixture
def receiver(tmp_path) -> Iterator[tuple[socket.socket, dict[str, str]]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(10)
    try:
        yield sock, {"NOTIFY_SOCKET": str(path)}
    finally:
        sock.close()


def test_ready_with_status(receiver):
    sock, env = receiver
    assert sdnotify.ready("listening on port 5000", environ=env)
    assert sock.recv(4096) == b"READY=1\nSTATUS=listening on port 5000"


def test_status_newlines_cannot_inject_assignments(receiver):
    sock, env = receiver
    assert sdnotify.status("bad\nREADY=1", environ=env)
    assert sock.recv(4096) == b"STATUS=bad READY=1"


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda env: sdnotify.watchdog(environ=env), b"WATCHDOG=1"),
        (lambda env: sdnotify.stopping(environ=env), b"STOPPING=1"),
        (lambda env: sdnotify.stopping("bye", environ=env), b"STOPPING=1\nSTATUS=bye"),
        (lambda env: sdnotify.notify("RELOADING=1", "MONOTONIC_USEC=1", environ=env), b"RELOADING=1\nMONOTONIC_USEC=1"),
    ],
)
def test_messages(receiver, call, expected):
    sock, env = receiver
    assert call(env)
    assert sock.recv(4096) == expected


def test_abstract_socket():
    name = f"rpi-ess-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(10)
        assert sdnotify.ready(environ={"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"READY=1"


def test_default_environment_is_os_environ(receiver, monkeypatch):
    sock, env = receiver
    monkeypatch.setenv("NOTIFY_SOCKET", env["NOTIFY_SOCKET"])
    assert sdnotify.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"


@pytest.mark.parametrize("value", ["", "relative/path.sock"])
def test_no_or_bad_socket_is_a_noop(value):
    assert not sdnotify.ready(environ={"NOTIFY_SOCKET": value})


def test_unreachable_socket_is_logged_not_raised(tmp_path, caplog):
    env = {"NOTIFY_SOCKET": str(tmp_path / "missing.sock")}
    assert not sdnotify.ready(environ=env)
    assert "missing.sock" in caplog.text


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "20000000"}, 10.0),
        ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid())}, 10.0),
        ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "ten"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval(env, expected):
    assert sdnotify.watchdog_interval(env) == expected
