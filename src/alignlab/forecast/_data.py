"""Series in the long format (``unique_id, ds, y``): validation, files, bundled real series, weekly resampling.

Example::

    from alignlab.forecast import load_series, to_weekly
    weekly = to_weekly(load_series("sp500"))
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from alignlab.core import AlignlabError

__all__ = ["BUNDLED_SERIES", "load_series", "read_series", "synthetic_random_walk", "to_weekly", "validate_series"]

REQUIRED = ("unique_id", "ds", "y")

# name -> (package that ships it offline, what it is)
BUNDLED_SERIES = {
    "sp500": "S&P 500 daily adjusted close, 1999-2018 (arch.data.sp500)",
    "nasdaq": "NASDAQ Composite daily adjusted close, 1999-2018 (arch.data.nasdaq)",
    "msft": "Microsoft daily close, 1986-2017 (pmdarima.datasets.load_msft)",
}


def validate_series(df: pd.DataFrame, h: int | None = None, *, name: str = "df") -> pd.DataFrame:
    """Check a long frame and return it with ``ds`` as datetimes (or integers) and ``y`` as floats.

    Args:
        df: frame with columns ``unique_id, ds, y``, sorted by ``ds`` within each ``unique_id``.
        h: the forecast horizon; every series must be longer than it.
        name: what to call the frame in error messages.

    Raises:
        AlignlabError: missing columns, unparseable or missing values, unsorted or duplicate dates, or a
            series not longer than ``h``.
    """
    if not isinstance(df, pd.DataFrame):
        raise AlignlabError(f"{name} must be a pandas DataFrame with columns unique_id, ds, y; got {type(df).__name__}.")
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise AlignlabError(
            f"{name} is missing the column(s) {', '.join(missing)}; expected the long format unique_id, ds, y "
            f"(as statsforecast). Columns found: {', '.join(map(str, df.columns)) or 'none'}."
        )
    if df.empty:
        raise AlignlabError(f"{name} has no rows; expected at least one series with values.")
    out = df.copy()
    if not pd.api.types.is_integer_dtype(out["ds"]) and not pd.api.types.is_datetime64_any_dtype(out["ds"]):
        try:
            out["ds"] = pd.to_datetime(out["ds"])
        except (ValueError, TypeError) as exc:
            raise AlignlabError(f"{name}: column ds must hold dates or integers; could not parse it ({exc}).") from None
    try:
        out["y"] = pd.to_numeric(out["y"]).astype(float)
    except (ValueError, TypeError) as exc:
        raise AlignlabError(f"{name}: column y must be numeric ({exc}).") from None
    if out["y"].isna().any() or out["ds"].isna().any():
        row = int(out.index[(out["y"].isna() | out["ds"].isna()).to_numpy()][0])
        raise AlignlabError(f"{name}: missing ds or y at row {row}; drop or fill missing values first.")
    out["unique_id"] = out["unique_id"].astype(str)
    for uid, group in out.groupby("unique_id", sort=False):
        ds = group["ds"]
        dup = ds.duplicated()
        if dup.any():
            raise AlignlabError(f"{name}: series '{uid}' has duplicate dates (first: {ds[dup].iloc[0]}); each ds once.")
        if not ds.is_monotonic_increasing:
            values = ds.to_numpy()
            bad = values[1:][values[1:] < values[:-1]][0]
            raise AlignlabError(
                f"{name}: series '{uid}' is not sorted by ds (first out of order: {bad}); sort with "
                "df.sort_values(['unique_id', 'ds'])."
            )
        if h is not None and len(group) <= h:
            raise AlignlabError(
                f"{name}: series '{uid}' has {len(group)} rows, not more than the horizon h={h}; use a shorter "
                "horizon or a longer series."
            )
    if h is not None and h < 1:
        raise AlignlabError(f"The horizon h must be at least 1; got {h}.")
    return out.reset_index(drop=True)


def read_series(path: str | Path, *, unique_id: str | None = None) -> pd.DataFrame:
    """Read a long frame from CSV or Parquet (a file with only ``ds, y`` gets ``unique_id`` from the file name)."""
    path = Path(path)
    if not path.exists():
        raise AlignlabError(f"The data file {path} does not exist.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            df = pd.read_csv(path)
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            raise AlignlabError(f"{path}: expected a .csv or .parquet file.")
    except AlignlabError:
        raise
    except Exception as exc:  # noqa: BLE001  (pandas raises many types for a bad file)
        raise AlignlabError(f"Could not read {path}: {exc}") from None
    if "unique_id" not in df.columns and {"ds", "y"} <= set(df.columns):
        df.insert(0, "unique_id", unique_id or path.stem)
    return validate_series(df, name=str(path))


def load_series(name: str) -> pd.DataFrame:
    """A bundled real daily series as a long frame; ``name`` is one of :data:`BUNDLED_SERIES`."""
    if name in ("sp500", "nasdaq"):
        from arch.data import nasdaq, sp500

        frame = (sp500 if name == "sp500" else nasdaq).load()
        s = frame["Adj Close"]
        ds = pd.to_datetime(s.index)
    elif name == "msft":
        from pmdarima.datasets import load_msft

        frame = load_msft()
        s = frame["Close"]
        ds = pd.to_datetime(frame["Date"])
    else:
        raise AlignlabError(f"Unknown bundled series '{name}'. Known: {', '.join(BUNDLED_SERIES)}.")
    return pd.DataFrame({"unique_id": name, "ds": ds.to_numpy(), "y": s.to_numpy(dtype=float)})


def to_weekly(df: pd.DataFrame, *, rule: str = "W-FRI", how: str = "last") -> pd.DataFrame:
    """Resample each series to weekly values (the last value of each week by default)."""
    df = validate_series(df)
    if not pd.api.types.is_datetime64_any_dtype(df["ds"]):
        raise AlignlabError("to_weekly needs dates in ds; got integers.")
    frames = []
    for uid, group in df.groupby("unique_id", sort=False):
        s = group.set_index("ds")["y"].resample(rule).agg(how).dropna()
        frames.append(pd.DataFrame({"unique_id": uid, "ds": s.index, "y": s.to_numpy()}))
    return pd.concat(frames, ignore_index=True)


def synthetic_random_walk(
    *,
    n_series: int = 10,
    n_steps: int = 520,
    drift: float = 0.001,
    sigma: float = 0.02,
    start: float = 100.0,
    freq: str = "W-FRI",
    seed: int = 0,
) -> pd.DataFrame:
    """Geometric random walks with drift (log-price steps ``N(drift, sigma^2)``) as a long frame.

    The conditional law is known exactly: ``log y[t+r] | y[t] ~ N(log y[t] + r drift, r sigma^2)``, so the
    mean is ``y[t] exp(r drift + r sigma^2 / 2)`` — the yardstick of the synthetic tests.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    steps = drift + sigma * rng.standard_normal((n_series, n_steps - 1))
    logs = np.log(start) + np.concatenate([np.zeros((n_series, 1)), np.cumsum(steps, axis=1)], axis=1)
    ds = pd.date_range("2000-01-07", periods=n_steps, freq=freq)
    return pd.DataFrame({
        "unique_id": np.repeat([f"rw{i}" for i in range(n_series)], n_steps),
        "ds": np.tile(ds, n_series),
        "y": np.exp(logs).ravel(),
    })
