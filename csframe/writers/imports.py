"""Contact imports and list syncs, verified by reading the list back.

:func:`import_contacts` maps and validates every row first (see
:mod:`csframe.writers.contacts`), creates the list when ``list_name`` is new, waits for
an import still running on the list (a previous run's, after a timeout, a dropped
connection or a killed process), reads the list, skips rows already in it (same E.164
phone, then email key), then either

- uploads one CSV (``POST /uploads?convert=csv``), starts ``POST /lists/{id}/import`` with
  the matching ``field_order``, and waits for the asynchronous import (progress bar,
  ``timeout``), or
- for small frames (``threshold`` rows or fewer), POSTs each contact concurrently under
  the client's rate limit,

and finally reads the list back and matches the new contacts to the rows. The outcome
frame is the same either way: one row per input row (same index) with ``outcome``
(imported / already_present / rejected), ``reason``, ``contact_id``, ``list_id`` and the
contact fields as sent. ``rejected`` is only for rows refused locally (with the reason)
or by the API; rows the API did not take for a transient reason (429, 5xx, dropped
connections) are tried again, honouring ``Retry-After`` with jittered back-off, until
``timeout``; past it :class:`ImportTimeout` is raised (its ``result`` holds the outcomes
so far) and a rerun continues.

Creating requests (POST contact, POST import) are never repeated blindly: after an
unanswered one, the list is read back (and its import flag watched) and only what is
missing is sent again; an import POST whose answer was lost is only repeated once
``doubt_horizon`` seconds have passed without the import showing up.

A rerun is idempotent: it adds only what is missing, whatever stopped the last run.

:func:`sync_list` makes a list look like a frame: ``clean.diff`` decides what to add,
update (PUT, only the changed fields) and, with ``mode="replace"``, remove (DELETE) --
concurrently, under the rate limit; ``dry_run=True`` returns the plan untouched.

Example::

    res = import_contacts(cs, keep, list_name="Customers 2026")
    res["outcome"].value_counts()
    plan = sync_list(cs, keep, list_id=428, mode="replace", dry_run=True)
"""

from __future__ import annotations

import csv
import io
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from requests_cache import DO_NOT_CACHE

from csframe.errors import (
    AccountError,
    ApiError,
    AuthenticationError,
    NotFound,
    RateLimited,
    ValidationError,
)
from csframe.writers._common import ClientLike, PlanError, PlanWarning
from csframe.writers.contacts import (
    CHANNELS,
    CONTACT_FIELDS,
    OUTCOMES,
    Prepared,
    match_keys,
    prepare,
    problems_summary,
    read_list,
    resolve_mapping,
)
from csframe.writers.uploads import upload_bytes

if TYPE_CHECKING:  # for annotations only
    from csframe.session import ApiSession

# The import's field_order names, per contact field (the reference's example file uses
# the contact record's field names).
FIELD_ORDER = {f: f for f in CONTACT_FIELDS}
_FATAL = (AuthenticationError, AccountError, NotFound)


class ImportTimeout(ApiError):
    """The import did not finish within ``timeout`` seconds (it may go on on the server).

    ``result`` is the outcome frame so far when there is one; rerun the same call to
    finish: it waits for the running import and adds only what is missing."""

    result: pd.DataFrame | None = None


# ----------------------------------------------------------------------------- lists


def find_lists(session: ApiSession, name: str) -> list[dict[str, Any]]:
    """Lists of the account named exactly ``name`` (read fresh, all pages)."""
    out, page = [], 1
    while True:
        data = session.get("/lists", {"page": page, "limit": 100}, expire_after=DO_NOT_CACHE)
        out += [r for r in (data or {}).get("data") or [] if r.get("list_name") == name]
        if page >= int((data or {}).get("last_page") or 1):
            return out
        page += 1


