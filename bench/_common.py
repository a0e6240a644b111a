"""Shared benchmark helpers: timing, peak RSS sampling, and a uniform report table.

Each benchmark runs its baseline and csframe in the same process and prints ratios, so
figures from different machines stay comparable.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field


def _rss() -> int:
    try:
        import psutil

        return psutil.Process(os.getpid()).memory_info().rss
    except ImportError:  # psutil is in the bench extra; fall back to /proc
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class Run:
    name: str
    seconds: float = 0.0
    rows: int = 0
    peak_rss_mb: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else float("nan")


@contextmanager
def measure(name: str, runs: list[Run]):
    """Time the block and sample RSS every 5 ms; the peak is relative to the start."""
    run = Run(name)
    base = _rss()
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss())
            stop.wait(0.005)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    t0 = time.perf_counter()
    try:
        yield run
    finally:
        run.seconds = time.perf_counter() - t0
        stop.set()
        t.join()
        run.peak_rss_mb = (max(peak[0], _rss()) - base) / 2**20
        runs.append(run)


def report(runs: list[Run], baseline: str, title: str) -> str:
    """A fixed-width table: wall time, rows/s, peak RSS and speed-up vs ``baseline``
    (baseline seconds / run seconds)."""
    base = next(r for r in runs if r.name == baseline)
    lines = [
        title,
        f"{'run':<44}{'wall s':>9}{'rows/s':>12}{'peak MB':>10}{'speed-up':>10}",
    ]
    for r in runs:
        ratio = base.seconds / r.seconds if r.seconds else float("nan")
        lines.append(
            f"{r.name:<44}{r.seconds:>9.3f}{r.rows_per_s:>12,.0f}{r.peak_rss_mb:>10.1f}"
            f"{ratio:>9.2f}x"
        )
    return "\n".join(lines)
