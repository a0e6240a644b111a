"""Email addresses: trimmed and case-normalised for writing back, plus a match key for dedup.

``email_norm`` is what we would write back: trimmed, ``mailto:``/angle brackets removed,
domain lower-cased, and the local part lower-cased too for the common providers (all of
which treat it case-insensitively). ``email_match_key`` is only for matching: for
gmail.com/googlemail.com the dots and the ``+tag`` are removed and the domain unified; for
other providers that deliver ``user+tag@`` to ``user@`` the ``+tag`` is dropped. It is never
written back.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from csframe.clean._common import as_text, ascii_fold, pick, take_category, take_str
from csframe.scale import is_dask

EMAIL_REASONS = ("empty", "missing_at", "multiple", "bad_local", "bad_domain", "too_long")

GMAIL = ("gmail.com", "googlemail.com")
# providers that deliver user+tag@ to user@ (subaddressing)
PLUS_TAG = GMAIL + (
    "outlook.com", "hotmail.com", "live.com", "msn.com", "outlook.com.au", "hotmail.co.uk",
    "live.com.au", "live.co.uk", "icloud.com", "me.com", "mac.com", "fastmail.com",
    "fastmail.fm", "protonmail.com", "proton.me", "pm.me", "zoho.com", "yandex.com",
    "yandex.ru", "mail.ru",
)  # fmt: skip
# providers whose local part is case-insensitive (all the common ones)
CASE_INSENSITIVE = PLUS_TAG + (
    "yahoo.com", "yahoo.com.au", "yahoo.co.uk", "yahoo.co.nz", "yahoo.co.in", "yahoo.fr",
    "yahoo.de", "yahoo.com.sg", "ymail.com", "rocketmail.com", "aol.com", "aim.com",
    "gmx.com", "gmx.de", "gmx.net", "web.de", "t-online.de", "orange.fr", "free.fr",
    "laposte.net", "sfr.fr", "bigpond.com", "bigpond.net.au", "optusnet.com.au",
    "iinet.net.au", "tpg.com.au", "internode.on.net", "xtra.co.nz", "btinternet.com",
    "sky.com", "virginmedia.com", "talktalk.net", "comcast.net", "verizon.net", "att.net",
    "sbcglobal.net", "rediffmail.com", "qq.com", "163.com", "naver.com", "hey.com",
    "tutanota.com", "mail.com", "inbox.com",
)  # fmt: skip

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_DOMAIN = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"


def _arr(values) -> pa.Array:
    return pa.array(np.asarray(values, dtype=object), type=pa.string())


def emails(values: pd.Series | Iterable[object]) -> pd.DataFrame:
    """Normalise email addresses and build match keys.

    Parameters
    ----------
    values : Series or list-like of raw addresses (None/NaN allowed; non-strings are read as
        text and will usually be reported invalid).

    Returns
    -------
    DataFrame with the input's index and columns ``email_norm`` (str, NA unless valid),
    ``email_valid`` (boolean), ``email_match_key`` (str, NA unless valid) and
    ``email_reason`` (category, NA when valid: one of ``EMAIL_REASONS``).

    Example
    -------
    >>> import pandas as pd
    >>> from csframe import clean
    >>> out = clean.emails(pd.Series([" Jane.Doe+news@GoogleMail.com ", "bob@@x", None]))
    >>> out["email_norm"].tolist()
    ['jane.doe+news@googlemail.com', nan, nan]
    >>> out["email_match_key"].tolist()
    ['janedoe@gmail.com', nan, nan]
    >>> out["email_reason"].tolist()
    [nan, 'multiple', 'empty']
    """
    if is_dask(values):  # partition by partition on the cluster (csframe.scale.clean)
        from csframe.scale.clean import partitionwise

        return partitionwise(emails, values)
    text = as_text(values, func="emails", name="values")
    index = text.index
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    norm, key, reason = _emails_unique(pd.Series(uniques, dtype="str"))
    valid = pick(np.equal(reason, None), codes, False)
    return pd.DataFrame(
        {
            "email_norm": take_str(norm, codes, index),
            "email_valid": pd.Series(valid, index=index, dtype="boolean"),
            "email_match_key": take_str(key, codes, index),
            "email_reason": take_category(reason, codes, EMAIL_REASONS, missing="empty"),
        },
        index=index,
    )


def _emails_unique(raw: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(raw)
    s = _arr(ascii_fold(raw).to_numpy(dtype=object))
    s = pc.utf8_trim_whitespace(s)
    s = pc.replace_substring_regex(s, r"^(?i:mailto:)", "")
    s = pc.replace_substring_regex(s, r"^[<\"'(\[]+|[>\"')\].,;:]+$", "")
    s = pc.utf8_trim_whitespace(s)
    empty = _np(pc.fill_null(pc.equal(s, ""), True))
    n_at = _np(pc.fill_null(pc.count_substring(s, "@"), 0))
    multiple = (n_at > 1) | _np(pc.fill_null(pc.match_substring_regex(s, r"[,;\s]"), False))
    parts = pc.split_pattern(s, "@", max_splits=1, reverse=True)
    local = pc.list_element(pc.if_else(pa.array(n_at >= 1), parts, pa.scalar(["", ""])), 0)
    domain = pc.utf8_lower(
        pc.list_element(pc.if_else(pa.array(n_at >= 1), parts, pa.scalar(["", ""])), 1)
    )
    domain = pc.replace_substring_regex(domain, r"\.+$", "")
    bad_local = ~_np(pc.fill_null(pc.match_substring_regex(local, f"^{_LOCAL}$"), False))
    bad_local |= _np(pc.fill_null(pc.utf8_length(local), 0)) > 64
    bad_domain = ~_np(pc.fill_null(pc.match_substring_regex(domain, f"^{_DOMAIN}$"), False))
    too_long = _np(pc.fill_null(pc.utf8_length(s), 0)) > 254
    reason = np.full(n, None, dtype=object)
    reason[too_long] = "too_long"
    reason[bad_domain] = "bad_domain"
    reason[bad_local] = "bad_local"
    reason[multiple] = "multiple"
    reason[n_at == 0] = "missing_at"
    reason[empty] = "empty"
    valid = np.equal(reason, None)

    ci = _np(pc.is_in(domain, value_set=pa.array(CASE_INSENSITIVE)))
    local_norm = pc.if_else(pa.array(ci), pc.utf8_lower(local), local)
    norm = _np(pc.binary_join_element_wise(local_norm, domain, "@"))
    # match key: everything lower-case; +tags and (gmail) dots removed
    klocal = pc.utf8_lower(local)
    tagged = _np(pc.is_in(domain, value_set=pa.array(PLUS_TAG)))
    klocal = pc.if_else(pa.array(tagged), pc.replace_substring_regex(klocal, r"\+.*$", ""), klocal)
    gmail = _np(pc.is_in(domain, value_set=pa.array(GMAIL)))
    klocal = pc.if_else(pa.array(gmail), pc.replace_substring(klocal, ".", ""), klocal)
    kdomain = pc.if_else(pa.array(gmail), pa.scalar("gmail.com"), domain)
    key = _np(pc.binary_join_element_wise(klocal, kdomain, "@"))
    # "+tag" alone or ".": an empty key local part is no key
    key[~valid | _np(pc.fill_null(pc.equal(klocal, ""), True))] = None
    norm[~valid] = None
    return norm, key, reason


def _np(arr) -> np.ndarray:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.to_numpy(zero_copy_only=False)
