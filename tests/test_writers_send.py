"""Writers against the sandbox: quote, journaled send, reruns, credit, faults, SIGKILL.

Every test that sends uses its own private ``running(scale="tiny")`` sandbox (or resets
the module's), and checks what really happened against the sandbox's ground truth
(``/_sandbox/truth/sms-history``), not against what the client believes.
Recipients are ordinary numbers (+614...), not the reference's test numbers, because
the sandbox does not store test-number messages.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import csframe
from csframe import writers
from csframe.sandbox import running
from csframe.writers import JournalMismatch, SendStopped
from csframe.writers.journal import Journal, JournalBusy
from csframe.writers.lookup import find_by_custom_string

REPO = Path(__file__).resolve().parents[1]
BODY = "Hi {name}, your code is {code}. Reply STOP to opt out"


def recipients(n: int, start: int = 0, prefix: str = "+6142") -> pd.DataFrame:
    i = np.arange(start, start + n)
    return pd.DataFrame(
        {
            "phone": [f"{prefix}{k:07d}" for k in i],
            "name": np.where(i % 7 == 0, "Zoë", "Ann"),
            "code": i,
        }
    )


def client_for(sb, **kw) -> csframe.Client:
    kw.setdefault("cache", False)
    kw.setdefault("progress", False)
    return csframe.Client(**sb.credentials, base_url=sb.base_url, **kw)


def truth_ids(sb) -> set[str]:
    """Every message id the sandbox holds for the account (its ground truth)."""
    return set(sb.truth_sms_ids())


def assert_exactly_once(sb, result: pd.DataFrame, before: set[str]) -> None:
    """Every row sent exactly once: since ``before``, the sandbox gained exactly one
    message per row, and they are exactly the message ids the result reports."""
    assert (result["outcome"] == "sent").all(), result["outcome"].value_counts()
    now = sb.truth_sms_ids()
    assert len(now) == len(set(now))
    new = set(now) - before
    assert len(now) - len(before) == len(result)  # a message sent twice would show here
    assert new == set(result["message_id"])
    assert result["message_id"].is_unique


@pytest.fixture(scope="module")
def sb():
    with running(scale="tiny", seed=11) as sandbox:
        yield sandbox


@pytest.fixture
def cs(sb):
    sb.reset()
    sb.set_faults()
    sb.before = truth_ids(sb)
    return client_for(sb)


# ------------------------------------------------------------------------ quote and send


def test_quote_prices_in_chunks_and_compares_with_the_estimate(sb, cs):
    df = recipients(2500)
    df.loc[3, "phone"] = "+61412345"  # valid E.164 shape, wrong length for AU: API refuses
    plan = writers.sms_plan(df, BODY, to="phone", prices=cs)
    sb.reset_stats()
    with pytest.warns(writers.PlanWarning, match="would refuse 1"):
        q = cs.quote(plan)
    assert sb.stats()["by_path"] == {"/v3/sms/price": 3}  # ceil(2500 / 1000)
    info = q.attrs["quote"]
    assert info["requests"] == 3 and info["refused"] == 1 and info["currency"] == "AUD"
    assert q.loc[3, "quote_status"] == "INVALID_RECIPIENT"
    ok = q["quote_status"] == "SUCCESS"
    assert (q.loc[ok, "quote_parts"] == q.loc[ok, "parts"]).all()
    assert info["total"] == pytest.approx(q["quote_price"].sum())
    assert info["estimate"] == pytest.approx(q["est_cost"].sum())  # refused row included
    assert info["difference"] == pytest.approx(-q.loc[3, "est_cost"])
    bc = writers.by_country(q)
    assert bc.set_index("country").loc["AU", "messages"] == 2500
    assert sb.stats()["by_path"] == {"/v3/sms/price": 3}  # nothing was sent


def test_send_then_rerun_sends_nothing_twice(sb, cs, tmp_path):
    df = recipients(2300)
    df.loc[5, "phone"] = "+61412345"  # refused by the API: recorded per row
    plan = writers.sms_plan(df, BODY, to="phone")
    sb.reset_stats()
    res = cs.send(plan, journal=tmp_path / "run.sqlite")
    assert sb.stats()["by_path"] == {"/v3/sms/send": 3}
    assert res.attrs["requests"] == 3 and res.attrs["stopped"] is None
    assert len(res) == len(plan) and list(res.index) == list(plan.index)
    assert res.loc[5, "outcome"] == "rejected" and res.loc[5, "status"] == "INVALID_RECIPIENT"
    assert pd.isna(res.loc[5, "message_id"])
    ok = res.drop(index=5)
    assert_exactly_once(sb, ok, sb.before)
    assert (ok["status"] == "SUCCESS").all() and (ok["via"] == "response").all()
    assert ok["price"].sum() == pytest.approx(res.attrs["total_price"])
    assert res["custom_string"].str.startswith(res.attrs["run_id"] + ".").all()

    again = cs.send(plan, journal=tmp_path / "run.sqlite")
    assert sb.stats()["by_path"] == {"/v3/sms/send": 3}  # not one more request
    assert again.attrs["requests"] == 0
    pd.testing.assert_frame_equal(again, res)


def test_rerun_with_a_different_plan_is_refused(cs, tmp_path):
    plan = writers.sms_plan(recipients(20), BODY, to="phone")
    cs.send(plan, journal=tmp_path / "j.sqlite")
    other = writers.sms_plan(recipients(20), BODY + " today", to="phone")
    with pytest.raises(JournalMismatch, match="20 row"):
        cs.send(other, journal=tmp_path / "j.sqlite")
    with pytest.raises(JournalMismatch, match="the plan has 21"):
        cs.send(writers.sms_plan(recipients(21), BODY, to="phone"), journal=tmp_path / "j.sqlite")


def test_insufficient_credit_stops_cleanly_and_a_rerun_finishes(sb, cs, tmp_path):
    plan = writers.sms_plan(recipients(1500), BODY, to="phone")  # 1 part each, AUD 0.077
    sb.set_balance(sb.credentials["username"], 0.077 * 700 + 0.01)
    with pytest.warns(SendStopped, match="INSUFFICIENT_CREDIT"):
        res = cs.send(plan, journal=tmp_path / "c.sqlite", chunk_size=500)
    counts = res["outcome"].value_counts()
    assert counts["sent"] == 700 and counts["retryable"] == 300 and counts["not_sent"] == 500
    assert res.attrs["status"] == "stopped"
    assert res.attrs["requests"] == 2  # stopped after the batch that ran out
    assert list(res.loc[res["outcome"] == "sent"].index) == list(range(700))
    assert set(res.loc[700:999, "status"]) == {"INSUFFICIENT_CREDIT"}
    assert set(res.loc[1000:, "status"]) == {"NOT_SENT"}
    assert res.loc[1000:, "error"].str.contains("run stopped").all()

    sb.set_balance(sb.credentials["username"], 1000)
    done = cs.send(plan, journal=tmp_path / "c.sqlite", chunk_size=500)
    assert done.attrs["requests"] == 2  # 800 left: two chunks of 500
    assert_exactly_once(sb, done, sb.before)


def test_nocredit_account_sends_nothing(sb, tmp_path):
    cs = csframe.Client(
        **sb.accounts["nocredit"], base_url=sb.base_url, cache=False, progress=False
    )
    plan = writers.sms_plan(recipients(10), BODY, to="phone")
    with pytest.warns(SendStopped):
        res = cs.send(plan, journal=tmp_path / "n.sqlite")
    assert (res["outcome"] == "retryable").all()
    assert set(res["status"]) == {"INSUFFICIENT_CREDIT"}


def test_journal_is_one_process_at_a_time(tmp_path):
    a = Journal(tmp_path / "x.sqlite")
    a.acquire_lock()
    b = Journal(tmp_path / "x.sqlite")
    with pytest.raises(JournalBusy):
        b.acquire_lock()
    a.close()
    b.acquire_lock()
    b.close()


def test_lookup_never_comes_from_the_http_cache(sb, cs, tmp_path):
    cached = client_for(sb, cache=True, cache_dir=tmp_path / "cache")
    plan = writers.sms_plan(recipients(3), BODY, to="phone")
    res = cached.send(plan, journal=tmp_path / "l.sqlite")
    sb.reset_stats()
    for _ in range(2):
        found = find_by_custom_string(cached.session, "sms", res["custom_string"].tolist())
        assert sorted(r["message_id"] for recs in found.values() for r in recs) == sorted(
            res["message_id"]
        )
    assert sb.stats()["by_path"] == {"/v3/sms/history": 2}


# ------------------------------------------------------------------------------- faults


def test_ten_thousand_personalised_with_faults_every_recipient_exactly_once(tmp_path):
    faults = {
        "error_rate": 0.05,
        "rate_limit_rate": 0.05,
        "drop_after_commit_rate": 0.02,
        "drop_rate": 0.02,
        "seed": 12,  # replays the same faults; this seed hits every kind at chunks of 500
    }
    with running(scale="tiny", seed=3, faults=faults) as sb:
        cs = client_for(sb)
        before = truth_ids(sb)
        plan = writers.sms_plan(recipients(10_000), BODY, to="phone", marketing=True)
        res = cs.send(
            plan, journal=tmp_path / "f.sqlite", chunk_size=500, doubt_horizon=0.3, wait=True
        )
        seen = sb.stats()["faults"]
        sb.set_faults()
        assert seen.get("drop_after_commit", 0) >= 1 and seen.get("error", 0) >= 1
        assert seen.get("rate_limit", 0) >= 1
        assert res.attrs["stopped"] is None
        assert res["outcome"].notna().all() and len(res) == 10_000
        assert_exactly_once(sb, res, before)
        assert (res["via"] == "lookup").sum() >= 500  # a committed-then-dropped batch
        assert res["to"].is_unique


def test_every_answer_lost_after_commit_is_resolved_by_lookup(tmp_path):
    # every second request is dropped after the server committed it
    with running(scale="tiny", faults={"drop_after_commit_rate": 0.5, "seed": 1}) as sb:
        cs = client_for(sb)
        before = truth_ids(sb)
        plan = writers.sms_plan(recipients(400), BODY, to="phone")
        res = cs.send(
            plan, journal=tmp_path / "d.sqlite", chunk_size=50, doubt_horizon=0.2, wait=True
        )
        sb.set_faults()
        assert_exactly_once(sb, res, before)
        batches = Journal(tmp_path / "d.sqlite").batches()
        # one request per chunk, each either answered or resolved by lookup: none resent
        assert sb.stats()["by_path"]["/v3/sms/send"] == len(batches) == 8
        assert set(batches["state"]) == {"answered", "resolved"}
        assert (batches["state"] == "resolved").sum() >= 2


def test_concurrent_workers_with_faults_exactly_once(tmp_path):
    faults = {"error_rate": 0.1, "drop_after_commit_rate": 0.1, "drop_rate": 0.05, "seed": 5}
    with running(scale="tiny", faults=faults) as sb:
        cs = client_for(sb)
        before = truth_ids(sb)
        plan = writers.sms_plan(recipients(1500), BODY, to="phone")
        res = cs.send(
            plan,
            journal=tmp_path / "w.sqlite",
            chunk_size=50,
            workers=4,
            doubt_horizon=0.3,
            wait=True,
        )
        sb.set_faults()
        assert_exactly_once(sb, res, before)


def test_an_unresolvable_request_stays_in_flight_until_a_rerun(tmp_path):
    # the send is dropped after commit and every lookup fails: nothing may be resent
    with running(scale="tiny") as sb:
        cs = client_for(sb, max_attempts=2)
        before = truth_ids(sb)
        plan = writers.sms_plan(recipients(50), BODY, to="phone")

        def on_event(kind, info):
            if kind == "batch_start":
                sb.set_faults(drop_after_commit_rate=1.0)
            if kind == "batch_unanswered":
                sb.set_faults(error_rate=1.0)  # the history is down too

        with pytest.warns(SendStopped, match="could not look up"):
            res = writers.send(cs, plan, tmp_path / "u.sqlite", on_event=on_event)
        assert (res["outcome"] == "in_doubt").all() and res.attrs["status"] == "stopped"
        assert res["error"].str.contains("rerun with this journal").all()
        sb.set_faults()
        again = cs.send(plan, journal=tmp_path / "u.sqlite")
        assert again.attrs["requests"] == 0  # resolved by lookup, not resent
        assert (again["via"] == "lookup").all()
        assert_exactly_once(sb, again, before)


# ---------------------------------------------------------------------- SIGKILL and rerun

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, json
    import numpy as np, pandas as pd
    import csframe
    from csframe import writers

    base_url, username, api_key, journal, mode, when = sys.argv[1:7]
    when = int(when)
    n = 1200
    i = np.arange(n)
    df = pd.DataFrame({"phone": [f"+6143{k:07d}" for k in i], "name": "Ann", "code": i})
    plan = writers.sms_plan(df, "Hi {name}, code {code}. Reply STOP to opt out", to="phone")
    cs = csframe.Client(username, api_key, base_url, cache=False, progress=False)

    def on_event(kind, info):
        if kind == mode and info.get("batch") == when:
            os.kill(os.getpid(), signal.SIGKILL)
        if kind == "batch_start":
            print("START", info["batch"], flush=True)

    writers.send(cs, plan, journal, chunk_size=200, on_event=on_event)
    print("FINISHED", flush=True)
    """
)


