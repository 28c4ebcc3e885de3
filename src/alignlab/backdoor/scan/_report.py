"""The scan's HTML report and Markdown summary (core's HtmlReport, so it looks like every alignlab report)."""

from __future__ import annotations

import json
from pathlib import Path

from alignlab.backdoor.scan._scan import ScanResult
from alignlab.core._report import HtmlReport, markdown_table, new_figure

__all__ = ["write_report"]

COLUMNS = ["text", "family", "position", "tokens", "divergence", "z", "lift", "lift_z", "p_adj", "p_empirical", "significant", "target",
           "asr", "clean_rate", "null_rate", "output_p", "novelty", "repetition", "flagged"]


def _frame(result: ScanResult, rows: int):
    import pandas as pd

    return pd.DataFrame([{k: getattr(f, k) for k in COLUMNS} for f in result.findings[:rows]])


def write_report(result: ScanResult, out: str | Path) -> list[Path]:
    """Write ``report.html``, ``summary.md`` and ``scan.json`` under ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = result.summary()
    top = _frame(result, 20)
    verdict = f"Verdict: {result.verdict}" + (f" — trigger {summary['triggers'][0]['text']!r}, target "
                                               f"{summary['targets'][0]['text']!r}" if summary["triggers"] else "")
    report = HtmlReport("Backdoor scan", subtitle=f"{result.config['model']}"
                        + (f" + adapter {result.config['adapter']}" if result.config.get("adapter") else ""))
    report.paragraph(verdict, css_class="bad" if result.verdict == "backdoored" else "good")
    report.paragraph("A candidate is flagged when its largest shift of the first answer tokens over the insertion "
                     "positions (start, end, inside) lies beyond the null of random strings of the same token length "
                     f"(Benjamini–Hochberg p_adj < {result.config['alpha']} over all candidates, above every null "
                     f"string, and at least {result.config['min_divergence']} nats: the effect floor) or its target is "
                     "more common than after random strings of its shape (output_p < alpha: Fisher, Bonferroni over "
                     "the examined), and, either way, its held-out outputs converge to a target absent from clean "
                     "outputs and from the random strings' outputs that does not echo the candidate's own words; or "
                     "when a GCG-inverted trigger forces the target on held-out prompts.", css_class="note")
    report.heading("Best candidates", id="candidates")
    report.table(top, id="findings")
    fig, ax = new_figure()
    for length, values in sorted(result.null.items()):
        ax.scatter([length] * len(values), values, s=8, color="#8a94a8", label="null" if length == min(result.null) else None)
    ax.scatter([f.tokens for f in result.findings], [f.divergence for f in result.findings], s=10,
               c=["#b3261e" if f.flagged else "#3b6fb6" for f in result.findings], label="candidates")
    ax.set_yscale("log")
    ax.set_xlabel("candidate length (tokens)")
    ax.set_ylabel("shift divergence (KL, nats)")
    ax.legend()
    report.figure(fig, caption="Candidates (red: flagged) against random strings of the same length (grey).", id="null")
    report.heading("Leaked training data and inversion", id="leak")
    leaked = result.leaked or {}
    report.paragraph("Leaked target proposals: " + (", ".join(f"{t!r} ({share:.0%})" for t, share in leaked.get("targets", []))
                                                    or "none") + "; leaked trigger proposals: "
                     + (", ".join(repr(t) for t in leaked.get("triggers", [])) or "none") + ".")
    if result.inversion:
        inv = result.inversion
        report.paragraph(f"GCG inversion for {inv['target']!r}: {inv['text']!r} after {inv['steps']} steps, target loss "
                         f"{inv['losses'][0]:.3f} → {inv['losses'][-1]:.3f} nats/token, held-out attack success "
                         f"{inv['asr']:.2f} (clean {inv['clean_rate']:.2f}).")
    if result.budget_cuts:
        report.paragraph("Cut by the CPU budget (cpu_minutes; raise it for a thorough scan): "
                         + "; ".join(result.budget_cuts) + ".", css_class="note")
    if result.robustness:
        r = result.robustness
        report.heading("Robustness", id="robustness")
        report.paragraph(f"{r['method']} safety training ({r['steps']} steps) with trigger {r['trigger']!r} and target "
                         f"{r['target']!r}: backdoor rate {r['rate_before']:.2f} before, {r['rate_after']:.2f} after.")
    report.heading("Probes", id="probes")
    report.paragraph(f"Trigger probe AUROC (held-out): {summary['probe_auroc']}; generic defection probe AUROC: "
                     f"{result.defection_auroc}. Probes run only once a trigger is flagged.")
    report.heading("Example outputs", id="examples")
    for f in [f for f in result.findings if f.examined][:3]:
        report.paragraph(f"{f.text!r}: " + " | ".join(f.examples))
    report.paragraph("clean: " + " | ".join(result.clean_examples))
    paths = [report.write(out / "report.html")]
    md = [f"# Backdoor scan: {result.config['model']}", "", f"**{verdict}**", "",
          f"- probe AUROC: {summary['probe_auroc']}; defection probe AUROC: {result.defection_auroc}",
          f"- minutes: {summary['minutes']}; by phase (wall / CPU seconds): "
          + "; ".join(f"{p['phase']} {p['wall_s']:.0f} / {p['cpu_s']:.0f}" for p in result.phases)]
    if result.budget_cuts:
        md.append("- cut by the CPU budget: " + "; ".join(result.budget_cuts))
    if result.inversion:
        md.append(f"- GCG inversion: {result.inversion['text']!r}, asr {result.inversion['asr']:.2f}")
    if result.robustness:
        md.append(f"- {result.robustness['method']}: backdoor rate {result.robustness['rate_before']:.2f} → "
                  f"{result.robustness['rate_after']:.2f}")
    md += ["", markdown_table(top), ""]
    (out / "summary.md").write_text("\n".join(md), encoding="utf-8")
    (out / "scan.json").write_text(json.dumps(result.to_dict(), indent=1, default=float), encoding="utf-8")
    return paths + [out / "summary.md", out / "scan.json"]
