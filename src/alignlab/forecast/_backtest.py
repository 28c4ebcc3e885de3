"""Rolling-origin backtests that keep every forecast chain, and their evaluation.

For origins ``o`` (``n_windows`` of them, ``step_size`` apart, the last ``h`` steps before each series'
end, as statsforecast's ``cross_validation``), a backtest keeps the forecast of ``y[o + h]`` made at
``o`` and at every later step ``o + 1, ..., o + h - 1``: the chain. It gets them by forecasting
``1..h`` steps from every step between the first origin and the end, refitting every ``refit`` steps on
the history up to then.

Example::

    from alignlab.forecast import ChainedForecaster, StatsForecastModel, backtest, evaluate
    result = backtest(df, [ChainedForecaster("linear", h=26), StatsForecastModel("Naive")],
                      h=26, n_windows=190, step_size=4)
    evaluate(result)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alignlab.core import AlignlabError
from alignlab.core.stats import diebold_mariano, skill_interval
from alignlab.forecast._data import validate_series
from alignlab.forecast._protocol import forecasts_at
from alignlab.forecast._scores import (
    pit_uniformity,
    pit_values,
    pooled_scores,
    quantile_columns,
)

__all__ = ["BacktestResult", "backtest", "evaluate"]

DEFAULT_LEVELS = (10, 20, 30, 40, 50, 60, 70, 80, 90)


@dataclass
class BacktestResult:
    """Forecasts of a backtest.

    Attributes:
        cv: statsforecast's cross_validation frame for the origins (``unique_id, ds, cutoff, y, model...``).
        chains: one row per (``unique_id, origin, step``): the forecast of ``y[origin + h]`` made at
            ``origin + step``, with ``y_origin``, ``y_target``, model columns and ``MODEL-sd``.
        models: the model column names.
        h, step_size: horizon and origin spacing.
        seconds: wall time per model.
    """

    cv: pd.DataFrame
    chains: pd.DataFrame
    models: list[str]
    h: int
    step_size: int
    seconds: dict[str, float] = field(default_factory=dict)


def backtest(
    df: pd.DataFrame,
    forecasters: Sequence[Any],
    *,
    h: int,
    n_windows: int,
    step_size: int = 1,
    level: Sequence[float] = DEFAULT_LEVELS,
    refit: bool | int = 26,
    progress: bool = False,
) -> BacktestResult:
    """Run every forecaster from every step of the test period and assemble origins and chains.

    Args:
        df: long frame ``unique_id, ds, y``.
        forecasters: objects with ``fit``/``predict`` (see :class:`Forecaster`).
        h: horizon (chain length).
        n_windows: number of origins per series.
        step_size: steps between origins.
        level: interval levels (the quantiles they imply are used for CRPS and PIT).
        refit: refit every this many steps (``True``: every step; ``False``: once, at the first origin).
        progress: show a rich progress bar.
    """
    import time

    if h < 1 or n_windows < 1 or step_size < 1:
        raise AlignlabError(f"h, n_windows and step_size must be at least 1 (got {h}, {n_windows}, {step_size}).")
    if not isinstance(refit, bool) and refit < 1:
        raise AlignlabError(f"refit must be True, False or a number of steps of at least 1 (got {refit}).")
    df = validate_series(df, h=h)
    test_size = h + step_size * (n_windows - 1)
    groups = {uid: g.reset_index(drop=True) for uid, g in df.groupby("unique_id", sort=False)}
    cutoffs, origins = {}, {}
    for uid, g in groups.items():
        first = len(g) - test_size - 1
        if first < 1:
            raise AlignlabError(
                f"Series '{uid}' has {len(g)} rows; {n_windows} origins {step_size} apart with h={h} need more "
                f"than {test_size + 1}."
            )
        cutoffs[uid] = np.arange(first, len(g) - 1)
        origins[uid] = first + step_size * np.arange(n_windows)
    names = [f.name for f in forecasters]
    if len(set(names)) != len(names):
        raise AlignlabError(f"Forecaster names must be unique (set alias=...); got {names}.")
    frames, seconds = [], {}
    from alignlab.core._progress import progress_bars

    with progress_bars(progress) as bar:
        for forecaster in forecasters:
            n_cut = len(next(iter(cutoffs.values())))
            task = bar.add_task(f"{forecaster.name}", total=n_cut)
            start = time.perf_counter()
            out = forecasts_at(forecaster, df, cutoffs, h, level=level, refit=refit,
                               progress=(lambda k, t=task: bar.advance(t, k)) if progress else None)
            seconds[forecaster.name] = time.perf_counter() - start
            frames.append(out.set_index(["unique_id", "cutoff", "ds"]))
    wide = pd.concat(frames, axis=1).reset_index()
    # positions of cutoff and ds within each series
    pos_frames = []
    for uid, g in groups.items():
        pos_frames.append(pd.DataFrame({"unique_id": uid, "ds": g["ds"], "pos": np.arange(len(g)), "y": g["y"]}))
    pos = pd.concat(pos_frames, ignore_index=True)
    wide = wide.merge(pos.rename(columns={"ds": "cutoff", "pos": "cut_pos", "y": "y_cut"}), on=["unique_id", "cutoff"])
    wide = wide.merge(pos.rename(columns={"pos": "ds_pos"}), on=["unique_id", "ds"], how="inner")
    origin_keys = pd.concat([pd.DataFrame({"unique_id": uid, "origin_pos": o}) for uid, o in origins.items()])
    # cross_validation frame: forecasts made at the origins
    cv = wide.merge(origin_keys, left_on=["unique_id", "cut_pos"], right_on=["unique_id", "origin_pos"])
    model_cols = [c for c in wide.columns if any(c == m or c.startswith(f"{m}-") for m in names)]
    cv = cv[["unique_id", "ds", "cutoff", "y"] + model_cols].sort_values(["unique_id", "cutoff", "ds"])
    # chains: forecasts of y[origin + h] made at origin + step
    chain_rows = []
    for uid, o in origins.items():
        g = groups[uid]
        for step in range(h):
            chain_rows.append(pd.DataFrame({
                "unique_id": uid, "origin_pos": o, "step": step, "cut_pos": o + step, "ds_pos": o + h,
                "origin": g["ds"].to_numpy()[o], "y_origin": g["y"].to_numpy()[o], "y_target": g["y"].to_numpy()[o + h],
            }))
    keys = pd.concat(chain_rows, ignore_index=True)
    chains = keys.merge(wide[["unique_id", "cut_pos", "ds_pos", "ds"] + model_cols], on=["unique_id", "cut_pos", "ds_pos"])
    for m in names:
        lo, hi = f"{m}-lo-80", f"{m}-hi-80"
        if lo in chains.columns:
            chains[f"{m}-sd"] = (chains[hi] - chains[lo]) / (2 * stats.norm.ppf(0.9))
    chains = chains.drop(columns=["origin_pos", "cut_pos", "ds_pos"]).rename(columns={"ds": "target_ds"})
    chains = chains.sort_values(["unique_id", "origin", "step"]).reset_index(drop=True)
    return BacktestResult(cv=cv.reset_index(drop=True), chains=chains, models=names, h=h, step_size=step_size,
                          seconds=seconds)


def evaluate(result: BacktestResult, *, baselines: Sequence[str] = ("Naive", "RWD"), level: float = 80) -> pd.DataFrame:
    """Scores at the full horizon ``h`` per model, pooled over series, with skill against each baseline.

    Columns: ``mae`` (scaled by the origin value), ``crps`` (quantile approximation, scaled), ``coverage``
    of the ``level`` interval, ``pit_ks_p``, and for each baseline ``B``: ``skill_B`` (1 - MAE/MAE_B),
    its 95% moving-block bootstrap interval and the Diebold–Mariano ``p_B`` (two-sided, HAC with the
    overlap's lags, HLN correction) on absolute scaled errors.
    """
    first = result.chains[result.chains["step"] == 0].sort_values(["unique_id", "origin"]).reset_index(drop=True)
    scale = first["y_origin"].to_numpy()
    y = first["y_target"].to_numpy() / scale
    abs_err = {m: np.abs(first[m].to_numpy() / scale - y) for m in result.models}
    # Every forecast column scaled by the origin value, in statsforecast's long layout, for utilsforecast.
    forecast_cols = [c for c in first.columns if any(c == m or c.startswith(f"{m}-") for m in result.models)]
    scaled = pd.DataFrame({"ds": first["origin"], "y": y}).join(first[forecast_cols].div(scale, axis=0))
    pooled = pooled_scores(scaled, list(result.models), level)
    rows = []
    for m in result.models:
        row: dict[str, Any] = {"model": m, **pooled[m]}
        cols, taus = quantile_columns(first, m)
        if cols:
            Q = first[cols].to_numpy() / scale[:, None]
            pit = pit_values(y, Q, taus)
            row["pit_ks_p"] = pit_uniformity(pit)["ks_p"]
        for b in baselines:
            if b not in abs_err or b == m:
                continue
            # Average the losses over series at each origin first: the series share dates and news, so
            # treating them as independent would overstate the evidence.
            per_origin = pd.DataFrame({"origin": first["origin"], "a": abs_err[m], "b": abs_err[b]})
            per_origin = per_origin.groupby("origin")[["a", "b"]].mean()
            dm = diebold_mariano(per_origin["a"].to_numpy(), per_origin["b"].to_numpy(), h=result.h,
                                 step=result.step_size)
            sk = skill_interval(per_origin["a"].to_numpy(), per_origin["b"].to_numpy(), h=result.h,
                                step=result.step_size)
            row[f"skill_{b}"] = sk["skill"]
            row[f"skill_{b}_lo"] = sk["lo"]
            row[f"skill_{b}_hi"] = sk["hi"]
            row[f"dm_{b}"] = dm["stat"]
            row[f"p_{b}"] = dm["p"]
        rows.append(row)
    return pd.DataFrame(rows)
