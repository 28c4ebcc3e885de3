"""The regressors inside a chained forecaster: point learners (squared error) and quantile learners.

A point learner is any scikit-learn regressor: squared error elicits the conditional mean, which chains
(the mean of next step's mean is this step's mean). A quantile learner predicts ``K`` quantiles at the
midpoints ``(i - 0.5) / K`` and is fitted to a *set of target samples per row* (the atoms of next step's
distribution) with the pinball loss averaged over those samples: the expected CRPS-type score under the
next step's distribution, as in quantile-regression distributional RL (Dabney et al., 2018). Those
nets are written in torch (:mod:`alignlab.forecast._torch_regressor`) because no scikit-learn quantile
regressor takes several targets per row and fits 10^5 rows in seconds.

Example::

    learner = make_learner("linear", distribution="quantile", n_quantiles=10)
    learner.fit(X, Y)          # Y: (n, m) target samples
    Q = learner.predict(X)     # (n, 10), sorted
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from alignlab.core import AlignlabError
from alignlab.forecast._torch_regressor import TorchRegressor

__all__ = ["LocationScale", "make_learner", "quantile_midpoints"]

Distribution = Literal["point", "quantile"]


def quantile_midpoints(k: int) -> np.ndarray:
    """The ``k`` quantile levels ``(i - 0.5) / k``: equally weighted atoms of a distribution."""
    return (np.arange(1, k + 1) - 0.5) / k


class _SklearnPoint:
    """Wraps a scikit-learn regressor; fits the mean of each row's target samples."""

    def __init__(self, estimator: Any):
        self.estimator = estimator

    def fit(self, X: np.ndarray, Y: np.ndarray, warm_start: bool = False, groups: Any = None) -> _SklearnPoint:
        from sklearn.base import clone

        Y = np.asarray(Y, dtype=float)
        target = Y.mean(1) if Y.ndim == 2 else Y
        self.fitted_ = clone(self.estimator).fit(X, target)
        return self

    def predict(self, X: np.ndarray, groups: Any = None) -> np.ndarray:
        return np.asarray(self.fitted_.predict(X), dtype=float)


