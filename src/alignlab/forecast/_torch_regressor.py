"""A small torch network fitted by minibatch Adam: the ``mlp`` learner of a chained forecaster.

With quantile levels it is fitted to a set of target samples per row by the pinball loss averaged over
those samples (see :mod:`alignlab.forecast._learners`); without, by squared error against their mean.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from alignlab.core import AlignlabError

__all__ = ["TorchRegressor"]


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
