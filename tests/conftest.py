"""Shared fixtures: one loopback sandbox for the session, and clients bound to it.

Tests that change sandbox data (sends, inserts) either use their own ``running()`` or
call ``sandbox.reset`` helpers; read-only tests share the session sandbox.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (reference material); tests that need it skip when it is absent."""
    if not (SHARED / "clicksend-api").is_dir():
        pytest.skip("../shared/clicksend-api is not present (a fresh clone has no ../shared)")
    return SHARED


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    # Never touch the user's real cache directory from tests.
    monkeypatch.setenv("CSFRAME_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("CLICKSEND_USERNAME", "CLICKSEND_API_KEY", "CLICKSEND_BASE_URL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def sandbox():
    """A seeded sandbox (scale "small") on 127.0.0.1, shared by read-only tests."""
    from csframe.sandbox import running

    with running(scale="small", seed=42) as sb:
        yield sb


@pytest.fixture
def client(sandbox, tmp_path):
    """A csframe Client on the session sandbox with a private cache directory."""
    from csframe import Client

    return Client(
        **sandbox.credentials,
        base_url=sandbox.base_url,
        cache_dir=tmp_path / "client-cache",
        progress=False,
    )


@pytest.fixture
def clock(monkeypatch):
    """Move csframe's "now" to another instant: ``clock("2026-11-01T00:30:00Z")``.

    Time still advances from there with the wall clock (as the sandbox's clock does), so a
    sandbox started with ``running(now=...)`` right after this call and the client agree; the
    client's reading is never behind the sandbox's, since it started counting first.
    """
    import time

    import pandas as pd

    from csframe import timeutil

    def move(now: str) -> pd.Timestamp:
        start = pd.Timestamp(now)
        start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
        t0 = time.monotonic()
        monkeypatch.setattr(
            timeutil, "now_utc", lambda: start + pd.Timedelta(seconds=time.monotonic() - t0)
        )
        return start

    return move
