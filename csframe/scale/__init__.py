"""Scale-out on Dask: the same calls when one machine is not enough.

The store reads as a ``dask.dataframe`` (:func:`csframe.store.read` with
``engine="dask"``, one partition per month file), store-backed reports aggregate it on
the cluster, and cleanup runs partition-wise. (:func:`csframe.sync_accounts`, which syncs
many accounts as cluster tasks, lives above the client, in :mod:`csframe.accounts`.)
Dask (``dask[dataframe]`` and ``distributed``) is the ``dask`` extra; without it, asking
for ``engine="dask"`` is a one-line error naming the extra.

Example::

    from distributed import Client
    from csframe import store
    with Client("tcp://scheduler:8786"):
        sms = store.read("data/sms", engine="dask")      # lazy, one partition per month
        sms.groupby("country", observed=True).size().compute()
"""

from __future__ import annotations

from types import ModuleType

ENGINES = ("pandas", "dask")


def check_engine(engine: str) -> str:
    """``engine`` if it is ``"pandas"`` or ``"dask"``; otherwise a ValueError naming it.

    Example::

        check_engine("dask")
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    return engine


def dask_dataframe() -> ModuleType:
    """``dask.dataframe``, or an ImportError naming the extra to install.

    Example::

        dd = dask_dataframe()
        dd.from_pandas(df, npartitions=2)
    """
    try:
        import dask.dataframe as dd
    except ImportError:
        raise ImportError(
            "engine='dask' needs the 'dask' extra: pip install 'csframe[dask]'"
        ) from None
    return dd


def is_dask(obj: object) -> bool:
    """Whether ``obj`` is a dask DataFrame or Series (without importing dask when it is
    not loaded: a pandas object never needs it).

    Example::

        is_dask(store.read("data/sms", engine="dask"))   # True
    """
    module = type(obj).__module__ or ""
    return module.split(".")[0] in ("dask", "dask_expr")
