"""A thread-safe token bucket shared by every worker of one client.

Example::

    >>> bucket = TokenBucket(rate=10, burst=2)
    >>> bucket.acquire()   # returns at once while tokens remain
    0.0
"""

from __future__ import annotations

import threading
import time


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up. ``rate=None`` never waits."""

    def __init__(self, rate: float | None, burst: float | None = None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate_limit must be a positive number of requests/s, got {rate!r}")
        self.rate = rate
        self.burst = float(burst if burst is not None else max(1.0, rate or 1.0))
        self._tokens = self.burst
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; returns the seconds waited."""
        if self.rate is None:
            return 0.0
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return waited
                delay = (1.0 - self._tokens) / self.rate
            # Sleep outside the lock so other threads can compute their own delay.
            time.sleep(delay)
            waited += delay
