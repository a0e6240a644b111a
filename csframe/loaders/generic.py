"""``cs.frame(path)``: any paginated GET as a frame, with dtypes inferred from the data.

For endpoints the registry does not declare: fields whose name says time (``date``,
``timestamp``, ``*_at``, ``date_*``, ``schedule``) and whose values are Unix seconds
between 2000 and 2100 become UTC datetimes; money-like names (``price``, ``amount``,
``balance``, ``cost``) become float64; ``*_id`` and ``*_count`` become Int64; other text stays
text (phone numbers and status codes look numeric but are not numbers).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from csframe import schema
from csframe.frames import convert
from csframe.loaders import paged

_TIME_NAME = re.compile(r"(^|_)(date|timestamp|time|schedule)(_|$)|_at$")
_MONEY_NAME = re.compile(r"(price|amount|balance|cost)")
_INT_NAME = re.compile(r"(_id|_count|^id|_pages|_parts)$")
_T_MIN, _T_MAX = 946684800, 4102444800  # 2000-01-01 .. 2100-01-01


def infer_kind(name: str, values: pd.Series) -> str | None:
    """The registry kind for an undeclared column, or None to keep pandas' own dtype."""
    present = values.dropna()
    if present.empty:
        return "str" if values.dtype == object or str(values.dtype) == "str" else None
    nums = pd.to_numeric(present, errors="coerce")
    numeric = nums.notna().all()
    if _TIME_NAME.search(name) and numeric:
        positive = nums[nums > 0]
        if positive.empty or positive.between(_T_MIN, _T_MAX).all():
            return "datetime"
    if numeric and _MONEY_NAME.search(name):
        return "money"
    if numeric and _INT_NAME.search(name) and (nums == np.round(nums)).all():
        return "int"
    if present.map(lambda v: isinstance(v, str)).all():
        return "str"
    return None


def frame(session, path: str, params: dict | None = None, **kw) -> pd.DataFrame:
    """Every page of ``path`` with inferred dtypes (the session has removed secrets)."""
    resource = schema.Resource(name=path, path=path, doc="ad hoc", columns=())
    df = paged.load(session, resource, params=params, **kw)
    for name in df.columns:
        kind = infer_kind(name, df[name])
        if kind is not None:
            df[name] = pd.Series(convert(df[name].tolist(), kind), index=df.index)
    return df


__all__ = ["frame", "infer_kind"]
