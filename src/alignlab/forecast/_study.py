"""The forecast backtest as a study kind: series × forecaster (× any other field) × seeds on the core engine.

One cell is one forecaster on one data set. Its stages are content-addressed, so a grid that adds a
forecaster reruns only that forecaster's backtest, and every forecaster on a data set shares its ``data``:

- ``data``: load and validate the series (inputs: the series settings only); writes ``series.parquet``;
- ``backtest``: the rolling-origin backtest of the cell's forecaster; writes ``chains.parquet`` and
  ``cv.parquet``;
- ``evaluate``: the cell's own scores at the full horizon (MAE, CRPS, coverage, PIT, revision
  autocorrelation), logged as metrics.

Comparisons across cells (skill against Naive, Diebold–Mariano p, verdicts) are the report's
(:mod:`alignlab.forecast._study_report`). ``alignlab run`` takes the spec::

    study: forecast
    name: backtest
    series: sp500
    h: 8
    origins: 12
    forecaster:                    # a factor whose levels are whole forecaster settings
      - {name: linear, target: td0, distribution: quantile, alias: chained-td0}
      - {name: statsforecast, model: Naive}
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alignlab.core._errors import AlignlabError
from alignlab.core._registry import check_part_options, create, register, registered
from alignlab.core._spec import StudySpec
from alignlab.core._study import Stage, StageContext, Study

# The registry imports this module whenever it loads the built-ins (any study kind, any command), so it
# imports nothing heavy at the top: forecast._backtest pulls scipy and pandas (seconds). Same levels as
# forecast._backtest.DEFAULT_LEVELS (test_study checks they agree).
DEFAULT_LEVELS = (10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0)

__all__ = ["ForecastConfig", "ForecastStudy", "ForecasterChoice"]

EXAMPLE_SPEC = """\
# A forecast backtest: every forecaster on every series, scored at the full horizon.
study: forecast
name: forecast-backtest
seeds: 1
series: sp500            # bundled (sp500, nasdaq, msft) or a CSV/Parquet file; a+b pools; a list is a factor
weekly: true             # resample daily data to weekly (last value of the week)
h: 8                     # horizon in steps (chain length)
origins: 12              # forecast origins per series
step: 4                  # steps between origins
refit: 52                # refit the forecasters every this many steps
forecaster:              # a factor: one cell per forecaster
  - {name: linear, target: td0, distribution: quantile, alias: chained-td0}
  - {name: linear, target: mc, distribution: quantile, alias: direct-mc}
  - {name: statsforecast, model: Naive}
  - {name: statsforecast, model: RandomWalkWithDrift}
