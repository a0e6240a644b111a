"""Request counters of one sandbox, read through ``GET /_sandbox/stats``.

Only /v3 requests are counted (the test-only /_sandbox API is not), counted on arrival
whether or not a fault was then injected, so ``requests`` is what the client sent.

Example::

    stats = Stats()
    stats.arrive("GET", "/v3/sms/history")
    stats.snapshot()["requests"]   # 1
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    """Thread-safe counters: totals, per path, per status, per fault, concurrency."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self.requests = 0
            self.by_path: Counter[str] = Counter()
            self.by_method: Counter[str] = Counter()
            self.by_status: Counter[int] = Counter()
            self.faults: Counter[str] = Counter()
            self.in_flight = 0
            self.max_in_flight = 0

    def arrive(self, method: str, path: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_path[path] += 1
            self.by_method[method] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def status(self, code: int) -> None:
        with self._lock:
            self.by_status[code] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able copy: requests, by_path, by_method, by_status, faults, in_flight, max_in_flight."""
        with self._lock:
            return {
                "requests": self.requests,
                "by_path": dict(self.by_path),
                "by_method": dict(self.by_method),
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                "faults": dict(self.faults),
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
            }
