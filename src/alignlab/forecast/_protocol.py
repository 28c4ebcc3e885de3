"""The forecaster interface, rolling-origin forecasts from many cutoffs, and the conformance check.

Every forecaster — built-in or registered by a user with ``@register("forecaster", NAME)`` — has
``fit(df)`` returning itself, ``predict(h, df=None, level=None)`` returning ``unique_id, ds`` and one
column named by its ``name`` (plus ``NAME-lo-L``/``NAME-hi-L``), and raises
:class:`~alignlab.core.AlignlabError` when asked to predict before ``fit``. A forecaster may add
``_predict_at(df, positions, h, level)`` to forecast from many cutoffs at once; otherwise
:func:`forecasts_at` calls ``predict`` on each truncated history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from alignlab.core import AlignlabError
from alignlab.forecast._data import validate_series
from alignlab.forecast._frames import levels_of

__all__ = ["Forecaster", "check_forecaster", "cross_validation", "forecasts_at"]


@runtime_checkable
class Forecaster(Protocol):
    """A step forecaster on long frames.

    Example::

        class LastValue:
            name = "last"
            def fit(self, df):
                self.df_ = df
                return self
            def predict(self, h, df=None, level=None):
                ...  # unique_id, ds, last

        register("forecaster", "last")(lambda **kw: LastValue())
    """

    name: str

    def fit(self, df: pd.DataFrame) -> Forecaster: ...

    def predict(self, h: int, df: pd.DataFrame | None = None, level: list[float] | None = None) -> pd.DataFrame: ...


def _refit_groups(n_cutoffs: int, refit: bool | int) -> list[range]:
    if refit is True or refit == 1:
        size = 1
    elif refit is False or refit == 0:
        size = n_cutoffs
    elif isinstance(refit, int) and refit > 0:
        size = refit
    else:
        raise AlignlabError(f"refit must be True, False or a positive integer; got {refit!r}.")
    return [range(i, min(i + size, n_cutoffs)) for i in range(0, n_cutoffs, size)]


def forecasts_at(
    forecaster: Any,
    df: pd.DataFrame,
    cutoffs: dict[str, np.ndarray],
    h: int,
    *,
    level: Sequence[float] | None = None,
    refit: bool | int = True,
    progress: Any = None,
) -> pd.DataFrame:
    """Forecasts of ``1..h`` steps from many cutoffs, refitting on the history up to a cutoff as scheduled.

    Args:
        forecaster: any :class:`Forecaster`.
        df: the full long frame.
        cutoffs: for each ``unique_id``, increasing row positions (0-based, within the series) to forecast
            from; every series gets the same number of cutoffs, aligned by order.
        h: horizon.
        level: interval levels.
        refit: ``True`` refits before every cutoff, an integer ``k`` every ``k`` cutoffs, ``False`` once.
        progress: optional callable(advance: int) called after each refit group.

    Returns:
        ``unique_id, ds, cutoff`` and the forecaster's columns (``ds`` may lie past the data).
    """
    df = validate_series(df)
    level = levels_of(level)
    groups = {uid: g.reset_index(drop=True) for uid, g in df.groupby("unique_id", sort=False)}
    counts = {len(v) for v in cutoffs.values()}
    if len(counts) != 1:
        raise AlignlabError("Every series needs the same number of cutoffs.")
    n_cut = counts.pop()
    frames = []
    for block in _refit_groups(n_cut, refit):
        first = {uid: int(cutoffs[uid][block.start]) for uid in cutoffs}
        history = pd.concat([groups[uid].iloc[: first[uid] + 1] for uid in cutoffs], ignore_index=True)
        forecaster.fit(history)
        if hasattr(forecaster, "_predict_at"):
            last = {uid: int(cutoffs[uid][block.stop - 1]) for uid in cutoffs}
            visible = pd.concat([groups[uid].iloc[: last[uid] + 1] for uid in cutoffs], ignore_index=True)
            pos = {uid: np.asarray(cutoffs[uid][block.start : block.stop]) for uid in cutoffs}
            frames.append(forecaster._predict_at(visible, pos, h, level))
        else:
            for k in block:
                trunc = pd.concat([groups[uid].iloc[: int(cutoffs[uid][k]) + 1] for uid in cutoffs], ignore_index=True)
                out = forecaster.predict(h, df=trunc, level=level or None)
                out["cutoff"] = out["unique_id"].map({uid: groups[uid]["ds"].iloc[int(cutoffs[uid][k])] for uid in cutoffs})
                frames.append(out)
        if progress is not None:
            progress(len(block))
    out = pd.concat(frames, ignore_index=True)
    cols = ["unique_id", "ds", "cutoff"] + [c for c in out.columns if c not in ("unique_id", "ds", "cutoff")]
    return out[cols]


def cross_validation(
    forecaster: Any,
    df: pd.DataFrame,
    h: int,
    n_windows: int = 1,
    step_size: int = 1,
    *,
    level: Sequence[float] | None = None,
    refit: bool | int = True,
) -> pd.DataFrame:
    """Rolling-origin evaluation with statsforecast's semantics and output frame.

    The last window's cutoff is ``h`` steps before each series' end; earlier ones step back by
    ``step_size``. Returns ``unique_id, ds, cutoff, y`` and the forecaster's columns.
    """
    df = validate_series(df, h=h)
    test_size = h + step_size * (n_windows - 1)
    cutoffs = {}
    for uid, g in df.groupby("unique_id", sort=False):
        first = len(g) - test_size - 1
        if first < 0:
            raise AlignlabError(
                f"Series '{uid}' has {len(g)} rows; {n_windows} windows of h={h} every {step_size} steps need "
                f"more than {test_size}."
            )
        cutoffs[uid] = first + step_size * np.arange(n_windows)
    out = forecasts_at(forecaster, df, cutoffs, h, level=level, refit=refit)
    out = out.merge(df[["unique_id", "ds", "y"]], on=["unique_id", "ds"], how="left")
    cols = ["unique_id", "ds", "cutoff", "y"] + [c for c in out.columns if c not in ("unique_id", "ds", "cutoff", "y")]
    return out[cols]


def check_forecaster(forecaster: Any, df: pd.DataFrame | None = None, h: int = 3) -> None:
    """Raise AssertionError if ``forecaster`` breaks the interface (like scikit-learn's ``check_estimator``).

    Checks: ``name`` is a non-empty string; predict before fit raises :class:`AlignlabError`; ``fit``
    returns the forecaster; ``predict`` gives ``h`` rows per series with dates continuing each series,
    finite values in the ``name`` column, ``lo <= hi`` for ``level``; ``predict(df=...)`` forecasts from
    the end of the given frame; and :func:`cross_validation` works.
    """
    from alignlab.forecast._data import synthetic_random_walk

    if df is None:
        df = synthetic_random_walk(n_series=2, n_steps=120, seed=3)
    name = getattr(forecaster, "name", None)
    assert isinstance(name, str) and name, "a forecaster needs a non-empty string attribute 'name'"
    try:
        forecaster.predict(h)
    except AlignlabError:
        pass
    else:
        raise AssertionError("predict before fit must raise AlignlabError")
    assert forecaster.fit(df) is forecaster, "fit must return self"
    out = forecaster.predict(h, level=[80])
    assert {"unique_id", "ds", name, f"{name}-lo-80", f"{name}-hi-80"} <= set(out.columns), list(out.columns)
    for uid, g in df.groupby("unique_id"):
        rows = out[out["unique_id"] == uid]
        assert len(rows) == h, f"{len(rows)} rows for '{uid}', expected h={h}"
        assert (pd.to_datetime(rows["ds"]) > g["ds"].max()).all(), "forecast dates must follow the series"
        assert pd.to_datetime(rows["ds"]).is_monotonic_increasing
    assert np.isfinite(out[name].to_numpy(dtype=float)).all(), "point forecasts must be finite"
    assert (out[f"{name}-lo-80"] <= out[f"{name}-hi-80"] + 1e-9).all(), "lo must not exceed hi"
    shorter = df[df.groupby("unique_id").cumcount(ascending=False) >= 10].reset_index(drop=True)
    again = forecaster.predict(h, df=shorter)
    first_ds = again.groupby("unique_id")["ds"].min()
    assert (first_ds.sort_index() > shorter.groupby("unique_id")["ds"].max().sort_index()).all()
    assert (first_ds.sort_index() <= df.groupby("unique_id")["ds"].max().sort_index()).all(), \
        "predict(df=...) must forecast from the end of the given frame"
    cv = cross_validation(forecaster, df, h=h, n_windows=2, step_size=2, refit=False)
    assert list(cv.columns[:4]) == ["unique_id", "ds", "cutoff", "y"]
    assert len(cv) == 2 * h * df["unique_id"].nunique()
