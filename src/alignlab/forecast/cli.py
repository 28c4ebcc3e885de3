"""``alignlab forecast``: recursive forecasting from the command line (thin layer over the Python API)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alignlab.core import AlignlabError

app = typer.Typer(help="Recursive forecasting: long-horizon forecasts as a chain of short ones (TD learning).",
                  no_args_is_help=True)
console = Console()


@app.command()
def sutton(
    as_json: bool = typer.Option(False, "--json", help="Print {\"repeated\": {...}, \"single\": {...}} as JSON."),
    seed: int = typer.Option(0, help="Seed of the random walks."),
    sets: int = typer.Option(100, help="Training sets."),
    walks: int = typer.Option(10, help="Walks per training set."),
) -> None:
    """Reproduce Sutton (1988): bounded random walk, RMS error per lambda (repeated and single presentation)."""
    from alignlab.forecast import SuttonConfig, sutton_random_walk

    result = sutton_random_walk(SuttonConfig(seed=seed, n_sets=sets, n_walks=walks))
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
def stocks(
    out: Annotated[Path, typer.Option("--out", help="Directory for report.html and summary.md.")] = Path("forecast-stocks"),
    origins: int = typer.Option(190, help="Forecast origins per series."),
    step: int = typer.Option(4, help="Weeks between origins."),
    refit: int = typer.Option(52, help="Refit the learned models every this many weeks."),
) -> None:
    """S&P 500 and NASDAQ 26 weeks ahead: chained vs direct vs Naive/RWD, with an honest verdict."""
    from alignlab.forecast import StocksConfig, run_stocks

    result = run_stocks(out, StocksConfig(n_windows=origins, step_size=step, refit=refit))
    for line in result["verdicts"]:
        console.print("• " + line.replace("**", ""), highlight=False)
    console.print(f"Wrote {out / 'report.html'} and {out / 'summary.md'} ({result['seconds']:.0f} s).")


@app.command()
def lm(
    model: str = typer.Option("bundled:smollm2-135m", help="Model spec (alignlab model registry)."),
    series: str = typer.Option("sp500", help="Bundled series (sp500, nasdaq, msft) or a CSV/Parquet file."),
    origins: int = typer.Option(3, help="Number of origins."),
    h: int = typer.Option(8, help="Chain length in weeks."),
    history: int = typer.Option(12, help="Weeks of history in each prompt."),
    out: Annotated[Path, typer.Option("--out", help="Directory for the JSONL log and the table.")] = Path("forecast-lm"),
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

    df = to_weekly(load_series(series)) if series in BUNDLED_SERIES else read_series(series)
    if series in BUNDLED_SERIES:
        df = df[df["ds"] >= df["ds"].max() - __import__("pandas").Timedelta(weeks=260)].reset_index(drop=True)
    forecaster = LMForecaster(model=model, history=history)
    with console.status(f"Loading {model} and asking {origins * h} questions…"):
        frame = run_lm_chain(forecaster, df, h=h, origins=origins, log_path=str(out / "lm_chain.jsonl"))
    frame.drop(columns=["prompt"]).to_csv(out / "lm_chain.csv", index=False)
    table = Table(title=f"{model}: chained forecasts of {series}")
    for col in ("origin", "step", "answer", "forecast", "next", "reward_chain", "reward_self"):
        table.add_column(col)
    for _, r in frame.iterrows():
        table.add_row(f"{r['origin']:%Y-%m-%d}", str(r["step"]), repr(r["answer"][:40]), f"{r['forecast']:.1f}",
                      f"{r['next_forecast']:.1f}", f"{r['reward_chain']:.4f}", f"{r['reward_self']:.4f}")
    console.print(table)
    console.print(f"Parsed {frame['parsed'].mean():.0%} of answers; mean chain reward {frame['reward_chain'].mean():.4f}, "
                  f"mean outcome reward {frame['reward_outcome'].mean():.4f}. Log: {out / 'lm_chain.jsonl'}")


@app.command()
def backtest(
    data: str = typer.Option(..., help="CSV/Parquet long frame (unique_id, ds, y) or a bundled name."),
    h: int = typer.Option(26, help="Horizon."),
    origins: int = typer.Option(50, help="Origins per series."),
    step: int = typer.Option(4, help="Steps between origins."),
    models: str = typer.Option("linear,statsforecast:Naive,statsforecast:RandomWalkWithDrift",
                               help="Comma-separated registry names; statsforecast:MODEL for statsforecast models."),
    target: str = typer.Option("td0", help="Chained target for learned models: td0, td_lambda or mc."),
    weekly: bool = typer.Option(False, help="Resample to weekly first."),
    cv_out: Annotated[Path | None, typer.Option(help="Write the statsforecast cross_validation frame here.")] = None,
) -> None:
    """Rolling-origin backtest of registered forecasters, with scores and outcome-free checks."""
    from alignlab.core import create
    from alignlab.forecast import (
        BUNDLED_SERIES,
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

    df = load_series(data) if data in BUNDLED_SERIES else read_series(data)
    if weekly or data in BUNDLED_SERIES:
        df = to_weekly(df)
    forecasters = []
    for spec in [s.strip() for s in models.split(",") if s.strip()]:
        name, _, arg = spec.partition(":")
        if name == "statsforecast":
            forecasters.append(create("forecaster", name, model=arg or "Naive"))
        elif name in ("linear", "gbm", "mlp"):
            forecasters.append(create("forecaster", name, h=h, target=target, distribution="quantile" if name != "mlp" else "point"))
        else:
            forecasters.append(create("forecaster", name))
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
        console.print(f"Wrote {cv_out}")


@app.command()
def collusion(h: int = typer.Option(26, help="Chain length.")) -> None:
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
def data(
    name: str = typer.Argument(..., help="Bundled series: sp500, nasdaq or msft."),
    out: Annotated[Path, typer.Option("--out", help="CSV or Parquet file to write (long format).")] = Path("series.csv"),
    weekly: bool = typer.Option(True, help="Resample to weekly (last value of each week)."),
) -> None:
    """Export a bundled real series in the long format (unique_id, ds, y)."""
    from alignlab.forecast import load_series, to_weekly

    df = load_series(name)
    df = to_weekly(df) if weekly else df
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise AlignlabError(f"--out must end in .csv or .parquet; got {out}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False) if out.suffix.lower() == ".csv" else df.to_parquet(out, index=False)
    console.print(f"Wrote {len(df)} rows of {name} to {out}")
