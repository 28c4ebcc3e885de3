"""``alignlab forecast``: recursive forecasting from the command line (thin layer over the Python API)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from pydantic import Field
from rich.console import Console
from rich.table import Table

from alignlab.core._cli import (
    Force,
    Json,
    Seed,
    build_config,
    check_options,
    out_option,
    output_dir,
    output_file,
    write_example,
)

app = typer.Typer(help="Recursive forecasting: long-horizon forecasts as a chain of short ones (TD learning).",
                  no_args_is_help=True)
console = Console()  # results (tables, JSON): stdout
messages = Console(stderr=True)  # progress and notes: stderr, so results can be piped

# Horizons and origin counts: at least 1, and bounded so a typo (--h 260000) fails at once instead of
# running for hours; real uses stay far below.
Horizon = Annotated[int, Field(ge=1, le=10_000)]
Count = Annotated[int, Field(ge=1, le=100_000)]


@app.command()
@check_options
def sutton(
    as_json: Json = False,
    seed: Seed = 0,
    sets: Annotated[int, typer.Option(help="Training sets.")] = 100,
    walks: Annotated[int, typer.Option(help="Walks per training set.")] = 10,
) -> None:
    """Reproduce Sutton (1988): bounded random walk, RMS error per lambda (repeated and single presentation);
    --json prints {"repeated": {...}, "single": {...}}."""
    from alignlab.forecast import SuttonConfig, sutton_random_walk

    config = build_config(SuttonConfig, {"n_sets": "--sets", "n_walks": "--walks"}, seed=seed, n_sets=sets, n_walks=walks)
    result = sutton_random_walk(config)
    if as_json:
        typer.echo(json.dumps({"repeated": result["repeated"], "single": result["single"]}))
        return
    table = Table(title="Sutton (1988) random walk: RMS error")
    for col in ("lambda", "repeated presentations", "single presentation (best alpha)", "best alpha"):
        table.add_column(col, justify="right")
    for lam in result["repeated"]:
        table.add_row(lam, f"{result['repeated'][lam]:.4f}", f"{result['single'][lam]:.4f}", f"{result['best_alpha'][lam]:.2f}")
    console.print(table)


@app.command()
@check_options
def stocks(
    out: Annotated[Path, out_option("Study folder (spec, results, report.html, summary.md); re-running resumes it.")]
    = Path("studies/forecast-stocks"),
    origins: Annotated[int, typer.Option(help="Forecast origins per series (at least 10).")] = 190,
    step: Annotated[int, typer.Option(help="Weeks between origins.")] = 4,
    refit: Annotated[int, typer.Option(help="Refit the learned models every this many weeks.")] = 52,
    as_json: Json = False,
) -> None:
    """S&P 500 and NASDAQ 26 weeks ahead: chained vs direct vs Naive/RWD, with an honest verdict.

    Runs a `forecast` study (one cell per forecaster) in --out, so `alignlab studies` lists it, `alignlab
    report` rewrites its report and running the command again resumes it. --json prints {"verdicts": [...],
    "scores": [{model, mae, ...}, ...]}."""
    from alignlab.forecast import StocksConfig, run_stocks

    config = build_config(StocksConfig, {"n_windows": "--origins", "step_size": "--step"},
                          n_windows=origins, step_size=step, refit=refit)
    output_dir(out)
    result = run_stocks(out, config, progress=not as_json)
    if as_json:
        scores = result["scores"].astype(object).where(result["scores"].notna(), None)
        typer.echo(json.dumps({"verdicts": [line.replace("**", "") for line in result["verdicts"]],
                               "scores": scores.to_dict(orient="records")}))
        return
    for line in result["verdicts"]:
        console.print("• " + line.replace("**", ""), highlight=False)
    messages.print(f"Wrote {out / 'report.html'} and {out / 'summary.md'} ({result['seconds']:.0f} s).")


@app.command()
@check_options
def lm(
    model: Annotated[str, typer.Option(help="Model spec (alignlab model registry).")] = "bundled:smollm2-135m",
    series: Annotated[str, typer.Option(help="Bundled series (sp500, nasdaq, msft) or a CSV/Parquet file.")] = "sp500",
    origins: Annotated[Count, typer.Option(help="Number of origins.")] = 3,
    h: Annotated[Horizon, typer.Option(help="Chain length in weeks.")] = 8,
    history: Annotated[Count, typer.Option(help="Weeks of history in each prompt.")] = 12,
    out: Annotated[Path, out_option("Folder for the JSONL log and the table.")] = Path("forecast-lm"),
) -> None:
    """Elicit chained forecasts from a language model and show the rewards each answer earns."""
    from alignlab.forecast import (
        BUNDLED_SERIES,
        LMForecaster,
        load_series,
        read_series,
        run_lm_chain,
        to_weekly,
    )

    output_dir(out)
    df = to_weekly(load_series(series)) if series in BUNDLED_SERIES else read_series(series)
    if series in BUNDLED_SERIES:
        df = df[df["ds"] >= df["ds"].max() - __import__("pandas").Timedelta(weeks=260)].reset_index(drop=True)
    forecaster = LMForecaster(model=model, history=history)
    with messages.status(f"Loading {model} and asking {origins * h} questions…"):
        frame = run_lm_chain(forecaster, df, h=h, origins=origins, log_path=str(out / "lm_chain.jsonl"))
    frame.drop(columns=["prompt"]).to_csv(out / "lm_chain.csv", index=False)
    table = Table(title=f"{model}: chained forecasts of {series}")
    for col in ("origin", "step", "answer", "forecast", "next", "reward_chain", "reward_self"):
        table.add_column(col)
    for _, r in frame.iterrows():
        table.add_row(f"{r['origin']:%Y-%m-%d}", str(r["step"]), repr(r["answer"][:40]), f"{r['forecast']:.1f}",
                      f"{r['next_forecast']:.1f}", f"{r['reward_chain']:.4f}", f"{r['reward_self']:.4f}")
    console.print(table)
    messages.print(f"Parsed {frame['parsed'].mean():.0%} of answers; mean chain reward {frame['reward_chain'].mean():.4f}, "
                  f"mean outcome reward {frame['reward_outcome'].mean():.4f}. Log: {out / 'lm_chain.jsonl'}")


@app.command()
@check_options
def backtest(
    data: Annotated[str, typer.Option(help="CSV/Parquet long frame (unique_id, ds, y) or a bundled name.")],
    h: Annotated[Horizon, typer.Option(help="Horizon.")] = 26,
    origins: Annotated[Count, typer.Option(help="Origins per series.")] = 50,
    step: Annotated[Count, typer.Option(help="Steps between origins.")] = 4,
    models: Annotated[str, typer.Option(
        help="Comma-separated registry names; statsforecast:MODEL for statsforecast models.")
    ] = "linear,statsforecast:Naive,statsforecast:RandomWalkWithDrift",
    target: Annotated[Literal["td0", "td_lambda", "mc"], typer.Option(
        help="Chained target for learned models: td0, td_lambda or mc.")] = "td0",
    weekly: Annotated[bool, typer.Option(help="Resample to weekly first.")] = False,
    cv_out: Annotated[Path | None, typer.Option(
        help="Write the statsforecast cross_validation frame here (.csv or .parquet).")] = None,
) -> None:
    """Rolling-origin backtest of registered forecasters, with scores and outcome-free checks."""
    from alignlab.core import AlignlabError, create
    from alignlab.forecast import (
        BUNDLED_SERIES,
        ChainedConfig,
        ChainedForecaster,
        evaluate,
        load_series,
        read_series,
        revision_autocorrelation,
        to_weekly,
        write_cross_validation,
    )
    from alignlab.forecast import (
        backtest as run_backtest,
    )

    if cv_out is not None:
        output_file(cv_out, "--cv-out", suffixes=(".csv", ".parquet"))
    # Every forecaster is built and its settings checked before the data are read: a bad name fails at once.
    forecasters = []
    for spec in [s.strip() for s in models.split(",") if s.strip()]:
        name, _, arg = spec.partition(":")
        if name == "statsforecast":
            forecasters.append(create("forecaster", name, model=arg or "Naive"))
        elif name in ("linear", "gbm", "mlp"):
            forecasters.append(create("forecaster", name, h=h, target=target, distribution="quantile" if name != "mlp" else "point"))
        else:
            forecasters.append(create("forecaster", name))
        if isinstance(forecasters[-1], ChainedForecaster):
            build_config(ChainedConfig, **forecasters[-1].get_params())
    if not forecasters:
        raise AlignlabError(f"--models names no model (got {models!r}); e.g. linear,statsforecast:Naive.")
    df = load_series(data) if data in BUNDLED_SERIES else read_series(data)
    if weekly or data in BUNDLED_SERIES:
        df = to_weekly(df)
    result = run_backtest(df, forecasters, h=h, n_windows=origins, step_size=step, progress=True)
    scores = evaluate(result)
    table = Table(title=f"h={h}: scores (errors scaled by the origin value)")
    for col in ("model", "MAE", "CRPS", "coverage 80", "skill vs Naive", "DM p", "revision ac1"):
        table.add_column(col, justify="right")
    for _, r in scores.iterrows():
        ac = revision_autocorrelation(result.chains, r["model"])["ac"]
        table.add_row(r["model"], f"{r['mae']:.4f}", f"{r.get('crps', float('nan')):.4f}", f"{r.get('coverage', float('nan')):.2f}",
                      f"{r.get('skill_Naive', float('nan')):+.3f}", f"{r.get('p_Naive', float('nan')):.3f}", f"{ac:+.3f}")
    console.print(table)
    if cv_out is not None:
        write_cross_validation(result.cv, cv_out)
        messages.print(f"Wrote {cv_out}")


@app.command()
@check_options
def collusion(h: Annotated[Horizon, typer.Option(help="Chain length.")] = 26) -> None:
    """Simulate an honest and a colluding forecaster with and without the outcome anchor."""
    from alignlab.forecast import simulate_collusion

    frame = simulate_collusion(h=h)
    table = Table(title="Mean rewards (losses scaled by the start value)")
    for col in frame.columns:
        table.add_column(col, justify="right")
    for _, r in frame.iterrows():
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in r])
    console.print(table)


@app.command()
@check_options
def data(
    name: Annotated[str, typer.Argument(help="Bundled series: sp500, nasdaq or msft.")],
    out: Annotated[Path, out_option("CSV or Parquet file to write (long format).")] = Path("series.csv"),
    weekly: Annotated[bool, typer.Option(help="Resample to weekly (last value of each week).")] = True,
) -> None:
    """Export a bundled real series in the long format (unique_id, ds, y)."""
    from alignlab.forecast import load_series, to_weekly

    output_file(out, suffixes=(".csv", ".parquet"))
    df = load_series(name)
    df = to_weekly(df) if weekly else df
    df.to_csv(out, index=False) if out.suffix.lower() == ".csv" else df.to_parquet(out, index=False)
    messages.print(f"Wrote {len(df)} rows of {name} to {out}")


@app.command()
@check_options
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the example spec.")] = Path("forecast-study.yaml"),
    force: Force = False,
) -> None:
    """Write a commented example spec of a forecast backtest study (`alignlab run` runs it)."""
    from alignlab.forecast._study import EXAMPLE_SPEC

    write_example(path, EXAMPLE_SPEC, force=force)

