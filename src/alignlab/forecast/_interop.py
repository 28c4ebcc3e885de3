"""statsforecast's ``cross_validation`` frame in and out: ``unique_id, ds, cutoff, y, MODEL, MODEL-lo-L, MODEL-hi-L``.

Example::

    cv = StatsForecast(models=[Naive()], freq="W-FRI").cross_validation(h=26, df=df, n_windows=10)
    frame, models = read_cross_validation(cv)      # validated; models == ["Naive"]
    write_cross_validation(frame, "cv.parquet")
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from alignlab.core import AlignlabError

__all__ = ["cv_to_chains", "read_cross_validation", "write_cross_validation"]

CV_KEYS = ("unique_id", "ds", "cutoff", "y")


def read_cross_validation(source: pd.DataFrame | str | Path) -> tuple[pd.DataFrame, list[str]]:
    """Validate a cross_validation frame (or read it from CSV/Parquet); returns it and its model names."""
    if not isinstance(source, pd.DataFrame):
        path = Path(source)
        if not path.exists():
            raise AlignlabError(f"The cross-validation file {path} does not exist.")
        frame = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
    else:
        frame = source.copy()
    if frame.index.name == "unique_id":  # statsforecast < 1.6 kept unique_id in the index
        frame = frame.reset_index()
    missing = [c for c in CV_KEYS if c not in frame.columns]
    if missing:
        raise AlignlabError(
            f"The cross-validation frame is missing {', '.join(missing)}; expected statsforecast's columns "
            "unique_id, ds, cutoff, y and one column per model."
        )
    for col in ("ds", "cutoff"):
        if not pd.api.types.is_datetime64_any_dtype(frame[col]) and not pd.api.types.is_integer_dtype(frame[col]):
            frame[col] = pd.to_datetime(frame[col])
    frame["unique_id"] = frame["unique_id"].astype(str)
    models = [c for c in frame.columns if c not in CV_KEYS and "-lo-" not in c and "-hi-" not in c and not c.endswith("-sd")]
    if not models:
        raise AlignlabError("The cross-validation frame has no model columns.")
    if (frame["ds"] <= frame["cutoff"]).any():
        raise AlignlabError("The cross-validation frame has rows with ds not after cutoff.")
    return frame[list(CV_KEYS) + [c for c in frame.columns if c not in CV_KEYS]], models


def write_cross_validation(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a cross_validation frame to CSV or Parquet (by suffix)."""
    frame, _ = read_cross_validation(frame)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def cv_to_chains(frame: pd.DataFrame, h: int) -> pd.DataFrame:
    """Chains from a cross_validation frame run with ``step_size=1``: the forecasts of each target date.

    A target ``ds`` forecast from ``h`` consecutive cutoffs (``h`` to 1 steps ahead) forms one chain with
    ``origin`` = the earliest cutoff; incomplete chains are dropped.
    """
    frame, models = read_cross_validation(frame)
    out = []
    for _, g in frame.groupby("unique_id", sort=False):
        cutoffs = sorted(g["cutoff"].unique())
        rank = {c: i for i, c in enumerate(cutoffs)}
        g = g.assign(_k=g["cutoff"].map(rank))
        for ds, chain in g.groupby("ds"):
            chain = chain.sort_values("_k")
            if len(chain) != h or (chain["_k"].diff().dropna() != 1).any():
                continue
            out.append(chain.assign(origin=chain["cutoff"].iloc[0], step=range(h), target_ds=ds,
                                    y_target=chain["y"].iloc[0]))
    if not out:
        raise AlignlabError(f"No complete chains of length h={h}; run cross_validation with step_size=1.")
    chains = pd.concat(out, ignore_index=True).drop(columns=["_k", "ds", "cutoff", "y"])
    # Without the series, the first forecast of each chain stands in for the value at the origin (a scale).
    chains["y_origin"] = chains.groupby(["unique_id", "origin"])[models[0]].transform("first")
    return chains
