"""The scaling study's report: the runs table, part 1's fits on it, the decision, as ``report.html`` + ``summary.md``.

The evaluation across cells happens here, so a report can be written mid-study: the finished runs become a
runs table (one row per run, or per checkpoint with ``analysis.checkpoints: all``), which goes through
:func:`alignlab.scaling.analyse_runs` — approach 3 per variant with bootstrap intervals, approaches 1 and 2
where the grid allows, CEG(C) with its band and scale-dependence flag, the loss at the target budget under
"scale the baseline" vs "switch" and the recommendation. Next to the gain the report puts the noise floor:
the spread of the final loss between seeds of the same run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alignlab.core._report import Report, new_figure
from alignlab.core._study import Study
from alignlab.scaling._study import ScalingConfig

__all__ = ["runs_table", "write_study_report"]

CONVENTIONS = (
    "Conventions. N counts non-embedding parameters (the tied token embedding and the learned position table "
    "are left out; norm weights count; no biases). D is training tokens. The fits use C = 6·N·D, as part 1's "
    "fitter does; the runs table also gives FLOPs with attention, 6·N + 6·n_layer·ctx·d_model per token "
    "(Kaplan et al. 2020, full context). Loss is validation cross-entropy in nats per token (per byte for "
    "the bytes task; divide by ln 2 for bits).")


def _lr_rule(cfg: ScalingConfig) -> str:
    t = cfg.train
    rule = {"inverse-sqrt-width": f"lr = {t.lr:g} · ({t.lr_width} / d_model)^0.5",
            "inverse-width": f"lr = {t.lr:g} · {t.lr_width} / d_model", "constant": f"lr = {t.lr:g}"}[t.lr_rule]
    return (f"Learning rate per size: peak {rule}, AdamW (β = 0.9, 0.95, weight decay {t.weight_decay:g}), linear "
            f"warm-up over {100 * t.warmup:g}% of the steps, cosine decay to {100 * t.final_lr:g}% of the peak at the "
            f"end of each run's budget; batches of {t.batch_size} × {t.ctx} tokens; seed → initial weights and data order.")


def collect(study: Study) -> tuple[list[dict[str, Any]], int]:
    """Done training runs (config, data and train results) and the number of cells in the store."""
    store = study.store()
    try:
        cells = store.cells()
        runs = []
        for cell in cells:
            if cell["status"] != "done":
                continue
            stages = store.cell_stages(cell["cell_id"])
            if stages.get("train", {}).get("status") != "done":
                continue
            runs.append({"cell": cell["cell_id"], "config": ScalingConfig.model_validate(cell["config"]),
                         "data": stages["data"]["result"], "train": stages["train"]["result"]})
    finally:
        store.close()
    return runs, len(cells)


def runs_table(runs: list[dict[str, Any]], checkpoints: str = "final") -> pd.DataFrame:
    """One row per run (or per checkpoint): variant, seed, run, shape, N, D, FLOPs, losses."""
    rows = []
    for run in runs:
        t, cfg = run["train"], run["config"]
        points = t["curve"] if checkpoints == "all" else t["curve"][-1:]
        for point in points:
            rows.append({"variant": t["variant"], "seed": cfg.seed, "run": run["cell"], "n_layer": t["n_layer"],
                         "d_model": t["d_model"], "N": t["N"], "D": point["tokens"], "C": point["flops_6nd"],
                         "flops": point["flops"], "loss": point["val_loss"], "train_loss": point["train_loss"],
                         "seconds": t["seconds"]})
    return pd.DataFrame(rows)


def noise_and_gain(table: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Per variant: the seed-to-seed spread of the final loss, and its mean gain over the baseline at matched runs."""
    keys = ["N", "D"]
    rows = []
    sd = table.groupby(["variant", *keys])["loss"].agg(["std", "count"]).reset_index()
    base = table[table["variant"] == baseline].groupby(keys)["loss"].mean()
    for name, group in table.groupby("variant", sort=False):
        spread = sd[(sd["variant"] == name) & (sd["count"] >= 2)]
        matched = group.groupby(keys)["loss"].mean().to_frame("loss").join(base.rename("base"), how="inner")
        rows.append({"variant": name, "runs": len(group),
                     "seed sd of loss": float(np.sqrt((spread["std"] ** 2).mean())) if len(spread) else np.nan,
                     f"mean loss − {baseline}": float((matched["loss"] - matched["base"]).mean()) if name != baseline else 0.0,
                     f"max |loss − {baseline}|": float((matched["loss"] - matched["base"]).abs().max()) if name != baseline else 0.0})
    return pd.DataFrame(rows)


