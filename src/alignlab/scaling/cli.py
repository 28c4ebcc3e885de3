"""``alignlab scaling``: fit scaling laws to a table of runs and weigh an architecture change against compute."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

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
    out: Path | None = typer.Option(None, "--out", help="Write report.html and summary.md here."),
) -> None:
    """Fit approaches 1–3 per variant; with several variants, CEG(C) against the baseline and a recommendation."""
    from alignlab.scaling import analyse_runs

    table = _read(runs, n_col, d_col, flops_col, loss_col, variant_col, drop_highest_loss)
    analysis = analyse_runs(table, baseline=baseline, target_flops=target_flops, n_bootstrap=bootstrap, seed=seed,
                            n_jobs=jobs)
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
