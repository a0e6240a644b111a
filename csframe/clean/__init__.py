"""Contact clean-up and de-duplication: a pure-pandas layer over contacts frames.

Example::

    from csframe import clean
    ct = clean.contacts(raw, default_region="AU")   # phone_e164, email_norm, issues, ...
    dups = clean.duplicates(ct)                     # cluster_id, rule, match_weight, needs_review
    keep = clean.dedupe(dups)                       # one row per cluster, merged_from
    kept, dropped = clean.suppress_opt_outs(keep, inbound)
    plan = clean.diff(kept, current)                # add / update / unchanged / remove
    clean.run(raw, inbound, default_region="AU").report   # all of it, with a CleanupReport

It imports nothing from the client or the sandbox: every function takes and returns
DataFrames and never modifies its input.
"""

from csframe.clean._common import CleanInputError
from csframe.clean.contacts import contacts
from csframe.clean.dedup import duplicates
from csframe.clean.diff import diff
from csframe.clean.emails import emails
from csframe.clean.names import names
from csframe.clean.optout import OptOutResult, keyword_kind, suppress_opt_outs
from csframe.clean.phones import phones
from csframe.clean.report import CleanupReport, CleanupResult, run
from csframe.clean.survivorship import dedupe

__all__ = [
    "CleanInputError",
    "CleanupReport",
    "CleanupResult",
    "OptOutResult",
    "contacts",
    "dedupe",
    "diff",
    "duplicates",
    "emails",
    "keyword_kind",
    "names",
    "phones",
    "run",
    "suppress_opt_outs",
]