def _curves_figure(runs: list[dict[str, Any]]):
    fig, ax = new_figure(7.5, 4.5)
    sizes = sorted({r["train"]["N"] for r in runs})
    colours = __import__("matplotlib").colormaps["viridis"](np.linspace(0, 0.9, max(1, len(sizes))))
    styles = {}
    for run in runs:
        t = run["train"]
        style = styles.setdefault(t["variant"], ["-", "--", ":", "-."][len(styles) % 4])
        curve = pd.DataFrame(t["curve"])
        ax.plot(curve["flops_6nd"], curve["val_loss"], style, color=colours[sizes.index(t["N"])], lw=1, alpha=0.8)
    for name, style in styles.items():
        ax.plot([], [], style, color="black", label=name)
    for i, n in enumerate(sizes if len(sizes) <= 8 else []):  # a legend of dozens of sizes would fill the plot
        ax.plot([], [], color=colours[i], label=f"N = {n:,}")
    ax.set(xscale="log", xlabel="training FLOPs so far, 6ND", ylabel="validation loss (nats/token)",
           title="Loss curves: one line per run (colour: size, style: variant)")
    ax.legend(fontsize=7)
    return fig


def _fallback(table: pd.DataFrame, baseline: str, variants: list[str], refusal: str | None,
              bootstrap: int, floor: float | None) -> dict[str, tuple[str, dict[str, Any]]]:
    """Envelope power-law gains for each variant when approach 3 refused, with E = the task's known entropy
    (``floor``) or 0; {} if they refuse too."""
    from alignlab.scaling._data import read_runs
    from alignlab.scaling._errors import FitRefused
    from alignlab.scaling._frontier_gain import frontier_gain, frontier_text

    if refusal is None or baseline not in variants:
        return {}
    runs, out = read_runs(table), {}
    for name in variants:
        if name == baseline:
            continue
        try:
            result = frontier_gain(runs, baseline, name, n_bootstrap=bootstrap, floor=floor or 0.0)
        except FitRefused:
            continue
        out[name] = (frontier_text(result, baseline, name, refusal), result)
    return out


