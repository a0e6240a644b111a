"""Many accounts into one store: :func:`sync_accounts`, each account a task.

Resellers and agencies hold hundreds of ClickSend accounts. :func:`sync_accounts` brings
each account's history up to date with :func:`csframe.sync.sync` into one store laid out
by account, then channel, then month::

    data/
      account=acme/sms/_csframe_sync.json, month=2026-01/part.parquet, ...
      account=acme/mms/...
      account=bravo/sms/...

Every ``account=NAME`` folder is a folder of ordinary stores (``store.read``, reports'
``store=``), and :func:`read` reads one channel across accounts (an ``account`` column).
With a ``distributed.Client`` each account is one task on the cluster, with its own
:class:`csframe.Client` and so its own rate limit (the API limits each account). The
API keys travel inside the tasks' pickled arguments only: task keys are
``csframe-sync-account-<n>-<random>``, and an :class:`Account` prints without its key,
so neither the scheduler's task names nor any log shows one.

Example::

    from distributed import Client
    accounts = [Account("acme", key1), Account("bravo", key2)]
    with Client("tcp://scheduler:8786") as dask_client:
        done = sync_accounts(accounts, "data", channels=("sms",), client=dask_client)
    done["acme"].results["sms"].rows
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from csframe import store

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")


@dataclass(frozen=True)
class Account:
    """One ClickSend login: username and API key (never printed), optionally its own API
    address, the folder name in the store (default: the username) and ``reseller=True``
    for a reseller login whose client accounts are synced too.

    Example::

        Account("acme", "K3Y...")                  # repr: Account('acme')
    """

    username: str
    api_key: str = field(repr=False)
    base_url: str | None = None
    name: str | None = None
    reseller: bool = False

    def __post_init__(self) -> None:
        if not self.username or not self.api_key:
            raise ValueError("an account needs a username and an api_key")
        if not _NAME.match(self.folder):
            raise ValueError(
                f"account name {self.folder!r} cannot name a folder: use letters, digits "
                "and _ . @ + - (pass name=)"
            )

    @property
    def folder(self) -> str:
        """The account's folder name in the store (``account=<folder>``)."""
        return self.name or self.username

    def __repr__(self) -> str:
        return f"Account({self.folder!r})"


@dataclass
class AccountSync:
    """What :func:`sync_accounts` did for one account: per channel, the
    :class:`csframe.sync.SyncResult`; or the error that stopped it (one line, no key)."""

    account: str
    path: Path
    results: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def as_accounts(accounts: Iterable[Account | Mapping[str, Any]]) -> list[Account]:
    """``accounts`` as :class:`Account` objects (dicts with ``username``/``api_key``...
    accepted); duplicate folder names are an error naming them.

    Example::

        as_accounts([{"username": "acme", "api_key": "K"}])
    """
    out = [a if isinstance(a, Account) else Account(**dict(a)) for a in accounts]
    seen: dict[str, int] = {}
    for a in out:
        seen[a.folder] = seen.get(a.folder, 0) + 1
    twice = sorted(k for k, n in seen.items() if n > 1)
    if twice:
        raise ValueError(f"accounts: the same name twice {twice}; give each a name=")
    return out


def reseller_clients(account: Account, *, timeout: float = 30.0) -> list[Account]:
    """The client accounts of a reseller login (``GET /reseller/accounts``, every page),
    as accounts on the same API address, each with its own API key.

    :class:`csframe.Client` removes secret fields from every response it reads (they must
    not reach a cache or a frame), so the keys are read here with a plain request, kept
    in memory only and never cached.

    Example::

        reseller_clients(Account("agency", key, reseller=True))
    """
    import requests

    from csframe.config import resolve_base_url

    base = resolve_base_url(account.base_url).rstrip("/")
    out = []
    page, last = 1, 1
    with requests.Session() as http:
        http.auth = (account.username, account.api_key)
        while page <= last:
            r = http.get(f"{base}/reseller/accounts", params={"page": page}, timeout=timeout)
            if r.status_code != 200:
                raise PermissionError(
                    f"{account!r}: GET /reseller/accounts answered HTTP {r.status_code}"
                )
            block = (r.json() or {}).get("data") or {}
            last = int(block.get("last_page") or 1)
            for rec in block.get("data") or []:
                sub = rec.get("_subaccount") or {}
                username, key = sub.get("api_username") or rec.get("username"), sub.get("api_key")
                if username and key:
                    out.append(Account(str(username), str(key), account.base_url))
            page += 1
    return out