"""


class ForecasterChoice(BaseModel):
    """A forecaster from the registry (kind ``forecaster``) and its options.

    Every key besides ``name`` is an option of that forecaster (``target``, ``distribution``, ``model``,
    ``alias``...). Unknown keys are allowed here only because each forecaster takes its own; they are
    checked against the forecaster's signature at validation, so a typo still fails before any cell runs.
    """

    model_config = ConfigDict(extra="allow")

    name: Annotated[str, registered("forecaster")] = Field(
        "linear", description="Registered forecaster: linear, gbm, mlp, statsforecast, lm or a plugin's.")

    @model_validator(mode="after")
    def _known_options(self) -> ForecasterChoice:
        options = self.options()
        try:
            check_part_options("forecaster", self.name, options, where="forecaster")
            if self.name in _CHAINED:  # their factory takes **kwargs; the trainer's config names the options
                from alignlab.forecast._chained_config import ChainedConfig

                ChainedConfig.model_validate({"learner": self.name, **options})
        except AlignlabError as exc:
            raise ValueError(str(exc)) from None
        return self

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


# Forecasters built on ChainedForecaster: they are trained for a horizon, which the cell's ``h`` sets.
_CHAINED = ("linear", "gbm", "mlp")


class ForecastConfig(BaseModel):
    """One backtest cell: one forecaster on one data set."""

    model_config = ConfigDict(extra="forbid")

    # --- data ---
    series: str = Field("sp500", description="Bundled series name (sp500, nasdaq, msft) or a CSV/Parquet file; "
                        "several joined by '+' (sp500+nasdaq) are one data set, scored pooled.")
    weekly: bool = Field(True, description="Resample to weekly values (last of each week) before the backtest.")
    # --- backtest ---
    h: int = Field(8, ge=2, description="Horizon in steps: the chain length and the horizon scored.")
    origins: int = Field(12, ge=2, description="Forecast origins per series (statsforecast's n_windows).")
    step: int = Field(4, ge=1, description="Steps between origins.")
    refit: int = Field(52, ge=1, description="Refit the forecaster every this many steps.")
    levels: tuple[float, ...] = Field(DEFAULT_LEVELS, min_length=1, description="Interval levels forecast (%).")
    forecaster: ForecasterChoice = Field(default_factory=ForecasterChoice, description="The forecaster and its options.")
    # --- evaluation ---
    level: float = Field(80, gt=0, lt=100, description="Interval level whose coverage is scored; one of levels.")
    seed: int = Field(0, ge=0, description="Seed (set by the spec's 'seeds'), passed to forecasters that take one.")

    @model_validator(mode="after")
    def _level_is_forecast(self) -> ForecastConfig:
        if self.level not in self.levels:
            raise ValueError(f"level {self.level:g} is not one of levels {list(self.levels)}")
        return self


def build_forecaster(cfg: ForecastConfig) -> Any:
    """The cell's forecaster, trained for the cell's horizon and seeded by its seed unless its options say."""
    options = cfg.forecaster.options()
    if cfg.forecaster.name in _CHAINED:
        options = {"h": cfg.h, "seed": cfg.seed} | options
    return create("forecaster", cfg.forecaster.name, **options)


def series_parts(series: str) -> list[str]:
    """The series a data set pools: ``sp500+nasdaq`` is two, when each part is a bundled name or a file
    (a file whose own name holds a '+' is one series)."""
    from alignlab.forecast._data import BUNDLED_SERIES

    parts = series.split("+")
    if len(parts) > 1 and all(p in BUNDLED_SERIES or Path(p).expanduser().is_file() for p in parts):
        return parts
    return [series]


def load_frame(cfg: ForecastConfig):
    import pandas as pd

    from alignlab.forecast._data import BUNDLED_SERIES, load_series, read_series, to_weekly

    frames = []
    for part in series_parts(cfg.series):
        df = load_series(part) if part in BUNDLED_SERIES else read_series(part)
        frames.append(to_weekly(df) if cfg.weekly else df)
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


# --- stages ----------------------------------------------------------------------------------------------

def data_stage(ctx: StageContext) -> dict[str, Any]:
    """Load and validate the series once for every forecaster on it."""
    df = load_frame(ctx.config)
    df.to_parquet(ctx.directory / "series.parquet", index=False)
    return {"rows": len(df), "series": sorted(df["unique_id"].unique()),
            "start": str(df["ds"].min()), "end": str(df["ds"].max())}


class _Counted:
    """A forecaster that advances a progress bar at every fit (once per refit block of the backtest).

    Attribute access goes to the wrapped forecaster, so the backtest sees exactly its methods (it takes
    a fast path when ``_predict_at`` exists)."""

    def __init__(self, inner: Any, advance: Any):
        self._inner, self._advance = inner, advance

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def fit(self, df: Any) -> _Counted:
        self._inner.fit(df)
        self._advance(1)
        return self


def backtest_stage(ctx: StageContext) -> dict[str, Any]:
    """The rolling-origin backtest of this cell's forecaster; chains and origin forecasts as Parquet."""
    import pandas as pd

    from alignlab.forecast._backtest import backtest

    cfg: ForecastConfig = ctx.config
    df = pd.read_parquet(ctx.artifacts["data"] / "series.parquet")
    forecaster = build_forecaster(cfg)
    cutoffs = cfg.h + cfg.step * (cfg.origins - 1)  # every step of the test period is forecast from
    advance = ctx.progress(f"backtest {forecaster.name}", math.ceil(cutoffs / cfg.refit))
    result = backtest(df, [_Counted(forecaster, advance)], h=cfg.h, n_windows=cfg.origins, step_size=cfg.step,
                      level=cfg.levels, refit=cfg.refit)
    result.chains.to_parquet(ctx.directory / "chains.parquet", index=False)
    result.cv.to_parquet(ctx.directory / "cv.parquet", index=False)
    return {"model": forecaster.name, "seconds": result.seconds[forecaster.name], "chains": len(result.chains)}


