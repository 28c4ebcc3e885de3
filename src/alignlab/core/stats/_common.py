"""Helpers every statistic shares: level labels, input checks, factor lists, random generators.

numpy and pandas are imported inside functions: ``import alignlab.core`` re-exports :func:`wilson`
from this package and must stay light.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from alignlab.core._errors import AlignlabError

__all__ = ["level_label"]

MISSING = "(missing)"


def level_label(value: Any) -> str:
    """A factor level as a short label; a config given as a level shows as ``"name k=v …"``.

    Args:
        value: the level: a string, a number, a dict (e.g. an optimizer config) or a list.

    Returns:
        The label; dicts put their ``name`` first, lists join with commas, missing values are ``"(missing)"``.

    Example:
        >>> level_label({"name": "sgd", "lr": 0.05})
        'sgd lr=0.05'
        >>> level_label(["q_proj", "v_proj"])
        'q_proj,v_proj'
    """
    if isinstance(value, dict):
        head = str(value.get("name", ""))
        rest = " ".join(f"{k}={level_label(v)}" for k, v in value.items() if k != "name")
        return f"{head} {rest}".strip()
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(level_label(v) for v in value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return str(value)


def hashable_column(series):
    """The column with unhashable levels (dicts, lists) and missing values replaced by their labels,
    so it can be grouped on; strings and numbers stay as they are."""
    def fix(value: Any) -> Any:
        if isinstance(value, dict | list | tuple | set | frozenset) or value is None:
            return level_label(value)
        if isinstance(value, float) and math.isnan(value):
            return MISSING
        return value

    if series.dtype == object:
        return series.map(fix)
    return series.astype(object).fillna(MISSING) if series.isna().any() else series


def label_column(series):
    """Every level as its string label (for comparisons with levels named in claims and for output)."""
    return series.map(level_label)


def levels_in_order(labels) -> list[str]:
    """Distinct labels in order of first appearance."""
    import pandas as pd

    return list(pd.unique(labels))


def require_columns(frame, columns: Sequence[str], what: str) -> None:
    """Raise :class:`AlignlabError` naming the columns ``frame`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AlignlabError(
            f"{what}: the frame has no column(s) {', '.join(repr(c) for c in missing)}; "
            f"its columns are {', '.join(map(str, frame.columns))}."
        )


def check_level(level: float) -> None:
    if not 0 < level < 1:
        raise AlignlabError(f"level must be a confidence level between 0 and 1 (e.g. 0.95); got {level!r}.")


def check_count(value: int, name: str) -> None:
    if not isinstance(value, int) or value < 1:
        raise AlignlabError(f"{name} must be a positive integer; got {value!r}.")


def rng(random_state):
    """A numpy Generator from an int, None or a Generator."""
    import numpy as np

    return random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)


def resolve_factors(cells, factors: Sequence[str] | None, *, exclude: Sequence[str], what: str) -> list[str]:
    """The factor columns: as given, else ``cells.attrs["factors"]`` (set by :func:`cell_outcomes`), else
    every column that is not floating point, not boolean and not excluded (the seed, the outcomes)."""
    if factors is None:
        factors = cells.attrs.get("factors")
    if factors is None:
        import pandas as pd

        factors = [c for c in cells.columns if c not in exclude
                   and not pd.api.types.is_float_dtype(cells[c]) and not pd.api.types.is_bool_dtype(cells[c])]
    if isinstance(factors, str):
        factors = [factors]
    factors = [f for f in factors if f not in exclude]
    require_columns(cells, factors, what)
    return list(factors)


def expanded_level(level: float, n: int, df: int | None = None) -> float:
    """The level at which to read percentiles of a bootstrap of a mean of ``n`` units so the interval has
    about the nominal coverage (Hesterberg's *expanded percentile* interval, 2015): the plain percentile
    interval is too narrow for small samples, by ``sqrt((n-1)/n)`` and by using normal instead of t
    quantiles. ``df`` defaults to ``n - 1``."""
    from scipy import stats

    if n < 2:
        return level
    df = n - 1 if df is None else max(df, 1)
    z = (n / (n - 1)) ** 0.5 * stats.t.ppf(1 - (1 - level) / 2, df)
    return float(1 - 2 * stats.norm.sf(z))


def quantile_interval(samples, level: float, axis: int = 0, n: int | None = None, df: int | None = None):
    """Percentile interval ``(lo, hi)`` of bootstrap samples, ignoring NaN replicates; with ``n`` (the number
    of resampled units) the expanded percentile interval (see :func:`expanded_level`)."""
    import warnings

    import numpy as np

    alpha = 1 - (expanded_level(level, n, df) if n else level)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, which is the answer
        lo, hi = np.nanquantile(samples, [alpha / 2, 1 - alpha / 2], axis=axis)
    return lo, hi
