"""Tables of training runs: read CSV/Parquet/DataFrame, rename to canonical columns, validate.

Canonical columns: ``N`` (parameters), ``D`` (tokens), ``C`` (training FLOPs, C = 6·N·D — the usual
dense-transformer approximation without attention FLOPs), ``loss``, ``variant``, ``seed`` and ``run`` (the
unit the bootstrap resamples). Several rows per run (one per checkpoint) are allowed: give a ``run`` column,
otherwise every row is its own run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alignlab.core._errors import AlignlabError

__all__ = ["FLOPS_PER_PARAM_TOKEN", "read_runs"]

FLOPS_PER_PARAM_TOKEN = 6.0  # C = 6 N D: forward + backward of a dense transformer, attention FLOPs left out


def _load(source: Any) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source.copy()
    path = Path(source)
    if not path.exists():
        raise AlignlabError(f"Runs table '{path}' does not exist; give a CSV or Parquet file.")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt", ".tsv"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    except Exception as exc:  # a parser error is the user's file, not our bug
        raise AlignlabError(f"Could not read runs table '{path}': {exc}") from exc
    raise AlignlabError(f"Runs table '{path}' has suffix '{suffix}'; use .csv, .tsv or .parquet.")


def _numeric(frame: pd.DataFrame, column: str, role: str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raw = frame[column].iloc[row]
        raise AlignlabError(
            f"Column '{column}' ({role}) must hold positive finite numbers; data row {row + 1} has '{raw}'"
            f" ({int(bad.sum())} bad row(s) in all). Fix or drop those rows."
        )
    return values


def read_runs(
    source: Any,
    *,
    n_col: str = "N",
    d_col: str = "D",
    flops_col: str | None = None,
    loss_col: str = "loss",
    variant_col: str = "variant",
    seed_col: str = "seed",
    run_col: str = "run",
    drop_highest_loss: int = 0,
) -> pd.DataFrame:
    """Read a table of runs into the canonical frame ``N, D, C, loss, variant, seed, run``.

    Args:
        source: a DataFrame or a path to a CSV/TSV/Parquet file.
        n_col, d_col, flops_col, loss_col: where parameters, tokens, FLOPs and loss are. Give tokens or FLOPs;
            with only FLOPs, D = C / (6 N).
        variant_col, seed_col, run_col: optional grouping columns (missing ones become one variant
            ``"default"``, seed 0, and one run per row).
        drop_highest_loss: drop the K highest-loss rows of each variant (Epoch AI drop 5 from Chinchilla's).

    Raises:
        AlignlabError: naming the column and row of a missing column, a non-positive or NaN value.
    """
    frame = _load(source).reset_index(drop=True)
    columns = list(frame.columns)
    for column, role in ((n_col, "parameters N"), (loss_col, "loss")):
        if column not in frame:
            raise AlignlabError(f"The runs table has no column '{column}' ({role}); its columns are {columns}.")
    if flops_col is not None and flops_col not in frame:
        raise AlignlabError(f"The runs table has no column '{flops_col}' (FLOPs); its columns are {columns}.")
    if flops_col is None and d_col not in frame:
        raise AlignlabError(
            f"The runs table has no column '{d_col}' (tokens D) and no FLOPs column was given; its columns are"
            f" {columns}. Name the tokens column with d_col/--d-col or the FLOPs column with flops_col/--flops-col."
        )
    if len(frame) == 0:
        raise AlignlabError("The runs table is empty.")
    n = _numeric(frame, n_col, "parameters N")
    if flops_col is not None and d_col not in frame:
        c = _numeric(frame, flops_col, "FLOPs")
        d = c / (FLOPS_PER_PARAM_TOKEN * n)
    else:
        d = _numeric(frame, d_col, "tokens D")
        c = FLOPS_PER_PARAM_TOKEN * n * d
    out = pd.DataFrame({"N": n, "D": d, "C": c, "loss": _numeric(frame, loss_col, "loss")})
    out["variant"] = frame[variant_col].astype(str).to_numpy() if variant_col in frame else "default"
    out["seed"] = frame[seed_col].to_numpy() if seed_col in frame else 0
    out["run"] = frame[run_col].astype(str).to_numpy() if run_col in frame else np.arange(len(out)).astype(str)
    if out["variant"].isin(["nan", "None", ""]).any():
        row = int(np.flatnonzero(out["variant"].isin(["nan", "None", ""]).to_numpy())[0])
        raise AlignlabError(f"Column '{variant_col}' (variant) is empty at row {row}; every row needs a variant name.")
    if drop_highest_loss < 0:
        raise AlignlabError(f"drop_highest_loss must be >= 0, got {drop_highest_loss}.")
    if drop_highest_loss:
        keep = out.groupby("variant", sort=False)["loss"].rank(method="first", ascending=False) > drop_highest_loss
        out = out[keep.to_numpy()].reset_index(drop=True)
    return out
