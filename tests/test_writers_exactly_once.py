"""Exactly once against a hostile server: slow commits, lost answers around a credit
top-up, loose or missing search, two processes on one journal, file permissions.

Each test reproduces a way the old writers sent twice or lost rows, against a private
sandbox whose hostile modes are public fault options, and counts what really happened
from the sandbox's own history (ground truth), page by page.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import csframe
from csframe import writers
from csframe.sandbox import running
from csframe.writers import SendInDoubt
from csframe.writers.lookup import verify

REPO = Path(__file__).resolve().parents[1]
BODY = "Hi {name}, your code is {code}. Reply STOP to opt out"


def recipients(n: int, prefix: str = "+6147") -> pd.DataFrame:
    i = np.arange(n)
    return pd.DataFrame({"phone": [f"{prefix}{k:07d}" for k in i], "name": "Ann", "code": i})


def client_for(sb, **kw) -> csframe.Client:
    kw.setdefault("cache", False)
    kw.setdefault("progress", False)
    return csframe.Client(**sb.credentials, base_url=sb.base_url, **kw)


def history_by_custom(cs, run_id: str) -> pd.Series:
    """How many messages the sandbox holds per custom string of this run, read page by
    page from the API's own history (no search involved)."""
    rows = []
    page = 1
    while True:
        data = cs.session.get("/sms/history", {"page": page, "limit": 100}, expire_after=0)
        rows += [r for r in data["data"] if str(r.get("custom_string") or "").startswith(run_id)]
        if page >= data["last_page"]:
            break
        page += 1
    return pd.Series([r["custom_string"] for r in rows], dtype=object).value_counts()


def assert_each_once(cs, result: pd.DataFrame) -> None:
    counts = history_by_custom(cs, result.attrs["run_id"])
    assert (result["outcome"] == "sent").all(), result["outcome"].value_counts().to_dict()
    assert counts.max() == 1, counts[counts > 1].to_dict()  # nobody twice
    assert set(counts.index) == set(result["custom_string"])  # nobody lost
    assert result.attrs["status"] == "complete"


# ------------------------------------------------------------------------- slow commits


@pytest.mark.parametrize("factor", [1.2, 2.0, 5.0])
def test_a_commit_after_the_client_timeout_is_found_not_sent_again(tmp_path, factor):
    timeout = 0.5
    with running(scale="tiny", faults={"slow_commit_s": timeout * factor}) as sb:
        cs = client_for(sb, timeout=timeout)
        plan = writers.sms_plan(recipients(20), BODY, to="phone")
        journal = tmp_path / "slow.sqlite"
        horizon = timeout * factor + 2.0  # longer than the server takes to commit
        with pytest.warns(SendInDoubt, match="in doubt"):
            first = cs.send(plan, journal=journal, doubt_horizon=horizon)
        # The answer never came and the history does not show the messages yet: in doubt,
        # not resent on a guess (the old code resent them after `settle` and sent 40).
        assert first.attrs["status"] == "in_doubt"
        assert (first["outcome"] == "in_doubt").all()
        assert first.attrs["resolvable_after"] is not None
        with pytest.warns(SendInDoubt):
            again = cs.send(plan, journal=journal, doubt_horizon=horizon)
        assert again.attrs["requests"] == 0  # a rerun before the horizon sends nothing
        time.sleep(horizon)
        sb.set_faults()
        done = cs.send(plan, journal=journal, doubt_horizon=horizon)
        assert done.attrs["requests"] == 0 and (done["via"] == "lookup").all()
        assert_each_once(cs, done)


def test_wait_settles_in_doubt_rows_within_the_run(tmp_path):
    with running(scale="tiny", faults={"slow_commit_s": 1.0}) as sb:
        cs = client_for(sb, timeout=0.4)
        plan = writers.sms_plan(recipients(30), BODY, to="phone")
        res = cs.send(plan, journal=tmp_path / "w.sqlite", doubt_horizon=2.0, wait=True)
        assert_each_once(cs, res)


def test_a_request_never_taken_is_sent_once_after_the_horizon(tmp_path):
    # dropped before the server acted: absent at the horizon, so sent again -- once
    with running(scale="tiny") as sb:
        cs = client_for(sb)
        plan = writers.sms_plan(recipients(25), BODY, to="phone")

        def on_event(kind, info):
            if kind == "batch_start" and info["batch"] == 1:
                sb.set_faults(drop_rate=1.0)
            elif kind == "batch_unanswered":
                sb.set_faults()

        res = writers.send(
            cs, plan, tmp_path / "d.sqlite", doubt_horizon=0.5, wait=True, on_event=on_event
        )
        assert_each_once(cs, res)
        assert (res["attempts"] == 2).all()


