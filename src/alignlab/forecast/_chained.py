"""The chained (TD) trainer: one model of ``V(state, r)`` for every remaining horizon ``r``, fitted by fitted TD.

Fitted TD: compute each pair's target from the current model (TD(0): the model's own forecast at the
next step; the last step always the realised outcome), fit, recompute the targets, refit, until the
targets stop moving. Targets are expressed relative to the current value (``ratio``: ``y[t+r] / y[t]``;
``diff``: ``y[t+r] - y[t]``) so one model serves every level; both are affine in the outcome given the
present, so the conditional mean still chains.

Example::

    from alignlab.forecast import ChainedForecaster, synthetic_random_walk
    df = synthetic_random_walk(n_series=3, n_steps=300, seed=0)
    model = ChainedForecaster("linear", h=8, target="td0").fit(df)
    model.predict(8, level=[80])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alignlab.core import AlignlabError
from alignlab.forecast._chained_config import ChainedConfig
from alignlab.forecast._data import validate_series
from alignlab.forecast._frames import extend_dates, level_quantiles, levels_of, quantiles_at
from alignlab.forecast._learners import make_learner, quantile_midpoints
from alignlab.forecast._targets import (
    distributional_targets,
    horizon_features,
    lambda_returns,
    state_features,
    target_change,
    training_pairs,
)

# ChainedConfig lives in _chained_config (config and trainer in paired files); importable from here too.
__all__ = ["ChainedForecaster"]


class ChainedForecaster:
    """A forecaster of every horizon up to ``h``, trained on chained (TD) or direct (MC) targets.

    Example::

        from alignlab.forecast import ChainedForecaster, synthetic_random_walk
        df = synthetic_random_walk(n_series=2, n_steps=200, seed=1)
        fc = ChainedForecaster("linear", h=4).fit(df)
        fc.predict(4)                  # unique_id, ds, linear-td0
    """

    def __init__(
        self,
        learner: Any = "linear",
        *,
        h: int = 26,
        target: str = "td0",
        lam: float = 0.5,
        distribution: str = "point",
        n_quantiles: int = 20,
        transform: str = "ratio",
        lags: tuple[int, ...] = (1, 4, 13, 26),
        vol_window: int = 13,
        max_iter: int = 60,
        tol: float = 1e-4,
        max_pairs: int | None = 60_000,
        warm_start: bool = True,
        freq: str | None = None,
        alias: str | None = None,
        seed: int = 0,
    ):
        self.learner = learner
        self.h = h
        self.target = target
        self.lam = lam
        self.distribution = distribution
        self.n_quantiles = n_quantiles
        self.transform = transform
        self.lags = lags
        self.vol_window = vol_window
        self.max_iter = max_iter
        self.tol = tol
        self.max_pairs = max_pairs
        self.warm_start = warm_start
        self.freq = freq
        self.alias = alias
        self.seed = seed

    # ----------------------------------------------------------------- scikit-learn style plumbing
    def get_params(self, deep: bool = False) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ChainedConfig.model_fields}

    def set_params(self, **params: Any) -> ChainedForecaster:
        for key, value in params.items():
            if key not in ChainedConfig.model_fields:
                raise AlignlabError(f"ChainedForecaster has no parameter '{key}'.")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        return f"ChainedForecaster(learner={self.learner!r}, h={self.h}, target={self.target!r})"

    @property
    def name(self) -> str:
        """The output column name (``alias`` or e.g. ``linear-td0``)."""
        if self.alias:
            return self.alias
        base = self.learner if isinstance(self.learner, str) else type(self.learner).__name__.lower()
        tag = f"td{self.lam:g}" if self.target == "td_lambda" else self.target
        return f"{base}-{tag}" + ("-q" if self.distribution == "quantile" else "")

    # ----------------------------------------------------------------- features
    def _start(self) -> int:
        return max(max(self.config_.lags), self.config_.vol_window)

    def _series(self, df: pd.DataFrame) -> list[dict[str, Any]]:
        cfg = self.config_
        out = []
        for uid, group in df.groupby("unique_id", sort=False):
            y = group["y"].to_numpy(dtype=float)
            if cfg.transform == "ratio" and (y <= 0).any():
                raise AlignlabError(
                    f"Series '{uid}' has values ≤ 0; transform='ratio' needs positive values. Use transform='diff'."
                )
            S = state_features(y, transform=cfg.transform, lags=cfg.lags, vol_window=cfg.vol_window)
            out.append({"uid": uid, "ds": group["ds"].to_numpy(), "y": y, "S": S})
        return out

    def _X(self, S_rows: np.ndarray, r: np.ndarray) -> np.ndarray:
        learner = self.config_.learner
        return horizon_features(S_rows, r, self.config_.h, intercepts=learner == "linear" or not isinstance(learner, str))

    def _to_target(self, level: np.ndarray, y_now: np.ndarray) -> np.ndarray:
        y_now = y_now.reshape(y_now.shape + (1,) * (level.ndim - y_now.ndim))
        return level / y_now if self.config_.transform == "ratio" else level - y_now

    def _from_target(self, value: np.ndarray, y_now: np.ndarray) -> np.ndarray:
        y_now = y_now.reshape(y_now.shape + (1,) * (value.ndim - y_now.ndim))
        return value * y_now if self.config_.transform == "ratio" else value + y_now

    def _raw_predict(self, S_rows: np.ndarray, r: np.ndarray) -> np.ndarray:
        return self.learner_.predict(self._X(S_rows, r), groups=np.asarray(r))

    def _bootstrap_values(self, s: dict[str, Any], initial: bool) -> np.ndarray:
        """``V`` (n, H) or ``Q`` (n, H, K) in levels for every state, from the current model."""
        H, n, start = self.config_.h, len(s["y"]), self._start()
        quantile = self.config_.distribution == "quantile"
        shape = (n, H, self.config_.n_quantiles) if quantile else (n, H)
        values = np.broadcast_to(s["y"].reshape((n, 1) + ((1,) if quantile else ())), shape).copy()
        if initial or H == 1 or n <= start:
            return values  # naive start: every forecast equals the present value
        t = np.repeat(np.arange(start, n), H - 1)
        r = np.tile(np.arange(1, H), n - start)
        if "X_boot" not in s:  # the states do not change between iterations; build their features once
            s["X_boot"] = self._X(s["S"][t], r)
        if quantile and hasattr(self.learner_, "atoms"):
            pred = self.learner_.atoms(s["X_boot"], groups=r)
        else:
            pred = self.learner_.predict(s["X_boot"], groups=r)
        values[t, r] = self._from_target(pred, s["y"][t])
        return values

    # ----------------------------------------------------------------- fitting
    def fit(self, df: pd.DataFrame) -> ChainedForecaster:
        """Fit on a long frame ``unique_id, ds, y`` by fitted TD (or once, for ``target='mc'``)."""
        from threadpoolctl import threadpool_limits

        # One BLAS thread: the matrices are small, and on a shared machine threads spin-waiting for each
        # other made a Ridge fit fifty times slower.
        with threadpool_limits(1):
            return self._fit(df)

    def _fit(self, df: pd.DataFrame) -> ChainedForecaster:
        self.config_ = cfg = ChainedConfig(**self.get_params())
        df = validate_series(df, h=cfg.h)
        series = self._series(df)
        start = self._start()
        rng = np.random.default_rng(cfg.seed)
        pair_t, pair_r, pair_s = training_pairs([len(s["y"]) for s in series], cfg.h, start, cfg.max_pairs, rng)
        if len(pair_t) == 0:
            raise AlignlabError(
                f"No training pairs: each series needs more than {start + 1} rows of history plus the horizon."
            )
        X = np.concatenate([self._X(s["S"][pair_t[pair_s == i]], pair_r[pair_s == i]) for i, s in enumerate(series)])
        y_now = np.concatenate([s["y"][pair_t[pair_s == i]] for i, s in enumerate(series)])

        warm = cfg.warm_start and hasattr(self, "learner_")
        if not warm:
            self.learner_ = make_learner(cfg.learner, distribution=cfg.distribution,
                                         n_quantiles=cfg.n_quantiles, seed=cfg.seed)
        self.taus_ = quantile_midpoints(cfg.n_quantiles) if cfg.distribution == "quantile" else None
        lam = {"td0": 0.0, "mc": 1.0}.get(cfg.target, cfg.lam)
        self.history_: list[float] = []
        previous = None
        iterations = 1 if lam >= 1.0 else cfg.max_iter
        tol = cfg.tol * (5.0 if cfg.learner == "mlp" else 1.0)  # SGD noise keeps a net's targets moving
        fitted_once = warm
        for _ in range(iterations):
            rng = np.random.default_rng(cfg.seed + 1)  # same samples each iteration: change = model change
            targets = []
            for i, s in enumerate(series):
                sel = pair_s == i
                values = self._bootstrap_values(s, initial=not fitted_once)
                if cfg.distribution == "quantile":
                    level = distributional_targets(s["y"], values, pair_t[sel], pair_r[sel],
                                                   target=cfg.target if lam > 0 else "td0", lam=lam, rng=rng)
                    if lam >= 1.0:
                        level = level[:, :1]
                else:
                    level = lambda_returns(s["y"], values, lam)[pair_t[sel], pair_r[sel]]
                targets.append(level)
            Y = self._to_target(np.concatenate(targets), y_now)
            if previous is not None:
                self.history_.append(target_change(Y, previous, pair_r))
                if self.history_[-1] < tol:
                    break
            self.learner_.fit(X, Y, warm_start=fitted_once, groups=pair_r)
            fitted_once = True
            previous = Y
        self.n_iter_ = len(self.history_) + 1
        self.converged_ = lam >= 1.0 or (bool(self.history_) and self.history_[-1] < tol)
        self._fit_residuals(series, start)
        for s in series:
            s.pop("X_boot", None)
        if hasattr(self.learner_, "clear_cache"):
            self.learner_.clear_cache()  # the standardised design matrices are not needed to predict
        self.train_ = series
        return self

    def _fit_residuals(self, series: list[dict[str, Any]], start: int) -> None:
        """Per-horizon residual quantiles of the realised outcomes, for intervals of point forecasts."""
        if self.config_.distribution == "quantile":
            return
        grid = np.linspace(0, 1, 201)
        H = self.config_.h
        self.residual_quantiles_ = np.zeros((H, len(grid)))
        for r in range(1, H + 1):
            res = []
            for s in series:
                t = np.arange(start, len(s["y"]) - r)
                if len(t) == 0:
                    continue
                pred = self._from_target(self._raw_predict(s["S"][t], np.full(len(t), r)), s["y"][t])
                actual = s["y"][t + r]
                res.append(np.log(actual / pred) if self.config_.transform == "ratio" else actual - pred)
            res = np.concatenate(res) if res else np.zeros(1)
            self.residual_quantiles_[r - 1] = np.quantile(res, grid)

    # ----------------------------------------------------------------- prediction
    def _check_fitted(self) -> None:
        if not hasattr(self, "learner_"):
            raise AlignlabError("This ChainedForecaster is not fitted yet; call fit(df) before predict.")

    def _predict_at(
        self, df: pd.DataFrame, positions: dict[str, np.ndarray], h: int, level: list[float]
    ) -> pd.DataFrame:
        """Forecasts of steps ``1..h`` from each position (row index within its series) in ``positions``."""
        self._check_fitted()
        if h > self.config_.h:
            raise AlignlabError(f"h={h} is longer than the horizon this model was fitted for ({self.config_.h}).")
        frames = []
        for s in self._series(df):
            pos = np.asarray(positions.get(s["uid"], []), dtype=int)
            if len(pos) == 0:
                continue
            if (pos < self._start()).any():
                raise AlignlabError(
                    f"Series '{s['uid']}' needs at least {self._start() + 1} rows before the first forecast origin."
                )
            ds_ext = extend_dates(s["ds"], h, self.config_.freq)
            t = np.repeat(pos, h)
            r = np.tile(np.arange(1, h + 1), len(pos))
            y_now = s["y"][t]
            raw = self._raw_predict(s["S"][t], r)
            out = {"unique_id": s["uid"], "ds": ds_ext[t + r], "cutoff": s["ds"][t]}
            if raw.ndim == 2:
                atoms = self._from_target(raw, y_now)
                out[self.name] = atoms.mean(axis=1)
                for suffix, q in level_quantiles(level):
                    out[f"{self.name}-{suffix}"] = quantiles_at(atoms, self.taus_, q)
            else:
                mean = self._from_target(raw, y_now)
                out[self.name] = mean
                grid = np.linspace(0, 1, 201)
                for suffix, q in level_quantiles(level):
                    rq = np.array([np.interp(q, grid, self.residual_quantiles_[k - 1]) for k in r])
                    out[f"{self.name}-{suffix}"] = mean * np.exp(rq) if self.config_.transform == "ratio" else mean + rq
            frames.append(pd.DataFrame(out))
        return pd.concat(frames, ignore_index=True)

    def predict(self, h: int, df: pd.DataFrame | None = None, level: list[float] | None = None) -> pd.DataFrame:
        """Forecast ``h`` steps after the end of ``df`` (default: the training frame).

        Returns:
            ``unique_id, ds`` and a column named by :attr:`name` (the mean), plus ``NAME-lo-L`` and
            ``NAME-hi-L`` for each level ``L``.
        """
        self._check_fitted()
        if df is None:
            df = pd.concat([pd.DataFrame({"unique_id": s["uid"], "ds": s["ds"], "y": s["y"]}) for s in self.train_])
        df = validate_series(df)
        positions = {uid: np.array([len(g) - 1]) for uid, g in df.groupby("unique_id", sort=False)}
        return self._predict_at(df, positions, h, levels_of(level)).drop(columns="cutoff")