def ensure_list(
    session: ApiSession,
    list_id: int | None,
    list_name: str | None,
    *,
    horizon: float = 600.0,
    poll: float = 0.5,
) -> tuple[int, bool]:
    """``(list_id, created)``: the given list, the list named ``list_name``, or a new one.
    An unanswered create is looked up by name until ``horizon`` seconds after it was sent
    (a late commit shows up) before it is tried again: never two lists of one name."""
    if list_id is not None:
        if isinstance(list_id, bool) or not isinstance(list_id, int | np.integer) or list_id <= 0:
            raise PlanError(f"list_id must be a positive integer, got {list_id!r}")
        return int(list_id), False
    if not isinstance(list_name, str) or not list_name.strip():
        raise PlanError("give list_id (an existing list) or list_name (found or created)")
    existing = find_lists(session, list_name)
    if existing:
        return int(existing[0]["list_id"]), False
    for attempt in range(3):
        started = time.monotonic()
        try:
            data = session.post("/lists", {"list_name": list_name})
            return int(data["list_id"]), True
        except RateLimited as exc:
            time.sleep(session.retry.delay(attempt, exc.retry_after))
            continue
        except (ApiError, OSError) as exc:
            if isinstance(exc, (*_FATAL, ValidationError)):
                raise
            while True:
                existing = find_lists(session, list_name)
                if existing:
                    return int(existing[0]["list_id"]), True
                left = started + horizon - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(poll, left))
    raise ApiError(f"could not create the list {list_name!r}")


# --------------------------------------------------------------------------- matching


def _index(keys: pd.DataFrame, ids: np.ndarray) -> dict[str, dict[str, list[int]]]:
    """``{kind: {key: [contact ids in order]}}`` for p/e/f keys of a contacts frame."""
    out: dict[str, dict[str, list[int]]] = {"p": {}, "e": {}, "f": {}}
    for kind in ("p", "e", "f"):
        for k, cid in zip(keys[kind].tolist(), ids.tolist(), strict=True):
            if k is not None:
                out[kind].setdefault(k, []).append(int(cid))
    return out


def _match(rows: pd.DataFrame, contacts: pd.DataFrame) -> np.ndarray:
    """The contact id (or -1) for each row of ``rows`` (contact fields), each contact
    used once: phone first, then email, then fax."""
    ckeys = match_keys(contacts)
    idx = _index(ckeys, contacts["contact_id"].to_numpy())
    rkeys = match_keys(rows)
    used: set[int] = set()
    out = np.full(len(rows), -1, dtype=np.int64)
    cols = [rkeys[k].tolist() for k in ("p", "e", "f")]
    for i in range(len(rows)):
        for kind, col in zip(("p", "e", "f"), cols, strict=True):
            k = col[i]
            if k is None:
                continue
            for cid in idx[kind].get(k, ()):
                if cid not in used:
                    out[i] = cid
                    used.add(cid)
                    break
            if out[i] >= 0:
                break
    return out


def _contacts_frame(session: ApiSession, list_id: int, workers: int) -> pd.DataFrame:
    frame = read_list(session, list_id, workers)
    # phones as the API stores them; trimmed text for matching
    for f in CONTACT_FIELDS:
        text = frame[f].astype("str").str.strip()
        frame[f] = text.where(text != "")
    return frame


# ------------------------------------------------------------------------------ import


