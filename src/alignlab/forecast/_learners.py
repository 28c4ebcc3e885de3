"""The regressors inside a chained forecaster: point learners (squared error) and quantile learners.

A point learner is any scikit-learn regressor: squared error elicits the conditional mean, which chains
(the mean of next step's mean is this step's mean). A quantile learner predicts ``K`` quantiles at the
midpoints ``(i - 0.5) / K`` and is fitted to a *set of target samples per row* (the atoms of next step's
distribution) with the pinball loss averaged over those samples: the expected CRPS-type score under the
next step's distribution, as in quantile-regression distributional RL (Dabney et al., 2018). Those
learners are written in torch because no scikit-learn quantile regressor takes several targets per row
and fits 10^5 rows in seconds.

Example::

    learner = make_learner("linear", distribution="quantile", n_quantiles=10)
    learner.fit(X, Y)          # Y: (n, m) target samples
    Q = learner.predict(X)     # (n, 10), sorted
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from alignlab.core import AlignlabError

__all__ = ["LocationScale", "TorchRegressor", "make_learner", "quantile_midpoints"]

Distribution = Literal["point", "quantile"]


def quantile_midpoints(k: int) -> np.ndarray:
    """The ``k`` quantile levels ``(i - 0.5) / k``: equally weighted atoms of a distribution."""
    return (np.arange(1, k + 1) - 0.5) / k


@contextmanager
def _one_thread():
    """Run torch single-threaded: these nets are tiny, and on a shared 2-core machine OpenMP threads
    spin-waiting for each other made each step ten times slower than one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class TorchRegressor(BaseEstimator, RegressorMixin):
    """A small torch network (no hidden layer = linear) fitted by minibatch Adam.

    With ``quantiles`` it predicts one output per level, trained by the pinball loss averaged over the
    target samples of each row; without, one output trained by squared error against the mean target.
    ``fit(..., warm_start=True)`` continues from the current weights (fitted TD refits each iteration).

    Example::

        net = TorchRegressor(hidden=(32, 32), epochs=50).fit(X, y)
        net.predict(X)
    """

    def __init__(
        self,
        *,
        hidden: tuple[int, ...] = (),
        quantiles: np.ndarray | None = None,
        epochs: int = 40,
        warm_epochs: int = 6,
        lr: float = 1e-2,
        batch_size: int = 512,
        target_samples: int = 4,
        weight_decay: float = 0.0,
        seed: int = 0,
    ):
        self.hidden = tuple(hidden)
        self.quantiles = quantiles
        self.epochs = epochs
        self.warm_epochs = warm_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.target_samples = target_samples
        self.weight_decay = weight_decay
        self.seed = seed

    def _build(self, n_in: int, n_out: int):
        import torch

        torch.manual_seed(self.seed)
        layers: list[Any] = []
        width = n_in
        for size in self.hidden:
            layers += [torch.nn.Linear(width, size), torch.nn.GELU()]
            width = size
        layers.append(torch.nn.Linear(width, n_out))
        return torch.nn.Sequential(*layers)

    def fit(self, X: np.ndarray, Y: np.ndarray, warm_start: bool = False, groups: Any = None) -> TorchRegressor:
        with _one_thread():
            return self._fit(X, Y, warm_start)

    def _fit(self, X: np.ndarray, Y: np.ndarray, warm_start: bool) -> TorchRegressor:
        import torch

        X = np.asarray(X, dtype=np.float32)
        Y = np.asarray(Y, dtype=np.float32)
        if Y.ndim == 1:
            Y = Y[:, None]
        fresh = not (warm_start and hasattr(self, "net_"))
        if fresh:
            # Scalings are frozen at the first fit so warm starts see the same coordinates.
            self.x_mean_ = X.mean(0)
            self.x_std_ = X.std(0) + 1e-8
            self.y_mean_ = float(Y.mean())
            self.y_std_ = float(Y.std()) + 1e-8
            k = len(self.quantiles) if self.quantiles is not None else 1
            self.net_ = self._build(X.shape[1], k)
            self.opt_ = torch.optim.Adam(self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        xt = torch.from_numpy((X - self.x_mean_) / self.x_std_)
        yt = torch.from_numpy((Y - self.y_mean_) / self.y_std_)
        if self.quantiles is None:
            yt = yt.mean(1, keepdim=True)  # squared error against the mean of the samples: same minimiser
            tau = None
        else:
            tau = torch.tensor(np.asarray(self.quantiles, dtype=np.float32))[None, :, None]
        generator = torch.Generator().manual_seed(self.seed)
        epochs = self.epochs if fresh else self.warm_epochs
        if not fresh:
            # Damp the step size over fitted-TD iterations so the targets can settle despite SGD noise.
            for group in self.opt_.param_groups:
                group["lr"] = max(group["lr"] * 0.93, self.lr * 0.05)
        n = len(xt)
        self.net_.train()
        for _ in range(epochs):
            order = torch.randperm(n, generator=generator)
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                pred = self.net_(xt[idx])
                if tau is None:
                    loss = torch.mean((pred - yt[idx]) ** 2)
                else:
                    target = yt[idx]
                    if target.shape[1] > self.target_samples:
                        # A few random target samples per row give an unbiased estimate of the expected
                        # pinball loss at a fraction of the cost of all K x K pairs.
                        pick = torch.randint(0, target.shape[1], (len(idx), self.target_samples), generator=generator)
                        target = torch.gather(target, 1, pick)
                    u = target[:, None, :] - pred[:, :, None]  # (batch, K, samples)
                    loss = torch.mean(torch.maximum(tau * u, (tau - 1) * u))
                self.opt_.zero_grad()
                loss.backward()
                self.opt_.step()
        return self

    def predict(self, X: np.ndarray, groups: Any = None) -> np.ndarray:
        import torch

        if not hasattr(self, "net_"):
            raise AlignlabError("This TorchRegressor is not fitted yet; call fit first.")
        X = np.asarray(X, dtype=np.float32)
        self.net_.eval()
        with torch.no_grad(), _one_thread():
            out = self.net_(torch.from_numpy((X - self.x_mean_) / self.x_std_)).numpy()
        out = out * self.y_std_ + self.y_mean_
        if self.quantiles is None:
            return out[:, 0].astype(float)
        return np.sort(out, axis=1).astype(float)  # rearrangement removes quantile crossing


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

    def __init__(self, estimator: Any, quantiles: np.ndarray):
        self.estimator = estimator
        self.quantiles = quantiles

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
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return LocationScale(make_pipeline(StandardScaler(), Ridge(alpha=1.0)), taus)
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
