"""Sections of the forecast study's report: verdicts, calibration, checks without outcomes, rewards.

Each function adds one section for one design (a group of cells that share data and backtest settings,
joined into one :class:`~alignlab.forecast.BacktestResult`) to a :class:`~alignlab.core.Report`. Figures
go to the page only; the tables also go to ``summary.md``. ``suffix`` keeps anchors unique when a report
holds several designs (``coverage-1``, ``coverage-2``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alignlab.core._report import Report, new_figure

__all__ = ["calibration_section", "rationality_section", "rationality_table", "rewards_section", "verdict_lines"]


def rationality_table(result: Any, alpha: float = 0.05) -> pd.DataFrame:
    """Per model: revision autocorrelation and its p, the Augenblick–Rabin excess movement ratio, and the
    count of significant Patton–Timmermann variance-bound violations."""
    from alignlab.forecast._rationality import excess_movement, revision_autocorrelation, variance_bounds

    rows = []
    for m in result.models:
        ac = revision_autocorrelation(result.chains, m)
        em = excess_movement(result.chains, m)
        vb = variance_bounds(result.chains, m)
        rows.append({"model": m, "ac1": float(ac["ac"]), "ac1_p": float(ac["p"]), "excess_movement": em["ratio"],
                     "excess_movement_se": em.get("se", np.nan), "variance_bound_violations": int(vb["violation"].sum())})
    return pd.DataFrame(rows)


def calibration_section(report: Report, result: Any, level: float, band: tuple[float, float], suffix: str) -> None:
    """Coverage of the ``level`` interval by horizon, and PIT histograms at the full horizon."""
    from alignlab.forecast._scores import pit_values, quantile_columns

    report.heading("Calibration", level=3)
    cv = result.cv.copy()
    cv["horizon"] = cv.groupby(["unique_id", "cutoff"]).cumcount() + 1
    lv = int(level) if float(level).is_integer() else level
    fig, ax = new_figure(7, 3.5)
    for m in result.models:
        lo, hi = f"{m}-lo-{lv}", f"{m}-hi-{lv}"
        if lo in cv.columns:
            cov = ((cv["y"] >= cv[lo]) & (cv["y"] <= cv[hi])).groupby(cv["horizon"]).mean()
            ax.plot(cov.index, cov.to_numpy(), label=m)
    ax.axhspan(*band, color="green", alpha=0.1)
    ax.axhline(level / 100, color="grey", lw=1, ls="--")
    ax.set_xlabel("steps ahead")
    ax.set_ylabel(f"coverage of {level:g}% interval")
    ax.legend()
    report.figure(fig, f"Coverage of the {level:g}% intervals by horizon (band: counted as calibrated)",
                  id=f"coverage{suffix}")
    first = result.chains[result.chains["step"] == 0]
    fig, _ = new_figure(9, 2.6)
    fig.clear()
    axes = fig.subplots(1, len(result.models), sharey=True)
    scale = first["y_origin"].to_numpy()
    for axis, m in zip(np.atleast_1d(axes), result.models):
        cols, taus = quantile_columns(first, m)
        if cols:
            pit = pit_values(first["y_target"].to_numpy() / scale, first[cols].to_numpy() / scale[:, None], taus)
            axis.hist(pit, bins=10, range=(0, 1), density=True)
        axis.axhline(1, color="grey", lw=1)
        axis.set_title(m, fontsize=9)
    report.figure(fig, f"PIT histograms at {result.h} steps (flat = calibrated)", id=f"pit{suffix}")


def rationality_section(report: Report, result: Any, rationality: pd.DataFrame, suffix: str) -> None:
    """The checks that need no outcome: the table, and the revision autocorrelation by lag."""
    from alignlab.forecast._rationality import revisions

    report.heading("Checks without outcomes", level=3)
    report.table(rationality, id=f"rationality{suffix}")
    report.paragraph(
        "A rational chain of forecasts of one date is a martingale: revisions are uncorrelated (ac1 near 0), "
        "the variance of the forecasts rises as the date nears (Patton-Timmermann: count of significant "
        "violations), and the summed squared revisions equal the fall of the forecaster's stated variance "
        "(Augenblick-Rabin ratio 1; above 1 over-reaction).")
    lags = range(1, min(8, result.h - 2) + 1)
    if not len(lags):
        return
    fig, ax = new_figure(7, 3.2)
    for m in result.models:
        R = revisions(result.chains, m)
        acs = [np.sum(R[:, :-k] * R[:, k:]) / np.sqrt(np.sum(R[:, :-k] ** 2) * np.sum(R[:, k:] ** 2)) for k in lags]
        ax.plot(list(lags), acs, marker="o", label=m)
    ax.axhline(0, color="grey", lw=1)
    ax.set_xlabel("lag (steps)")
    ax.set_ylabel("revision autocorrelation")
    ax.legend()
    report.figure(fig, "Autocorrelation of forecast revisions", id=f"revisions{suffix}")


def rewards_section(report: Report, result: Any, rewards: pd.DataFrame, suffix: str) -> None:
    """Reward accounting of the chains, and the simulated colluder with and without the outcome anchor."""
    from alignlab.forecast._rewards import simulate_collusion, td_anchor_dynamics

    report.heading("Reward accounting", level=3)
    report.paragraph(
        "Each step's reward is -(forecast - next forecast)^2 and the last step's -(forecast - outcome)^2 "
        "(scaled by the origin value). A myopic learner sees only the intermediate terms; the final term, "
        "against an outcome it cannot touch, is what ties the chain to reality.")
    report.table(rewards, id=f"rewards{suffix}", float_format="{:.3g}")
    report.table(simulate_collusion(h=result.h), caption="Simulation: honest vs a colluding constant forecaster "
                 "(2x the start value)", id=f"collusion{suffix}", float_format="{:.3g}")
    fig, ax = new_figure(7, 3.2)
    for anchored, style in ((True, "-"), (False, "--")):
        hist = td_anchor_dynamics(h=result.h, anchored=anchored)
        ax.plot(hist[:, -1], style, label="anchored" if anchored else "no outcome anchor")
    ax.set_xlabel("fitted-TD iteration")
    ax.set_ylabel(f"forecast of the {result.h}-step ratio")
    ax.legend()
    report.figure(fig, "Fitted TD from a colluding start: only the outcome anchor pulls the chain to the truth",
                  id=f"anchor{suffix}")


def verdict_lines(scores: pd.DataFrame, rationality: pd.DataFrame, *, h: int, level: float,
                  band: tuple[float, float] = (0.75, 0.85), alpha: float = 0.05, unit: str = "steps") -> list[str]:
    """Plain-language verdicts generated from the numbers (never claims more than they support).

    An improvement on Naive is claimed only with a Diebold–Mariano p below ``alpha``; ``level`` % intervals
    are called calibrated at ``h`` steps (``unit`` says what a step is) only with a coverage inside
    ``band``; revisions are judged by the p of their lag-1 autocorrelation.
    """
    lines = []
    lo_band, hi_band = band
    for _, row in scores.iterrows():
        m = row["model"]
        parts = []
        if "p_Naive" in row and pd.notna(row.get("p_Naive")):
            sk = f"skill vs Naive {row['skill_Naive']:+.3f} [95% CI {row['skill_Naive_lo']:+.3f}, {row['skill_Naive_hi']:+.3f}], DM p = {row['p_Naive']:.3f}"
            if row["p_Naive"] < alpha and row["skill_Naive"] > 0:
                parts.append(f"improves on Naive ({sk})")
            elif row["p_Naive"] < alpha and row["skill_Naive"] < 0:
                parts.append(f"is significantly worse than Naive ({sk})")
            else:
                parts.append(f"shows no significant improvement over Naive ({sk})")
        cov = row.get("coverage")
        if cov is not None and pd.notna(cov):
            if lo_band <= cov <= hi_band:
                parts.append(f"its {level:g}% intervals are calibrated at {h} {unit} (coverage {cov:.2f})")
            else:
                parts.append(
                    f"its {level:g}% intervals are NOT calibrated at {h} {unit} (coverage {cov:.2f}, outside "
                    f"[{lo_band:.2f}, {hi_band:.2f}])"
                )
        rat = rationality[rationality["model"] == m]
        if len(rat):
            r = rat.iloc[0]
            if r["ac1_p"] < alpha:
                parts.append(f"its revisions are NOT a martingale (lag-1 autocorrelation {r['ac1']:+.3f}, p = {r['ac1_p']:.3f})")
            else:
                parts.append(f"its revisions are consistent with a martingale (lag-1 autocorrelation {r['ac1']:+.3f}, p = {r['ac1_p']:.3f})")
        if m == "Naive":
            parts.insert(0, "is the baseline")
        lines.append(f"**{m}**: " + "; ".join(parts) + ".")
    return lines
