"""Whether endpoints accept a connection: every probe at once, each bounded in time."""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlparse

from chiron.preflight.needs import Need

PROBE_TIMEOUT_S = 3.0  # an endpoint that takes longer to accept a connection is reported unreachable


class Probes:
    """TCP connects to every endpoint at once (a run with six API models waits one timeout, not six).
    A need is added to the caller's list when its endpoint does not accept a connection in time."""

    def __init__(self) -> None:
        self._waiting: dict[tuple[str, int], list[tuple[str, str | None, str | None]]] = {}
        self._threads: dict[tuple[str, int], threading.Thread] = {}
        self._problems: dict[tuple[str, int], str | None] = {}
        self._urls: dict[tuple[str, int], str] = {}

    def endpoint(self, url: str, label: str, fix: str | None = None, what: str | None = None) -> list[Need]:
        """Starts the probe; the needs it finds come from wait(). A malformed URL is a need at once."""
        parsed = urlparse(url)
        if not parsed.hostname:
            return [Need(f"{label}: base_url {url!r} has no host", "set base_url to http(s)://host[:port]/v1")]
        where = (parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80))
        self._waiting.setdefault(where, []).append((label, fix, what))
        if where not in self._threads:
            self._urls[where] = url
            self._threads[where] = threading.Thread(target=self._probe, args=(where,), daemon=True)
            self._threads[where].start()
        return []

    def _probe(self, where: tuple[str, int]) -> None:
        try:
            socket.create_connection(where, timeout=PROBE_TIMEOUT_S).close()
            self._problems[where] = None
        except OSError as exc:
            self._problems[where] = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

    def wait(self) -> list[Need]:
        deadline = time.monotonic() + PROBE_TIMEOUT_S + 1  # a DNS lookup ignores the socket timeout
        needs: list[Need] = []
        for where, thread in self._threads.items():
            thread.join(max(0.0, deadline - time.monotonic()))
            problem = self._problems.get(where, f"no answer within {PROBE_TIMEOUT_S + 1:.0f} s")
            if problem is None:
                continue
            for label, fix, what in self._waiting[where]:
                needs.append(Need((what or "cannot connect to {url} ({problem})").format(url=self._urls[where], problem=problem),
                                  fix or "start the server, or check that this machine can reach it", label))
        return needs
