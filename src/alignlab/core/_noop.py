"""A study kind that does (almost) nothing: for checking an executor or a cluster, and for measuring the
engine's own overhead (``benchmarks/executor_overhead.py``). ``alignlab run`` takes its spec::

    study: noop
    name: cluster-check
    seeds: 8
    work: cpu          # none | sleep | cpu
    seconds: 2.0
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alignlab.core._registry import register
from alignlab.core._study import Stage, StageContext

__all__ = ["NoopConfig", "NoopStudy"]


class NoopConfig(BaseModel):
    """One no-op cell."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, ge=0, description="Seed (set by the spec's 'seeds').")
    work: Literal["none", "sleep", "cpu"] = Field("none", description="What the cell does: nothing, sleep, or spin a core.")
    seconds: float = Field(0.0, ge=0, description="How long it sleeps or spins.")


def _work(ctx: StageContext) -> dict[str, float]:
    cfg: NoopConfig = ctx.config
    started = time.perf_counter()
    if cfg.work == "sleep":
        time.sleep(cfg.seconds)
    elif cfg.work == "cpu":
        count = 0
        while time.perf_counter() - started < cfg.seconds:
            count += sum(i * i for i in range(10_000))  # pure Python: holds one core
    ctx.log(0, "seconds", time.perf_counter() - started)
    return {"pid": os.getpid(), "seconds": time.perf_counter() - started}


@register("study", "noop")
class NoopStudy:
    """Cells that do nothing, sleep or spin a core: checks executors and clusters, measures overhead."""

    name = "noop"
    config_class = NoopConfig
    example_spec = "study: noop\nname: cluster-check\nseeds: 8\nwork: cpu          # none | sleep | cpu\nseconds: 2.0\n"
    init_command = None  # no instrument command writes this example; the spec is two fields

    def check(self, spec) -> None:
        pass

    def stages(self, config: NoopConfig) -> list[Stage]:
        return [Stage("work", config.model_dump(mode="json"), _work)]

    def report(self, study) -> list[Path]:
        return []
