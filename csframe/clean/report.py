"""CleanupReport: a one-screen text/HTML summary of a clean-up, and run() that produces it."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import pandas as pd

from csframe.clean.contacts import contacts
from csframe.clean.dedup import duplicates
from csframe.clean.optout import suppress_opt_outs
from csframe.clean.survivorship import dedupe


@dataclass(frozen=True)
class CleanupReport:
    """Counts from each stage of a clean-up; ``str()`` for terminals, HTML in notebooks.

    Build it with :meth:`from_frames` from whichever stage outputs you have, or get one from
    :func:`run`.

    Example
    -------
    >>> import pandas as pd
    >>> from csframe import clean
    >>> df = pd.DataFrame({"phone_number": ["0412 345 678", "+61412345678", "12"]})
    >>> print(clean.run(df, default_region="AU").report)
    Contact clean-up
      rows in                           3
      invalid phones                    1
      invalid emails                    0
      no usable channel                 1
      duplicate rows merged             1
      duplicate clusters                1
      clusters needing review           0
      opt-outs removed                  0
      rows out                          2
      top issues: phone_too_short 1, no_channel 1
    """

    rows_in: int = 0
    invalid_phones: int = 0
    invalid_emails: int = 0
    no_channel: int = 0
    duplicate_rows: int = 0
    duplicate_clusters: int = 0
    clusters_needing_review: int = 0
    opt_outs: int = 0
    rows_out: int = 0
    issues: dict[str, int] = field(default_factory=dict)
    opt_out_reasons: dict[str, int] = field(default_factory=dict)

    _LABELS = (
        ("rows_in", "rows in"),
        ("invalid_phones", "invalid phones"),
        ("invalid_emails", "invalid emails"),
        ("no_channel", "no usable channel"),
        ("duplicate_rows", "duplicate rows merged"),
        ("duplicate_clusters", "duplicate clusters"),
        ("clusters_needing_review", "clusters needing review"),
        ("opt_outs", "opt-outs removed"),
        ("rows_out", "rows out"),
    )

    @classmethod
    def from_frames(
        cls,
        raw: pd.DataFrame | None = None,
        cleaned: pd.DataFrame | None = None,
        clusters: pd.DataFrame | None = None,
        deduped: pd.DataFrame | None = None,
        dropped: pd.DataFrame | None = None,
        final: pd.DataFrame | None = None,
    ) -> CleanupReport:
        """Counts from the outputs of contacts(), duplicates(), dedupe(), suppress_opt_outs()."""
        base = cleaned if cleaned is not None else clusters
        rows_in = len(raw) if raw is not None else (len(base) if base is not None else 0)
        kw: dict = {"rows_in": rows_in}
        if base is not None:
            ph = base["phone_reason"].astype(object)
            em = base["email_reason"].astype(object)
            kw["invalid_phones"] = int((ph.notna() & (ph != "empty")).sum())
            kw["invalid_emails"] = int((em.notna() & (em != "empty")).sum())
            codes = base["issues"].str.split(",").explode()
            counts = codes[codes.notna() & (codes != "")].value_counts()
            kw["issues"] = {str(k): int(v) for k, v in counts.items()}
            kw["no_channel"] = kw["issues"].get("no_channel", 0)
        if clusters is not None:
            multi = clusters[clusters["cluster_size"] > 1]
            kw["clusters_needing_review"] = int(
                multi.loc[multi["needs_review"].fillna(False), "cluster_id"].nunique()
            )
        if deduped is not None:
            merged = deduped[deduped["merged_count"] > 1]
            kw["duplicate_clusters"] = len(merged)
            kw["duplicate_rows"] = int((merged["merged_count"] - 1).sum())
        if dropped is not None:
            kw["opt_outs"] = len(dropped)
            counts = dropped["opt_out_reason"].value_counts()
            kw["opt_out_reasons"] = {str(k): int(v) for k, v in counts.items() if v}
        last = final if final is not None else deduped if deduped is not None else base
        kw["rows_out"] = len(last) if last is not None else rows_in
        return cls(**kw)

    def __str__(self) -> str:
        lines = ["Contact clean-up"]
        for attr, label in self._LABELS:
            lines.append(f"  {label:<28}{getattr(self, attr):>7,}")
        if self.opt_out_reasons:
            reasons = ", ".join(f"{k} {v:,}" for k, v in self.opt_out_reasons.items())
            lines.append(f"  opt-out reasons: {reasons}")
        if self.issues:
            top = sorted(self.issues.items(), key=lambda kv: -kv[1])[:8]
            lines.append("  top issues: " + ", ".join(f"{k} {v:,}" for k, v in top))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td style='text-align:left'>{html.escape(label)}</td>"
            f"<td style='text-align:right'>{getattr(self, attr):,}</td></tr>"
            for attr, label in self._LABELS
        )
        extra = ""
        if self.issues:
            top = sorted(self.issues.items(), key=lambda kv: -kv[1])[:8]
            extra += (
                "<p><b>Top issues:</b> "
                + ", ".join(f"{html.escape(k)} {v:,}" for k, v in top)
                + "</p>"
            )
        if self.opt_out_reasons:
            extra += (
                "<p><b>Opt-out reasons:</b> "
                + ", ".join(f"{html.escape(k)} {v:,}" for k, v in self.opt_out_reasons.items())
                + "</p>"
            )
        return (
            "<div class='csframe-cleanup-report'><b>Contact clean-up</b>"
            f"<table>{rows}</table>{extra}</div>"
        )


class CleanupResult(NamedTuple):
    """Output of :func:`run`: the import-ready frame and every intermediate."""

    frame: pd.DataFrame
    clusters: pd.DataFrame
    dropped: pd.DataFrame
    report: CleanupReport


def run(
    df: pd.DataFrame,
    inbound: pd.DataFrame | None = None,
    opt_out_list: pd.DataFrame | Iterable[object] | None = None,
    *,
    default_region: str | None = None,
    keep: str | Callable = "most_complete",
    decisions: pd.DataFrame | Mapping[int, str] | None = None,
    mapping: dict[str, str] | None = None,
) -> CleanupResult:
    """contacts() → duplicates() → dedupe() → suppress_opt_outs(), with a CleanupReport.

    Example
    -------
    >>> import pandas as pd
    >>> from csframe import clean
    >>> res = clean.run(pd.DataFrame({"phone_number": ["0412 345 678", "+61412345678"]}),
    ...                 default_region="AU")
    >>> len(res.frame), res.report.duplicate_rows
    (1, 1)
    """
    cleaned = contacts(df, default_region, mapping=mapping)
    clusters = duplicates(cleaned, keep=keep)
    deduped = dedupe(clusters, keep=keep, decisions=decisions)
    kept, dropped = suppress_opt_outs(
        deduped, inbound, opt_out_list, default_region=default_region, mapping=mapping
    )
    report = CleanupReport.from_frames(
        raw=df, cleaned=cleaned, clusters=clusters, deduped=deduped, dropped=dropped, final=kept
    )
    return CleanupResult(kept, clusters, dropped, report)
