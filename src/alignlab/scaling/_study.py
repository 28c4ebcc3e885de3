"""The grid of training runs as a study kind ``scaling``: size × token budget × variant × seed on the core engine.

One cell is one training run. Its stages are content-addressed:

- ``data``: build the task's token streams once (inputs: the task settings and, for a file, its content
  hash); every run on that task shares them (``train.npy``, ``val.npy``);
- ``train``: train the cell's model for its budget; the result holds its shape, N, FLOPs and the loss curve
  per checkpoint (train and validation loss, tokens seen, FLOPs so far), also logged as metrics by step.

The fits across cells (approach 3 per variant, approaches 1 and 2 where the grid allows, CEG(C) with its
band and scale-dependence flag, the decision) are the report's (:mod:`alignlab.scaling._study_report`), so a
report can be written mid-study from the runs done so far. ``alignlab run`` takes the spec::

    study: scaling
    name: scaling-cpu
    task: {name: bytes}
    variant: [gpt, rotary]                         # a factor: registered architectures
    size: [{n_layer: 2, d_model: 32}, {params: 200000}]
    tokens: [131072, 262144]
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alignlab.core._errors import AlignlabError
from alignlab.core._registry import check_part_options, create, register, registered
from alignlab.core._spec import StudySpec
from alignlab.core._study import Stage, StageContext, Study
from alignlab.scaling._train import TrainSettings

__all__ = ["AnalysisSettings", "ScalingConfig", "ScalingStudy", "SizeChoice", "TaskChoice", "VariantChoice"]

MIN_PARAMS, MAX_PARAMS = 1_000, 50_000_000


class _Named(BaseModel):
    """A registered part and its options: a bare name is shorthand for ``{name: ...}``."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    def options(self) -> dict[str, Any]:
        return {k: v for k, v in (self.model_extra or {}).items() if k != "alias"}


class TaskChoice(_Named):
    """A task from the registry (kind ``scaling-task``); other keys are its options (checked against it)."""

    name: Annotated[str, registered("scaling-task", "task")] = Field("bytes", description="bytes, markov or a plugin's.")

    @model_validator(mode="after")
    def _known_options(self) -> TaskChoice:
        try:
            check_part_options("scaling-task", self.name, self.options(), where="task")
        except AlignlabError as exc:
            raise ValueError(str(exc).rstrip(".")) from None
        return self


class VariantChoice(_Named):
    """An architecture from the registry (kind ``scaling-arch``), its options, and an optional ``alias``."""

    name: Annotated[str, registered("scaling-arch", "variant")] = Field(
        "gpt", description="gpt, swiglu, rmsnorm, rotary, deep, modern or a plugin's.")
    alias: str | None = Field(None, description="The variant's name in the report (default: name).")

    @model_validator(mode="after")
    def _known_options(self) -> VariantChoice:
        try:
            check_part_options("scaling-arch", self.name, self.options(), reserved=("vocab_size", "ctx", "n_layer", "d_model"),
                          where="variant")
        except AlignlabError as exc:
            raise ValueError(str(exc).rstrip(".")) from None
        return self

    @property
    def label(self) -> str:
        return self.alias or self.name


class SizeChoice(BaseModel):
    """A model size: ``{n_layer, d_model}``, or a target non-embedding count ``{params}`` (a bare number)."""

    model_config = ConfigDict(extra="forbid")

    n_layer: int | None = Field(None, ge=1, le=64, description="Blocks.")
    d_model: int | None = Field(None, ge=8, le=4096, description="Residual width (a multiple of the head width).")
    params: int | None = Field(None, ge=MIN_PARAMS, le=MAX_PARAMS, description="Target N; the preset's depth/width ratio picks the shape.")

    @model_validator(mode="before")
    @classmethod
    def _bare_count(cls, value: Any) -> Any:
        return {"params": value} if isinstance(value, int) and not isinstance(value, bool) else value


class AnalysisSettings(BaseModel):
    """How the report fits the grid (not part of any run: changing it retrains nothing)."""

    model_config = ConfigDict(extra="forbid")

    baseline: str | None = Field(None, description="Baseline variant (default: the first in the spec).")
    target_flops: float | None = Field(None, gt=0, description="Budget of the decision (default: 10× the largest run).")
    bootstrap: int = Field(1000, ge=0, le=100_000, description="Bootstrap refits (runs resampled) for the intervals.")
    checkpoints: Literal["final", "all"] = Field("final", description="Fit on each run's final loss, or on every checkpoint.")


class ScalingConfig(BaseModel):
    """One training run: a variant at a size, trained on a task for a token budget, with a seed."""

    model_config = ConfigDict(extra="forbid")

    task: TaskChoice = Field(default_factory=TaskChoice, description="What the models learn.")
    variant: VariantChoice = Field(default_factory=VariantChoice, description="The architecture.")
    size: SizeChoice = Field(default_factory=lambda: SizeChoice(n_layer=2, d_model=32), description="The model size.")
    tokens: int = Field(131072, ge=1024, le=10**13, description="Training tokens (the budget D).")
    train: TrainSettings = Field(default_factory=TrainSettings, description="Training settings shared by the runs.")
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings, description="Settings of the fits in the report.")
    seed: int = Field(0, ge=0, description="Seed of the weights and the data order (set by the spec's 'seeds').")


