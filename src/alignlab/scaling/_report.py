"""report.html and summary.md for a scaling analysis: isoFLOP curves, fitted law, frontier, CEG(C) band."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from alignlab.core._report import HtmlReport, markdown_table, new_figure
from alignlab.scaling._analysis import Analysis, law_summary
from alignlab.scaling._isoflop import group_budgets
from alignlab.scaling._law import NAMES

__all__ = ["write_report"]


def _param_table(analysis: Analysis) -> pd.DataFrame:
    rows = []
    for name, law in analysis.laws.items():
        s = law_summary(law)
        row = {"variant": name}
        for key in (*NAMES, "a", "b"):
            est = s[key]
            row[key] = f"{est['estimate']:.4g}" + (f" [{est['low']:.4g}, {est['high']:.4g}]" if "low" in est else "")
        row["objective"] = f"{s['objective']:.7f}"
        row["runs"] = s["runs"]
        rows.append(row)
    return pd.DataFrame(rows)


def _isoflop_figure(analysis: Analysis, name: str):
    fig, ax = new_figure()
    runs, law = analysis.runs[analysis.runs["variant"] == name], analysis.laws[name]
    labels = group_budgets(runs["C"].to_numpy())
    colours = __import__("matplotlib").colormaps["viridis"](np.linspace(0, 1, labels.max() + 1))
    for label in np.unique(labels):
        group = runs[labels == label]
        c = float(np.exp(np.log(group["C"]).mean()))
        ax.scatter(group["N"], group["loss"], s=12, color=colours[label])
        if group["N"].nunique() >= 3:
            n = np.geomspace(group["N"].min(), group["N"].max(), 60)
            ax.plot(n, law.predict(n, c / (6 * n)), color=colours[label], lw=1)
    ax.set(xscale="log", xlabel="parameters N", ylabel="loss", title=f"{name}: runs and fitted law along isoFLOP lines")
    return fig


def _frontier_figure(analysis: Analysis):
    fig, ax = new_figure()
    grid = np.geomspace(analysis.runs["C"].min(), max(analysis.budgets), 80)
    for name, law in analysis.laws.items():
        runs = analysis.runs[analysis.runs["variant"] == name]
        line = ax.plot(grid, law.optimal_loss(grid), label=f"{name}: L*(C) (approach 3)")[0]
        ax.scatter(runs["C"], runs["loss"], s=8, alpha=0.4, color=line.get_color())
        env = analysis.envelopes.get(name)
        if env is not None and not isinstance(env, str):
            ax.plot(env.frontier["C"], env.frontier["loss"], "--", color=line.get_color(), lw=1, label=f"{name}: envelope")
    ax.set(xscale="log", xlabel="training FLOPs C = 6ND", ylabel="loss", title="Compute-optimal frontier")
    ax.legend(fontsize=7)
    return fig


def _ceg_figure(analysis: Analysis):
    fig, ax = new_figure()
    for name, frame in analysis.gains.items():
        line = ax.plot(frame["C"], frame["ceg"], label=f"{name} vs {analysis.baseline}")[0]
        ax.fill_between(frame["C"], frame["low"], frame["high"], alpha=0.25, color=line.get_color())
    ax.axhline(1, color="grey", lw=0.8)
    ax.axvline(analysis.runs["C"].max(), color="grey", ls=":", lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="training FLOPs C", ylabel="compute-equivalent gain",
           title="CEG(C) with its bootstrap band (dotted: largest budget fitted)")
    ax.legend(fontsize=7)
    return fig


def write_report(analysis: Analysis, out: str | Path) -> tuple[Path, Path]:
    """Write ``out/report.html`` (plots inline) and ``out/summary.md``; return both paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    params = _param_table(analysis)
    report = HtmlReport("Scaling laws", subtitle=f"{len(analysis.runs)} rows, baseline '{analysis.baseline}', C = 6ND")
    md = ["# Scaling laws", "", f"Baseline: `{analysis.baseline}`; FLOPs convention C = 6 N D.", "",
          "## Approach 3: L = E + A/N^α + B/D^β", "", markdown_table(params), ""]
    report.heading("Approach 3: L = E + A/N^α + B/D^β", id="law")
    report.table(params, caption="estimates with bootstrap intervals (runs resampled); objective: summed Huber")
    for name in analysis.laws:
        report.figure(_isoflop_figure(analysis, name), caption=f"{name}: runs with the fitted law", id=f"isoflop-{name}")
    report.heading("Approaches 1 and 2", id="approaches")
    for name in analysis.laws:
        for label, obj in (("approach 1 (envelope)", analysis.envelopes[name]), ("approach 2 (isoFLOP)", analysis.isoflop[name])):
            if isinstance(obj, str):
                text = f"{name}, {label}: {obj}"
            else:
                s = obj.summary()
                text = f"{name}, {label}: N* ∝ C^{s['a']:.3f}, D* ∝ C^{s['b']:.3f}"
                if s.get("bias"):
                    text += (f"; bias on noiseless data from the fitted law: exponent error {s['bias']['a_error']:+.3g},"
                             f" compute wasted at the largest budget {100 * s['bias']['compute_wasted_at_max_budget']:.2f}%")
            report.paragraph(text, css_class="note")
            md.append(f"- {text}")
    report.figure(_frontier_figure(analysis), caption="loss against compute", id="frontier")
    optimal = pd.concat([law.compute_optimal(analysis.budgets).assign(variant=name) for name, law in analysis.laws.items()])
    optimal = optimal[["variant", "C", "N_opt", "D_opt", "tokens_per_param", "loss"]]
    report.table(optimal, caption="compute-optimal allocation (approach 3), C = 6ND", id="compute-optimal")
    md += ["", "## Compute-optimal allocation (approach 3)", "", markdown_table(optimal), ""]
    if analysis.gains:
        report.heading("The decision", id="decision")
        report.figure(_ceg_figure(analysis), caption="compute-equivalent gain", id="ceg")
        md += ["", "## The decision", ""]
        for name, decision in analysis.decisions.items():
            report.paragraph(decision.text, css_class="good" if decision.verdict == "switch" else None)
            md.append(f"- **{name}**: {decision.text}")
    html_path = report.write(out / "report.html")
    md_path = out / "summary.md"
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    return html_path, md_path
