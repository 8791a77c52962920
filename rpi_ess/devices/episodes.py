"""Failure episodes, kept per instrument identity across client sessions (PROTOCOL Appendix C).

An episode runs from a device's first failed open, read or parse until its next good
reading. It belongs to the instrument (name and port, FTDI serial or I2C address, see
``DeviceConfig.identity``), not to the connection: a CSC that reconnects or configures again
during an outage sees the same episode in ``status``, ``diag`` and the metrics, and the log
says once that it started, at most once a minute that it goes on, and once that it ended.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

__all__ = ["ERROR_CLASSES", "Episode", "EpisodeBook"]

#: every class a failure is shown with (status, diag, metrics, log)
ERROR_CLASSES = ("open", "timeout", "read", "parse", "overflow")
STILL_FAILING_LOG = 60.0  # seconds between "still failing" log lines of one episode


@dataclass
class Episode:
    started: float  # unix time of the first failure
    started_mono: float
    kind: str
    message: str
    failures: int = 0
    logged_mono: float = field(default=0.0)

    def as_dict(self, now_mono: float) -> dict[str, object]:
        return {
            "since": self.started,
            "seconds": round(now_mono - self.started_mono, 3),
            "class": self.kind,
            "failures": self.failures,
            "message": self.message,
        }


class EpisodeBook:
    """The open episodes of one server, by device identity; thread-safe."""

    def __init__(self) -> None:
        self._episodes: dict[str, Episode] = {}
        self._lock = threading.Lock()

    def fail(self, identity: str, kind: str, message: str, log: logging.Logger) -> Episode:
        """Count a failure; open the episode if there is none. Logs at a bounded rate.

        ``message`` names the device and its port (said once in every log line).
        """
        now = time.monotonic()
        with self._lock:
            episode = self._episodes.get(identity)
            if episode is None:
                episode = self._episodes[identity] = Episode(time.time(), now, kind, message, logged_mono=now)
                log.warning("failing (%s): %s", kind, message)
            elif now - episode.logged_mono >= STILL_FAILING_LOG:
                episode.logged_mono = now
                log.warning("still failing after %.0f s (%d failures), last (%s): %s",
                            now - episode.started_mono, episode.failures + 1, kind, message)
            episode.failures += 1
            episode.kind, episode.message = kind, message
        return episode

    def recover(self, identity: str, where: str, log: logging.Logger) -> None:
        """A good reading: the episode (if any) is over."""
        if identity not in self._episodes:  # the common case costs one dict lookup
            return
        with self._lock:
            episode = self._episodes.pop(identity, None)
        if episode is not None:
            log.info("%s: recovered after %.1f s (%d failures)", where, time.monotonic() - episode.started_mono,
                     episode.failures)

    def get(self, identity: str) -> Episode | None:
        return self._episodes.get(identity)

    def __len__(self) -> int:
        return len(self._episodes)