def kill_plan():
    i = np.arange(1200)
    df = pd.DataFrame({"phone": [f"+6143{k:07d}" for k in i], "name": "Ann", "code": i})
    return writers.sms_plan(df, "Hi {name}, code {code}. Reply STOP to opt out", to="phone")


def spawn(sb, journal: Path, mode: str, when: int, script: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [
            sys.executable,
            str(script),
            sb.base_url,
            sb.credentials["username"],
            sb.credentials["api_key"],
            str(journal),
            mode,
            str(when),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture
def script(tmp_path) -> Path:
    path = tmp_path / "sender.py"
    path.write_text(SCRIPT)
    return path


@pytest.mark.parametrize(
    "mode,state_after_kill",
    [
        ("batch_done", {"sent": 600, "pending": 600}),  # between chunks
        ("batch_start", {"sent": 400, "inflight": 200, "pending": 600}),  # before the POST
        ("batch_response", {"sent": 400, "inflight": 200, "pending": 600}),  # server committed
    ],
)
def test_sigkill_then_rerun_no_duplicates_no_losses(
    sb, cs, tmp_path, script, mode, state_after_kill
):
    journal = tmp_path / f"{mode}.sqlite"
    proc = spawn(sb, journal, mode, 3, script)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err
    assert "FINISHED" not in out
    with Journal(journal) as j:
        assert j.counts() == state_after_kill
    plan = kill_plan()
    sb.reset_stats()
    res = cs.send(plan, journal=journal, chunk_size=200, doubt_horizon=0.5, wait=True)
    assert_exactly_once(sb, res, sb.before)
    committed = mode == "batch_response"
    # the in-flight chunk is looked up before anything is sent; only what is missing goes
    sends = {"batch_done": 3, "batch_start": 4, "batch_response": 3}[mode]
    assert sb.stats()["by_path"]["/v3/sms/send"] == sends
    if mode != "batch_done":
        assert "/v3/sms/history" in sb.stats()["by_path"]
    assert ((res["via"] == "lookup").sum() == 200) == committed


def test_sigkill_from_outside_during_a_request(tmp_path, script):
    # the server takes 0.4 s per request; kill the sender while a send is in flight
    with running(scale="tiny", latency_ms=400) as sb:
        before = truth_ids(sb)
        journal = tmp_path / "ext.sqlite"
        proc = spawn(sb, journal, "never", 0, script)
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("START 3"):
                time.sleep(0.2)  # the POST of batch 3 is now in flight
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        with Journal(journal) as j:
            assert j.counts().get("inflight") == 200
        cs = client_for(sb)
        res = cs.send(kill_plan(), journal=journal, chunk_size=200, doubt_horizon=1.5, wait=True)
        assert_exactly_once(sb, res, before)


# ---------------------------------------------------------------------------------- MMS


def test_mms_plan_quote_and_send_with_an_uploaded_image(sb, cs, tmp_path):
    img = tmp_path / "voucher.gif"
    img.write_bytes(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")
    df = recipients(700)
    plan = writers.mms_plan(
        df, "Hi {name}, your voucher. Reply STOP to opt out", img, "Voucher", to="phone", prices=cs
    )
    q = cs.quote(plan)
    assert q.attrs["quote"]["requests"] == 1 and q.attrs["quote"]["refused"] == 0
    assert q.attrs["quote"]["total"] == pytest.approx(plan.attrs["estimated_total"])
    sb.reset_stats()
    sb.set_faults(drop_after_commit_rate=0.5, seed=2)
    res = cs.send(plan, journal=tmp_path / "m.sqlite", chunk_size=100, doubt_horizon=0.2, wait=True)
    sb.set_faults()
    assert sb.stats()["by_path"]["/v3/uploads"] == 1  # once per run, kept in the journal
    assert (res["outcome"] == "sent").all() and res["message_id"].is_unique
    found = find_by_custom_string(cs.session, "mms", res["custom_string"].tolist())
    assert len(found) == 700 and all(len(v) == 1 for v in found.values())
    assert {r[0]["message_id"] for r in found.values()} == set(res["message_id"])
    with pytest.raises(writers.PlanError, match="send_campaign"):
        cs.send(
            writers.email_plan(pd.DataFrame({"email": ["a@b.co"]}), "s", "b", 2, marketing=False)
        )


def test_without_a_journal_path_one_is_made_under_the_cache_dir(cs, tmp_path):
    plan = writers.sms_plan(recipients(3), BODY, to="phone")
    res = cs.send(plan)
    path = Path(res.attrs["journal"])
    assert path.is_file() and path.parent == tmp_path / "cache" / "runs"
    assert path.stem == res.attrs["run_id"]
    assert cs.send(plan, journal=path).attrs["requests"] == 0