def write_study_report(study: Study) -> list[Path]:
    """Write ``report.html`` and ``summary.md`` into the study folder; returns their paths."""
    from alignlab.scaling._analysis import analyse_runs, law_summary
    from alignlab.scaling._data import read_runs
    from alignlab.scaling._errors import FitRefused
    from alignlab.scaling._report import _ceg_figure, _frontier_figure, _isoflop_figure

    runs, n_cells = collect(study)
    report = Report(f"Scaling study: {study.spec.name}",
                    subtitle=f"{len(runs)} of {n_cells} training runs done · study folder {study.directory}")
    if not runs:
        report.paragraph("No training run has finished yet; the report fills in as runs finish.")
        return report.write(study.directory)
    cfg: ScalingConfig = runs[0]["config"]
    settings = cfg.analysis
    table = runs_table(runs, settings.checkpoints)
    data = runs[0]["data"]
    variants = list(dict.fromkeys(table["variant"]))
    baseline = settings.baseline or variants[0]
    report.heading("The decision", id="decision")
    analysis, refusal = None, None
    if baseline not in variants:
        refusal = f"no finished run of the baseline '{baseline}' yet"
    else:
        try:
            analysis = analyse_runs(read_runs(table), baseline=baseline, target_flops=settings.target_flops,
                                    n_bootstrap=settings.bootstrap, pooled=True)
        except FitRefused as exc:
            refusal = str(exc)
    fallback = None
    if analysis is None:
        fallback = _fallback(table, baseline, variants, refusal, settings.bootstrap, data.get("entropy"))
        if not fallback:
            report.paragraph(f"No scaling law could be fitted: {refusal.rstrip('.')}. The data cannot decide; the runs "
                             "are below.", css_class="bad")
        for name, (text, _) in fallback.items():
            report.paragraph(f"{name} vs {baseline}: {text}", css_class="note")
    elif not analysis.decisions:
        report.paragraph("Only one variant has runs: there is no gain to weigh yet.")
    if analysis is not None and analysis.pooled:
        report.paragraph(" ".join(analysis.pooled["text"]), css_class="note")
    for name, decision in (analysis.decisions.items() if analysis else []):
        report.paragraph(f"{name} vs {baseline}: {decision.text}", css_class="good" if decision.verdict == "switch" else None)
    noise = noise_and_gain(table, baseline)
    if (noise["seed sd of loss"].isna()).all():
        floor = "With one seed per run the noise floor between seeds is not measured; give 'seeds: 2' or more."
    else:
        floor = "The seed sd is the spread of the final loss between seeds of the same run (pooled over runs)."
    report.table(noise, caption=f"Noise floor between seeds next to the gain between variants (loss in nats). {floor}",
                 id="noise", float_format="{:.4f}")
    report.heading("How the runs were made", id="conventions")
    entropy = data.get("entropy")
    task_line = f"Task: {data['task']} on {data['source']} ({data['train_tokens']:,} training, {data['val_tokens']:,} validation tokens, vocabulary {data['vocab_size']})."
    if entropy is not None:
        task_line += f" Its entropy rate, the irreducible loss E, is {entropy:.4f} nats/token."
    report.paragraph(task_line)
    report.paragraph(CONVENTIONS)
    report.paragraph(_lr_rule(cfg))
    report.heading("Runs", id="runs")
    report.figure(_curves_figure(runs), caption="validation loss through training", id="curves")
    shown = table[["variant", "seed", "n_layer", "d_model", "N", "D", "C", "flops", "loss", "train_loss", "seconds"]]
    report.table(shown.sort_values(["variant", "N", "D", "seed"]), id="runs-table",
                 caption="C = 6ND (used by the fits); flops includes attention", summary=len(shown) <= 60)
    if analysis is None:
        for name, (_, result) in (fallback or {}).items():
            fig, ax = new_figure()
            band = result["table"]
            ax.plot(band["C"], band["ceg"], label=f"{name} vs {baseline}")
            ax.fill_between(band["C"], band["low"], band["high"], alpha=0.25)
            ax.axhline(1, color="grey", lw=0.8)
            ax.set(xscale="log", yscale="log", xlabel="training FLOPs C = 6ND", ylabel="compute-equivalent gain",
                   title=f"CEG(C) from envelope power laws (E = {result['floor']:.4g} assumed), 95% band")
            ax.legend(fontsize=7)
            report.figure(fig, caption=f"CEG(C) of {name}: fallback while approach 3 refuses", id=f"frontier-ceg-plot-{name}")
            report.table(result["table"], id=f"frontier-ceg-{name}",
                         caption=f"CEG(C) of {name} over {baseline} from envelope power laws (E = {result['floor']:.4g} assumed), inside the runs' range")
        return report.write(study.directory)
    basis = {"per-variant": "fitted per variant", "pooled-scale": "pooled fit, E, A, B, α, β shared, one gain factor"
             " per variant", "pooled-e": "pooled fit, E shared, per-variant A, B, α, β"}[analysis.basis]
    report.heading(f"Fitted laws (approach 3, {basis}): L = E + A/N^α + B/D^β", id="laws")
    rows = []
    for name, law in analysis.laws.items():
        s = law_summary(law)
        row = {"variant": name}
        for key in ("E", "A", "B", "alpha", "beta", "a", "b"):
            row[key] = f"{s[key]['estimate']:.4g}" + (f" [{s[key]['low']:.4g}, {s[key]['high']:.4g}]" if "low" in s[key] else "")
        rows.append(row | {"objective": f"{s['objective']:.3g}", "runs": s["runs"]})
    report.table(pd.DataFrame(rows), id="law-table",
                 caption=f"estimates with {settings.bootstrap}-refit bootstrap intervals (runs resampled); N* ∝ C^a, D* ∝ C^b"
                 + (f"; the task's true E is {entropy:.4f}" if entropy is not None else ""))
    if analysis.pooled and len(analysis.pooled["sensitivity"]):
        report.table(analysis.pooled["sensitivity"], id="e-sensitivity", float_format="{:.4g}",
                     caption="E is on its lower bound: the gain at the largest budget run with E held at larger values"
                     " (point estimates; objective = summed Huber loss, lower is better)")
    for name in analysis.laws:
        report.figure(_isoflop_figure(analysis, name), caption=f"{name}: runs against N with the fitted law along isoFLOP lines",
                      id=f"isoflop-{name}")
    report.figure(_frontier_figure(analysis), caption="compute-optimal frontier: fitted L*(C) and the lower envelope", id="frontier")
    notes = []
    for name in analysis.laws:
        for label, obj in (("approach 1 (envelope)", analysis.envelopes[name]), ("approach 2 (isoFLOP)", analysis.isoflop[name])):
            notes.append(f"{name}, {label}: " + (obj if isinstance(obj, str) else
                                                 "N* ∝ C^{a:.3f}, D* ∝ C^{b:.3f}".format(**obj.summary())))
    report.bullets(notes)
    if analysis.gains:
        report.figure(_ceg_figure(analysis), caption="compute-equivalent gain CEG(C) with its 95% band", id="ceg")
        for name, frame in analysis.gains.items():
            pick = frame.iloc[np.unique(np.linspace(0, len(frame) - 1, 5).round().astype(int))]
            report.table(pick[["C", "ceg", "low", "high", "loss_base", "loss_variant"]], id=f"ceg-{name}",
                         caption=f"CEG(C) of {name} over {baseline} at a few budgets (C = 6ND)")
    return report.write(study.directory)
