"""Recursive forecasting: long-horizon forecasts as a chain of short ones, trained by temporal differences.

A forecaster predicts, at every step, the value at a fixed target date; chained training scores each
step against the forecaster's own next-step forecast and only the last step against the outcome
(TD learning, Sutton 1988). This package gives the data plumbing (long frames ``unique_id, ds, y``),
chained targets, forecasters (linear, gradient boosting, torch MLP, any statsforecast model, a language
model), reward accounting, rolling-origin backtests with outcome-based and outcome-free checks, the
Sutton (1988) reproduction and the six-month stock prototype. Importing it does not import torch.

Example::

    from alignlab.forecast import ChainedForecaster, load_series, to_weekly
    df = to_weekly(load_series("sp500"))
    ChainedForecaster("linear", h=26).fit(df).predict(26, level=[80])
"""

from typing import TYPE_CHECKING

from alignlab.core._lazy import lazy_getattr

if TYPE_CHECKING:
    from alignlab.core.stats import diebold_mariano, skill_interval
    from alignlab.forecast._backtest import BacktestResult, backtest, evaluate
    from alignlab.forecast._chained import ChainedForecaster
    from alignlab.forecast._chained_config import ChainedConfig
    from alignlab.forecast._data import (
        BUNDLED_SERIES,
        load_series,
        read_series,
        synthetic_random_walk,
        to_weekly,
        validate_series,
    )
    from alignlab.forecast._interop import cv_to_chains, read_cross_validation, write_cross_validation
    from alignlab.forecast._learners import LocationScale, quantile_midpoints
    from alignlab.forecast._lm import LMForecaster, parse_chained_answer, parse_number, run_lm_chain
    from alignlab.forecast._protocol import Forecaster, check_forecaster, cross_validation, forecasts_at
    from alignlab.forecast._rationality import (
        excess_movement,
        revision_autocorrelation,
        revisions,
        variance_bounds,
    )
    from alignlab.forecast._rewards import (
        chain_rewards,
        reward_summary,
        simulate_collusion,
        td_anchor_dynamics,
    )
    from alignlab.forecast._scores import (
        crps_quantiles,
        crps_samples,
        interval_coverage,
        mae,
        pinball,
        pit_uniformity,
        pit_values,
    )
    from alignlab.forecast._statsforecast import StatsForecastModel
    from alignlab.forecast._stocks import StocksConfig, run_stocks
    from alignlab.forecast._sutton import SuttonConfig, sutton_random_walk
    from alignlab.forecast._targets import (
        average_quantiles,
        distributional_targets,
        lambda_returns,
        state_features,
    )
    from alignlab.forecast._torch_regressor import TorchRegressor

# Public names load on first use: importing the package (as the registry does) stays cheap.
_SOURCES = {
    "average_quantiles": "alignlab.forecast._targets",
    "backtest": "alignlab.forecast._backtest",
    "BacktestResult": "alignlab.forecast._backtest",
    "BUNDLED_SERIES": "alignlab.forecast._data",
    "chain_rewards": "alignlab.forecast._rewards",
    "ChainedConfig": "alignlab.forecast._chained_config",
    "ChainedForecaster": "alignlab.forecast._chained",
    "check_forecaster": "alignlab.forecast._protocol",
    "cross_validation": "alignlab.forecast._protocol",
    "crps_quantiles": "alignlab.forecast._scores",
    "crps_samples": "alignlab.forecast._scores",
    "cv_to_chains": "alignlab.forecast._interop",
    "diebold_mariano": "alignlab.core.stats",
    "distributional_targets": "alignlab.forecast._targets",
    "evaluate": "alignlab.forecast._backtest",
    "excess_movement": "alignlab.forecast._rationality",
    "Forecaster": "alignlab.forecast._protocol",
    "forecasts_at": "alignlab.forecast._protocol",
    "interval_coverage": "alignlab.forecast._scores",
    "lambda_returns": "alignlab.forecast._targets",
    "LMForecaster": "alignlab.forecast._lm",
    "load_series": "alignlab.forecast._data",
    "LocationScale": "alignlab.forecast._learners",
    "mae": "alignlab.forecast._scores",
    "parse_chained_answer": "alignlab.forecast._lm",
    "parse_number": "alignlab.forecast._lm",
    "pinball": "alignlab.forecast._scores",
    "pit_uniformity": "alignlab.forecast._scores",
    "pit_values": "alignlab.forecast._scores",
    "quantile_midpoints": "alignlab.forecast._learners",
    "read_cross_validation": "alignlab.forecast._interop",
    "read_series": "alignlab.forecast._data",
    "revision_autocorrelation": "alignlab.forecast._rationality",
    "revisions": "alignlab.forecast._rationality",
    "reward_summary": "alignlab.forecast._rewards",
    "run_lm_chain": "alignlab.forecast._lm",
    "run_stocks": "alignlab.forecast._stocks",
    "simulate_collusion": "alignlab.forecast._rewards",
    "skill_interval": "alignlab.core.stats",
    "state_features": "alignlab.forecast._targets",
    "StatsForecastModel": "alignlab.forecast._statsforecast",
    "StocksConfig": "alignlab.forecast._stocks",
    "sutton_random_walk": "alignlab.forecast._sutton",
    "SuttonConfig": "alignlab.forecast._sutton",
    "synthetic_random_walk": "alignlab.forecast._data",
    "td_anchor_dynamics": "alignlab.forecast._rewards",
    "to_weekly": "alignlab.forecast._data",
    "TorchRegressor": "alignlab.forecast._torch_regressor",
    "validate_series": "alignlab.forecast._data",
    "variance_bounds": "alignlab.forecast._rationality",
    "write_cross_validation": "alignlab.forecast._interop",
}

# The same names as _SOURCES (tests/core/test_public_names.py keeps the two from drifting apart).
__all__ = [
    "BUNDLED_SERIES",
    "BacktestResult",
    "ChainedConfig",
    "ChainedForecaster",
    "Forecaster",
    "LMForecaster",
    "LocationScale",
    "StatsForecastModel",
    "StocksConfig",
    "SuttonConfig",
    "TorchRegressor",
    "average_quantiles",
    "backtest",
    "chain_rewards",
    "check_forecaster",
    "cross_validation",
    "crps_quantiles",
    "crps_samples",
    "cv_to_chains",
    "diebold_mariano",
    "distributional_targets",
    "evaluate",
    "excess_movement",
    "forecasts_at",
    "interval_coverage",
    "lambda_returns",
    "load_series",
    "mae",
    "parse_chained_answer",
    "parse_number",
    "pinball",
    "pit_uniformity",
    "pit_values",
    "quantile_midpoints",
    "read_cross_validation",
    "read_series",
    "revision_autocorrelation",
    "revisions",
    "reward_summary",
    "run_lm_chain",
    "run_stocks",
    "simulate_collusion",
    "skill_interval",
    "state_features",
    "sutton_random_walk",
    "synthetic_random_walk",
    "td_anchor_dynamics",
    "to_weekly",
    "validate_series",
    "variance_bounds",
    "write_cross_validation",
]

__getattr__ = lazy_getattr(__name__, _SOURCES, globals())