def sync_accounts(
    accounts: Iterable[Account | Mapping[str, Any]],
    path: str | os.PathLike,
    channels: Sequence[str] = ("sms",),
    client: Any = None,
    *,
    start: Any = None,
    client_options: Mapping[str, Any] | None = None,
) -> dict[str, AccountSync]:
    """Sync ``channels`` of every account into ``path/account=NAME/CHANNEL`` (see the
    module docstring); reseller logins bring their client accounts. ``client``: a
    ``distributed.Client`` (each account one task on its cluster), or None to sync one
    account after another here. ``client_options``: passed to each
    :class:`csframe.Client` (``rate_limit=``, ``cache=``...). An account that fails is
    reported in its :class:`AccountSync` and does not stop the others.

    Example::

        done = sync_accounts([Account("acme", key)], "data", channels=("sms", "mms"))
        [a.error for a in done.values() if not a.ok]
    """
    from csframe import loaders

    unknown = [c for c in channels if c not in loaders.HISTORY]
    if isinstance(channels, str) or unknown:
        raise ValueError(
            f"channels: a list of {', '.join(sorted(loaders.HISTORY))}; got {channels!r}"
        )
    options = {"cache": False, "progress": False, **dict(client_options or {})}
    todo: list[Account] = []
    for account in as_accounts(accounts):
        todo.append(account)
        if account.reseller:
            todo.extend(reseller_clients(account))
    todo = as_accounts(todo)
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    args = [(a, root / f"account={a.folder}", tuple(channels), start, options) for a in todo]
    if client is None:
        done = [_sync_account(*a) for a in args]
    else:
        # Keys name no account: the scheduler's task names and logs carry no credential.
        run = secrets.token_hex(4)
        futures = [
            client.submit(_sync_account, *a, key=f"csframe-sync-account-{i}-{run}", pure=False)
            for i, a in enumerate(args)
        ]
        done = client.gather(futures)
    return {d.account: d for d in done}


def _sync_account(
    account: Account, path: Path, channels: tuple[str, ...], start: Any, options: dict
) -> AccountSync:
    """One account's channels, in a worker (or here): its own client and rate limit."""
    import csframe
    from csframe.sync import sync

    out = AccountSync(account.folder, path)
    try:
        cs = csframe.Client(account.username, account.api_key, account.base_url, **options)
        for channel in channels:
            out.results[channel] = sync(cs, channel, path / channel, start=start)
    except Exception as exc:  # one account's failure must not sink the others
        message = str(exc).replace(account.api_key, "***")
        out.error = f"{type(exc).__name__}: {message}"
    return out


def read(
    path: str | os.PathLike,
    channel: str = "sms",
    start: Any = None,
    end: Any = None,
    columns: list[str] | None = None,
    engine: str = "pandas",
) -> Any:
    """``channel``'s history of every account under ``path`` (see :func:`sync_accounts`)
    with an ``account`` column (category) first; ``engine="dask"``: lazy, one partition
    per account and month.

    Example::

        read("data", "sms", "2026-01-01", columns=["date", "message_price"], engine="dask")
    """
    roots = sorted(Path(path).glob(f"account=*/{channel}/{store.STATE_FILE}"))
    if not roots:
        raise FileNotFoundError(f"no account stores of {channel!r} under {str(path)!r}")
    names = [r.parent.parent.name.split("=", 1)[1] for r in roots]
    kind = pd.CategoricalDtype(names)
    frames = []
    for name, state in zip(names, roots, strict=True):
        part = store.read(state.parent, start, end, columns, engine)
        if engine == "pandas":
            part.insert(0, "account", pd.Categorical([name] * len(part), dtype=kind))
        else:
            import dask

            with dask.config.set({"dataframe.convert-string": False}):
                part = part.map_partitions(_with_account, name, kind)
        frames.append(part)
    if engine == "pandas":
        out = pd.concat(frames, ignore_index=True)
        out["account"] = out["account"].astype(kind)
        return out
    import dask

    from csframe.scale import dask_dataframe

    with dask.config.set({"dataframe.convert-string": False}):  # keep csframe's "str"
        return dask_dataframe().concat(frames)


def _with_account(frame: pd.DataFrame, name: str, kind: pd.CategoricalDtype) -> pd.DataFrame:
    out = frame.copy()
    out.insert(0, "account", pd.Categorical([name] * len(out), dtype=kind))
    return out
