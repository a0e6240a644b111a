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

import logging
import os
import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from csframe import store

log = logging.getLogger("csframe")
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


def reseller_clients(
    account: Account,
    *,
    timeout: float = 30.0,
    rate_limit: float | None = None,
    max_attempts: int = 6,
) -> list[Account]:
    """The client accounts of a reseller login (``GET /reseller/accounts``, every page),
    as accounts on the same API address, each with its own API key.

    :class:`csframe.Client` removes secret fields from every response it reads (they must
    not reach a cache or a frame), so the keys are read here with a plain request of its
    own: never cached (not even under ``requests_cache.install_cache()``), never logged,
    kept in memory only. It has what a client request has: ``timeout`` per request,
    ``rate_limit`` requests per second, and up to ``max_attempts`` tries on a dropped
    connection, a timeout, an unreadable body, 429 (after its ``Retry-After``) or 5xx.
    Errors are :mod:`csframe.errors` exceptions naming the account, never its key.

    Example::

        reseller_clients(Account("agency", key, reseller=True), rate_limit=5)
    """
    from csframe.config import resolve_base_url
    from csframe.ratelimit import TokenBucket
    from csframe.session import RetryPolicy

    base = resolve_base_url(account.base_url).rstrip("/")
    retry, bucket = RetryPolicy(max_attempts=max_attempts), TokenBucket(rate_limit)
    out = []
    page, last = 1, 1
    with _uncached_session() as http:
        http.auth = (account.username, account.api_key)
        while page <= last:
            block = _reseller_page(http, f"{base}/reseller/accounts", page, account, timeout, retry, bucket)  # fmt: skip
            last = int(block.get("last_page") or 1)
            for rec in block.get("data") or []:
                sub = rec.get("_subaccount") or {}
                username, key = sub.get("api_username") or rec.get("username"), sub.get("api_key")
                if username and key:
                    out.append(Account(str(username), str(key), account.base_url))
                else:  # e.g. "_subaccount": null, as the reference's update example shows
                    log.warning(
                        "%r: client account %s (user_id %s) was listed without an API key; "
                        "it is not synced",
                        account,
                        username,
                        rec.get("user_id"),
                    )
            page += 1
    return out


RESELLER_PAGE_SIZE = 100  # the API's largest page: fewest requests per listing


def _uncached_session() -> Any:
    """A plain requests session, even when ``requests_cache.install_cache()`` has replaced
    ``requests.Session`` with a caching class (the listing carries API keys)."""
    try:
        from requests_cache.session import OriginalSession
    except ImportError:  # pragma: no cover - requests-cache is a dependency
        import requests

        return requests.Session()
    return OriginalSession()


def _reseller_page(
    http: Any, url: str, page: int, account: Account, timeout: float, retry: Any, bucket: Any
) -> dict[str, Any]:
    """One page's ``data`` block, retried like a client's GET; errors name the account."""
    import requests

    from csframe import errors
    from csframe.session import _RETRY_STATUSES, _retry_after

    where = f"{account!r}: GET /reseller/accounts"
    last: errors.ApiError | None = None
    for attempt in range(retry.max_attempts):
        bucket.acquire()
        retry_after = None
        try:
            r = http.get(url, params={"page": page, "limit": RESELLER_PAGE_SIZE}, timeout=timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            last = errors.ServerError(f"{where} failed: {type(exc).__name__} (no response)")
        else:
            retry_after = _retry_after(r)
            try:
                doc = r.json()
            except ValueError:  # a cut or non-JSON body: retried like a 5xx
                doc = None
            envelope = doc if isinstance(doc, dict) else {}
            if r.status_code == 200 and isinstance(envelope.get("data"), dict):
                return envelope["data"]
            err = errors.error_for(
                r.status_code,
                envelope.get("response_code"),
                envelope.get("response_msg") or r.reason,
                method="GET",
                path="/reseller/accounts",
                retry_after=retry_after,
            )
            err.args = (f"{account!r}: {err}",)
            if r.status_code == 200 or r.status_code in _RETRY_STATUSES:
                last = err
            else:
                raise err  # 401, 403...: asking again will not help
        if attempt + 1 < retry.max_attempts:
            time.sleep(retry.delay(attempt, retry_after))
    assert last is not None
    raise last


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
    :class:`csframe.Client` (``rate_limit=``, ``cache=``...); its ``timeout``,
    ``rate_limit`` and ``max_attempts`` also pace a reseller's listing
    (:func:`reseller_clients`). An account that fails is reported in its
    :class:`AccountSync` and does not stop the others; a reseller whose clients cannot be
    listed raises (a :mod:`csframe.errors` exception naming it) before anything is synced.

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
    # The listing goes at the pace and with the patience the accounts' clients are given.
    listing = {k: options[k] for k in ("timeout", "rate_limit", "max_attempts") if k in options}
    todo: list[Account] = []
    for account in as_accounts(accounts):
        todo.append(account)
        if account.reseller:
            todo.extend(reseller_clients(account, **listing))
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