def read_result(cfg: ForecastConfig, folder: Path, model: str):
    """A cell's :class:`BacktestResult` from its backtest artifacts."""
    import pandas as pd

    from alignlab.forecast._backtest import BacktestResult

    return BacktestResult(cv=pd.read_parquet(folder / "cv.parquet"), chains=pd.read_parquet(folder / "chains.parquet"),
                          models=[model], h=cfg.h, step_size=cfg.step)


def cell_scores(result: Any, level: float) -> dict[str, float]:
    """One model's scores at the full horizon (no baselines) and its revision autocorrelation."""
    from alignlab.forecast._backtest import evaluate
    from alignlab.forecast._rationality import revision_autocorrelation

    model = result.models[0]
    row = evaluate(result, baselines=(), level=level).iloc[0].to_dict()
    ac = revision_autocorrelation(result.chains, model)
    scores = {k: float(v) for k, v in row.items() if k != "model"}
    return scores | {"ac1": float(ac["ac"]), "ac1_p": float(ac["p"])}


def evaluate_stage(ctx: StageContext) -> dict[str, Any]:
    """Score the cell's forecasts on their own; comparisons between cells are the report's."""
    cfg: ForecastConfig = ctx.config
    model = ctx.results["backtest"]["model"]
    scores = cell_scores(read_result(cfg, ctx.artifacts["backtest"], model), cfg.level)
    for name, value in scores.items():
        if math.isfinite(value):
            ctx.log(cfg.h, name, value)
    return {"model": model, "scores": {k: (v if math.isfinite(v) else None) for k, v in scores.items()}}


def _file_digest(series: str) -> str | None:
    """A data file's content hash, so that editing the file makes a new data stage (a path alone would not)."""
    import hashlib

    from alignlab.forecast._data import BUNDLED_SERIES

    digests = []
    for part in series_parts(series):
        path = Path(part).expanduser()
        if part not in BUNDLED_SERIES and path.is_file():
            digests.append(hashlib.sha256(path.read_bytes()).hexdigest()[:16])
    # One file keeps the digest it always had, so existing study folders keep their data stage.
    return None if not digests else digests[0] if len(digests) == 1 else "+".join(digests)


@register("study", "forecast")
class ForecastStudy:
    """Forecast backtests: every forecaster on every data set, resumable, scored against Naive in the report."""

    name = "forecast"
    config_class = ForecastConfig
    example_spec = EXAMPLE_SPEC
    init_command = "alignlab forecast init"

    def check(self, spec: StudySpec) -> None:
        """Fail before any cell runs: every data file must exist and every forecaster must build."""
        from alignlab.forecast._data import BUNDLED_SERIES

        for series in sorted({p for c in spec.cells for p in series_parts(c.config.series)}):
            if series not in BUNDLED_SERIES and not Path(series).expanduser().is_file():
                raise AlignlabError(f"field 'series': '{series}' is neither a bundled series "
                                    f"({', '.join(BUNDLED_SERIES)}) nor an existing CSV/Parquet file.")
        for cell in spec.cells:
            try:
                _ = build_forecaster(cell.config).name  # statsforecast resolves its model name here
            except AlignlabError as exc:
                raise AlignlabError(f"field 'forecaster': {exc}") from None

    def stages(self, config: ForecastConfig) -> list[Stage]:
        c = config.model_dump(mode="json")
        backtest_inputs = {k: c[k] for k in ("forecaster", "h", "origins", "step", "refit", "levels", "seed")}
        return [
            Stage("data", {"series": c["series"], "weekly": c["weekly"], "file": _file_digest(config.series)}, data_stage),
            Stage("backtest", backtest_inputs, backtest_stage),
            Stage("evaluate", {"level": c["level"]}, evaluate_stage),
        ]

    def report(self, study: Study) -> list[Path]:
        from alignlab.forecast._study_report import write_report

        return write_report(study)
