"""The forecast study's report: cells compared on each data set, as ``report.html`` and ``summary.md``.

Cells that differ only in their forecaster share a data set and a backtest design; the report joins
their chains into one :class:`BacktestResult` per such group and scores it with
:func:`alignlab.forecast.evaluate`, so skill against Naive, its interval and the Diebold–Mariano p are
computed the same way for every design, and the verdicts are generated from the numbers
(:func:`alignlab.forecast._report_sections.verdict_lines`). Each design also gets the calibration, outcome-free
checks and reward sections of :mod:`alignlab.forecast._report_sections`. ``alignlab forecast stocks`` is
a study of this kind, so its report is this one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alignlab.core._report import Report, new_figure
from alignlab.core._study import Study
from alignlab.forecast._study import ForecastConfig, read_result

__all__ = ["design_tables", "group_results", "write_report"]

# Columns of the scores table (evaluate() adds dm_ statistics too; the p-value says what they say).
_SCORE_COLUMNS = ("model", "mae", "crps", "coverage", "pit_ks_p", "skill_Naive", "skill_Naive_lo",
                  "skill_Naive_hi", "p_Naive", "skill_RWD", "p_RWD")


def _design(config: dict[str, Any]) -> tuple:
    """What cells must share to be compared: everything but the forecaster."""
    return tuple(sorted((k, repr(v)) for k, v in config.items() if k != "forecaster"))


def group_results(study: Study) -> list[dict[str, Any]]:
    """Done cells grouped by design, each group with its joined :class:`BacktestResult` and rationality rows."""
    from alignlab.forecast._backtest import BacktestResult

    store = study.store()
    try:
        cells = [c for c in store.cells() if c["status"] == "done"]
        stages = {c["cell_id"]: store.cell_stages(c["cell_id"]) for c in cells}
    finally:
        store.close()
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for cell in cells:
        if stages[cell["cell_id"]].get("evaluate", {}).get("status") == "done":
            groups.setdefault(_design(cell["config"]), []).append(cell)
    out = []
    for members in groups.values():
        cfg = ForecastConfig.model_validate(members[0]["config"])
        keys = ["unique_id", "origin", "step", "y_origin", "y_target", "target_ds"]
        chains, cvs, models, rationality, seconds = None, None, [], [], {}
        for cell in members:
            run = stages[cell["cell_id"]]
            model = run["backtest"]["result"]["model"]
            folder = study.directory / "artifacts" / "backtest" / run["backtest"]["stage_key"]
            result = read_result(cfg, folder, model)
            name = model if model not in models else f"{model}#{len(models)}"  # two cells, one model name
            columns = {c: c.replace(model, name, 1) for c in result.chains.columns if c == model or c.startswith(f"{model}-")}
            ch = result.chains.rename(columns=columns)
            cv = result.cv.rename(columns=columns)
            chains = ch if chains is None else chains.merge(ch, on=keys)
            cvs = cv if cvs is None else cvs.merge(cv, on=["unique_id", "ds", "cutoff", "y"])
            models.append(name)
            scores = run["evaluate"]["result"]["scores"]
            rationality.append({"model": name, "ac1": scores.get("ac1"), "ac1_p": scores.get("ac1_p")})
            seconds[name] = run["backtest"]["result"]["seconds"]
        joined = BacktestResult(cv=cvs, chains=chains, models=models, h=cfg.h, step_size=cfg.step, seconds=seconds)
        out.append({"config": cfg, "cells": members, "result": joined,
                    "rationality": pd.DataFrame(rationality).astype({"ac1": float, "ac1_p": float})})
    return out


def _title(cfg: ForecastConfig) -> str:
    return (f"{cfg.series}{' weekly' if cfg.weekly else ''}, {cfg.h} steps ahead, {cfg.origins} origins "
            f"{cfg.step} apart, refit every {cfg.refit}, seed {cfg.seed}")


def _skill_figure(scores: pd.DataFrame):
    sk = scores.dropna(subset=["skill_Naive"]) if "skill_Naive" in scores else scores.iloc[:0]
    if sk.empty:
        return None
    fig, ax = new_figure(7, 0.6 + 0.5 * len(sk))
    skill = sk["skill_Naive"].to_numpy(dtype=float)
    ax.errorbar(skill, np.arange(len(sk)), xerr=[skill - sk["skill_Naive_lo"].to_numpy(dtype=float),
                sk["skill_Naive_hi"].to_numpy(dtype=float) - skill], fmt="o", capsize=4)
    ax.set_yticks(np.arange(len(sk)), list(sk["model"]))
    ax.axvline(0, color="grey", lw=1)
    ax.set_xlabel("skill vs Naive (MAE), 95% block-bootstrap interval")
    return fig


def _cells_table(study: Study) -> pd.DataFrame:
    store = study.store()
    try:
        rows = [{**c["factors"], "status": c["status"], "attempts": c["attempts"],
                 "seconds": c["seconds"], "error": (c["error"] or "").strip().splitlines()[-1:] or [""]}
                for c in store.cells()]
    finally:
        store.close()
    for row in rows:
        row["error"] = row["error"][0]
        row.update({k: _label(v) for k, v in row.items() if isinstance(v, dict)})
    return pd.DataFrame(rows)


def _label(level: dict[str, Any]) -> str:
    """A forecaster factor level in a table: its alias, else its name and options."""
    if level.get("alias"):
        return str(level["alias"])
    return " ".join([str(level.get("name", ""))] + [f"{k}={v}" for k, v in level.items() if k != "name"])


def design_tables(group: dict[str, Any], band: tuple[float, float] = (0.75, 0.85),
                  alpha: float = 0.05) -> dict[str, Any]:
    """One design's tables: scores (skill and Diebold–Mariano against the baselines among its cells),
    the outcome-free checks, the reward accounting and the verdict sentences."""
    from alignlab.forecast._backtest import evaluate
    from alignlab.forecast._report_sections import rationality_table, verdict_lines
    from alignlab.forecast._rewards import reward_summary

    cfg, result = group["config"], group["result"]
    scores = evaluate(result, level=cfg.level)
    rationality = rationality_table(result, alpha)
    verdicts = verdict_lines(scores, rationality, h=cfg.h, level=cfg.level, band=band, alpha=alpha,
                             unit="weeks" if cfg.weekly else "steps")
    return {"scores": scores, "rationality": rationality, "rewards": reward_summary(result.chains, result.models),
            "verdicts": verdicts, "result": result}


def write_report(study: Study, designs: list[tuple[dict[str, Any], dict[str, Any]]] | None = None) -> list[Path]:
    """Write ``report.html`` and ``summary.md`` into the study folder (also mid-run: done cells only).

    ``designs``: the (group, :func:`design_tables`) pairs when the caller has computed them already (the
    bootstrap intervals take a while on long backtests); by default they are computed here.
    """
    from alignlab.forecast._report_sections import calibration_section, rationality_section, rewards_section

    band = (0.75, 0.85)
    if designs is None:
        designs = [(group, design_tables(group, band)) for group in group_results(study)]
    groups = [group for group, _ in designs]
    cells = _cells_table(study)
    done = int((cells["status"] == "done").sum()) if len(cells) else 0
    report = Report(f"Forecast backtest: {study.spec.name}",
                    subtitle=f"{done} of {len(cells)} cells done; study folder {study.directory}")
    report.paragraph(
        "Errors are scaled by the value at the origin and pooled over series; skill is 1 - MAE/MAE(Naive) "
        "with a moving-block bootstrap interval; the Diebold-Mariano test averages the series at each origin "
        "and uses a Newey-West variance with ceil(h/step)-1 lags and the Harvey-Leybourne-Newbold correction. "
        "ac1 is the lag-1 autocorrelation of forecast revisions (0 for a rational forecaster). PIT and KS "
        "p-values ignore the overlap of windows and are descriptive.")
    for number, (group, tables) in enumerate(designs, 1):
        cfg, result = group["config"], group["result"]
        scores = tables["scores"]
        report.heading(_title(cfg), id=f"design-{number}")
        report.bullets([line.replace("**", "") for line in tables["verdicts"]])
        report.table(scores[[c for c in _SCORE_COLUMNS if c in scores.columns]], caption=f"Scores at {cfg.h} steps",
                     id=f"scores-{number}")
        fig = _skill_figure(scores)
        if fig is not None:
            report.figure(fig, "Skill against Naive with 95% intervals", id=f"skill-{number}")
        calibration_section(report, result, cfg.level, band, f"-{number}")
        rationality_section(report, result, tables["rationality"], f"-{number}")
        rewards_section(report, result, tables["rewards"], f"-{number}")
        report.table(pd.DataFrame({"model": list(result.seconds), "seconds": list(result.seconds.values())}),
                     caption="Backtest time per forecaster", id=f"timing-{number}")
    if not groups:
        report.paragraph("No cell has finished yet.")
    report.heading("Cells")
    if len(cells):
        report.table(cells, id="cells", float_format="{:.3g}")
    return report.write(study.directory)
