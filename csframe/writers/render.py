"""Render ``{column}`` templates for every row of a frame, vectorised.

A template is a ``str.format`` string whose fields are column names: ``"Hi {first_name},
your code is {code}"``. Format specs and conversions work per value (``{amount:.2f}``,
``{due:%d %b}``, ``{name!r}``); ``{{`` and ``}}`` are literal braces. A row whose value
for a used column is missing (NaN, None, NA, or a blank string) is an error naming the
rows -- never an empty string in a message someone receives.

Rendering joins Arrow string columns with the template's literal text in one kernel call,
so the cost is a few passes over the data, not a Python loop per row.

Example::

    >>> import pandas as pd
    >>> df = pd.DataFrame({"first_name": ["Ann", "Bob"], "n": [1, 2]})
    >>> render(df, "Hi {first_name}, you have {n} new").tolist()
    ['Hi Ann, you have 1 new', 'Hi Bob, you have 2 new']
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from csframe.writers._common import PlanError, Problems


@dataclass(frozen=True)
class Field:
    column: str
    conversion: str | None
    spec: str


def parse(template: str, what: str = "body") -> list[str | Field]:
    """The template as a list of literal strings and :class:`Field` s.

    Example::

        >>> parse("Hi {name}!")
        ['Hi ', Field(column='name', conversion=None, spec=''), '!']
    """
    if not isinstance(template, str):
        raise PlanError(f"{what} must be a str template, got {type(template).__name__}")
    out: list[str | Field] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise PlanError(
            f"{what} is not a valid template ({exc}); write literal braces as '{{{{' and '}}}}'"
        ) from None
    for literal, name, spec, conversion in parsed:
        if literal:
            out.append(literal)
        if name is None:
            continue
        if name == "" or name.isdigit():
            raise PlanError(
                f"{what}: placeholders name a column, e.g. '{{first_name}}'; got '{{{name}}}'"
            )
        if "{" in (spec or ""):
            raise PlanError(f"{what}: nested placeholders in a format spec are not supported")
        out.append(Field(name, conversion, spec or ""))
    return out


def columns(template: str, what: str = "body") -> list[str]:
    """The columns a template uses, in order of first use."""
    seen: dict[str, None] = {}
    for part in parse(template, what):
        if isinstance(part, Field):
            seen.setdefault(part.column, None)
    return list(seen)


def check_columns(df: pd.DataFrame, used: list[str], what: str, problems: Problems) -> list[str]:
    """Record unknown placeholder columns (listing the available ones); return the known."""
    unknown = [c for c in used if c not in df.columns]
    if unknown:
        problems.add(
            f"{what} uses column(s) {unknown} that the frame does not have; "
            f"available: {[str(c) for c in df.columns]}",
        )
    return [c for c in used if c in df.columns]


def missing_mask(col: pd.Series) -> np.ndarray:
    """True where a value is missing: NA/NaN/None, or a string that is blank."""
    miss = col.isna().to_numpy(dtype=bool, na_value=True).copy()
    if col.dtype == object or isinstance(col.dtype, pd.StringDtype) or col.dtype == "str":
        as_str = col.astype("str")
        miss = miss | as_str.str.strip().eq("").to_numpy(dtype=bool, na_value=True)
    return miss


def as_text(col: pd.Series, field: Field) -> pa.Array:
    """A column as Arrow strings the way ``str.format`` would render its values; floats
    whose values are all whole numbers render without ``.0`` (a column of ints that
    pandas turned into floats because of a gap should not say "3000.0")."""
    if field.conversion or field.spec:
        fmt = "{0" + (f"!{field.conversion}" if field.conversion else "") + f":{field.spec}}}"
        uniques = col.dropna().unique()
        try:
            lookup = {v: fmt.format(v) for v in uniques}
        except (ValueError, TypeError) as exc:
            raise PlanError(
                f"placeholder '{{{field.column}"
                f"{'!' + field.conversion if field.conversion else ''}:{field.spec}}}' cannot "
                f"format the values of column {field.column!r} ({exc})"
            ) from None
        text = col.map(lookup)
    elif pd.api.types.is_float_dtype(col.dtype):
        values = col.to_numpy(dtype=float, na_value=np.nan)
        finite = values[~np.isnan(values)]
        if len(finite) and np.all(np.mod(finite, 1) == 0) and np.all(np.abs(finite) < 2**53):
            text = col.astype("Int64").astype("str")
        else:
            text = col.astype("str")
    elif pd.api.types.is_bool_dtype(col.dtype) or col.dtype == object:
        text = col.map(str, na_action="ignore").astype("str")
    else:
        text = col.astype("str")
    arr = pa.array(text.astype("str"))
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())


def render(
    df: pd.DataFrame,
    template: str,
    what: str = "body",
    problems: Problems | None = None,
) -> pd.Series:
    """Render ``template`` for every row of ``df`` (a ``str`` Series on ``df.index``).

    Missing values and unknown columns are collected in ``problems`` when given (the
    caller raises once with everything); otherwise they raise :class:`PlanError` here.
    Rows with problems render as missing.
    """
    own = problems is None
    if problems is None:  # not `or`: an empty Problems is falsy but must be kept
        problems = Problems(df.index, f"cannot render {what}")
    parts = parse(template, what)
    known = set(check_columns(df, columns(template, what), what, problems))
    for column in [c for c in dict.fromkeys(p.column for p in parts if isinstance(p, Field))]:
        if column in known:
            mask = missing_mask(df[column])
            problems.add_rows(mask, column, f"no value for placeholder {{{column}}} in {what}")
    if own:
        problems.raise_if_any()
    n = len(df)
    pieces: list[pa.Array | pa.Scalar] = []
    cache: dict[Field, pa.Array] = {}
    for part in parts:
        if isinstance(part, str):
            pieces.append(pa.scalar(part, pa.large_string()))
        elif part.column in known:
            if part not in cache:
                cache[part] = as_text(df[part.column], part)
            pieces.append(cache[part])
        else:
            pieces.append(pa.nulls(n, pa.large_string()))
    if not pieces:
        out = pa.array([""] * n, pa.large_string())
    elif all(isinstance(p, pa.Scalar) for p in pieces):
        out = pa.array(["".join(p.as_py() for p in pieces)] * n, pa.large_string())
    else:
        out = pc.binary_join_element_wise(*pieces, pa.scalar("", pa.large_string()))
    return pd.Series(pd.array(out, dtype="str"), index=df.index, name=what)
