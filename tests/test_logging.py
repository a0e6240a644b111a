"""The ``csframe`` logger: one DEBUG line per request, INFO for retries, secrets masked;
``-v``/``-vv`` on the command line."""

from __future__ import annotations

import logging

import pytest

import csframe
from csframe.cli import main
from csframe.sandbox import running


@pytest.fixture(scope="module")
def sb():
    with running(scale="tiny", seed=41) as sandbox:
        yield sandbox


def test_one_debug_line_per_request_with_status_time_and_cache(sb, tmp_path, caplog):
    cs = csframe.Client(**sb.credentials, base_url=sb.base_url, cache_dir=tmp_path, progress=False)
    with caplog.at_level(logging.DEBUG, logger="csframe"):
        cs.lists()
        cs.lists()  # the second time from the HTTP cache
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("GET /lists")]
    assert len(lines) >= 2
    assert "-> 200 in" in lines[0] and "(network)" in lines[0]
    assert any("(cache hit)" in line for line in lines[1:])
    key = sb.credentials["api_key"]
    assert not any(key in r.getMessage() for r in caplog.records)


def test_retries_are_logged_at_info(sb, tmp_path, caplog):
    cs = csframe.Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)
    sb.set_faults(error_rate=0.25, seed=3)  # sequential below: the same faults every run
    try:
        with caplog.at_level(logging.INFO, logger="csframe"):
            cs.history("sms", limit=15, max_workers=1)
    finally:
        sb.set_faults()
    retries = [r for r in caplog.records if r.getMessage().startswith("retrying GET")]
    assert retries and all(r.levelno == logging.INFO for r in retries)


def test_verbose_flag_on_the_command_line(sb, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLICKSEND_USERNAME", sb.credentials["username"])
    monkeypatch.setenv("CLICKSEND_API_KEY", sb.credentials["api_key"])
    monkeypatch.setenv("CLICKSEND_BASE_URL", sb.base_url)
    logger = logging.getLogger("csframe")
    handlers, level = list(logger.handlers), logger.level
    try:
        code = main(["sync", "sms", str(tmp_path / "sms"), "--start", "2026-10", "-vv"])
    finally:
        for h in logger.handlers[len(handlers) :]:
            logger.removeHandler(h)
        logger.setLevel(level)
    err = capsys.readouterr().err
    assert code == 0, err
    assert "DEBUG csframe: GET /sms/history" in err
    assert sb.credentials["api_key"] not in err
