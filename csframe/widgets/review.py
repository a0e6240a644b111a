"""The duplicate-cluster reviewer: step through clusters, accept, split or skip each.

:class:`CleanupReview` is the logic (no ipywidgets); :class:`CleanupReviewView` the thin
ipywidgets view; :func:`csframe.widgets.cleanup_review` builds one. The decisions come back
as the DataFrame :func:`csframe.clean.dedupe` takes as ``decisions=``:

- ``accept``: the rows are one person -- merge them;
- ``split``: different people -- keep every row (the default for a flagged cluster);
- ``skip``: undecided -- left out of ``decisions``, so ``dedupe`` keeps the rows apart.

Example::

    dups = csframe.clean.duplicates(clean_contacts)
    rv = CleanupReview(dups)
    rv.side_by_side()      # the current cluster, one column per contact
    rv.links()             # which shared value linked which rows
    rv.accept()            # ... or rv.split() / rv.skip(); moves to the next cluster
    keep = csframe.clean.dedupe(dups, decisions=rv.decisions)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd

from csframe.widgets._common import esc

DECISIONS = ("accept", "split", "skip")
REQUIRED = ("cluster_id", "cluster_size", "needs_review")
#: Fields shown side by side (those present, in this order).
FIELDS = (
    "_list_name",
    "list_id",
    "first_name",
    "last_name",
    "phone_number",
    "phone_e164",
    "phone_type",
    "email",
    "email_norm",
    "organization_name",
    "address_line_1",
    "address_city",
    "address_postal_code",
    "address_country",
    "date_added",
    "date_updated",
    "unsubscribed",
    "rule",
    "match_weight",
    "review_reason",
    "survivor",
    "issues",
)
_LINK_KEYS = (
    ("phone", ("phone_e164",), "phone_valid"),
    ("email", ("email_match_key",), "email_valid"),
    ("name+postcode", ("name_key", "postcode_key"), None),
)


class CleanupReview:
    """Review duplicate clusters one at a time.

    Parameters
    ----------
    duplicates_frame : the output of :func:`csframe.clean.duplicates`.
    review_only : step through the clusters flagged ``needs_review`` (default), or, when
        False, through every cluster with more than one row.
    fields : columns shown side by side (default :data:`FIELDS`, those present).

    Example::

        rv = CleanupReview(dups)
        while not rv.done:
            rv.split() if (rv.links()["via"] == "email").all() else rv.accept()
        rv.decisions
    """

    def __init__(
        self,
        duplicates_frame: pd.DataFrame,
        *,
        review_only: bool = True,
        fields: Iterable[str] | None = None,
    ) -> None:
        if not isinstance(duplicates_frame, pd.DataFrame):
            raise TypeError(
                "cleanup_review() takes the DataFrame returned by csframe.clean.duplicates(), "
                f"got {type(duplicates_frame).__name__}"
            )
        missing = [c for c in REQUIRED if c not in duplicates_frame.columns]
        if missing:
            raise ValueError(
                f"the frame has no {', '.join(missing)} column(s): pass the output of "
                "csframe.clean.duplicates(), which adds cluster_id, cluster_size, rule, "
                "needs_review and survivor"
            )
        self.frame = duplicates_frame
        size = duplicates_frame["cluster_size"].fillna(1).astype("int64")
        flagged = duplicates_frame["needs_review"].fillna(False).astype(bool)
        mask = flagged if review_only else size > 1
        ids = duplicates_frame.loc[mask.to_numpy(bool), "cluster_id"].dropna().astype("int64")
        self.clusters: list[int] = list(dict.fromkeys(ids.tolist()))
        self.fields = tuple(f for f in (fields or FIELDS) if f in duplicates_frame.columns)
        self.position = 0
        self._decided: dict[int, str] = {}

    # -- where we are ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.clusters)

    @property
    def current(self) -> int | None:
        """The cluster id under review, or None when past the last one."""
        return self.clusters[self.position] if self.position < len(self.clusters) else None

    @property
    def done(self) -> bool:
        """Every cluster has a decision (accept, split or skip)."""
        return all(c in self._decided for c in self.clusters)

    def go(self, position: int) -> int | None:
        """Jump to the cluster at ``position`` (0-based); returns its id."""
        if not 0 <= position <= len(self.clusters):
            raise IndexError(f"position must be 0..{len(self.clusters)}, got {position}")
        self.position = position
        return self.current

    def back(self) -> int | None:
        """Go to the previous cluster (to change its decision)."""
        return self.go(max(self.position - 1, 0))

    def forward(self) -> int | None:
        """Go to the next cluster without deciding."""
        return self.go(min(self.position + 1, len(self.clusters)))

    # -- what the user sees ----------------------------------------------------------------
    def _resolve(self, cluster_id: int | None) -> int:
        cid = self.current if cluster_id is None else int(cluster_id)
        if cid is None:
            raise LookupError("no cluster under review: every cluster has been stepped through")
        return cid

    def cluster(self, cluster_id: int | None = None) -> pd.DataFrame:
        """The rows of a cluster (the current one by default), all columns."""
        cid = self._resolve(cluster_id)
        rows = self.frame[self.frame["cluster_id"].eq(cid).fillna(False).to_numpy(bool)]
        if rows.empty:
            raise KeyError(f"no cluster {cid} in this frame")
        return rows

    def labels(self, rows: pd.DataFrame) -> list[str]:
        if "contact_id" in rows:
            return [
                f"#{v}" if pd.notna(v) else f"row {i}"
                for i, v in zip(rows.index, rows["contact_id"], strict=True)
            ]
        return [f"row {i}" for i in rows.index]

    def side_by_side(self, cluster_id: int | None = None) -> pd.DataFrame:
        """The cluster's rows as columns (headed by contact id) and :attr:`fields` as rows,
        so differences read across; ``differs`` says where the rows disagree."""
        rows = self.cluster(cluster_id)
        table = rows[list(self.fields)].T.astype(object)
        table.columns = self.labels(rows)
        table = table.where(table.notna(), None)
        table["differs"] = [
            len({str(v) for v in values if v is not None and str(v) != ""}) > 1
            for values in table.itertuples(index=False)
        ]
        return table

    def links(self, cluster_id: int | None = None) -> pd.DataFrame:
        """What links the rows: one row per value shared by two or more contacts of the
        cluster -- ``via`` (phone, email or name+postcode), ``value`` (what they share) and
        ``contacts`` (their labels, comma-separated)."""
        rows = self.cluster(cluster_id)
        labels = dict(zip(rows.index, self.labels(rows), strict=True))
        out = []
        for via, keys, valid in _LINK_KEYS:
            if not all(k in rows for k in keys):
                continue
            sub = rows
            if valid and valid in rows:
                sub = rows[rows[valid].fillna(False).astype(bool).to_numpy()]
            sub = sub.dropna(subset=list(keys))
            for _, group in sub.groupby(list(keys), sort=False):
                if len(group) < 2:
                    continue
                out.append(
                    {
                        "via": via,
                        "value": " / ".join(str(group.iloc[0][k]) for k in keys),
                        "contacts": ", ".join(labels[i] for i in group.index),
                    }
                )
        return pd.DataFrame(out, columns=["via", "value", "contacts"])

    def reason(self, cluster_id: int | None = None) -> str:
        """Why a cluster needs review, in one sentence."""
        rows = self.cluster(cluster_id)
        phones = 0
        if "phone_e164" in rows:
            valid = rows["phone_valid"] if "phone_valid" in rows else rows["phone_e164"].notna()
            phones = rows.loc[valid.fillna(False).astype(bool), "phone_e164"].dropna().nunique()
        emails = rows["email_match_key"].dropna().nunique() if "email_match_key" in rows else 0
        if bool(rows["needs_review"].fillna(False).any()):
            # the conflicts duplicates() found on the links (different mobiles, dates of
            # birth, first names, ...)
            why = []
            if "review_reason" in rows:
                for text in rows["review_reason"].dropna().astype(str):
                    why += [w for w in text.split("; ") if w and w not in why]
            conflicts = f" ({'; '.join(why)})" if why else ""
            return (
                f"{len(rows)} rows linked in a chain holding {phones} different phone numbers "
                f"and {emails} different email addresses{conflicts}: one person, "
                "or different people? Accept merges them into one contact; split keeps them apart."
            )
        rules = sorted(rows["rule"].dropna().astype(str).unique()) if "rule" in rows else []
        return f"{len(rows)} rows linked by {', '.join(rules) or 'a shared value'}."

    # -- decisions ---------------------------------------------------------------------------
    def decide(self, decision: str, cluster_id: int | None = None) -> int | None:
        """Record ``decision`` (accept, split or skip) for a cluster (the current one by
        default) and move to the next undecided cluster; returns its id (None when done)."""
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
        cid = self._resolve(cluster_id)
        if cid not in self.clusters:
            raise KeyError(f"cluster {cid} is not under review here")
        self._decided[cid] = decision
        after = self.clusters.index(cid) + 1
        pending = [
            i for i in range(after, len(self.clusters)) if self.clusters[i] not in self._decided
        ]
        self.position = pending[0] if pending else len(self.clusters)
        return self.current

    def accept(self, cluster_id: int | None = None) -> int | None:
        """The rows are one person: merge them."""
        return self.decide("accept", cluster_id)

    def split(self, cluster_id: int | None = None) -> int | None:
        """The rows are different people: keep them apart."""
        return self.decide("split", cluster_id)

    def skip(self, cluster_id: int | None = None) -> int | None:
        """Decide later (left out of :attr:`decisions`; ``dedupe`` keeps the rows apart)."""
        return self.decide("skip", cluster_id)

    def decision(self, cluster_id: int | None = None) -> str | None:
        """The decision recorded for a cluster, if any."""
        return self._decided.get(self._resolve(cluster_id))

    @property
    def decisions(self) -> pd.DataFrame:
        """Accept/split decisions as ``clean.dedupe(decisions=...)`` takes them: columns
        ``cluster_id`` (Int64) and ``decision`` (str), in review order."""
        chosen = [
            (c, self._decided[c])
            for c in self.clusters
            if self._decided.get(c) in ("accept", "split")
        ]
        return pd.DataFrame(
            {
                "cluster_id": pd.array([c for c, _ in chosen], dtype="Int64"),
                "decision": pd.Series([d for _, d in chosen], dtype="str"),
            }
        )

    @property
    def skipped(self) -> list[int]:
        """Clusters skipped so far."""
        return [c for c in self.clusters if self._decided.get(c) == "skip"]

    def counts(self) -> dict[str, int]:
        """Clusters per decision, plus ``pending`` (not decided yet) and ``total``."""
        out = {d: sum(1 for c in self.clusters if self._decided.get(c) == d) for d in DECISIONS}
        out["pending"] = len(self.clusters) - sum(out.values())
        out["total"] = len(self.clusters)
        return out

    # -- rendering -----------------------------------------------------------------------------
    def html(self, cluster_id: int | None = None) -> str:
        """The current cluster as HTML: reason, links and the side-by-side table (escaped;
        rows where the contacts disagree highlighted)."""
        if (cluster_id is None and self.current is None) or not self.clusters:
            return f"<p>{esc(self.status())}</p>"
        table = self.side_by_side(cluster_id)
        links = self.links(cluster_id)
        items = "".join(
            f"<li>{esc(r.contacts)} share {esc(r.via)} <code>{esc(r.value)}</code></li>"
            for r in links.itertuples(index=False)
        )
        columns = [c for c in table.columns if c != "differs"]
        head = "".join(f"<th>{esc(c)}</th>" for c in columns)
        body = "".join(
            f'<tr style="{"background:#fff3c4" if differs else ""}"><th style="text-align:left">{esc(field)}</th>'
            + "".join(f"<td>{esc(v)}</td>" for v in values)
            + "</tr>"
            for field, values, differs in zip(
                table.index, table[columns].itertuples(index=False), table["differs"], strict=True
            )
        )
        return (
            f"<p>{esc(self.reason(cluster_id))}</p><ul>{items}</ul>"
            f'<table class="csframe-review"><thead><tr><th></th>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>"
        )

    def status(self) -> str:
        """One line: where we are and what was decided."""
        c = self.counts()
        if not c["total"]:
            return "No clusters need review."
        where = (
            f"Cluster {self.position + 1} of {c['total']} (id {self.current})"
            if self.current is not None
            else f"All {c['total']} clusters stepped through"
        )
        return (
            f"{where} · {c['accept']} accepted, {c['split']} split, {c['skip']} skipped, "
            f"{c['pending']} pending"
        )


class CleanupReviewView:
    """The ipywidgets view of a :class:`CleanupReview` (build it with
    :func:`csframe.widgets.cleanup_review`): buttons ``accept_button``, ``split_button``,
    ``skip_button``, ``back_button``; ``status`` and ``body`` (HTML). ``decisions`` is the
    model's. Displays itself as ``widget``.
    """

    def __init__(self, model: CleanupReview) -> None:
        from csframe.widgets._deps import ipywidgets

        w = ipywidgets()

        self.model = model
        self.accept_button = w.Button(
            description="Accept (merge)", button_style="success", icon="check"
        )
        self.split_button = w.Button(
            description="Split (keep apart)", button_style="warning", icon="code-fork"
        )
        self.skip_button = w.Button(description="Skip", icon="forward")
        self.back_button = w.Button(description="Back", icon="backward")
        self.status = w.HTML()
        self.body = w.HTML()
        self.widget = w.VBox(
            [
                self.status,
                self.body,
                w.HBox([self.back_button, self.accept_button, self.split_button, self.skip_button]),
            ]
        )
        self.accept_button.on_click(lambda _b: self._act(model.accept))
        self.split_button.on_click(lambda _b: self._act(model.split))
        self.skip_button.on_click(lambda _b: self._act(model.skip))
        self.back_button.on_click(lambda _b: self._act(model.back))
        self.render()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    @property
    def decisions(self) -> pd.DataFrame:
        """See :attr:`CleanupReview.decisions`."""
        return self.model.decisions

    def _act(self, action: Callable[[], object]) -> None:
        if self.model.current is not None or action == self.model.back:
            action()
        self.render()

    def render(self) -> None:
        m = self.model
        decided = m.decision() if m.current is not None else None
        note = f" · this cluster: {decided}" if decided else ""
        self.status.value = f"<b>{esc(m.status())}</b>{esc(note)}"
        self.body.value = (
            m.html()
            if m.current is not None
            else (
                f"<p>{esc('Done. Pass .decisions to csframe.clean.dedupe(..., decisions=...).')}</p>"
                if m.clusters
                else "<p>No clusters need review.</p>"
            )
        )
        finished = m.current is None
        for button in (self.accept_button, self.split_button, self.skip_button):
            button.disabled = finished
        self.back_button.disabled = m.position == 0
