"""Monthly budgets for the usage-and-cost report: parsing, checking the subaccounts they
name, and spend against budget per month.

A budget is a number (the account's monthly budget) or a mapping: ``total`` (or
``account``, ``*``) for the whole account, any other key a subaccount's username or id.
A key that names no subaccount of the account is an error listing the known ones (a
typo must fail loudly, not leave a budget that never triggers).

Example::

    b = parse_budget({"total": 500, "csframe_marketing": 150})
    check_subaccounts(b, cs.subaccounts())
    budget_lines(rep.tables["monthly_spend"], rep.tables["monthly_by_subaccount"], b)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from csframe.reports.model import OptionError, ratio, round_money

_ACCOUNT_KEYS = {"total", "account", "*"}


@dataclass(frozen=True)
class Budget:
    """Monthly budgets: ``account`` for the whole account, ``subaccounts`` by username or
    id (as text).

    Example::

        >>> parse_budget({"total": 500, "marketing": 150})
        Budget(account=500.0, subaccounts={'marketing': 150.0})
    """

    account: float | None = None
    subaccounts: dict[str, float] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.account is not None or bool(self.subaccounts)


def parse_budget(budget) -> Budget | None:
    """A :class:`Budget` from a number (the account's monthly budget), a mapping (keys:
    ``total``/``account``/``*`` or a subaccount's username or id) or None. Amounts must be
    finite and not negative.

    Example::

        >>> parse_budget(250).account
        250.0
        >>> parse_budget(None) is None
        True
    """
    if budget is None or isinstance(budget, Budget):
        return budget or None
    if isinstance(budget, Mapping):
        items = list(budget.items())
    elif isinstance(budget, int | float) and not isinstance(budget, bool):
        items = [("total", budget)]
    else:
        raise OptionError(f"budget must be a number or a mapping; got {budget!r}")
    account, subs = None, {}
    for key, value in items:
        amount = _amount(value, key)
        name = str(key).strip()
        if name.lower() in _ACCOUNT_KEYS:
            account = amount
        elif not name:
            raise OptionError("budget: empty subaccount name")
        else:
            subs[name] = amount
    return Budget(account, subs) or None


def _amount(value, key) -> float:
    try:
        amount = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"budget for {key!r} must be a number; got {value!r}") from None
    if not math.isfinite(amount) or amount < 0:
        raise OptionError(f"budget for {key!r} must be a finite amount >= 0; got {value!r}")
    return amount


def budget_lines(wide: pd.DataFrame, by_subaccount: pd.DataFrame, budget: Budget) -> pd.DataFrame:
    """Per month and budget line: scope (``account`` or ``subaccount``), subaccount id and
    username, budget, spend, remaining, used, over_budget.

    Example::

        budget_lines(rep.tables["monthly_spend"], rep.tables["monthly_by_subaccount"],
                     parse_budget({"total": 500}))
    """
    parts = []
    if budget.account is not None:
        parts.append(
            pd.DataFrame(
                {
                    "month": wide["month"],
                    "scope": "account",
                    "subaccount_id": pd.array([pd.NA] * len(wide), dtype="Int64"),
                    "username": "",
                    "budget": budget.account,
                    "spend": wide["total"],
                }
            )
        )
    subs = by_subaccount
    unmatched = []
    for key, amount in budget.subaccounts.items():
        match = subs["username"].astype("str").str.lower() == key.lower()
        if not match.any() and key.isdigit():
            match = subs["subaccount_id"] == int(key)
        if match.any():
            rows = subs.loc[match, ["month", "subaccount_id", "username", "spend"]]
        else:  # a real subaccount without usage: shown with zero spend, and noted
            unmatched.append(key)
            rows = pd.DataFrame(
                {
                    "month": wide["month"],
                    "subaccount_id": pd.array(
                        [int(key) if key.isdigit() else pd.NA] * len(wide), dtype="Int64"
                    ),
                    "username": "" if key.isdigit() else key,
                    "spend": 0.0,
                }
            )
        parts.append(rows.assign(scope="subaccount", budget=amount))
    out = pd.concat(parts, ignore_index=True)
    out = out[["month", "scope", "subaccount_id", "username", "budget", "spend"]]
    out["month"] = pd.to_datetime(out["month"], utc=True).astype("datetime64[s, UTC]")
    out["subaccount_id"] = out["subaccount_id"].astype("Int64")
    out["username"] = out["username"].astype("str")
    out["scope"] = out["scope"].astype("str")
    out["budget"] = round_money(out["budget"])
    out["spend"] = round_money(out["spend"])
    out["remaining"] = round_money(out["budget"] - out["spend"])
    out["used"] = ratio(out["spend"], out["budget"])
    out["over_budget"] = (out["spend"] > out["budget"] + 1e-9).astype(bool)
    out = out.sort_values(["month", "scope"], kind="stable").reset_index(drop=True)
    out.attrs["unmatched"] = unmatched
    return out


def mark_subaccount_budgets(by_subaccount: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    subs = lines[lines["scope"] == "subaccount"].dropna(subset=["subaccount_id"])
    key = subs.set_index(["month", "subaccount_id"])
    idx = pd.MultiIndex.from_frame(by_subaccount[["month", "subaccount_id"]])
    out = by_subaccount.copy()
    out["budget"] = round_money(key["budget"].reindex(idx).to_numpy())
    out["over_budget"] = key["over_budget"].reindex(idx).fillna(False).to_numpy(dtype=bool)
    return out


def subaccount_budget_columns(subs: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    s = lines[lines["scope"] == "subaccount"].dropna(subset=["subaccount_id"])
    budget = s.groupby("subaccount_id")["budget"].first()
    over = s.groupby("subaccount_id")["over_budget"].sum()
    out = subs.copy()
    out["budget"] = round_money(out["subaccount_id"].map(budget))
    out["months_over"] = out["subaccount_id"].map(over).astype("Int64")
    return out


def known_subaccounts(frame: pd.DataFrame) -> dict[str, int | None]:
    """``{username: id}`` of the subaccounts in a frame with ``api_username`` or
    ``username`` and ``subaccount_id`` (``client.subaccounts()``, a usage frame).

    Example::

        known_subaccounts(cs.subaccounts())   # {'csframe_demo': 60311, ...}
    """
    name = "api_username" if "api_username" in frame else "username"
    out: dict[str, int | None] = {}
    if name not in frame:
        return out
    ids = (
        frame["subaccount_id"] if "subaccount_id" in frame else pd.Series(pd.NA, index=frame.index)
    )
    for user, sid in zip(frame[name], ids, strict=True):
        if user is None or pd.isna(user) or not str(user):
            continue
        out[str(user)] = None if pd.isna(sid) else int(sid)
    return out


def check_subaccounts(budget: Budget | None, known: dict[str, int | None]) -> None:
    """Raise OptionError (exit code 2 in the CLI) for a budget key that is neither the
    username nor the id of a known subaccount; the message lists the known ones.

    Example::

        >>> check_subaccounts(parse_budget({"nosuch": 10}), {"csframe_demo": 60311})
        Traceback (most recent call last):
        ...
        csframe.reports.model.OptionError: budget: unknown subaccount 'nosuch'; known subaccounts: csframe_demo (60311)
    """
    if not budget or not budget.subaccounts:
        return
    names = {u.lower() for u in known}
    ids = {str(i) for i in known.values() if i is not None}
    unknown = [k for k in budget.subaccounts if k.lower() not in names and k not in ids]
    if unknown:
        listed = ", ".join(f"{u} ({i})" if i is not None else u for u, i in sorted(known.items()))
        which = ", ".join(repr(k) for k in unknown)
        raise OptionError(
            f"budget: unknown subaccount{'s' if len(unknown) > 1 else ''} {which}; "
            f"known subaccounts: {listed or 'none'}"
        )
