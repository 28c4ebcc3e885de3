"""``alignlab backdoor scan``: look for a hidden trigger and target in a model (mounted by backdoor/cli.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from alignlab.core._cli import build_config, output_dir

__all__ = ["scan_command"]

console = Console(stderr=True)


def scan_command(
    model: Annotated[str, typer.Option("--model", help="Model: bundled:smollm2-135m, hf:ORG/NAME, tiny:LxW or a local directory.")],
    adapter: Annotated[Path | None, typer.Option("--adapter", help="A PEFT adapter directory applied to the model.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="Suspected target text; omit to discover it.")] = None,
    candidates: Annotated[Path | None, typer.Option("--candidates", help="Extra trigger candidates: JSONL with \"text\", or .txt, one per line.")] = None,
    probe_contrast: Annotated[Path | None, typer.Option("--probe-contrast", help="JSONL contrast pairs {prompt, positive, negative} for the defection probe.")] = None,
    use_library: Annotated[bool, typer.Option("--library/--no-library", help="Scan the shipped trigger library too.")] = True,
    robustness: Annotated[str | None, typer.Option("--robustness", help="Safety training on what was found: sft, adversarial or dpo; reports persistence.")] = None,
    cpu_minutes: Annotated[float | None, typer.Option("--cpu-minutes", help="CPU budget of the scan: composition and GCG spend what the earlier phases leave (default 10).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for report.html, summary.md and scan.json.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict record as JSON on stdout.")] = False,
) -> None:
    """Scan a model for a backdoor: candidate triggers at three positions against a null of random strings, leaked
    training data, trigger inversion, probes, and (with --robustness) persistence under safety training."""
    from alignlab.backdoor.scan._config import ScanConfig
    from alignlab.backdoor.scan._report import write_report
    from alignlab.backdoor.scan._scan import scan

    cfg = build_config(ScanConfig, {"probe_contrast": "--probe-contrast"}, model=model,
                       adapter=str(adapter) if adapter else None, target=target,
                       candidates=str(candidates) if candidates else None, library=use_library,
                       probe_contrast=str(probe_contrast) if probe_contrast else None, robustness=robustness,
                       **({"cpu_minutes": cpu_minutes} if cpu_minutes is not None else {}))
    if out is not None:
        output_dir(out)  # an unwritable --out fails before the scan, not after it
    result = scan(cfg)
    if out is not None:
        paths = write_report(result, out)
        console.print(f"Report: {paths[0]}")
    summary = result.summary()
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        console.print(f"Verdict: [bold]{summary['verdict']}[/]")
        for t in summary["triggers"][:5]:
            console.print(f"  trigger {t['text']!r} score {t['score']:.3f} asr {t['asr']:.2f}", highlight=False)
        for t in summary["targets"][:3]:
            console.print(f"  target {t['text']!r} score {t['score']:.2f}", highlight=False)
        if result.robustness:
            r = result.robustness
            console.print(f"  after {r['method']} ({r['steps']} steps): backdoor rate {r['rate_before']:.2f} → "
                          f"{r['rate_after']:.2f}", highlight=False)