# ------------------------------------------------------------------------ credit top-up


def test_credit_refused_mid_batch_with_the_answer_lost_then_topped_up(tmp_path):
    with running(scale="tiny") as sb:
        cs = client_for(sb)
        user = sb.credentials["username"]
        plan = writers.sms_plan(recipients(50), BODY, to="phone")  # 1 part, AUD 0.077
        sb.set_balance(user, 0.077 * 30 + 0.01)  # pays for 30 of the 50
        sb.set_faults(lost_answer_rate=1.0)  # ... and the answer saying so is lost
        journal = tmp_path / "credit.sqlite"
        with pytest.warns(SendInDoubt):
            first = cs.send(plan, journal=journal, doubt_horizon=1.0)
        counts = first["outcome"].value_counts()
        assert counts["sent"] == 30 and counts["in_doubt"] == 20  # the old code: unconfirmed
        sb.set_faults()
        sb.set_balance(user, 1000)
        time.sleep(1.0)
        done = cs.send(plan, journal=journal, doubt_horizon=1.0)
        assert done.attrs["requests"] == 1  # exactly the 20 missing rows, once
        assert_each_once(cs, done)


# ----------------------------------------------------------------------- loose searches


def test_a_substring_search_never_makes_an_unsent_row_look_sent(tmp_path):
    # Row keys 10, 11, 1, 2: "run.1" is a prefix of "run.10" and "run.11", which are sent
    # first; the request with row 1 is dropped before the server acts.
    df = recipients(4).assign(k=["10", "11", "1", "2"])
    loose = {"search_match": "substring"}
    with running(scale="tiny", faults=loose) as sb:
        cs = client_for(sb)
        plan = writers.sms_plan(df, BODY, to="phone", key="k")

        def on_event(kind, info):
            if kind == "batch_start" and info["batch"] == 2:
                sb.set_faults(drop_rate=1.0, **loose)
            elif kind == "batch_unanswered":
                sb.set_faults(**loose)

        res = writers.send(
            cs, plan, tmp_path / "s.sqlite", chunk_size=2, doubt_horizon=0.5, wait=True,
            on_event=on_event,
        )  # fmt: skip
        got = cs.session.get("/sms/history", {"q": f"custom_string:{res.attrs['run_id']}.1"})
        assert got["total"] >= 3  # the search really is loose: .1, .10, .11
        assert_each_once(cs, res)
        assert res.loc[2, "attempts"] == 2  # row "1" was sent again, once


def test_without_search_the_lookup_reads_the_window(tmp_path):
    # the history refuses q= (400): the old code could never resolve the request
    with running(scale="tiny", faults={"search_match": "unsupported"}) as sb:
        cs = client_for(sb)
        plan = writers.sms_plan(recipients(40), BODY, to="phone")

        def on_event(kind, info):
            if kind == "batch_start":
                sb.set_faults(drop_after_commit_rate=1.0, search_match="unsupported")
            elif kind == "batch_unanswered":
                sb.set_faults(search_match="unsupported")

        res = writers.send(cs, plan, tmp_path / "n.sqlite", on_event=on_event)
        assert (res["via"] == "lookup").all() and res.attrs["requests"] == 1
        assert_each_once(cs, res)


def test_verify_checks_recipient_sender_and_body():
    sent = {"custom_string": "csf1.7", "to": "+61411000111", "body": "Hi Ann", "from": "ACME"}
    assert verify({**sent}, sent)
    assert verify({**sent, "to": "61411000111"}, sent)  # the same digits
    assert not verify({**sent, "custom_string": "CSF1.7"}, sent)  # case matters here
    assert not verify({**sent, "custom_string": "csf1.70"}, sent)
    assert not verify({**sent, "to": "+61411000112"}, sent)
    assert not verify({**sent, "from": "OTHER"}, sent)
    assert not verify({**sent, "body": "Hi Bob"}, sent)
    long = {**sent, "body": "x" * 1000}
    assert verify({**long, "body": "x" * 918}, long)  # truncated by the API: a prefix


# ---------------------------------------------------------------- two processes, one journal

