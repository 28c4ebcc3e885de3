"""The stock prototype: S&P 500 and NASDAQ six months (26 weekly steps) ahead, chained vs direct vs baselines.

Writes ``report.html`` and ``summary.md``. Every verdict sentence is generated from the statistics:
an improvement is claimed only with a Diebold–Mariano p < 0.05, interval calibration is stated as
measured.

Example::

    run_stocks("out/stocks", StocksConfig(n_windows=40))
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["StocksConfig", "run_stocks", "verdict_lines"]


class StocksConfig(BaseModel):
    """Settings of the stock prototype."""

    model_config = ConfigDict(extra="forbid")

    series: tuple[str, ...] = Field(("sp500", "nasdaq"), description="Bundled series to forecast.")
    h: int = Field(26, ge=2, description="Horizon in weeks (chain length).")
    n_windows: int = Field(190, ge=10, description="Forecast origins per series.")
    step_size: int = Field(4, ge=1, description="Weeks between origins.")
    refit: int = Field(52, ge=1, description="Refit the learned models every this many weeks.")
    level: float = Field(80, gt=0, lt=100, description="Interval level whose coverage is judged.")
    coverage_band: tuple[float, float] = Field((0.75, 0.85), description="Coverage counted as calibrated.")
    alpha: float = Field(0.05, gt=0, lt=1, description="Significance level for claiming an improvement.")


def _models(cfg: StocksConfig) -> list[Any]:
    from alignlab.forecast._chained import ChainedForecaster
    from alignlab.forecast._statsforecast import StatsForecastModel

    return [
        ChainedForecaster("linear", h=cfg.h, target="td0", distribution="quantile", alias="chained-td0"),
        ChainedForecaster("linear", h=cfg.h, target="mc", distribution="quantile", alias="direct-mc"),
        StatsForecastModel("Naive"),
        StatsForecastModel("RandomWalkWithDrift"),
    ]


def verdict_lines(scores: pd.DataFrame, rationality: pd.DataFrame, cfg: StocksConfig) -> list[str]:
    """Plain-language verdicts generated from the numbers (never claims more than they support)."""
    lines = []
    lo_band, hi_band = cfg.coverage_band
    for _, row in scores.iterrows():
        m = row["model"]
        parts = []
        if "p_Naive" in row and pd.notna(row.get("p_Naive")):
            sk = f"skill vs Naive {row['skill_Naive']:+.3f} [95% CI {row['skill_Naive_lo']:+.3f}, {row['skill_Naive_hi']:+.3f}], DM p = {row['p_Naive']:.3f}"
            if row["p_Naive"] < cfg.alpha and row["skill_Naive"] > 0:
                parts.append(f"improves on Naive ({sk})")
            elif row["p_Naive"] < cfg.alpha and row["skill_Naive"] < 0:
                parts.append(f"is significantly worse than Naive ({sk})")
            else:
                parts.append(f"shows no significant improvement over Naive ({sk})")
        cov = row.get("coverage")
        if cov is not None and pd.notna(cov):
            if lo_band <= cov <= hi_band:
                parts.append(f"its {cfg.level:g}% intervals are calibrated at {cfg.h} weeks (coverage {cov:.2f})")
            else:
                parts.append(
                    f"its {cfg.level:g}% intervals are NOT calibrated at {cfg.h} weeks (coverage {cov:.2f}, outside "
                    f"[{lo_band:.2f}, {hi_band:.2f}])"
                )
        rat = rationality[rationality["model"] == m]
        if len(rat):
            r = rat.iloc[0]
            if r["ac1_p"] < cfg.alpha:
                parts.append(f"its revisions are NOT a martingale (lag-1 autocorrelation {r['ac1']:+.3f}, p = {r['ac1_p']:.3f})")
            else:
                parts.append(f"its revisions are consistent with a martingale (lag-1 autocorrelation {r['ac1']:+.3f}, p = {r['ac1_p']:.3f})")
        if m == "Naive":
            parts.insert(0, "is the baseline")
        lines.append(f"**{m}**: " + "; ".join(parts) + ".")
    return lines


def run_stocks(out: str | Path, config: StocksConfig | None = None, *, progress: bool = True) -> dict[str, Any]:
    """Run the prototype and write ``report.html`` and ``summary.md`` into ``out``; returns the tables."""
    from alignlab.core import HtmlReport, markdown_table, new_figure
    from alignlab.forecast._backtest import backtest, evaluate
    from alignlab.forecast._data import load_series, to_weekly
    from alignlab.forecast._rationality import excess_movement, revision_autocorrelation, variance_bounds
    from alignlab.forecast._rewards import reward_summary, simulate_collusion, td_anchor_dynamics
    from alignlab.forecast._scores import pit_values, quantile_columns

    cfg = config or StocksConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    df = pd.concat([to_weekly(load_series(name)) for name in cfg.series], ignore_index=True)
    result = backtest(df, _models(cfg), h=cfg.h, n_windows=cfg.n_windows, step_size=cfg.step_size,
                      refit=cfg.refit, progress=progress)
    scores = evaluate(result, level=cfg.level)
    rat_rows = []
    for m in result.models:
        ac = revision_autocorrelation(result.chains, m)
        em = excess_movement(result.chains, m)
        vb = variance_bounds(result.chains, m)
        rat_rows.append({"model": m, "ac1": ac["ac"], "ac1_p": ac["p"], "excess_movement": em["ratio"],
                         "excess_movement_se": em.get("se", np.nan), "variance_bound_violations": int(vb["violation"].sum())})
    rationality = pd.DataFrame(rat_rows)
    rewards = reward_summary(result.chains, result.models)
    collusion = simulate_collusion(h=cfg.h)
    verdicts = verdict_lines(scores, rationality, cfg)
    elapsed = time.perf_counter() - started

    first = result.chains[result.chains["step"] == 0]
    period = f"{first['origin'].min():%Y-%m-%d} to {first['origin'].max():%Y-%m-%d}"
    report = HtmlReport("Recursive forecasting: S&P 500 and NASDAQ, 26 weeks ahead",
                        subtitle=f"{cfg.n_windows} origins per series every {cfg.step_size} weeks ({period}); "
                                 f"refit every {cfg.refit} weeks; {elapsed:.0f} s")
    report.heading("Verdict")
    for line in verdicts:
        report.paragraph(line.replace("**", ""), css_class="note")
    report.paragraph(
        "Errors are scaled by the value at the origin and pooled over series; skill is 1 - MAE/MAE(Naive) "
        "with a moving-block bootstrap interval; the Diebold-Mariano test averages the two series at each "
        "origin and uses a Newey-West variance with ceil(h/step)-1 lags and the Harvey-Leybourne-Newbold "
        "correction. PIT and KS p-values ignore the overlap of windows and are descriptive."
    )
    report.heading("Scores at 26 weeks")
    report.table(scores, id="scores")
    fig, ax = new_figure(7, 3.2)
    sk = scores.dropna(subset=["skill_Naive"])
    ax.errorbar(sk["skill_Naive"], np.arange(len(sk)), xerr=[sk["skill_Naive"] - sk["skill_Naive_lo"],
                sk["skill_Naive_hi"] - sk["skill_Naive"]], fmt="o", capsize=4)
    ax.set_yticks(np.arange(len(sk)), sk["model"])
    ax.axvline(0, color="grey", lw=1)
    ax.set_xlabel("skill vs Naive (MAE), 95% block-bootstrap interval")
    report.figure(fig, "Skill against Naive with 95% intervals", id="skill")

    report.heading("Calibration")
    cv = result.cv.copy()
    cv["horizon"] = cv.groupby(["unique_id", "cutoff"]).cumcount() + 1
    lv = int(cfg.level) if float(cfg.level).is_integer() else cfg.level
    fig, ax = new_figure(7, 3.5)
    for m in result.models:
        lo, hi = f"{m}-lo-{lv}", f"{m}-hi-{lv}"
        if lo in cv.columns:
            cov = ((cv["y"] >= cv[lo]) & (cv["y"] <= cv[hi])).groupby(cv["horizon"]).mean()
            ax.plot(cov.index, cov.to_numpy(), label=m)
    ax.axhspan(*cfg.coverage_band, color="green", alpha=0.1)
    ax.axhline(cfg.level / 100, color="grey", lw=1, ls="--")
    ax.set_xlabel("weeks ahead")
    ax.set_ylabel(f"coverage of {cfg.level:g}% interval")
    ax.legend()
    report.figure(fig, f"Coverage of the {cfg.level:g}% intervals by horizon (band: counted as calibrated)", id="coverage")
    fig, axes = new_figure(9, 2.6)
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
    report.figure(fig, "PIT histograms at 26 weeks (flat = calibrated)", id="pit")

    report.heading("Checks without outcomes")
    report.table(rationality, id="rationality")
    report.paragraph(
        "A rational chain of forecasts of one date is a martingale: revisions are uncorrelated (ac1 near 0), "
        "the variance of the forecasts rises as the date nears (Patton-Timmermann: count of significant "
        "violations), and the summed squared revisions equal the fall of the forecaster's stated variance "
        "(Augenblick-Rabin ratio 1; above 1 over-reaction)."
    )
    fig, ax = new_figure(7, 3.2)
    from alignlab.forecast._rationality import revisions

    for m in result.models:
        R = revisions(result.chains, m)
        acs = [np.sum(R[:, :-k] * R[:, k:]) / np.sqrt(np.sum(R[:, :-k] ** 2) * np.sum(R[:, k:] ** 2)) for k in range(1, 9)]
        ax.plot(range(1, 9), acs, marker="o", label=m)
    ax.axhline(0, color="grey", lw=1)
    ax.set_xlabel("lag (weeks)")
    ax.set_ylabel("revision autocorrelation")
    ax.legend()
    report.figure(fig, "Autocorrelation of forecast revisions", id="revisions")

    report.heading("Reward accounting")
    report.paragraph(
        "Each step's reward is -(forecast - next forecast)^2 and the last step's -(forecast - outcome)^2 "
        "(scaled by the origin value). A myopic learner sees only the intermediate terms; the final term, "
        "against an outcome it cannot touch, is what ties the chain to reality."
    )
    report.table(rewards, id="rewards", float_format="{:.3g}")
    report.table(collusion, caption="Simulation: honest vs a colluding constant forecaster (2x the start value)",
                 id="collusion", float_format="{:.3g}")
    fig, ax = new_figure(7, 3.2)
    for anchored, style in ((True, "-"), (False, "--")):
        hist = td_anchor_dynamics(h=cfg.h, anchored=anchored)
        ax.plot(hist[:, -1], style, label="anchored" if anchored else "no outcome anchor")
    ax.set_xlabel("fitted-TD iteration")
    ax.set_ylabel(f"forecast of the {cfg.h}-week ratio")
    ax.legend()
    report.figure(fig, "Fitted TD from a colluding start: only the outcome anchor pulls the chain to the truth", id="anchor")
    report.heading("Run")
    report.table(pd.DataFrame({"model": list(result.seconds), "seconds": list(result.seconds.values())}), id="timing")
    report.write(out / "report.html")

    cols = ["model", "mae", "crps", "coverage", "skill_Naive", "skill_Naive_lo", "skill_Naive_hi", "p_Naive"]
    summary = [
        "# Recursive forecasting: S&P 500 and NASDAQ, 26 weeks ahead", "",
        f"{cfg.n_windows} origins per series every {cfg.step_size} weeks ({period}); refit every {cfg.refit} weeks.", "",
        "## Verdict", "", *[f"- {line}" for line in verdicts], "",
        "## Scores at 26 weeks (errors scaled by the origin value)", "",
        markdown_table(scores[[c for c in cols if c in scores.columns]]), "",
        "## Checks without outcomes", "", markdown_table(rationality), "",
        "## Reward accounting", "", markdown_table(rewards), "",
    ]
    (out / "summary.md").write_text("\n".join(summary), encoding="utf-8")
    return {"scores": scores, "rationality": rationality, "rewards": rewards, "collusion": collusion,
            "verdicts": verdicts, "result": result, "seconds": elapsed}
