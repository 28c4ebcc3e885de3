"""The hyperparameters of the chained (TD) trainer, :class:`~alignlab.forecast.ChainedForecaster`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChainedConfig"]


class ChainedConfig(BaseModel):
    """Hyperparameters of :class:`ChainedForecaster` (validated at ``fit``)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    learner: Any = Field("linear", description="linear, gbm, mlp, or a scikit-learn regressor (point only).")
    h: int = Field(26, ge=1, description="Longest horizon (chain length) the model is trained for.")
    target: Literal["td0", "td_lambda", "mc"] = Field(
        "td0", description="td0: own next-step forecast; td_lambda: lambda-return; mc: the outcome (direct)."
    )
    lam: float = Field(0.5, ge=0.0, le=1.0, description="lambda for target='td_lambda'.")
    distribution: Literal["point", "quantile"] = Field(
        "point", description="point: the mean (squared error); quantile: K quantiles (expected pinball loss)."
    )
    n_quantiles: int = Field(20, ge=2, le=200, description="Quantile atoms for distribution='quantile'.")
    transform: Literal["ratio", "diff"] = Field(
        "ratio", description="Targets relative to the present: ratio (positive series) or difference."
    )
    lags: tuple[int, ...] = Field((1, 4, 13, 26), description="Past changes used as features (steps).")
    vol_window: int = Field(13, ge=2, description="Window of the recent-volatility feature (steps).")
    max_iter: int = Field(60, ge=1, description="Most fitted-TD iterations per fit.")
    tol: float = Field(1e-4, gt=0, description="Stop when the mean change of the targets falls below this.")
    max_pairs: int | None = Field(60_000, ge=100, description="Subsample training pairs above this many.")
    warm_start: bool = Field(True, description="A refit starts fitted TD from the current model.")
    freq: str | None = Field(None, description="pandas frequency of ds; inferred when None.")
    alias: str | None = Field(None, description="Output column name; default from learner and target.")
    seed: int = Field(0, description="Seed for subsampling, sampling and network initialisation.")
