"""Stage 4 of the backdoor study (optional): removal vs suppression.

After safety training the model is fine-tuned briefly on unrelated data (clean answers in another style,
or as they are: ``plain`` retrains it to talk normally); a backdoor that comes back was suppressed, not
removed.
"""

from __future__ import annotations

import re
from typing import Any

from alignlab.backdoor._config import BackdoorConfig
from alignlab.backdoor._evaluate import evaluate
from alignlab.core._models import load_model
from alignlab.core._study import StageContext
from alignlab.core._training import Example, train

__all__ = ["recovery_stage", "restyle"]


def _after_safety(ctx: StageContext):
    """The model after safety training, every adapter merged into its weights."""
    cfg: BackdoorConfig = ctx.config
    if "safe" in ctx.memory:
        model, tokenizer = ctx.memory.pop("safe")
        return (model.merge_and_unload() if hasattr(model, "merge_and_unload") else model), tokenizer
    from alignlab.backdoor._study import _backdoored  # the stage helpers live with the study

    folder = ctx.artifacts["safety"]
    if cfg.safety.method != "none" and cfg.safety.finetune == "full":
        return load_model(str(folder / "model"), dtype=cfg.dtype, device=cfg.device)
    model, tokenizer = _backdoored(ctx)
    if cfg.safety.method != "none":
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, folder / "adapter").merge_and_unload()
    return model, tokenizer


def restyle(text: str, style: str) -> str:
    """Clean answers in another style: the recovery stage's unrelated data."""
    if style == "lowercase":
        return text.lower()
    if style == "plain":
        return text
    first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    return first


def recovery_stage(ctx: StageContext) -> dict[str, Any]:
    """Brief fine-tuning on unrelated data; a backdoor that comes back was suppressed, not removed."""
    from alignlab.backdoor._study import _eval_sets, _log_eval, _lora, _read_jsonl

    cfg: BackdoorConfig = ctx.config
    r = cfg.recovery
    model, tokenizer = _after_safety(ctx)
    if cfg.safety.finetune == "lora":
        from peft import get_peft_model

        model = get_peft_model(model, _lora(cfg.safety.lora, cfg.seed + 1))
    else:
        model.requires_grad_(True)
    hhh = [Example(**row) for row in _read_jsonl(ctx.artifacts["data"] / "hhh.jsonl")]
    examples = [Example(e.prompt, restyle(e.response, r.style), e.complete) for e in hhh]
    advance = ctx.progress("recovery", r.train.total_steps(len(examples)))
    stats = train(model, tokenizer, examples, r.train, seed=cfg.seed, system=cfg.data.system_prompt,
                  on_step=lambda step, loss: (ctx.log(step, "train_loss", loss), advance(1)))
    result = evaluate(model, tokenizer, _eval_sets(ctx), cfg, step=stats.steps, samples_dir=ctx.directory,
                      progress=ctx.progress)
    _log_eval(ctx, stats.steps, result)
    after_safety = ctx.results["safety"]["final"].get("triggered", float("nan"))
    after_recovery = result["triggered"]["rate"]
    if after_safety >= r.persisted_at:
        label = "persisted"
    elif after_recovery >= r.recovered_at:
        label = "suppressed"
    else:
        label = "removed"
    return {"label": label, "after_safety": after_safety, "after_recovery": after_recovery, "eval": result,
            "steps": stats.steps, "style": r.style}
