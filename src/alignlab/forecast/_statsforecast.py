"""Any statsforecast model as a step forecaster: forecasts from every cutoff with the model's own fit.

Each cutoff refits the model on the history up to it, as statsforecast's ``cross_validation`` with
``refit=True``. We call the model's ``forecast(y, h, level)`` directly rather than ``StatsForecast``
because a chain needs forecasts from *every* step, including the last ``h - 1`` steps of the data
where ``cross_validation`` has no complete window.

Example::

    from alignlab.forecast import StatsForecastModel, synthetic_random_walk
    df = synthetic_random_walk(n_series=2, n_steps=100)
    StatsForecastModel("RandomWalkWithDrift").fit(df).predict(4, level=[80])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alignlab.core import AlignlabError
from alignlab.forecast._data import validate_series
from alignlab.forecast._frames import extend_dates, levels_of

__all__ = ["StatsForecastModel"]


class StatsForecastModel:
    """Wrap a statsforecast model (an instance, or a class name in ``statsforecast.models`` plus kwargs).

    Example::

        StatsForecastModel("Naive").fit(df).predict(h=26)   # unique_id, ds, Naive
    """

    def __init__(self, model: Any = "Naive", *, alias: str | None = None, freq: str | None = None,
                 min_history: int = 3, **model_kwargs: Any):
        self.model = model
        self.alias = alias
        self.freq = freq
        self.min_history = min_history
        self.model_kwargs = model_kwargs

    def _resolve(self) -> Any:
        if not isinstance(self.model, str):
            return self.model
        from statsforecast import models

        cls = getattr(models, self.model, None)
        if cls is None or not isinstance(cls, type):
            raise AlignlabError(f"statsforecast.models has no model '{self.model}' (e.g. Naive, RandomWalkWithDrift, AutoETS).")
        try:
            return cls(**self.model_kwargs)
        except TypeError as exc:
            raise AlignlabError(f"Could not build statsforecast model {self.model}: {exc}") from None

    @property
    def name(self) -> str:
        if self.alias:
            return self.alias
        model = self._resolve()
        return str(getattr(model, "alias", type(model).__name__))

    def __repr__(self) -> str:
        return f"StatsForecastModel({self.model!r})"

    def fit(self, df: pd.DataFrame) -> StatsForecastModel:
        """Remember the training frame (the model is refitted on each history it forecasts from)."""
        self.model_ = self._resolve()
        self.df_ = validate_series(df)
        return self

    def _predict_at(self, df: pd.DataFrame, positions: dict[str, np.ndarray], h: int,
                    level: list[float]) -> pd.DataFrame:
        if not hasattr(self, "model_"):
            raise AlignlabError(f"{self!r} is not fitted yet; call fit(df) before predict.")
        lv = [int(v) if float(v).is_integer() else v for v in level] or None
        frames = []
        for uid, g in df.groupby("unique_id", sort=False):
            pos = np.asarray(positions.get(uid, []), dtype=int)
            if len(pos) == 0:
                continue
            y = g["y"].to_numpy(dtype=float)
            ds_ext = extend_dates(g["ds"].to_numpy(), h, self.freq)
            for p in pos:
                if p + 1 < self.min_history:
                    raise AlignlabError(f"{self.name} needs at least {self.min_history} observations before a cutoff.")
                res = self.model_.forecast(y=y[: p + 1], h=h, level=lv)
                row = {"unique_id": uid, "ds": ds_ext[p + 1 : p + 1 + h], "cutoff": g["ds"].iloc[p],
                       self.name: res["mean"]}
                for key, value in res.items():
                    if key != "mean" and key.startswith(("lo-", "hi-")):
                        row[f"{self.name}-{key}"] = value
                frames.append(pd.DataFrame(row))
        return pd.concat(frames, ignore_index=True)

    def predict(self, h: int, df: pd.DataFrame | None = None, level: list[float] | None = None) -> pd.DataFrame:
        """Forecast ``h`` steps after the end of ``df`` (default: the training frame)."""
        if not hasattr(self, "model_"):
            raise AlignlabError(f"{self!r} is not fitted yet; call fit(df) before predict.")
        df = self.df_ if df is None else validate_series(df)
        positions = {uid: np.array([len(g) - 1]) for uid, g in df.groupby("unique_id", sort=False)}
        return self._predict_at(df, positions, h, levels_of(level)).drop(columns="cutoff")
