"""From a study's store to the frames the statistics take: factors joined onto metrics, one row per cell."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from alignlab.core._errors import AlignlabError
from alignlab.core.stats._common import require_columns
from alignlab.core.stats._curves import curve_table

__all__ = ["cell_outcomes", "with_factors"]


def _config_value(config: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(config, Mapping) or part not in config:
            return None
        config = config[part]
    return config


def _cells_frame(cells: Iterable[Mapping[str, Any]], taken: set[str], columns: Mapping[str, str] | None):
    """cell_id, one column per factor (renamed ``<factor>_factor`` when ``taken``), seed, config columns."""
    import pandas as pd

    rows, factor_names = [], {}
    for cell in cells:
        if "cell_id" not in cell or "factors" not in cell:
            raise AlignlabError("cells must be the study's cells as Store.cells() gives them (dicts with "
                                "'cell_id', 'factors' and 'seed').")
        factors = dict(cell["factors"] or {})
        row = {"cell_id": cell["cell_id"]}
        for name, value in factors.items():
            if name == "seed":
                continue
            column = factor_names.setdefault(name, f"{name}_factor" if name in taken or name == "cell_id" else name)
            row[column] = value
        row["seed"] = factors.get("seed", cell.get("seed"))
        for column, path in (columns or {}).items():
            if column not in row:
                row[column] = _config_value(cell.get("config") or {}, path)
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=["cell_id", "seed"])
    return frame, list(factor_names.values())


def with_factors(frame, cells: Iterable[Mapping[str, Any]], *, columns: Mapping[str, str] | None = None):
    """A frame with a ``cell_id`` column, joined with each cell's factor levels and seed.

    Args:
        frame: e.g. ``Store.metrics_frame()`` (``cell_id, stage, step, name, value, lo, hi``).
        cells: ``Store.cells()`` (dicts with ``cell_id``, ``factors``, ``seed``, ``config``).
        columns: extra columns read from each cell's config by dotted path, e.g. ``{"lr":
            "train.optimizer.lr"}`` (for settings the study does not vary).

    Returns:
        ``frame`` with one column per factor (a factor whose name is already a column, such as an
        optimizer factor labelled ``name``, becomes ``name_factor``), ``seed`` and the extra columns;
        ``attrs["factors"]`` lists the factor columns.

    Example:
        >>> import pandas as pd
        >>> metrics = pd.DataFrame({"cell_id": ["c1", "c1"], "step": [0, 10], "name": "accuracy",
        ...                         "value": [1.0, 0.5]})
        >>> cells = [{"cell_id": "c1", "factors": {"optimizer": "sgd", "seed": 0}, "seed": 0}]
        >>> list(with_factors(metrics, cells).columns)
        ['cell_id', 'step', 'name', 'value', 'optimizer', 'seed']
    """
    require_columns(frame, ["cell_id"], "with_factors")
    base, factors = _cells_frame(cells, set(frame.columns) - {"cell_id"}, columns)
    out = frame.merge(base, on="cell_id", how="left")
    out.attrs["factors"] = factors
    return out


def cell_outcomes(metrics, cells: Iterable[Mapping[str, Any]], *, metric: str, stage: str, threshold: float = 0.5,
                  recovery: float = 0.5, columns: Mapping[str, str] | None = None):
    """One row per cell: its factors, seed and the :func:`curve_summary` of one metric — the input of
    :func:`factor_effects`, :func:`variance_decomposition`, :func:`direction_consistency` and
    :func:`check_claims`.

    Args:
        metrics: ``Store.metrics_frame()``.
        cells: ``Store.cells()``.
        metric: the metric whose curve is summarised (a metric name the study logs).
        stage: the stage whose steps form the curve.
        threshold: see :func:`curve_summary`.
        recovery: see :func:`curve_summary`.
        columns: extra config columns by dotted path, e.g. ``{"lr": "train.optimizer.lr"}``.

    Returns:
        ``cell_id``, factor columns, ``seed``, extra columns, then ``initial, final, change, auc,
        steps_to_below, returned, n_points`` (NaN and 0 points for cells without metrics, e.g. failed ones);
        ``attrs["factors"]`` lists the factor columns.

    Example:
        >>> import pandas as pd
        >>> metrics = pd.DataFrame({"cell_id": ["c1", "c1"], "stage": "train", "step": [0, 10],
        ...                         "name": "accuracy", "value": [1.0, 0.5]})
        >>> cells = [{"cell_id": "c1", "factors": {"optimizer": "sgd", "seed": 0}, "seed": 0}]
        >>> outcomes = cell_outcomes(metrics, cells, metric="accuracy", stage="train")
        >>> outcomes[["optimizer", "seed", "final", "auc"]].to_dict("records")
        [{'optimizer': 'sgd', 'seed': 0, 'final': 0.5, 'auc': 0.75}]
    """
    require_columns(metrics, ["cell_id", "stage", "step", "name", "value"], "cell_outcomes")
    curves = metrics[(metrics["stage"] == stage) & (metrics["name"] == metric)]
    summary = curve_table(curves, cell="cell_id", x="step", y="value", threshold=threshold, recovery=recovery)
    base, factors = _cells_frame(cells, set(summary.columns) - {"cell_id"}, columns)
    out = base.merge(summary, on="cell_id", how="left")
    out["n_points"] = out["n_points"].fillna(0).astype(int)
    out.attrs["factors"] = factors
    return out
