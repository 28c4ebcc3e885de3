"""Small helpers shared by the forecasters: future dates, level columns, quantiles from atoms."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alignlab.core import AlignlabError

__all__ = ["extend_dates", "level_quantiles", "levels_of", "quantiles_at"]


def extend_dates(ds: pd.Series | np.ndarray, h: int, freq: str | None = None) -> np.ndarray:
    """``ds`` followed by ``h`` future dates (integer steps for integer ``ds``)."""
    ds = pd.Series(ds).reset_index(drop=True)
    if pd.api.types.is_integer_dtype(ds):
        step = int(np.median(np.diff(ds))) if len(ds) > 1 else 1
        return np.concatenate([ds.to_numpy(), ds.iloc[-1] + step * np.arange(1, h + 1)])
    if freq is None:
        freq = pd.infer_freq(ds.iloc[-min(len(ds), 60):]) if len(ds) >= 3 else None
    if freq is not None:
        future = pd.date_range(ds.iloc[-1], periods=h + 1, freq=freq)[1:]
    else:  # irregular dates: step by the median spacing
        future = ds.iloc[-1] + pd.Series(ds.diff().median() * np.arange(1, h + 1))
    return np.concatenate([ds.to_numpy(), pd.DatetimeIndex(future).to_numpy()])


def levels_of(level: Sequence[int | float] | None) -> list[float]:
    """Validated prediction-interval levels (percent, strictly between 0 and 100)."""
    if level is None:
        return []
    out = []
    for value in level:
        if not 0 < float(value) < 100:
            raise AlignlabError(f"level values are percentages strictly between 0 and 100; got {value}.")
        out.append(float(value))
    return out


def _fmt(level: float) -> str:
    return str(int(level)) if float(level).is_integer() else str(level)


def level_quantiles(level: Sequence[float]) -> list[tuple[str, float]]:
    """Column suffixes and quantile levels for intervals: ``('lo-80', 0.1), ('hi-80', 0.9)``."""
    pairs = []
    for lv in level:
        pairs.append((f"lo-{_fmt(lv)}", (1 - lv / 100) / 2))
        pairs.append((f"hi-{_fmt(lv)}", 1 - (1 - lv / 100) / 2))
    return pairs


def quantiles_at(atoms: np.ndarray, taus: np.ndarray, q: float) -> np.ndarray:
    """Quantile ``q`` of each row of sorted atoms at levels ``taus`` (linear between atoms, flat beyond)."""
    atoms = np.asarray(atoms, dtype=float)
    pos = np.interp(q, taus, np.arange(len(taus)))
    lo = int(np.floor(pos))
    hi = min(lo + 1, len(taus) - 1)
    w = pos - lo
    return (1 - w) * atoms[..., lo] + w * atoms[..., hi]
