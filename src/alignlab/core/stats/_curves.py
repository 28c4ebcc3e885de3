"""Curves across seeds (mean and bootstrap band) and per-curve summaries of a rate along training steps."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from alignlab.core._errors import AlignlabError
from alignlab.core.stats._common import (
    check_count,
    check_level,
    hashable_column,
    quantile_interval,
    require_columns,
    rng,
)

__all__ = ["curve_bands", "curve_summary", "curve_table"]

SUMMARY_COLUMNS = ("initial", "final", "change", "auc", "steps_to_below", "returned", "n_points")


def _as_list(columns: str | Sequence[str] | None) -> list[str]:
    if columns is None:
        return []
    return [columns] if isinstance(columns, str) else list(columns)


def curve_bands(frame, *, by: str | Sequence[str] | None, x: str = "step", y: str = "value", seed: str = "seed",
                level: float = 0.95, n_boot: int = 2000, random_state: Any = 0):
    """Mean curve across seeds per condition, with a bootstrap percentile band that resamples seeds.

    A seed's whole curve is one unit: each bootstrap replicate draws seeds with replacement and averages
    their curves, so the band at every ``x`` comes from the same replicates. The band is an *expanded*
    percentile interval (percentiles read at a level widened for the number of seeds, Hesterberg 2015;
    the plain percentile band is too narrow with few seeds); with two seeds it spans about their range.
    Missing points (a seed without a value at some ``x``) are left out of that ``x``'s mean.

    Args:
        frame: long frame, one row per (condition, seed, x) — e.g. a metrics frame filtered to one
            ``name`` and ``stage`` and joined with the cells' factors (:func:`with_factors`).
        by: the condition column(s); ``None`` or ``[]`` treats all rows as one condition. Dict levels
            (e.g. optimizer configs) are grouped by their :func:`level_label`.
        x: the x column (training step).
        y: the value column.
        seed: the seed column (the unit that is resampled).
        level: the band's confidence level.
        n_boot: bootstrap replicates.
        random_state: seed or ``numpy.random.Generator`` for the bootstrap.

    Returns:
        One row per (condition, x), conditions in order of appearance: the ``by`` columns, ``x``, ``mean``,
        ``lo``, ``hi``, ``n_seeds``. With fewer than two seeds at a point the band is NaN (show the
        cell's own interval, e.g. its Wilson interval, instead).

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"mode": ["a"] * 4, "seed": [0, 0, 1, 1], "step": [0, 10, 0, 10],
        ...                       "value": [1.0, 0.4, 1.0, 0.6]})
        >>> curve_bands(frame, by="mode")[["mode", "step", "mean", "n_seeds"]].to_dict("list")
        {'mode': ['a', 'a'], 'step': [0, 10], 'mean': [1.0, 0.5], 'n_seeds': [2, 2]}
    """
    import numpy as np
    import pandas as pd

    by = _as_list(by)
    check_level(level)
    check_count(n_boot, "n_boot")
    require_columns(frame, [*by, x, y, seed], "curve_bands")
    data = frame[[*by, seed, x, y]].copy()
    for column in [*by, seed]:
        data[column] = hashable_column(data[column])
    keys = [*by, seed, x]
    duplicated = data.duplicated(keys, keep=False)
    if duplicated.any():
        example = data.loc[duplicated, keys].iloc[0].to_dict()
        raise AlignlabError(
            f"curve_bands: more than one row per condition, seed and {x!r} (e.g. {example}); filter the frame "
            f"to one metric and stage first, or add the column that tells the rows apart to `by`."
        )
    generator = rng(random_state)
    rows = []
    groups = data.groupby(by, sort=False, dropna=False) if by else [((), data)]
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        matrix = group.pivot(index=seed, columns=x, values=y)  # seeds × x, NaN where a seed lacks a point
        values = matrix.to_numpy(dtype=float)
        n_seeds = np.sum(~np.isnan(values), axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN is the right answer
            mean = np.nanmean(values, axis=0)
            draws = generator.integers(0, values.shape[0], size=(n_boot, values.shape[0]))
            boot = np.nanmean(values[draws], axis=1)  # n_boot × x
        # expanded percentile per x, for the number of seeds there (the plain one is too narrow for few seeds)
        lo, hi = np.full(len(n_seeds), np.nan), np.full(len(n_seeds), np.nan)
        for count in np.unique(n_seeds[n_seeds >= 2]):
            at = n_seeds == count
            lo[at], hi[at] = quantile_interval(boot[:, at], level, n=int(count))
        for j, step in enumerate(matrix.columns):
            rows.append({**dict(zip(by, key)), x: step, "mean": mean[j], "lo": lo[j], "hi": hi[j],
                         "n_seeds": int(n_seeds[j])})
    columns = [*by, x, "mean", "lo", "hi", "n_seeds"]
    return pd.DataFrame(rows, columns=columns)


def curve_table(frame, *, cell: str | Sequence[str] = "cell_id", x: str = "step", y: str = "value",
                      threshold: float = 0.5, recovery: float = 0.5):
    """Summaries (see :func:`curve_summary`) of every curve in a long frame, vectorised.

    Args:
        frame: long frame with one row per (cell, x); NaN values are left out.
        cell: the column(s) naming a curve.
        x: the step column.
        y: the rate column.
        threshold: the first step with a rate below it is ``steps_to_below``.
        recovery: after dropping below ``threshold``, a rate at or above this counts as "returned".

    Returns:
        One row per curve (in order of appearance): the ``cell`` columns, ``initial``, ``final``, ``change``
        (final − initial), ``auc``, ``steps_to_below``, ``returned``, ``n_points``.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"cell_id": ["a", "a", "a", "b"], "step": [0, 10, 20, 0],
        ...                       "value": [1.0, 0.2, 0.8, 0.9]})
        >>> curve_table(frame)[["cell_id", "final", "steps_to_below", "returned"]].to_dict("list")
        {'cell_id': ['a', 'b'], 'final': [0.8, 0.9], 'steps_to_below': [10.0, nan], 'returned': [True, False]}
    """
    import numpy as np
    import pandas as pd

    cells = _as_list(cell)
    require_columns(frame, [*cells, x, y], "curve_table")
    data = frame[[*cells, x, y]].copy()
    for column in cells:
        data[column] = hashable_column(data[column])
    if data.duplicated([*cells, x]).any():
        raise AlignlabError(f"curve_table: a curve has two rows at the same {x!r}; filter the frame to one "
                            f"metric and stage per {', '.join(cells)} first.")
    codes = data.groupby(cells, sort=False, dropna=False).ngroup().to_numpy()
    keys = data.drop_duplicates(cells)[cells].reset_index(drop=True)
    n_groups = len(keys)
    xs_all = pd.to_numeric(data[x]).to_numpy(dtype=float)
    ys_all = pd.to_numeric(data[y]).to_numpy(dtype=float)
    keep = ~np.isnan(ys_all)
    order = np.lexsort((xs_all[keep], codes[keep]))
    cs, xs, ys = codes[keep][order], xs_all[keep][order], ys_all[keep][order]

    n_points = np.bincount(cs, minlength=n_groups)
    has = n_points > 0
    first = np.full(n_groups, -1)
    first_present, first_index = np.unique(cs, return_index=True)
    first[first_present] = first_index
    last = np.where(has, first + n_points - 1, -1)
    initial = np.where(has, ys[first], np.nan) if len(ys) else np.full(n_groups, np.nan)
    final = np.where(has, ys[last], np.nan) if len(ys) else np.full(n_groups, np.nan)

    # trapezoids between consecutive points of the same curve, normalised by the curve's step range
    same = cs[1:] == cs[:-1]
    segments = (xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2
    area = np.bincount(cs[1:][same], weights=segments[same], minlength=n_groups)
    span = np.where(has, xs[last] - xs[first], np.nan) if len(xs) else np.full(n_groups, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = np.where(span > 0, area / span, final)

    below = ys < threshold
    steps_to_below = np.full(n_groups, np.nan)
    below_groups, below_first = np.unique(cs[below], return_index=True)
    steps_to_below[below_groups] = xs[below][below_first]
    # dropped_before[i]: an earlier point of the same curve was below the threshold
    running = np.cumsum(below)
    start = running[first[cs]] - below[first[cs]] if len(cs) else running
    dropped_before = (running - below - start) > 0
    returned = np.bincount(cs, weights=dropped_before & (ys >= recovery), minlength=n_groups) > 0

    out = keys.copy()
    out["initial"], out["final"], out["change"] = initial, final, final - initial
    out["auc"], out["steps_to_below"], out["returned"], out["n_points"] = auc, steps_to_below, returned, n_points
    return out


def curve_summary(curve, threshold: float = 0.5, recovery: float = 0.5, *, x: str = "step",
                        y: str = "value") -> dict[str, Any]:
    """How a rate holds up along one curve (e.g. a behaviour's rate through further training): where it
    ends, its average level, when it first drops below a threshold and whether it comes back.

    Args:
        curve: frame with columns ``step`` and ``value`` (rates in [0, 1]); NaN values are left out.
        threshold: the first step with a rate below it is ``steps_to_below``.
        recovery: after dropping below ``threshold``, a rate at or above this counts as "returned".
        x: the step column.
        y: the rate column.

    Returns:
        ``final`` (rate at the last step), ``auc`` (trapezoidal area under rate vs step divided by the step
        range, so in [0, 1]; a single point gives its value), ``steps_to_below`` (first step with rate <
        threshold, NaN if never), ``returned`` (dropped below ``threshold`` and later came back to ≥
        ``recovery``), plus ``initial``, ``change`` (final − initial) and ``n_points``. An empty or all-NaN
        curve gives NaN rates and ``returned`` False.

    Example:
        >>> import pandas as pd
        >>> curve = pd.DataFrame({"step": [0, 10, 20], "value": [1.0, 0.5, 0.0]})
        >>> s = curve_summary(curve)
        >>> s["final"], s["auc"], s["steps_to_below"], s["returned"]
        (0.0, 0.5, 20.0, False)
    """
    require_columns(curve, [x, y], "curve_summary")
    data = curve[[x, y]].copy()
    data["_curve"] = 0
    if data.empty:
        return {"initial": float("nan"), "final": float("nan"), "change": float("nan"), "auc": float("nan"),
                "steps_to_below": float("nan"), "returned": False, "n_points": 0}
    row = curve_table(data, cell="_curve", x=x, y=y, threshold=threshold, recovery=recovery).iloc[0]
    out = {k: float(row[k]) for k in SUMMARY_COLUMNS}
    out["returned"], out["n_points"] = bool(row["returned"]), int(row["n_points"])
    return out
