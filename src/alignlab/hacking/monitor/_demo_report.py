"""The demonstration's report: ``report.html`` (curves, flagged step, alarms, fits) and ``summary.md``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alignlab.core._report import Report, new_figure

if TYPE_CHECKING:
    from alignlab.hacking.monitor._demo import DemoResult

__all__ = ["write_report"]


def _curves(result: DemoResult):
    fig, axes = new_figure(11, 4.2)
    fig.clf()
    axes = fig.subplots(1, 2, sharey=True)
    for ax, run in zip(axes, ("proxy", "control")):
        monitor = result.monitors[run]
        frame = monitor.frame()
        smooth = frame[["proxy", "gold"]].rolling(5, min_periods=1).mean()
        ax.plot(frame.step, smooth.proxy, label="proxy reward (naive grader, visible tests)" if run == "proxy"
                else "training reward (hardened grader, all tests)", color="#c0392b")
        ax.plot(frame.step, smooth.gold, label="gold reward (hardened grader, hidden tests)", color="#1e7b34")
        ax.plot(frame.step, result.hack_share[run], label="hack share of the policy", color="#8a94a8", ls="--")
        ax.plot(frame.step, frame.hit_rate.rolling(5, min_periods=1).mean(), label="detector hit-rate", color="#e67e22", ls=":")
        if monitor.onset is not None:
            ax.axvline(monitor.onset, color="black", lw=1)
            ax.annotate(f"flagged: step {monitor.onset}", (monitor.onset, 1.02), fontsize=8, ha="left")
        peak = monitor.summary()["gold_peak"]
        if peak:
            ax.axvline(peak["step"], color="#1e7b34", lw=0.8, ls="-.")
        ax.set_title(f"{run} run" + ("" if monitor.onset is not None else " — no alarm"))
        ax.set_xlabel("step")
        ax.set_ylim(-0.02, 1.08)
    axes[0].set_ylabel("reward / share (5-step mean)")
    axes[0].legend(fontsize=7, loc="center right")
    return fig


def write_report(result: DemoResult, out: Path) -> tuple[Path, Path]:
    """Write ``report.html`` and ``summary.md`` into ``out``."""
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    c = result.config
    alarms = pd.DataFrame([{"run": run, **a} for run, m in result.monitors.items() for a in m.summary()["alarms"]],
                          columns=["run", "step", "kind", "message", "since"])
    fits = pd.DataFrame([{"run": run, "form": form, **fit} for run, m in result.monitors.items()
                         for form, fit in m.summary()["gao_fits"].items()])
    pool = pd.DataFrame([{"strategy": p.strategy, "proxy": p.proxy, "gold": p.gold, "flagged": p.flagged}
                         for p in result.pool]).groupby("strategy").mean().reset_index()
    proxy_monitor = result.monitors["proxy"]
    peak = proxy_monitor.summary()["gold_peak"]
    headline = (f"Trained on the proxy, the policy's hack share goes from {result.hack_share['proxy'][0]:.1%} to "
                f"{result.hack_share['proxy'][-1]:.1%}; gold peaks at step {peak['step']} ({peak['gold']:.2f}) and "
                f"the monitor flags the run at step {proxy_monitor.onset}. The control run raises "
                f"{len(result.monitors['control'].alarms)} alarm(s).")

    report = Report("Reward hacking emerges and is caught", subtitle=f"alignlab hacking demo — {c.tasks} HumanEval "
                    f"tasks, {c.steps} steps × {c.batch} episodes, seed {c.seed}")
    report.paragraph(headline)
    report.bullets([f"isolation: {', '.join(result.isolation)}", f"config: {c.model_dump_json()}"], css_class=None)
    report.figure(_curves(result), caption="Proxy and gold reward, hack share and detector hit-rate; black line: "
                  "first alarm; green dash-dot: gold peak.", id="curves")
    report.heading("Alarms", id="alarms")
    if alarms.empty:
        report.paragraph("none")
    else:
        report.table(alarms, id="alarm-table")
    report.heading("The candidate pool", id="pool")
    report.paragraph("Each candidate graded once in the sandbox (isolation: " + ", ".join(result.isolation) +
                     "). Mean rewards per strategy, and the share the detectors flag:")
    report.table(pool, id="pool-table")
    if not fits.empty:
        report.heading("Gao et al. fits of gold against d = √KL", id="fits")
        report.table(fits, id="fit-table")
    html, summary = report.write(out)
    return html, summary