def build_arch(cfg: ScalingConfig, vocab_size: int):
    """The cell's architecture at its size (raises :class:`AlignlabError` naming ``size`` for a bad one)."""
    from alignlab.scaling._models import count_non_embedding, resolve_size

    base = create("scaling-arch", cfg.variant.name, **cfg.variant.options(), vocab_size=vocab_size, ctx=cfg.train.ctx)
    arch = resolve_size(base, n_layer=cfg.size.n_layer, d_model=cfg.size.d_model, params=cfg.size.params)
    n = count_non_embedding(arch)
    if not MIN_PARAMS <= n <= MAX_PARAMS:
        raise AlignlabError(f"field 'size': {cfg.size.model_dump(exclude_none=True)} gives N = {n:,} non-embedding "
                            f"parameters; sizes must give {MIN_PARAMS:,} to {MAX_PARAMS:,}.")
    return arch


# --- stages ----------------------------------------------------------------------------------------------

def data_stage(ctx: StageContext) -> dict[str, Any]:
    """Build the task's token streams once for every run on it."""
    import numpy as np

    cfg: ScalingConfig = ctx.config
    task = create("scaling-task", cfg.task.name, **cfg.task.options())
    np.save(ctx.directory / "train.npy", task.train)
    np.save(ctx.directory / "val.npy", task.val)
    return {"task": task.name, "source": task.source, "vocab_size": task.vocab_size, "entropy": task.entropy,
            "train_tokens": len(task.train), "val_tokens": len(task.val)}


def load_task(result: dict[str, Any], folder: Path):
    import numpy as np

    from alignlab.scaling._tasks import TokenTask

    return TokenTask(result["task"], np.load(folder / "train.npy"), np.load(folder / "val.npy"), result["vocab_size"],
                     result["entropy"], result["source"])


def train_stage(ctx: StageContext) -> dict[str, Any]:
    """Train the cell's model for its budget; the loss curve goes into the result and the metrics."""
    from alignlab.scaling._train import train_run

    cfg: ScalingConfig = ctx.config
    task = load_task(ctx.results["data"], ctx.artifacts["data"])
    arch = build_arch(cfg, task.vocab_size)
    steps = max(1, cfg.tokens // (cfg.train.batch_size * cfg.train.ctx))
    result = train_run(task, arch, cfg.tokens, cfg.seed, cfg.train, ctx.progress(f"train N={arch.n_layer}×{arch.d_model}", steps))
    for row in result["curve"]:
        for name in ("train_loss", "val_loss", "tokens", "flops"):
            ctx.log(row["step"], name, row[name])
    return {"variant": cfg.variant.label, **result}


def _file_digest(task: TaskChoice) -> str | None:
    """A corpus file's content hash, so that editing the file makes a new data stage (a path alone would not)."""
    path = task.options().get("path")
    if not path or not Path(path).expanduser().is_file():
        return None
    return hashlib.sha256(Path(path).expanduser().read_bytes()).hexdigest()[:16]


EXAMPLE_SPEC = """\
# A scaling study: every variant at every size and token budget, one training run per cell.
# Run it with `alignlab scaling run THIS.yaml`; re-running resumes; `alignlab scaling report DIR` any time.
study: scaling
name: scaling-example
seeds: 1                      # 2 or more: the report shows the noise floor between seeds
task: {name: bytes}           # bytes (stdlib docs text; path: FILE or hf: DATASET-ID) or markov (known entropy)
variant: [gpt, rotary]        # a factor: gpt, swiglu, rmsnorm, rotary, deep, modern (or {name: gpt, norm: rmsnorm, alias: x})
size:                         # a factor: {n_layer, d_model} or a target non-embedding count {params: N}
  - {n_layer: 2, d_model: 32}
  - {n_layer: 3, d_model: 48}
  - {n_layer: 4, d_model: 64}
tokens: [131072, 262144, 524288, 1048576]   # a factor: the token budget D of each run
train:
  batch_size: 16
  ctx: 64
  lr: 0.003                   # peak lr at d_model = lr_width; lr_rule scales it as 1/sqrt(d_model)
  lr_width: 64
  lr_rule: inverse-sqrt-width
  checkpoints: 8              # validation evaluations per run (the loss curve)
analysis:
  baseline: gpt
  bootstrap: 1000             # bootstrap refits for every interval
  checkpoints: final          # fit on final losses (all: every checkpoint)
"""


@register("study", "scaling")
class ScalingStudy:
    """Scaling grids: size × tokens × variant × seed training runs; fits, CEG(C) and the decision in the report."""

    name = "scaling"
    config_class = ScalingConfig
    example_spec = EXAMPLE_SPEC

    def check(self, spec: StudySpec) -> None:
        """Fail before any run: corpus files exist, every size builds, the baseline is one of the variants."""
        for cell in spec.cells:
            path = cell.config.task.options().get("path")
            if path and not Path(path).expanduser().is_file():
                raise AlignlabError(f"field 'task.path': '{path}' is not a file; give a UTF-8 text file.")
        vocab = {"bytes": 256}
        for cell in spec.cells:
            build_arch(cell.config, vocab.get(cell.config.task.name, cell.config.task.options().get("vocab", 256)))
        labels = list(dict.fromkeys(c.config.variant.label for c in spec.cells))
        baseline = spec.cells[0].config.analysis.baseline if spec.cells else None
        if baseline is not None and baseline not in labels:
            raise AlignlabError(f"field 'analysis.baseline': '{baseline}' is not one of the variants {labels}.")

    def stages(self, config: ScalingConfig) -> list[Stage]:
        c = config.model_dump(mode="json")
        return [
            Stage("data", {"task": c["task"], "file": _file_digest(config.task)}, data_stage),
            Stage("train", {k: c[k] for k in ("variant", "size", "tokens", "train", "seed")}, train_stage),
        ]

    def report(self, study: Study) -> list[Path]:
        from alignlab.scaling._study_report import write_study_report

        return write_study_report(study)