def import_contacts(
    client: ClientLike,
    df: pd.DataFrame,
    list_id: int | None = None,
    list_name: str | None = None,
    mapping: Mapping[str, str] | None = None,
    *,
    method: str = "auto",
    threshold: int = 200,
    skip_existing: bool = True,
    update_existing: bool = False,
    timeout: float = 600.0,
    poll: float = 0.5,
    doubt_horizon: float = 600.0,
    progress: bool | str | None = None,
) -> pd.DataFrame:
    """Import ``df`` into a list and return one outcome per row; see the module docstring.

    Parameters
    ----------
    list_id, list_name : the list; ``list_name`` finds a list by exact name or creates it.
    mapping : ``{contact_field: column}``; default: columns named like the fields (the
        cleaned ``phone_e164`` / ``email_norm`` preferred).
    method : ``"upload"`` (CSV + import), ``"per_contact"`` (a POST per contact) or
        ``"auto"`` (per contact up to ``threshold`` rows).
    skip_existing : rows whose phone or email is already in the list are
        ``already_present`` (use :func:`sync_list` to update them instead).
    update_existing : rows already in the list whose other fields differ (a non-blank
        value the contact lacks or has otherwise) are written to that contact (``PUT`` of
        the changed fields only) and are ``updated``; blanks never erase a value.
    timeout, poll : how long to wait for an import (and to keep retrying transient
        failures), and how often to look.
    doubt_horizon : seconds after an import POST whose answer was lost before its
        absence means "not taken" (a slow server may still start it).

    Example::

        res = import_contacts(cs, clean_df, list_name="Spring 2027")
        res.loc[res["outcome"] == "rejected", ["phone_number", "reason"]]
    """
    if method not in ("auto", "upload", "per_contact"):
        raise ValueError("method must be 'auto', 'upload' or 'per_contact'")
    for name, value in (("timeout", timeout), ("poll", poll), ("doubt_horizon", doubt_horizon)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    session = client.session
    workers = client.max_workers
    cols = resolve_mapping(df, mapping)
    prepared = prepare(df, cols)
    list_id, created = ensure_list(session, list_id, list_name, horizon=doubt_horizon, poll=poll)
    deadline = time.monotonic() + timeout
    if not created:
        # An import still running (a previous run's) must finish before the list is read,
        # or its rows would look missing and be imported twice.
        _wait_import(session, list_id, 0, set(), timeout, poll, False)
    before = (
        _contacts_frame(session, list_id, workers)
        if not created
        else pd.DataFrame(columns=["contact_id", *CONTACT_FIELDS])
    )
    existing_ids = np.zeros(len(df), dtype=np.int64) - 1
    if skip_existing and len(before):
        todo = np.flatnonzero(prepared.ok)
        hit = _match(prepared.fields.iloc[todo], before)
        for pos, cid in zip(todo.tolist(), hit.tolist(), strict=True):
            if cid >= 0:
                prepared.outcome[pos] = "already_present"
                prepared.reason[pos] = f"already in list {list_id} as contact {cid}"
                existing_ids[pos] = cid
    if update_existing and (existing_ids >= 0).any():
        _update_existing(session, list_id, prepared, existing_ids, before, workers)
    todo = np.flatnonzero(prepared.ok)
    use = method
    if method == "auto":
        use = "per_contact" if len(todo) <= threshold else "upload"
    info: dict[str, Any] = {"method": use, "import_id": None}
    known = set(before["contact_id"].tolist())
    if len(todo):
        try:
            if use == "per_contact":
                _post_each(session, list_id, prepared, todo, workers, progress, deadline)
            else:
                info["import_id"] = _upload_and_import(
                    client, list_id, prepared, todo, known, timeout, poll, progress, doubt_horizon
                )
        except ImportTimeout as exc:
            exc.result = _outcome_frame(df, prepared, existing_ids, list_id)
            raise
    after = _contacts_frame(session, list_id, workers) if len(todo) else before
    new = after[~after["contact_id"].isin(known)]
    ids = np.full(len(df), -1, dtype=np.int64)
    if len(todo):
        got = _match(prepared.fields.iloc[todo], new)
        ids[todo] = got
        for pos, cid in zip(todo.tolist(), got.tolist(), strict=True):
            if cid >= 0:
                prepared.outcome[pos], prepared.reason[pos] = "imported", None
            elif prepared.outcome[pos] is None:
                prepared.outcome[pos] = "rejected"
                prepared.reason[pos] = "not in the list after the import (refused by the API)"
    ids = np.where(existing_ids >= 0, existing_ids, ids)
    result = _outcome_frame(df, prepared, ids, list_id)
    matched = set(ids[ids >= 0].tolist())
    result.attrs.update(
        {
            "list_id": list_id,
            "list_created": created,
            "mapping": cols,
            "counts": {k: int(v) for k, v in result["outcome"].value_counts().items() if v},
            "unmatched_contacts": sorted(set(new["contact_id"].tolist()) - matched),
            **info,
        }
    )
    bad = prepared.outcome == "rejected"  # already_present rows are not a problem
    if bad.any():
        warnings.warn(
            f"{int(bad.sum())} row(s) rejected: {problems_summary(prepared, 'rejected')}",
            PlanWarning,
            stacklevel=2,
        )
    return result


def _changes(row: pd.Series, contact: pd.Series) -> dict[str, Any]:
    """The row's non-blank fields whose value the contact lacks or has otherwise (the
    channel it was matched on is equal by definition; its stored format may differ)."""
    out = {}
    for f, v in row.items():
        if v is None or pd.isna(v) or str(v).strip() == "":
            continue
        have = contact.get(f)
        blank = have is None or pd.isna(have) or str(have).strip() == ""
        if f in CHANNELS and not blank:
            continue
        if blank or str(have).strip() != str(v).strip():
            out[f] = v
    return out


def _update_existing(
    session: ApiSession,
    list_id: int,
    prepared: Prepared,
    ids: np.ndarray,
    before: pd.DataFrame,
    workers: int,
) -> None:
    """PUT the changed fields of rows matched to contacts already in the list."""
    by_id = before.set_index("contact_id")
    jobs = []
    for pos in np.flatnonzero(ids >= 0).tolist():
        change = _changes(prepared.fields.iloc[pos], by_id.loc[int(ids[pos])])
        if change:
            jobs.append((pos, int(ids[pos]), change))

    def put(job: tuple[int, int, dict[str, Any]]) -> tuple[int, str, str | None]:
        pos, cid, change = job
        try:
            session.request("PUT", f"/lists/{list_id}/contacts/{cid}", json=change, idempotent=True)
            return pos, "updated", f"updated contact {cid}: {', '.join(change)}"
        except ValidationError as exc:
            return pos, "rejected", f"update of contact {cid} refused: {exc.response_code}"

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for pos, outcome, reason in pool.map(put, jobs):
            prepared.outcome[pos], prepared.reason[pos] = outcome, reason


def _outcome_frame(
    df: pd.DataFrame, prepared: Prepared, ids: np.ndarray, list_id: int
) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    out["outcome"] = pd.Categorical(prepared.outcome, categories=OUTCOMES)
    out["reason"] = pd.array(prepared.reason, dtype="str")
    out["contact_id"] = pd.array(np.where(ids >= 0, ids, 0), dtype="Int64").copy()
    out.loc[ids < 0, "contact_id"] = pd.NA
    out["list_id"] = pd.array([list_id] * len(df), dtype="Int64")
    for f, col in prepared.fields.items():
        out[f] = col.astype("str")
    return out


def _post_each(
    session: ApiSession,
    list_id: int,
    prepared: Prepared,
    todo: np.ndarray,
    workers: int,
    progress: bool | str | None,
    deadline: float,
) -> None:
    """POST each row; unanswered ones are looked up (list read back) before a retry;
    429s wait for ``Retry-After``; transient failures are retried, with a jittered
    back-off, until ``deadline`` (``time.monotonic()``), then :class:`ImportTimeout`."""
    fields = prepared.fields
    path = f"/lists/{list_id}/contacts"
    labels = fields.index

    def post(pos: int) -> tuple[int, str, str | float | None]:
        # (position, "ok" | "retry" | "rejected" | "unknown", why or the Retry-After seconds)
        body = {k: v for k, v in fields.iloc[pos].items() if v is not None and not pd.isna(v)}
        try:
            session.post(path, body)
            return pos, "ok", None
        except RateLimited as exc:
            return pos, "retry", exc.retry_after
        except ValidationError as exc:
            return pos, "rejected", f"{exc.response_code}: {exc.response_msg}"
        except _FATAL:
            raise
        except (ApiError, OSError) as exc:
            return pos, "unknown", str(exc)

    pending = list(todo.tolist())
    bar = _bar(progress, session, len(pending), "import contacts")
    round_no = 0
    while True:
        unknown = []
        retry = []
        retry_after = None
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for pos, verdict, why in pool.map(post, pending):
                if verdict == "rejected":
                    prepared.outcome[pos], prepared.reason[pos] = "rejected", why
                elif verdict == "unknown":
                    unknown.append(pos)
                elif verdict == "retry":
                    retry.append(pos)
                    if why is not None:
                        retry_after = max(retry_after or 0.0, float(why))
                if bar is not None and verdict in ("ok", "rejected"):
                    bar.update(1)
        if unknown:
            current = _contacts_frame(session, list_id, workers)
            got = _match(fields.iloc[unknown], current)
            # found: the API took them; the read-back at the end records their ids
            retry += [p for p, cid in zip(unknown, got.tolist(), strict=True) if cid < 0]
            if bar is not None:
                bar.update(int((got >= 0).sum()))
        if not retry:
            break
        pending = retry
        pause = session.retry.delay(min(round_no, 6), retry_after)
        if time.monotonic() + pause > deadline:
            if bar is not None:
                bar.close()
            raise ImportTimeout(
                f"{len(pending)} contact(s) were not taken by the API before the timeout "
                f"({round_no + 1} rounds; last: 429 or a transient failure); rerun to add them"
            )
        time.sleep(pause)
        round_no += 1
    if bar is not None:
        bar.close()
    del labels


def _bar(progress: bool | str | None, session: ApiSession, total: int, desc: str) -> Any:
    from csframe.paging import progress_enabled

    if not progress_enabled("auto" if progress is None else progress):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="contact")


