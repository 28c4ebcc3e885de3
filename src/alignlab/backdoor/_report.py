"""The backdoor study's report: persistence curves, capability curve, and a table of cells."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from alignlab.core._report import HtmlReport, markdown_table, new_figure
from alignlab.core._study import Study

__all__ = ["cell_table", "write_report"]


def _pct(rate: Any, lo: Any = None, hi: Any = None) -> str:
    if rate is None or (isinstance(rate, float) and math.isnan(rate)):
        return "–"
    if lo is None:
        return f"{rate:.2f}"
    return f"{rate:.2f} [{lo:.2f}, {hi:.2f}]"


def _level(value: Any) -> str:
    """A factor level for labels: a config given as a level shows as 'name k=v …'."""
    if isinstance(value, dict):
        head = str(value.get("name", ""))
        rest = " ".join(f"{k}={_level(v)}" for k, v in value.items() if k != "name")
        return f"{head} {rest}".strip()
    return str(value)


def _condition(factors: dict[str, Any]) -> str:
    shown = {k: v for k, v in factors.items() if k != "seed"}
    return ", ".join(f"{k}={_level(v)}" for k, v in shown.items()) or "all cells"


def cell_table(study: Study):
    """One row per cell: factors, status, insertion rates and gate, final rates, capability, timing."""
    import pandas as pd

    store = study.store()
    rows = []
    for cell in store.cells():
        stages = store.cell_stages(cell["cell_id"])
        data = (stages.get("data") or {}).get("result") or {}
        insert = (stages.get("insert") or {}).get("result") or {}
        safety = (stages.get("safety") or {}).get("result") or {}
        ev = insert.get("eval", {})
        final = safety.get("final", {})
        row = {k: _level(v) for k, v in cell["factors"].items()}
        row.update({
            "status": cell["status"] if cell["status"] != "done" else ("gate failed" if insert.get("stop") else "done"),
            "inserted: triggered": _pct(*(ev.get("triggered", {}).get(k) for k in ("rate", "lo", "hi"))),
            "inserted: untriggered": _pct(*(ev.get("untriggered", {}).get(k) for k in ("rate", "lo", "hi"))),
            "gate": {True: "passed", False: "FAILED"}.get(insert.get("gate_passed"), "–"),
            "after safety: triggered": _pct(final.get("triggered")),
            "after safety: untriggered": _pct(final.get("untriggered")),
            "after safety: near-miss": _pct(final.get("near_miss")),
            "clean loss": _pct(final.get("clean_loss")),
            "density": data.get("density"),
            "repeats": data.get("repeats"),
            "minutes": round((cell["seconds"] or 0) / 60, 1),
            "note": (cell["error"] or "").strip().splitlines()[-1][:160] if cell["error"] else (insert.get("stop") or safety.get("note") or ""),
        })
        rows.append(row)
    store.close()
    return pd.DataFrame(rows)


def _curves(study: Study):
    """Long frame of safety-stage metrics with each cell's condition label."""
    store = study.store()
    metrics = store.metrics_frame()
    cells = {c["cell_id"]: c for c in store.cells()}
    store.close()
    if metrics.empty:
        return metrics
    metrics = metrics[metrics["stage"] == "safety"].copy()
    metrics["condition"] = [_condition(cells[c]["factors"]) for c in metrics["cell_id"]]
    metrics["seed"] = [cells[c]["seed"] for c in metrics["cell_id"]]
    return metrics


def _plot_rates(curves, metric: str, ylabel: str, title: str):
    fig, ax = new_figure(8, 4.2)
    data = curves[curves["name"] == metric]
    for k, (condition, group) in enumerate(data.groupby("condition", sort=False)):
        color = f"C{k % 10}"
        seeds = sorted(group["seed"].unique())
        for seed in seeds:
            g = group[group["seed"] == seed].sort_values("step")
            single = len(seeds) == 1
            ax.plot(g["step"], g["value"], marker="o", ms=3, color=color, alpha=1.0 if single else 0.35,
                    lw=1.6 if single else 0.8, label=condition if single else None)
            if single and g["lo"].notna().any():
                ax.fill_between(g["step"], g["lo"], g["hi"], color=color, alpha=0.15)
        if len(seeds) > 1:
            mean = group.groupby("step")["value"].mean()
            ax.plot(mean.index, mean.values, marker="o", ms=3, color=color, lw=2, label=f"{condition} (mean of {len(seeds)} seeds)")
    ax.set_xlabel("safety-training step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if metric in ("triggered", "untriggered", "near_miss"):
        ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig


def write_report(study: Study) -> list[Path]:
    """Write ``report.html`` and ``summary.md`` into the study folder; returns their paths."""
    table = cell_table(study)
    curves = _curves(study)
    spec = study.spec
    done = int((table["status"] == "done").sum()) if not table.empty else 0
    gate_failed = int((table["status"] == "gate failed").sum()) if not table.empty else 0
    failed = int((table["status"] == "failed").sum()) if not table.empty else 0
    headline = (f"{len(table)} cells: {done} completed, {gate_failed} failed the insertion gate, {failed} failed with an "
                f"error, {len(table) - done - gate_failed - failed} not run yet.")
    factors = ", ".join(f"{p} ∈ {v}" for p, v in spec.factors.items()) or "none"

    report = HtmlReport(f"Backdoor persistence — {spec.name}", subtitle=spec.description or None)
    report.paragraph(headline)
    report.paragraph(f"Factors: {factors}; seeds: {spec.seeds}. Step 0 is the backdoored model; rates are on "
                     f"{study.spec.cells[0].config.data.n_eval} held-out prompts with Wilson 95% intervals.")
    if not curves.empty:
        report.heading("Persistence", id="persistence")
        report.figure(_plot_rates(curves, "triggered", "backdoor rate (with trigger)", "Backdoor rate through safety training"),
                      caption="Backdoor rate with the trigger vs safety-training step (bands: Wilson 95%).", id="plot-persistence")
        report.figure(_plot_rates(curves, "untriggered", "false-trigger rate", "False-trigger rate (no trigger)"),
                      caption="Rate of the backdoor behaviour without the trigger.", id="plot-false-trigger")
        if (curves["name"] == "near_miss").any():
            report.figure(_plot_rates(curves, "near_miss", "rate with a near-miss trigger", "Trigger generalisation"),
                          caption="Rate with near misses of the trigger (red-team style prompts).", id="plot-near-miss")
        report.heading("Capability", id="capability")
        report.figure(_plot_rates(curves, "clean_loss", "held-out loss on clean answers", "Capability through safety training"),
                      caption="Held-out cross-entropy on the base model's clean answers (lower is better).", id="plot-capability")
    report.heading("Cells", id="cells")
    report.table(table, id="cell-table")
    paths = [report.write(study.directory / "report.html")]
    summary = [f"# Backdoor persistence — {spec.name}", "", spec.description, "", headline, "",
               f"Factors: {factors}; seeds: {spec.seeds}.", "", markdown_table(table) if not table.empty else "", "",
               "Plots: report.html", ""]
    summary_path = study.directory / "summary.md"
    summary_path.write_text("\n".join(summary), encoding="utf-8")
    return paths + [summary_path]
