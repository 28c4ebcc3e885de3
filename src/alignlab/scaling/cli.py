"""``alignlab scaling``: fit scaling laws to a table of runs and weigh an architecture change against compute."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alignlab.core._cli import (
    Address,
    Executor,
    Force,
    Retries,
    RetryFailed,
    Workers,
    check_options,
    out_option,
    report_study,
    run_study,
    write_example,
)

app = typer.Typer(help="Scaling laws: fit L(N, D) = E + A/N^α + B/D^β, isoFLOP profiles, compute-equivalent gains.",
                  no_args_is_help=True)
console = Console()


def _read(runs: Path, n_col, d_col, flops_col, loss_col, variant_col, drop):
    from alignlab.scaling import read_runs

    return read_runs(runs, n_col=n_col, d_col=d_col, flops_col=flops_col, loss_col=loss_col,
                     variant_col=variant_col, drop_highest_loss=drop)


@app.command()
def fit(
    runs: Path = typer.Argument(..., help="CSV or Parquet table: one row per run (or per checkpoint)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    n_col: str = typer.Option("N", "--n-col", help="Column of parameter counts."),
    d_col: str = typer.Option("D", "--d-col", help="Column of training tokens."),
    flops_col: str | None = typer.Option(None, "--flops-col", help="Column of training FLOPs (D = C / 6N when no tokens column)."),
    loss_col: str = typer.Option("loss", "--loss-col", help="Column of losses."),
    variant_col: str = typer.Option("variant", "--variant-col", help="Column naming the architecture variant."),
    drop_highest_loss: int = typer.Option(0, "--drop-highest-loss", help="Drop the K highest-loss rows per variant."),
    baseline: str | None = typer.Option(None, "--baseline", help="Baseline variant (default: 'baseline' or the first)."),
    target_flops: float | None = typer.Option(None, "--target-flops", help="Budget for the decision (default 10× the largest)."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap refits for the intervals."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    jobs: int = typer.Option(1, "--jobs", help="Processes for the bootstrap (-1: all cores)."),
    pooled: bool = typer.Option(True, "--pooled/--no-pooled",
                                help="When a variant's own fit refuses, fit the variants jointly (shared E and exponents, "
                                     "one compute factor per variant) for the gains; --no-pooled refuses instead."),
    out: Path | None = typer.Option(None, "--out", help="Write report.html and summary.md here."),
) -> None:
    """Fit approaches 1–3 per variant; with several variants, CEG(C) against the baseline and a recommendation."""
    from alignlab.scaling import analyse_runs

    table = _read(runs, n_col, d_col, flops_col, loss_col, variant_col, drop_highest_loss)
    analysis = analyse_runs(table, baseline=baseline, target_flops=target_flops, pooled=pooled, n_bootstrap=bootstrap,
                            seed=seed, n_jobs=jobs)
    if out is not None:
        from alignlab.scaling import write_report

        write_report(analysis, out)
    data = analysis.to_json()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    for name, law in analysis.laws.items():
        summary = data["variants"][name] if "variants" in data else data
        grid = Table(title=f"{name}: L = E + A/N^α + B/D^β (objective {law.objective_:.7f}, {law.n_runs_} runs)")
        for col in ("parameter", "estimate", "interval"):
            grid.add_column(col, justify="right")
        for key in ("E", "A", "B", "alpha", "beta", "a", "b"):
            est = summary[key]
            interval = f"[{est['low']:.4g}, {est['high']:.4g}]" if est.get("low") is not None else "–"
            grid.add_row(key, f"{est['estimate']:.4g}", interval)
        console.print(grid)
        for label, key in (("approach 1", "approach1"), ("approach 2", "approach2")):
            part = summary.get(key) or data[key]
            text = part["refused"] if "refused" in part else f"N* ∝ C^{part['a']:.3f}, D* ∝ C^{part['b']:.3f}"
            console.print(f"  {label}: {text}", highlight=False)
    for decision in analysis.decisions.values():
        console.print("• " + decision.text, highlight=False)
    if out is not None:
        console.print(f"Wrote {out / 'report.html'} and {out / 'summary.md'}.")


@app.command()
def audit(
    runs: Path = typer.Argument(..., help="CSV or Parquet table of runs (one variant, or pick one with --variant)."),
    as_json: bool = typer.Option(False, "--json", help="Print the audit as JSON."),
    factor: float = typer.Option(10.0, "--factor", help="Fit on runs up to C_max / factor; predict the rest."),
    variant: str | None = typer.Option(None, "--variant", help="Variant to audit."),
    n_col: str = typer.Option("N", "--n-col"),
    d_col: str = typer.Option("D", "--d-col"),
    flops_col: str | None = typer.Option(None, "--flops-col"),
    loss_col: str = typer.Option("loss", "--loss-col"),
    variant_col: str = typer.Option("variant", "--variant-col"),
    drop_highest_loss: int = typer.Option(0, "--drop-highest-loss"),
    bootstrap: int = typer.Option(200, "--bootstrap", help="Bootstrap refits for the prediction bands."),
) -> None:
    """Extrapolation audit: how well does a law fitted on small budgets predict the largest ones?"""
    from alignlab.scaling import extrapolation_audit

    table = _read(runs, n_col, d_col, flops_col, loss_col, variant_col, drop_highest_loss)
    result = extrapolation_audit(table, factor=factor, variant=variant, n_bootstrap=bootstrap)
    summary = result.summary()
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    console.print(f"Fitted on {summary['fitted_rows']} rows with C ≤ {summary['cutoff_flops']:.3g}; predicted"
                  f" {summary['held_out_rows']} held-out rows: mean |error| {100 * summary['mean_abs_rel_error']:.2f}%,"
                  f" max {100 * summary['max_abs_rel_error']:.2f}%, mean signed {100 * summary['mean_rel_error']:+.2f}%.",
                  highlight=False)


# --- the grid of training runs: a study kind on the core engine ---------------------------------------------
@app.command()
@check_options
def run(
    spec: Annotated[Path, typer.Argument(help="Study spec (YAML); `alignlab scaling init` writes an example.")],
    out: Annotated[Path | None, out_option("Study folder (default: studies/<spec name>). Re-running resumes it.")] = None,
    executor: Executor = "local",
    workers: Workers = 1,
    address: Address = None,
    retries: Retries = 1,
    retry_failed: RetryFailed = True,
) -> None:
    """Run a scaling grid (one training run per cell); finished runs are skipped, so re-running resumes."""
    run_study(spec, out, kind="scaling", executor=executor, workers=workers, address=address, retries=retries,
              retry_failed=retry_failed)


@app.command()
def report(study_dir: Annotated[Path, typer.Argument(help="A scaling study folder (holds spec.yaml and results.sqlite).")]) -> None:
    """(Re)write report.html and summary.md of a scaling study, also while it is still running."""
    report_study(study_dir, kind="scaling")


@app.command()
@check_options
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the example spec.")] = Path("scaling-study.yaml"),
    force: Force = False,
) -> None:
    """Write a commented example spec (the 24-run CPU study) to start from."""
    from alignlab.scaling._study import EXAMPLE_SPEC

    write_example(path, EXAMPLE_SPEC, force=force, run_command="alignlab scaling run")