def csv_bytes(fields: pd.DataFrame, order: list[str]) -> bytes:
    """The import file: a header row of ``field_order`` names, then one row per contact
    (UTF-8, RFC 4180 quoting)."""
    buf = io.StringIO()
    frame = fields[order].astype(object).where(fields[order].notna(), "")
    frame.columns = [FIELD_ORDER[f] for f in order]
    frame.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def _upload_and_import(
    client: ClientLike,
    list_id: int,
    prepared: Prepared,
    todo: np.ndarray,
    known: set[int],
    timeout: float,
    poll: float,
    progress: bool | str | None,
    horizon: float,
) -> str | None:
    session = client.session
    order = [f for f in CONTACT_FIELDS if f in prepared.fields.columns]
    content = csv_bytes(prepared.fields.iloc[todo], order)
    url = upload_bytes(session, content, "csv")
    body = {"file_url": url, "field_order": [FIELD_ORDER[f] for f in order]}
    path = f"/lists/{list_id}/import"
    import_id = None
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        started = time.monotonic()
        try:
            data = session.post(path, body)
            import_id = (data or {}).get("id") if isinstance(data, dict) else None
        except RateLimited as exc:
            pause = session.retry.delay(min(attempt, 6), exc.retry_after)
            if time.monotonic() + pause > deadline:
                raise ImportTimeout(f"POST {path} was refused with 429 until the timeout") from exc
            time.sleep(pause)
            attempt += 1
            continue
        except (*_FATAL, ValidationError):
            raise
        except (ApiError, OSError) as exc:
            # Did the import start? A slow server may start it late: watch the list's
            # import flag and its contacts until the horizon before trying again.
            if _import_showed_up(session, list_id, known, started + horizon, deadline, poll):
                _wait_import(session, list_id, len(todo), known, timeout, poll, None)
                return None
            if time.monotonic() > deadline:
                raise ImportTimeout(f"POST {path} was not taken before the timeout") from exc
            attempt += 1
            continue
        _wait_import(session, list_id, len(todo), known, timeout, poll, progress)
        return None if import_id is None else str(import_id)


