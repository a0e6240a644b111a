"""``csframe.sandbox.start()``: a sandbox for notebooks that garbage collection never stops,
that stops with ``sb.stop()`` or at interpreter exit, and whose stopped handle says where
it was."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import weakref

import pytest
import requests

from csframe.sandbox import SandboxStopped, start


def test_start_survives_garbage_collection_and_stops_on_request():
    sb = start(scale=30, seed=1)
    url = sb.base_url
    auth = tuple(sb.credentials.values())
    ref = weakref.ref(sb)
    del sb
    gc.collect()
    # Only the URL is left in this frame: the server must still answer.
    assert requests.get(url + "/account", auth=auth, timeout=10).status_code == 200
    sb = ref()
    assert sb is not None
    sb.stop()
    assert sb.stopped and "stopped" in repr(sb)
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/account", auth=auth, timeout=10)
    with pytest.raises(SandboxStopped, match=url.replace(".", r"\.")):
        sb.stats()
    sb.stop()  # idempotent


def test_a_handle_dropped_without_stop_keeps_serving_until_exit(tmp_path):
    # In a fresh interpreter: start, drop every reference, collect, call it, exit. The
    # call must succeed and the interpreter must exit promptly and cleanly (atexit stop).
    script = textwrap.dedent(
        """
        import gc, requests
        from csframe.sandbox import start
        sb = start(scale=30, seed=1)
        url, auth = sb.base_url, tuple(sb.credentials.values())
        del sb
        gc.collect()
        print(requests.get(url + "/account", auth=auth, timeout=10).status_code)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "200"


def test_a_handle_used_after_its_with_block_names_the_url():
    from csframe.sandbox import running

    with running(scale=30, seed=1) as sb:
        url = sb.base_url
    with pytest.raises(SandboxStopped, match="was stopped") as err:
        sb.faults()
    assert url in str(err.value)


def test_start_is_a_context_manager_too():
    with start(scale=30, seed=1) as sb:
        assert sb.stats()["requests"] == 0
    assert sb.stopped
