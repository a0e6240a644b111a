"""Reports from a local store (:mod:`csframe.store`) instead of the API, on either engine.

A report names the columns it needs, a ``reduce`` function that turns raw history rows
into a small aggregate (a :mod:`cube <csframe.reports.cube>`, also used to combine
aggregates) and, optionally, a ``detail`` function picking full rows (failed messages).
With ``engine="pandas"`` the window is read into one frame and reduced; with
``engine="dask"`` each month partition is reduced on the cluster and only the partial
aggregates and the picked rows come back to the driver, where the same ``reduce``
combines them. Both give the same frame.

Example::

    agg, failed, currency = aggregate("data/sms", t0, t1, columns=["date", "status"],
                                      reduce=my_cube, engine="dask")
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from csframe import schema
from csframe import store as _store
from csframe.reports.model import OptionError

Reducer = Callable[[pd.DataFrame], pd.DataFrame]


def check_source(store: str | os.PathLike | None, engine: str) -> None:
    """A report's ``store=``/``engine=`` pair: ``engine`` is pandas or dask, and dask needs
    a store (an :class:`OptionError` naming the argument otherwise).

    Example::

        check_source("data", "dask")
    """
    from csframe.scale import ENGINES

    if engine not in ENGINES:
        raise OptionError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    if engine != "pandas" and store is None:
        raise OptionError(f"engine={engine!r} reads a synced store: give store=PATH")


def store_resource(path: str | os.PathLike) -> schema.Resource:
    """The registry resource held by the store at ``path`` (an :class:`OptionError` when
    ``path`` is no store).

    Example::

        store_resource("data/sms").name      # 'sms_history'
    """
    state = Path(path) / _store.STATE_FILE
    if not state.is_file():
        raise OptionError(f"store={str(path)!r} is not a csframe store (no {_store.STATE_FILE})")
    return schema.get(json.loads(state.read_text())["resource"])


def find(path: str | os.PathLike, channel: str) -> Path:
    """The store of ``channel``'s history at or under ``path`` (a store, or a folder of
    stores such as ``data/`` holding ``data/sms``); an :class:`OptionError` naming what
    is there otherwise.

    Example::

        find("data", "sms")       # PosixPath('data/sms')
    """
    found = _store.stores(path)
    resource = f"{channel}_history"
    if resource in found:
        return found[resource]
    held = ", ".join(sorted(found)) or "no csframe store"
    raise OptionError(f"store={str(path)!r}: no {resource} store there ({held})")


def store_currency(path: str | os.PathLike) -> str | None:
    """The account currency recorded by the store's sync, if any.

    Example::

        store_currency("data/sms")      # 'AUD'
    """
    state = json.loads((Path(path) / _store.STATE_FILE).read_text())
    return state.get("currency") or None


def aggregate(
    path: str | os.PathLike,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    columns: Iterable[str],
    reduce: Reducer,
    detail: Reducer | None = None,
    engine: str = "pandas",
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """``reduce`` of the store's rows in ``[start, end)`` (only ``columns`` read, those
    the store has), and ``detail`` of them when given. ``reduce`` must accept its own
    output (concatenated partial results) and return the same aggregate.

    Example::

        agg, _ = aggregate("data/sms", t0, t1, columns=["date", "status"], reduce=by_day)
    """
    from csframe.scale import check_engine

    check_engine(engine)
    res = store_resource(path)
    cols = [c for c in res.column_names if c in set(columns)]
    if engine == "pandas":
        frame = _store.read(path, start, end, cols)
        return reduce(frame), (detail(frame) if detail is not None else None)
    import dask

    from csframe.frames import empty_frame

    ddf = _store.read(path, start, end, cols, engine="dask")
    empty = empty_frame(res)[cols]
    parts = ddf.map_partitions(reduce, meta=reduce(empty))
    todo = [parts]
    if detail is not None:
        todo.append(ddf.map_partitions(detail, meta=detail(empty)))
    # One pass over the months: both results share the month reads.
    done = dask.compute(*todo)
    agg = reduce(done[0].reset_index(drop=True))  # combine the months' partial aggregates
    picked = done[1].reset_index(drop=True) if detail is not None else None
    return agg, picked