def _import_showed_up(
    session: ApiSession, list_id: int, known: set[int], until: float, deadline: float, poll: float
) -> bool:
    """After an import POST whose answer was lost: True once the list is importing or has
    new contacts; False when ``until`` (the doubt horizon, monotonic) passes first."""
    while True:
        rec = session.get(f"/lists/{list_id}", expire_after=DO_NOT_CACHE) or {}
        if int(rec.get("_import_in_progress") or 0):
            return True
        if int(rec.get("_contacts_count") or 0) > len(known):
            return True
        now = time.monotonic()
        if now >= until:
            return False
        if now >= deadline:
            raise ImportTimeout(
                f"an import POST to list {list_id} lost its answer and neither started nor "
                "was ruled out before the timeout; rerun later to finish"
            )
        time.sleep(min(poll, max(0.0, until - now)))


def _wait_import(
    session: ApiSession,
    list_id: int,
    expected: int,
    known: set[int],
    timeout: float,
    poll: float,
    progress: bool | str | None,
) -> None:
    """Poll the list until its import is no longer in progress."""
    bar = _bar(progress, session, expected, "import") if progress is not False else None
    base = len(known)
    deadline = time.monotonic() + timeout
    try:
        while True:
            rec = session.get(f"/lists/{list_id}", expire_after=DO_NOT_CACHE) or {}
            if bar is not None:
                count = int(rec.get("_contacts_count") or 0)
                bar.n = max(0, min(expected, count - base))
                bar.refresh()
            if not int(rec.get("_import_in_progress") or 0):
                return
            if time.monotonic() > deadline:
                raise ImportTimeout(
                    f"the import into list {list_id} did not finish within {timeout:.0f}s; "
                    "it continues on the server: read the list later to see what arrived"
                )
            time.sleep(poll)
    finally:
        if bar is not None:
            bar.close()


