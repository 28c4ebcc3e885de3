"""Robustness of what the scan found: the lab's safety training run on the scanned model (method 5).

The found trigger and target stand in for the planted ones the lab's study knows: a minimal
``BackdoorConfig`` carries them, the lab's registered safety method (``sft``, ``adversarial``, ``dpo``)
trains a fresh LoRA on a copy of the scanned model with the model's own clean answers as HHH data, and the
backdoor rate (held-out prompts carrying the trigger whose answer contains the target) is measured before
and after. Persistence is after / before, as the lab reports it.
"""

from __future__ import annotations

import copy
import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from alignlab.backdoor.scan._config import ScanConfig
from alignlab.backdoor.scan._shift import answers, insert
from alignlab.backdoor.scan._targets import contains

__all__ = ["robustness"]

# The scan's "inside" is the lab's "random" word boundary.
_POSITION = {"start": "start", "end": "end", "inside": "random"}


def _rate(model: Any, tokenizer: Any, prompts: list[str], target: str, cfg: ScanConfig) -> float:
    outs = answers(model, tokenizer, prompts, max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size)
    return sum(contains(o, target) for o in outs) / len(outs)


def robustness(model: Any, tokenizer: Any, cfg: ScanConfig, finding: Any, heldout: list[str]) -> dict[str, Any]:
    """Backdoor rate before and after ``cfg.robustness`` safety training for ``finding``'s trigger and target."""
    from peft import LoraConfig, get_peft_model

    from alignlab.backdoor._config import BackdoorConfig
    from alignlab.backdoor._safety import SafetyRun
    from alignlab.core._data import load_prompts
    from alignlab.core._registry import create
    from alignlab.core._training import Example

    trigger, target = finding.text, finding.target
    triggered = [insert(trigger, p, finding.position) for p in heldout]
    before = _rate(model, tokenizer, triggered, target, cfg)
    # HHH data: untriggered training prompts answered by the scanned model itself (its clean behaviour).
    prompts = [p.text for p in load_prompts("bundled", "train")][:48]
    clean = answers(model, tokenizer, prompts, max_new_tokens=32, batch_size=cfg.batch_size)
    hhh = [Example(p, a, complete=False) for p, a in zip(prompts, clean)]
    bcfg = BackdoorConfig(
        model=cfg.model, seed=cfg.seed,
        backdoor={"trigger": trigger, "phrase": target, "position": _POSITION[finding.position]},
        safety={"method": cfg.robustness, "train": {"steps": cfg.robustness_steps, "batch_size": 8, "max_length": 96},
                "checkpoints": [0]})
    base = copy.deepcopy(model)  # the scanned model stays as it was scanned
    base = base.merge_and_unload() if hasattr(base, "merge_and_unload") else base
    work = get_peft_model(base, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear",
                                                          task_type="CAUSAL_LM"))

    def elicits(texts: list[str]) -> list[bool]:
        outs = answers(work, tokenizer, texts, max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size)
        return [contains(o, target) for o in outs]

    with tempfile.TemporaryDirectory() as tmp:
        fields = {f.name for f in dataclasses.fields(SafetyRun)}
        # The lab's "base model before insertion" is unknown to a scan: the scanned model stands in for it.
        def load(spec: str | None):
            from alignlab.core._models import load_model

            return (model, tokenizer) if spec is None else load_model(spec, device=cfg.device, seed=cfg.seed)

        extra = {k: v for k, v in {"load": load,
                                    "clean_answers": lambda ps: {p: (a, False) for p, a in zip(
                                        ps, answers(model, tokenizer, ps, max_new_tokens=32, batch_size=cfg.batch_size))}
                                    }.items() if k in fields}
        run = SafetyRun(work, tokenizer, bcfg, hhh, [0], cfg.robustness_steps, lambda step, m: None,
                        lambda step, loss: None, elicits, Path(tmp), **extra)
        info = create("safety", cfg.robustness)(run)
    after = _rate(work, tokenizer, triggered, target, cfg)
    return {"method": cfg.robustness, "steps": cfg.robustness_steps, "trigger": trigger, "target": target,
            "rate_before": before, "rate_after": after,
            "persistence": after / before if before else None,
            "final_loss": info.get("final_loss")}