class LocationScale:
    """Quantiles ``m(x) + s(x) z_tau(r)`` fitted to target samples, with any scikit-learn regressor.

    ``m`` regresses the mean of each row's samples and ``s^2`` their mean squared deviation from ``m``:
    both are expectations under next step's distribution, so both chain exactly (the tower property).
    The standardised shape ``z_tau`` is, per horizon ``r``, the tau-quantile of the pooled standardised
    samples — the minimiser of their expected pinball loss. Every step is a closed-form or a single
    regressor fit, so fitted TD with distributions costs about twice the point version.

    :meth:`atoms` gives the ``K`` equally weighted values used as next step's samples in a chained
    target; they are the quantiles rescaled to mean ``m`` and variance ``s^2`` exactly, because plain
    midpoint quantiles lose the tails' variance (about 5 % for K = 20) and the loss compounds along a chain.
    """

    def __init__(self, estimator: Any, quantiles: np.ndarray, *, standardize: bool = False):
        self.estimator = estimator
        self.quantiles = quantiles
        self.standardize = standardize

    def _design(self, X: np.ndarray, *, fitting: bool = False) -> np.ndarray:
        """``X`` standardised (``standardize``) by the scaler fitted at :meth:`fit`, else ``X`` itself.

        Fitted TD passes the same matrices at every iteration (the training design to ``fit``, each
        series' bootstrap states to ``atoms``): from a fit on a new design until :meth:`clear_cache`, each
        matrix is standardised once, not at every refit. The numbers are a StandardScaler + estimator
        pipeline's."""
        if not self.standardize:
            return X
        from sklearn.preprocessing import StandardScaler

        cache = self.__dict__.get("_designs")
        if fitting and (cache is None or cache[0][0] is not X):  # a new training design: a new scaler
            self.scaler_ = StandardScaler().fit(X)
            cache = self.__dict__["_designs"] = [(X, self.scaler_.transform(X))]
        for seen, scaled in cache or ():
            if seen is X:
                return scaled
        scaled = self.scaler_.transform(X)
        if cache is not None and len(cache) < 64:  # bounded: a caller that never clears it
            cache.append((X, scaled))
        return scaled

    def clear_cache(self) -> None:
        """Forget the standardised copies of the matrices seen (a fitted model keeps only its parameters)."""
        self.__dict__.pop("_designs", None)

    def __getstate__(self) -> dict[str, Any]:
        # The cache is keyed by object identity, which means nothing in another process.
        return {k: v for k, v in self.__dict__.items() if k != "_designs"}

    def _fit_one(self, name: str, X: np.ndarray, y: np.ndarray, warm_start: bool) -> Any:
        from sklearn.base import clone

        current = getattr(self, name, None)
        if warm_start and isinstance(current, TorchRegressor):
            return current.fit(X, y, warm_start=True)  # nets continue from their weights
        return clone(self.estimator).fit(X, y)

    def fit(self, X: np.ndarray, Y: np.ndarray, warm_start: bool = False, groups: np.ndarray | None = None):
        Y = np.asarray(Y, dtype=float)
        Y = Y[:, None] if Y.ndim == 1 else Y
        groups = np.zeros(len(X), dtype=int) if groups is None else np.asarray(groups, dtype=int)
        X = self._design(X, fitting=True)
        self.mean_ = self._fit_one("mean_", X, Y.mean(1), warm_start)
        m = self.mean_.predict(X)
        dev2 = ((Y - m[:, None]) ** 2).mean(1)
        self.var_ = self._fit_one("var_", X, dev2, warm_start)
        # A linear variance model can go near or below zero at some states; floor it at a tenth of the
        # horizon's mean squared deviation so standardised samples stay finite.
        size = int(groups.max()) + 2
        self.floor_ = np.full(size, 0.1 * dev2.mean() + 1e-12)
        for g in np.unique(groups):
            self.floor_[g] = 0.1 * dev2[groups == g].mean() + 1e-12
        s = np.sqrt(np.maximum(self.var_.predict(X), self.floor_[groups]))
        z = (Y - m[:, None]) / s[:, None]
        pooled = np.quantile(z.ravel(), self.quantiles)
        self.shape_ = np.tile(pooled, (size, 1))
        for g in np.unique(groups):
            self.shape_[g] = np.quantile(z[groups == g].ravel(), self.quantiles)
        return self

    def _parts(self, X: np.ndarray, groups: np.ndarray | None):
        X = self._design(X)
        m = self.mean_.predict(X)
        g = np.zeros(len(X), dtype=int) if groups is None else np.minimum(np.asarray(groups, int), len(self.shape_) - 1)
        s = np.sqrt(np.maximum(self.var_.predict(X), self.floor_[g]))
        return m, s, self.shape_[g]

    def predict(self, X: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
        m, s, Z = self._parts(X, groups)
        return np.sort(m[:, None] + s[:, None] * Z, axis=1)

    def atoms(self, X: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
        m, s, Z = self._parts(X, groups)
        Z = Z - Z.mean(axis=1, keepdims=True)
        Z = Z / np.sqrt((Z**2).mean(axis=1, keepdims=True) + 1e-12)
        return np.sort(m[:, None] + s[:, None] * Z, axis=1)


def make_learner(
    learner: str | Any, *, distribution: Distribution = "point", n_quantiles: int = 20, seed: int = 0
) -> Any:
    """Build the learner for ``learner`` (``linear``, ``gbm``, ``mlp`` or a scikit-learn regressor)."""
    taus = quantile_midpoints(n_quantiles) if distribution == "quantile" else None
    if not isinstance(learner, str):
        if not (hasattr(learner, "fit") and hasattr(learner, "predict")):
            raise AlignlabError("learner must be 'linear', 'gbm', 'mlp' or an object with fit(X, y) and predict(X).")
        return LocationScale(learner, taus) if distribution == "quantile" else _SklearnPoint(learner)
    if learner == "linear":
        if distribution == "point":
            from sklearn.linear_model import Ridge
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler

            return _SklearnPoint(make_pipeline(StandardScaler(), Ridge(alpha=1.0)))
        from sklearn.linear_model import Ridge

        # Ridge on standardised features, as make_pipeline(StandardScaler(), Ridge()) but scaling each
        # design matrix once instead of at every fitted-TD iteration (a third of the fit's time).
        return LocationScale(Ridge(alpha=1.0), taus, standardize=True)
    if learner == "gbm":
        from sklearn.ensemble import HistGradientBoostingRegressor

        gbm = HistGradientBoostingRegressor(max_iter=100, learning_rate=0.1, max_leaf_nodes=15,
                                            early_stopping=False, random_state=seed)
        return LocationScale(gbm, taus) if distribution == "quantile" else _SklearnPoint(gbm)
    if learner == "mlp":
        net = TorchRegressor(hidden=(32, 32), lr=3e-3, epochs=20, warm_epochs=3, batch_size=1024,
                             weight_decay=1e-5, seed=seed)
        return LocationScale(net, taus) if distribution == "quantile" else net
    raise AlignlabError(f"Unknown learner '{learner}'; expected linear, gbm, mlp or a scikit-learn regressor.")