# -------------------------------------------------------------------------------- sync

SYNC_ACTIONS = ("add", "update", "unchanged", "remove", "rejected", "skipped_duplicate")


def sync_list(
    client: ClientLike,
    df: pd.DataFrame,
    list_id: int,
    mode: str = "upsert",
    *,
    mapping: Mapping[str, str] | None = None,
    default_region: str | None = None,
    dry_run: bool = False,
    workers: int | None = None,
    progress: bool | str | None = None,
) -> pd.DataFrame:
    """Make list ``list_id`` match ``df``: add new contacts, update changed ones (PUT with
    the changed fields only), and with ``mode="replace"`` delete the ones ``df`` lacks.

    Matching and change detection are :func:`csframe.clean.diff` (E.164 phone, then email
    key; a blank value in ``df`` never blanks a field). Invalid rows (no channel, bad
    phone or email) and duplicates inside ``df`` are reported, never written.

    Returns a frame with a fresh index: ``row`` (the ``df`` label, or None for contacts to
    remove), ``action`` (add / update / unchanged / remove / rejected / skipped_duplicate),
    ``contact_id``, ``changed_columns``, ``outcome`` (``planned`` on a dry run; else
    ``done``, ``failed`` or ``skipped``), ``error``. ``attrs["counts"]`` sums it up.

    Example::

        plan = sync_list(cs, keep, 428, mode="replace", dry_run=True)
        plan["action"].value_counts()
        done = sync_list(cs, keep, 428, mode="replace")
    """
    if mode not in ("upsert", "replace"):
        raise ValueError("mode must be 'upsert' or 'replace'")
    from csframe import clean

    session = client.session
    workers = workers or client.max_workers
    cols = resolve_mapping(df, mapping)
    prepared = prepare(df, cols)
    list_id, _ = ensure_list(session, list_id, None)
    current = _contacts_frame(session, list_id, workers)
    ok = np.flatnonzero(prepared.ok)
    src = prepared.fields.iloc[ok].reset_index(drop=True)
    region = default_region or _default_region(client)
    cur = current[["contact_id", *CONTACT_FIELDS]].copy()
    d = clean.diff(src, cur, default_region=region)
    n_src = len(src)
    rows: list[dict[str, Any]] = []
    labels = df.index
    for i in range(len(df)):
        if not prepared.ok[i]:
            rows.append(
                {
                    "row": labels[i],
                    # a repeat of an earlier row is not added: skipped as a duplicate
                    "action": "skipped_duplicate"
                    if prepared.outcome[i] == "already_present"
                    else str(prepared.outcome[i]),
                    "contact_id": None,
                    "changed_columns": "",
                    "error": prepared.reason[i],
                }
            )
    dd = d.iloc[:n_src]
    for j, pos in enumerate(ok.tolist()):
        rec = dd.iloc[j]
        cid = rec["current_contact_id"]
        rows.append(
            {
                "row": labels[pos],
                "action": str(rec["action"]),
                "contact_id": None if pd.isna(cid) else int(cid),
                "changed_columns": rec["changed_columns"],
                "error": None,
                "_src": j,
            }
        )
    if mode == "replace":
        for _, rec in d.iloc[n_src:].iterrows():
            rows.append(
                {
                    "row": None,
                    "action": "remove",
                    "contact_id": int(rec["current_contact_id"]),
                    "changed_columns": "",
                    "error": None,
                }
            )
    plan = pd.DataFrame(
        rows,
        columns=["row", "action", "contact_id", "changed_columns", "error", "_src"],
        dtype=object,
    )
    plan["outcome"] = np.where(
        plan["action"].isin(["add", "update", "remove"]), "planned", "skipped"
    ).astype(object)
    if not dry_run:
        _apply(client, list_id, plan, src, workers, progress)
    out = pd.DataFrame(
        {
            "row": plan["row"].astype(object),
            "action": pd.Categorical(plan["action"], categories=SYNC_ACTIONS),
            "contact_id": pd.array(plan["contact_id"], dtype="Int64"),
            "changed_columns": pd.array(plan["changed_columns"].fillna(""), dtype="str"),
            "outcome": pd.Categorical(
                plan["outcome"], categories=["planned", "done", "failed", "skipped"]
            ),
            "error": pd.array(plan["error"], dtype="str"),
        }
    )
    out.attrs.update(
        {
            "list_id": list_id,
            "mode": mode,
            "dry_run": dry_run,
            "counts": {
                f"{a}/{o}": int(v)
                for (a, o), v in out.groupby(["action", "outcome"], observed=True).size().items()
            },
        }
    )
    return out


