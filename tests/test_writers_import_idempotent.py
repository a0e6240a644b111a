"""Imports are idempotent: a rerun after a timeout, a killed process or heavy faults
adds only what is missing, and every row ends with a true outcome.

Counted from the list itself (read page by page), never from what the client believes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

import csframe
from csframe.sandbox import running
from csframe.writers import ImportTimeout
from csframe.writers.contacts import read_list

REPO = Path(__file__).resolve().parents[1]


def people(n: int, prefix: str = "+6146") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "phone_number": [f"{prefix}{k:07d}" for k in range(n)],
            "first_name": [f"P{k}" for k in range(n)],
        }
    )


def client_for(sb, **kw) -> csframe.Client:
    return csframe.Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False, **kw)


def each_once(cs, list_id: int, df: pd.DataFrame) -> None:
    lst = read_list(cs.session, list_id)
    counts = lst["phone_number"].astype(str).value_counts()
    assert counts.max() == 1, f"{int((counts > 1).sum())} phones more than once"
    assert set(counts.index) == set(df["phone_number"])


def test_a_rerun_after_a_timeout_waits_for_the_running_import(tmp_path):
    with running(scale="tiny", seed=31) as sb:
        sb.contacts_settings(import_rows_per_second=300)
        cs = client_for(sb)
        df = people(600)
        with pytest.raises(ImportTimeout) as err:
            cs.import_contacts(df, list_name="Rerun", method="upload", timeout=0.5, poll=0.1)
        assert err.value.result is not None and len(err.value.result) == 600
        # the user reruns at once, while the first import still runs on the server
        res = cs.import_contacts(df, list_name="Rerun", method="upload", timeout=30, poll=0.1)
        assert set(res["outcome"]) <= {"imported", "already_present"}
        assert (res["outcome"] == "already_present").sum() >= 1
        assert res["contact_id"].notna().all()
        each_once(cs, res.attrs["list_id"], df)  # the old code: 380 of 600 twice


KILLED = textwrap.dedent(
    """
    import sys
    import pandas as pd
    import csframe
    base_url, username, api_key, method = sys.argv[1:5]
    n = 400
    df = pd.DataFrame({"phone_number": [f"+6145{k:07d}" for k in range(n)],
                       "first_name": [f"K{k}" for k in range(n)]})
    cs = csframe.Client(username, api_key, base_url, cache=False, progress=False)
    print("START", flush=True)
    cs.import_contacts(df, list_name="Killed", method=method, timeout=120, poll=0.05)
    print("FINISHED", flush=True)
    """
)


@pytest.mark.parametrize("method", ["upload", "per_contact"])
def test_sigkill_mid_import_then_rerun_each_person_once(tmp_path, method):
    script = tmp_path / "importer.py"
    script.write_text(KILLED)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    rng = random.Random(7)
    df = pd.DataFrame(
        {
            "phone_number": [f"+6145{k:07d}" for k in range(400)],
            "first_name": [f"K{k}" for k in range(400)],
        }
    )
    with running(scale="tiny", seed=32, latency_ms=5) as sb:
        sb.contacts_settings(import_rows_per_second=400)
        cs = client_for(sb)
        for trial in range(3):  # random kill points, each followed by a rerun
            proc = subprocess.Popen(
                [sys.executable, str(script), sb.base_url, *sb.credentials.values(), method],
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            assert proc.stdout is not None and proc.stdout.readline().strip() == "START"
            time.sleep(rng.uniform(0.05, 0.9))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            # the next run may be a killed one too: the list must stay duplicate-free
            if trial < 2:
                continue
        res = cs.import_contacts(df, list_name="Killed", method=method, timeout=60, poll=0.05)
        assert set(res["outcome"]) <= {"imported", "already_present"}
        each_once(cs, res.attrs["list_id"], df)


def test_heavy_faults_with_retry_after_every_row_right(tmp_path):
    faults = {
        "error_rate": 0.1,
        "rate_limit_rate": 0.1,  # 429 with Retry-After: 1
        "drop_rate": 0.05,
        "drop_after_commit_rate": 0.05,
        "seed": 9,
    }
    with running(scale="tiny", seed=33, faults=faults) as sb:
        cs = client_for(sb)
        df = people(480, prefix="+6144")
        df.loc[7, "phone_number"] = "+614"  # really invalid: the only rejected row
        res = cs.import_contacts(
            df, list_name="Faulty", method="per_contact", timeout=120, doubt_horizon=1.0
        )
        seen = sb.stats()["faults"]
        sb.set_faults()
        assert seen.get("rate_limit", 0) > 0 and seen.get("drop_after_commit", 0) > 0
        assert res.loc[7, "outcome"] == "rejected"
        ok = res.drop(index=7)
        assert (ok["outcome"] == "imported").all(), ok["outcome"].value_counts().to_dict()
        each_once(cs, res.attrs["list_id"], df.drop(index=7))


def test_an_import_post_with_a_lost_answer_is_not_repeated_blindly(tmp_path):
    # the import POST commits after the client gave up: it shows up, and is not repeated
    with running(scale="tiny", seed=34) as sb:
        cs = client_for(sb, timeout=0.5)
        df = people(300, prefix="+6143")
        sb.set_faults(slow_commit_s=1.5, write_paths="/import$")
        res = cs.import_contacts(
            df, list_name="Slow POST", method="upload", timeout=60, doubt_horizon=5, poll=0.1
        )
        sb.set_faults()
        assert (res["outcome"] == "imported").all()
        each_once(cs, res.attrs["list_id"], df)
        imports = [i for i in sb._call("GET", "/_sandbox/truth/imports")["imports"]]
        assert sum(1 for i in imports if i.get("list_id") == res.attrs["list_id"]) == 1


def test_import_arguments_are_checked():
    with running(scale="tiny", seed=35) as sb:
        cs = client_for(sb)
        with pytest.raises(ValueError, match="timeout"):
            cs.import_contacts(people(2), list_name="x", timeout=-1)
        with pytest.raises(ValueError, match="doubt_horizon"):
            cs.import_contacts(people(2), list_name="x", doubt_horizon="soon")


def test_update_existing_writes_changed_fields_only():
    with running(scale="tiny", seed=36) as sb:
        cs = client_for(sb)
        df = people(5, prefix="+6142")
        cs.import_contacts(df, list_name="Upd")
        changed = df.copy()
        changed.loc[1, "first_name"] = "Renamed"
        changed["last_name"] = [None, None, "Smith", None, None]
        res = cs.import_contacts(changed, list_name="Upd", update_existing=True)
        assert res["outcome"].astype(str).tolist() == [
            "already_present", "updated", "updated", "already_present", "already_present",
        ]  # fmt: skip
        assert "first_name" in res.loc[1, "reason"] and "last_name" in res.loc[2, "reason"]
        lst = read_list(cs.session, res.attrs["list_id"]).set_index("contact_id")
        assert lst.loc[res.loc[1, "contact_id"], "first_name"] == "Renamed"
        assert lst.loc[res.loc[2, "contact_id"], "last_name"] == "Smith"
        assert lst.loc[res.loc[2, "contact_id"], "first_name"] == "P2"  # untouched
        assert len(lst) == 5


def test_a_list_created_after_the_timeout_is_not_created_twice():
    with running(scale="tiny", seed=37) as sb:
        cs = client_for(sb, timeout=0.5)
        sb.set_faults(slow_commit_s=1.2, write_paths="^/v3/lists$")
        res = cs.import_contacts(people(3, prefix="+6141"), list_name="Late list", doubt_horizon=4)
        sb.set_faults()
        named = [r for r in cs.lists()["list_name"] if r == "Late list"]
        assert len(named) == 1 and res.attrs["list_created"]
        each_once(cs, res.attrs["list_id"], people(3, prefix="+6141"))
