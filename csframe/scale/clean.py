"""Cleanup on Dask: :func:`csframe.clean.phones`, :func:`~csframe.clean.emails` and
:func:`~csframe.clean.contacts` on a dask Series/DataFrame, partition by partition.

Each row's result depends on that row only, so the partitions are cleaned where they
are (on the cluster's workers) by the very pandas functions, and the result is a lazy
dask object with the same columns and dtypes as the pandas result. The clean functions
dispatch here when given a dask object.

Example::

    ddf = dd.read_parquet("contacts/")                  # or dd.from_pandas(df, ...)
    ct = clean.contacts(ddf, default_region="AU")       # lazy
    ct[ct.phone_valid].phone_e164.nunique().compute()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from csframe.scale import dask_dataframe


def partitionwise(func: Callable[..., pd.DataFrame], obj: Any, *args: Any, **kwargs: Any) -> Any:
    """``func(partition, *args, **kwargs)`` on every partition of the dask object ``obj``
    (a row-wise pandas function), with the meta of ``func`` on an empty partition.

    Example::

        partitionwise(clean.emails, ddf["email"])
    """
    import dask

    dd = dask_dataframe()
    meta = func(obj._meta, *args, **kwargs)
    # Categories found in the data (regions, ...) differ between partitions: unknown in
    # the meta, as Dask expects; fixed category sets (reasons) stay known.
    unknown = [
        c
        for c, t in meta.dtypes.items()
        if isinstance(t, pd.CategoricalDtype) and not len(t.categories)
    ]
    if unknown:
        meta = dd.utils.clear_known_categories(meta, cols=unknown)
    # Dask would turn pandas' "str" columns into NA-valued strings: keep csframe's dtypes.
    with dask.config.set({"dataframe.convert-string": False}):
        return obj.map_partitions(func, *args, meta=meta, **kwargs)


def phones(
    func: Callable[..., pd.DataFrame],
    values: Any,
    default_region: str | None,
    region_column: Any,
    **kwargs: Any,
) -> Any:
    """``func`` (:func:`csframe.clean.phones`, which passes itself: this layer imports no
    cleanup) on a dask Series; ``region_column``: a dask Series partitioned like it, or None.

    Example::

        phones(clean.phones, ddf["phone_number"], "AU", None)
    """
    if region_column is None:
        return partitionwise(func, values, default_region, **kwargs)
    if not hasattr(region_column, "map_partitions"):
        raise TypeError("phones(): with dask values, region_column must be a dask Series too")
    both = values.to_frame("__value").assign(__region=region_column)
    return partitionwise(_phones_pair, both, default_region, phones=func, **kwargs)


def _phones_pair(
    frame: pd.DataFrame,
    default_region: str | None,
    *,
    phones: Callable[..., pd.DataFrame],
    **kwargs: Any,
) -> pd.DataFrame:
    return phones(frame["__value"], default_region, frame["__region"], **kwargs)