def _default_region(client: ClientLike) -> str | None:
    try:
        return str(client.account().get("default_country_sms") or "") or None
    except (ApiError, AttributeError):
        return None


def _apply(
    client: ClientLike,
    list_id: int,
    plan: pd.DataFrame,
    src: pd.DataFrame,
    workers: int,
    progress: bool | str | None,
) -> pd.DataFrame:
    session = client.session
    base = f"/lists/{list_id}/contacts"

    def body_of(j: int, only: list[str] | None = None) -> dict[str, Any]:
        rec = src.iloc[j]
        keys = only or [f for f in CONTACT_FIELDS if f in src.columns]
        return {k: rec[k] for k in keys if k in src.columns and not pd.isna(rec[k])}

    def update(i: int) -> tuple[int, str, str | None]:
        r = plan.loc[i]
        changed = [c for c in str(r["changed_columns"]).split(",") if c]
        try:
            session.request(
                "PUT", f"{base}/{int(r['contact_id'])}", json=body_of(int(r["_src"]), changed),
                idempotent=True,
            )  # fmt: skip
            return i, "done", None
        except ApiError as exc:
            return i, "failed", str(exc)

    def remove(i: int) -> tuple[int, str, str | None]:
        cid = int(plan.loc[i, "contact_id"])
        try:
            session.request("DELETE", f"{base}/{cid}", idempotent=True)
            return i, "done", None
        except NotFound:
            return i, "done", None  # gone already (an earlier, unanswered attempt)
        except ApiError as exc:
            return i, "failed", str(exc)

    jobs = [(update, i) for i in plan.index[plan["action"] == "update"]]
    jobs += [(remove, i) for i in plan.index[plan["action"] == "remove"]]
    bar = _bar(progress, session, len(jobs), "sync list") if jobs else None
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, outcome, error in pool.map(lambda job: job[0](job[1]), jobs):
            plan.loc[i, "outcome"] = outcome
            plan.loc[i, "error"] = error
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    adds = plan.index[plan["action"] == "add"]
    if len(adds):
        frame = src.iloc[plan.loc[adds, "_src"].astype(int).to_numpy()]
        frame.index = adds
        res = import_contacts(
            client, frame, list_id=list_id, mapping={c: c for c in frame.columns},
            skip_existing=False, progress=progress,
        )  # fmt: skip
        ok = res["outcome"] == "imported"
        plan.loc[adds, "outcome"] = np.where(ok, "done", "failed")
        plan.loc[adds, "contact_id"] = res["contact_id"].astype(object).where(ok, None)
        plan.loc[adds, "error"] = res["reason"].astype(object).where(~ok, None)
