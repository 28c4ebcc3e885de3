"""The stock prototype: S&P 500 and NASDAQ six months (26 weekly steps) ahead, chained vs direct vs baselines.

A ``forecast`` study (:mod:`alignlab.forecast._study`) on the core engine: one cell per forecaster on the
pooled weekly series, so the output folder is a study folder (``alignlab studies`` lists it, ``alignlab
report`` rewrites its ``report.html`` and ``summary.md``, and running it again resumes). Every verdict
sentence is generated from the statistics: an improvement is claimed only with a Diebold–Mariano
p < 0.05, interval calibration is stated as measured.

Example::

    run_stocks("studies/stocks", StocksConfig(n_windows=40))
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["StocksConfig", "run_stocks", "stocks_spec"]


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


def stocks_spec(cfg: StocksConfig, name: str = "forecast-stocks") -> dict[str, Any]:
    """The ``forecast`` study spec of the prototype: chained TD(0) and direct (Monte Carlo) linear quantile
    forecasters against Naive and random walk with drift, on the series pooled into one data set."""
    return {
        "study": "forecast", "name": name, "seeds": [0], "series": "+".join(cfg.series), "weekly": True,
        "h": cfg.h, "origins": cfg.n_windows, "step": cfg.step_size, "refit": cfg.refit, "level": cfg.level,
        "forecaster": [
            {"name": "linear", "target": "td0", "distribution": "quantile", "alias": "chained-td0"},
            {"name": "linear", "target": "mc", "distribution": "quantile", "alias": "direct-mc"},
            {"name": "statsforecast", "model": "Naive"},
            {"name": "statsforecast", "model": "RandomWalkWithDrift"},
        ],
    }


def run_stocks(out: str | Path, config: StocksConfig | None = None, *, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) the prototype as a study in ``out``, which then holds ``report.html`` and
    ``summary.md``; returns the tables of its one design, the verdicts, the study and the seconds taken.

    Raises :class:`~alignlab.core.AlignlabError` if a cell failed (the run has said which and why).
    """
    from alignlab.core._errors import AlignlabError
    from alignlab.core._study import Study
    from alignlab.forecast._rewards import simulate_collusion
    from alignlab.forecast._study_report import design_tables, group_results, write_report

    cfg = config or StocksConfig()
    out = Path(out)
    name = out.name if out.name not in ("", ".", "..") else "forecast-stocks"
    started = time.perf_counter()
    study = Study.from_data(stocks_spec(cfg, name), out=out, where="the stocks options")
    counts = study.run(show_progress=progress, report=False)  # the report below reuses the tables
    if counts.get("failed"):
        raise AlignlabError(f"{counts['failed']} of the stock study's cells failed (see above); the finished ones "
                            f"are kept, so running it again retries only those: {study.resume_command()}")
    groups = group_results(study)
    tables = design_tables(groups[0], cfg.coverage_band, cfg.alpha)
    write_report(study, [(groups[0], tables)])
    return tables | {"collusion": simulate_collusion(h=cfg.h), "study": study,
                     "seconds": time.perf_counter() - started}