PAUSED = textwrap.dedent(
    """
    import sys, time, warnings
    import numpy as np, pandas as pd
    import csframe
    from csframe import writers
    from csframe.writers import journal as jmod
    from csframe.writers.journal import JournalBusy

    base_url, username, api_key, path, pause = sys.argv[1:6]
    if float(pause):
        # a process that stalls between reading the journal and going on (a GC pause,
        # a suspended laptop): it must not act on what it read before the other ran
        original = jmod.Journal._load

        def slow_load(self):
            original(self)
            print("LOADED", flush=True)
            time.sleep(float(pause))

        jmod.Journal._load = slow_load
    i = np.arange(400)
    df = pd.DataFrame({"phone": [f"+6148{k:07d}" for k in i], "name": "Ann", "code": i})
    plan = writers.sms_plan(df, "Hi {name}, code {code}. Reply STOP to opt out", to="phone")
    cs = csframe.Client(username, api_key, base_url, cache=False, progress=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = writers.send(cs, plan, path, chunk_size=100)
        print("DONE", res.attrs["requests"], res.attrs["run_id"], flush=True)
    except JournalBusy:
        print("BUSY", flush=True)
    """
)


def test_two_processes_on_one_journal_never_send_twice(tmp_path):
    script = tmp_path / "sender.py"
    script.write_text(PAUSED)
    journal = tmp_path / "shared.sqlite"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with running(scale="tiny") as sb:
        args = [sb.base_url, sb.credentials["username"], sb.credentials["api_key"], str(journal)]
        # A first run stops half-way (no credit); then two processes resume it at once.
        user = sb.credentials["username"]
        sb.set_balance(user, 0.077 * 200 + 0.01)
        first = subprocess.run(
            [sys.executable, str(script), *args, "0"], capture_output=True, text=True, env=env
        )
        assert first.stdout.startswith("DONE"), first.stdout + first.stderr
        sb.set_balance(user, 1000)
        slow = subprocess.Popen(
            [sys.executable, str(script), *args, "4"], stdout=subprocess.PIPE, text=True, env=env
        )
        assert slow.stdout is not None
        assert slow.stdout.readline().strip() == "LOADED"
        fast = subprocess.run(
            [sys.executable, str(script), *args, "0"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        out, _ = slow.communicate(timeout=120)
        lines = [fast.stdout.strip(), out.strip()]
        assert any(line.startswith("DONE") for line in lines), lines
        run_id = first.stdout.split()[2]
        counts = history_by_custom(client_for(sb), run_id)
        assert len(counts) == 400 and counts.max() == 1  # the old code: 200 twice


# ------------------------------------------------------------------------------- files


def test_journal_files_are_private_and_under_the_clients_cache_dir(tmp_path):
    with running(scale="tiny") as sb:
        cs = client_for(sb, cache=False, cache_dir=tmp_path / "mine")
        res = cs.send(writers.sms_plan(recipients(3), BODY, to="phone"))
        path = Path(res.attrs["journal"])
        assert path.parent == tmp_path / "mine" / "runs"
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        for f in [path, Path(f"{path}.lock"), *path.parent.glob(path.name + "-*")]:
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert (
                cs.send(writers.sms_plan(recipients(3), BODY, to="phone"), journal=path)["outcome"]
                .eq("sent")
                .all()
            )


def test_send_arguments_are_checked(tmp_path):
    with running(scale="tiny") as sb:
        cs = client_for(sb)
        plan = writers.sms_plan(recipients(2), BODY, to="phone")
        with pytest.raises(ValueError, match="doubt_horizon"):
            cs.send(plan, journal=tmp_path / "a.sqlite", doubt_horizon=-1)
        with pytest.raises(ValueError, match="max_attempts"):
            cs.send(plan, journal=tmp_path / "a.sqlite", max_attempts=0)
        with pytest.raises(ValueError, match="is a folder"):
            cs.send(plan, journal=tmp_path)
        with pytest.warns(DeprecationWarning, match="doubt_horizon"):
            cs.send(plan, journal=tmp_path / "b.sqlite", settle=1.0)


# ---------------------------------------------------------------------------- campaigns


def test_a_campaign_committed_after_the_timeout_is_found_not_sent_again(tmp_path):
    faults = {"slow_commit_s": 1.5, "write_paths": "campaigns/send$"}
    with running(scale="tiny", seed=31, faults=faults) as sb:
        cs = client_for(sb, timeout=0.5)
        camp = cs.send_campaign(
            428, "Hi {first_name}, 20% off. Reply STOP to opt out", "Late", doubt_horizon=4.0,
            journal=tmp_path / "camp.sqlite",
        )  # fmt: skip
        assert camp["via"] == "lookup"
        sb.set_faults()
        named = cs.session.get("/sms-campaigns", {"q": "name:Late", "limit": 100})["data"]
        assert len([c for c in named if c["name"] == "Late"]) == 1  # one campaign, not two
        assert sb.stats()["by_path"]["/v3/sms-campaigns/send"] == 1
