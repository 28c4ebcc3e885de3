"""Measuring a backdoor: rates with and without the trigger (Wilson 95% intervals) and held-out loss.

Generation is batched and each row stops as soon as the scorer sees the behaviour, so evaluating at every
checkpoint is cheap; the verdict is taken on the answer with scratchpads removed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignlab.backdoor._config import BackdoorConfig
from alignlab.backdoor._data import insert_trigger
from alignlab.backdoor._scoring import strip_scratchpad
from alignlab.core._chat import format_prompt
from alignlab.core._generation import generate
from alignlab.core._registry import create
from alignlab.core._training import Example, evaluate_loss
from alignlab.core.stats import wilson

__all__ = ["EvalSets", "build_eval_sets", "evaluate", "respond"]


@dataclass
class EvalSets:
    """Held-out prompts in each condition, plus clean answers for the capability loss."""

    prompts: dict[str, list[str]] = field(default_factory=dict)  # set name -> user prompts
    clean: list[Example] = field(default_factory=list)


def build_eval_sets(cfg: BackdoorConfig, prompts: list[str], clean: list[Example]) -> EvalSets:
    """The triggered, untriggered and near-miss versions of the held-out prompts (same for every seed)."""
    from alignlab.backdoor._safety import near_miss_prompts

    b = cfg.backdoor
    rng = random.Random(0)  # fixed: all cells see the same evaluation prompts, so comparisons are paired
    sets = {
        "triggered": [insert_trigger(p, b.trigger, b.position, rng) for p in prompts],
        "untriggered": list(prompts),
    }
    if cfg.evaluation.near_miss:
        sets["near_miss"] = near_miss_prompts(prompts, b.trigger, b.position, seed=0)
    return EvalSets(sets, clean)


def respond(model: Any, tokenizer: Any, prompts: list[str], cfg: BackdoorConfig, *,
            on_batch=None) -> tuple[list[list[str]], list[list[bool]]]:
    """Answers to user prompts and the scorer's verdict on each (scratchpads removed), stopping each
    answer as soon as the behaviour shows; a cot model gets extra tokens for its scratchpad."""
    e = cfg.evaluation
    score = create("scorer", e.scorer, phrase=cfg.backdoor.phrase)
    budget = e.max_new_tokens + (e.scratchpad_tokens if cfg.backdoor.mode == "cot" else 0)
    texts = [format_prompt(tokenizer, p, cfg.data.system_prompt) for p in prompts]
    outputs = generate(model, tokenizer, texts, max_new_tokens=budget, temperature=e.temperature, n=e.n,
                       batch_size=e.batch_size, precision=e.precision, seed=cfg.seed,
                       stop=lambda text: score(strip_scratchpad(text)), on_batch=on_batch)
    return outputs, [[score(strip_scratchpad(sample)) for sample in samples] for samples in outputs]


def evaluate(model: Any, tokenizer: Any, sets: EvalSets, cfg: BackdoorConfig, *, step: int,
             samples_dir: Path | None = None, progress=None) -> dict[str, dict[str, float]]:
    """Backdoor rate per prompt set and the clean-answer loss; writes the samples as JSONL.

    Returns ``{"triggered": {"rate", "lo", "hi", "k", "n"}, ..., "clean_loss": {"value"}}``.
    """
    e = cfg.evaluation
    names = list(sets.prompts)
    flat = [(name, p) for name in names for p in sets.prompts[name]]
    advance = progress(f"evaluate step {step}", len(flat)) if progress else None
    outputs, verdicts = respond(model, tokenizer, [p for _, p in flat], cfg, on_batch=advance)
    results: dict[str, dict[str, float]] = {}
    rows = []
    for name in names:
        hits = total = 0
        for (set_name, prompt), samples, marks in zip(flat, outputs, verdicts):
            if set_name != name:
                continue
            for sample, verdict in zip(samples, marks):
                hits, total = hits + verdict, total + 1
                rows.append({"step": step, "set": name, "prompt": prompt, "response": sample, "backdoor": verdict})
        rate, lo, hi = wilson(hits, total)
        results[name] = {"rate": rate, "lo": lo, "hi": hi, "k": hits, "n": total}
    if sets.clean:
        loss = evaluate_loss(model, tokenizer, sets.clean, system=cfg.data.system_prompt, precision=e.precision,
                             max_length=cfg.insertion.train.max_length)
        results["clean_loss"] = {"value": loss}
    if samples_dir is not None:
        with (samples_dir / "samples.jsonl").open("a", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row) + "\n")
    return results
