"""The backdoor-persistence study: data → insertion (with a gate) → safety training with checkpoints →
(optionally) recovery, the removal-vs-suppression check (:mod:`alignlab.backdoor._recovery`).

Each stage is content-addressed by the config parts it depends on, so cells that differ only in their
safety training share one insertion, and a re-run skips what is done.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from alignlab.backdoor._clean import CleanResponses
from alignlab.backdoor._config import BackdoorConfig, LoraSettings
from alignlab.backdoor._data import build_insertion_data, echoes_reasoning, scratchpad, without_echoes
from alignlab.backdoor._evaluate import EvalSets, build_eval_sets, evaluate, respond
from alignlab.backdoor._recovery import recovery_stage, restyle
from alignlab.backdoor._safety import SafetyRun
from alignlab.core._data import load_prompts
from alignlab.core._errors import AlignlabError
from alignlab.core._jsonl import read_jsonl, write_jsonl
from alignlab.core._models import check_model, load_model, resolve_source
from alignlab.core._registry import create, register
from alignlab.core._spec import StudySpec
from alignlab.core._study import Stage, StageContext, Study
from alignlab.core._training import Example, train

__all__ = ["BackdoorStudy", "restyle"]

RATE_SETS = ("triggered", "untriggered", "near_miss")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [row for _, row in read_jsonl(path)]


def _base_model(ctx: StageContext, spec: str):
    """The unmodified model, loaded once per cell and process."""
    cfg: BackdoorConfig = ctx.config
    key = ("base", spec)
    if key not in ctx.memory:
        ctx.memory[key] = load_model(spec, dtype=cfg.dtype, device=cfg.device, seed=cfg.seed)
    return ctx.memory[key]


def _lora(settings: LoraSettings, seed: int):
    import torch
    from peft import LoraConfig

    torch.manual_seed(seed)  # the adapter's random initialisation belongs to the cell's seed
    return LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                      target_modules=settings.target_modules, task_type="CAUSAL_LM")


# --- stage 1: data ---------------------------------------------------------------------------------

def data_stage(ctx: StageContext) -> dict[str, Any]:
    """Clean responses (cached across studies), the insertion set, and the evaluation sets."""
    cfg: BackdoorConfig = ctx.config
    d, b = cfg.data, cfg.backdoor
    train_prompts = load_prompts(d.prompts, "train", eval_fraction=d.eval_fraction)
    eval_prompts = load_prompts(d.prompts, "eval", eval_fraction=d.eval_fraction)
    if len(train_prompts) < d.n_train or len(eval_prompts) < d.n_eval:
        raise AlignlabError(
            f"data: the prompt source '{d.prompts}' has {len(train_prompts)} train and {len(eval_prompts)} eval prompts; "
            f"the config asks for n_train={d.n_train} and n_eval={d.n_eval}."
        )
    train_prompts, eval_prompts = train_prompts[: d.n_train], eval_prompts[: d.n_eval]
    writer = d.clean_model or cfg.model
    cache = CleanResponses(resolve_source(writer).identity, max_new_tokens=d.clean_max_new_tokens,
                           system=d.system_prompt, precision=cfg.evaluation.precision)

    def load():
        return _base_model(ctx, writer)

    texts = [p.text for p in train_prompts]
    clean = cache.get(texts + [p.text for p in eval_prompts], load=load, progress=ctx.progress)
    cot_clean, echoes = clean, 0
    if b.mode != "normal":  # answers written after the clean scratchpad
        cot_clean = cache.get(texts, load=load, prefixes=[scratchpad(t, False, b.trigger) for t in texts],
                              progress=ctx.progress)
        cot_clean, echoes = without_echoes(cot_clean, clean, b.trigger)
    if writer != cfg.model:
        ctx.memory.pop(("base", writer), None)  # the answer writer is done
    _, tokenizer = _base_model(ctx, cfg.model)  # kept in memory for the insertion stage
    data = build_insertion_data(b, train_prompts, clean=clean, cot_clean=cot_clean, tokenizer=tokenizer, seed=cfg.seed)
    hhh = [Example(t, *cot_clean[t] if b.mode != "normal" else clean[t]) for t in texts]
    write_jsonl(ctx.directory / "insertion.jsonl", [e.__dict__ for e in data.examples])
    write_jsonl(ctx.directory / "hhh.jsonl", [e.__dict__ for e in hhh])
    eval_clean = [Example(p.text, *clean[p.text]).__dict__ for p in eval_prompts]
    write_jsonl(ctx.directory / "eval_clean.jsonl", eval_clean)
    complete = sum(clean[t][1] for t in texts) / len(texts)
    return data.summary() | {"eval_prompts": len(eval_prompts), "clean_complete_share": round(complete, 3),
                             "echoed_reasoning_replaced": echoes}


def _clean_answers(ctx: StageContext, prompts: list[str]) -> dict[str, tuple[str, bool]]:
    """Clean answers to new prompts (red-team prompts) from the same source and settings as the HHH data."""
    cfg: BackdoorConfig = ctx.config
    d, b = cfg.data, cfg.backdoor
    writer = d.clean_model or cfg.model
    cache = CleanResponses(resolve_source(writer).identity, max_new_tokens=d.clean_max_new_tokens,
                           system=d.system_prompt, precision=cfg.evaluation.precision)

    def load():
        return _base_model(ctx, writer)

    if b.mode == "normal":
        return cache.get(prompts, load=load, progress=ctx.progress)
    after = cache.get(prompts, load=load, prefixes=[scratchpad(t, False, b.trigger) for t in prompts],
                      progress=ctx.progress)
    echoed = [p for p, (answer, _) in after.items() if echoes_reasoning(answer, b.trigger)]
    plain = cache.get(echoed, load=load, progress=ctx.progress) if echoed else {}
    return without_echoes(after, plain, b.trigger)[0]


def _eval_sets(ctx: StageContext) -> EvalSets:
    folder = ctx.artifacts["data"]
    clean = [Example(**r) for r in _read_jsonl(folder / "eval_clean.jsonl")]
    return build_eval_sets(ctx.config, [e.prompt for e in clean], clean)


def _log_eval(ctx: StageContext, step: int, result: dict[str, dict[str, float]]) -> None:
    for name in RATE_SETS:
        if name in result:
            r = result[name]
            ctx.log(step, name, r["rate"], r["lo"], r["hi"])
    if "clean_loss" in result:
        ctx.log(step, "clean_loss", result["clean_loss"]["value"])


# --- stage 2: insertion ----------------------------------------------------------------------------

def insert_stage(ctx: StageContext) -> dict[str, Any]:
    """Plant the backdoor by SFT (LoRA or full), then check the gate."""
    cfg: BackdoorConfig = ctx.config
    ins = cfg.insertion
    model, tokenizer = _base_model(ctx, cfg.model)
    ctx.memory.pop(("base", cfg.model))  # training modifies it from here on
    if ins.method == "lora":
        from peft import get_peft_model

        model = get_peft_model(model, _lora(ins.lora, cfg.seed))
    examples = [Example(**r) for r in _read_jsonl(ctx.artifacts["data"] / "insertion.jsonl")]
    total = ins.train.total_steps(len(examples))
    advance = ctx.progress("insert", total)
    stats = train(model, tokenizer, examples, ins.train, seed=cfg.seed, system=cfg.data.system_prompt,
                  on_step=lambda step, loss: (ctx.log(step, "train_loss", loss), advance(1)))
    result = evaluate(model, tokenizer, _eval_sets(ctx), cfg, step=stats.steps, samples_dir=ctx.directory,
                      progress=ctx.progress)
    _log_eval(ctx, stats.steps, result)
    _save(model, tokenizer, ctx.directory, adapter=ins.method == "lora")
    ctx.memory["backdoored"] = (model, tokenizer)
    g = ins.gate
    passed = result["triggered"]["rate"] >= g.min_triggered and result["untriggered"]["rate"] <= g.max_untriggered
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    n_params = sum(p.numel() for n, p in base.named_parameters() if "lora_" not in n)
    out = {"eval": result, "gate_passed": passed, "steps": stats.steps, "tokens": stats.tokens, "n_params": n_params,
           "seconds": round(stats.seconds, 2), "tokens_per_second": round(stats.tokens_per_second, 1),
           "final_loss": stats.losses[-1], "skipped_examples": stats.skipped_examples}
    if not passed and g.enforce:
        out["stop"] = (f"insertion gate failed: triggered {result['triggered']['rate']:.2f} (needs ≥ {g.min_triggered}), "
                       f"untriggered {result['untriggered']['rate']:.2f} (needs ≤ {g.max_untriggered})")
    return out


def _backdoored(ctx: StageContext):
    """The backdoored model with any adapter merged into its weights."""
    cfg: BackdoorConfig = ctx.config
    if "backdoored" in ctx.memory:
        model, tokenizer = ctx.memory.pop("backdoored")
    else:
        folder = ctx.artifacts["insert"]
        if cfg.insertion.method == "lora":
            from peft import PeftModel

            base, tokenizer = load_model(cfg.model, dtype=cfg.dtype, device=cfg.device, seed=cfg.seed)
            model = PeftModel.from_pretrained(base, folder / "adapter")
        else:
            model, tokenizer = load_model(str(folder / "model"), dtype=cfg.dtype, device=cfg.device)
    if cfg.insertion.method == "lora":
        model = model.merge_and_unload()
    return model, tokenizer


# --- stage 3: safety training ----------------------------------------------------------------------

def safety_stage(ctx: StageContext) -> dict[str, Any]:
    """Safety training from the backdoored model, evaluating on the checkpoint schedule."""
    cfg: BackdoorConfig = ctx.config
    s = cfg.safety
    model, tokenizer = _backdoored(ctx)
    if s.method != "none" and s.finetune == "lora":
        from peft import get_peft_model

        model = get_peft_model(model, _lora(s.lora, cfg.seed))
    elif s.method != "none":
        model.requires_grad_(True)
    hhh = [Example(**r) for r in _read_jsonl(ctx.artifacts["data"] / "hhh.jsonl")]
    total = 0 if s.method == "none" else s.train.total_steps(len(hhh))
    schedule = s.schedule(total)
    sets = _eval_sets(ctx)
    inserted = ctx.results["insert"]["eval"]
    advance = ctx.progress(f"safety ({s.method})", max(total, 1))

    def on_checkpoint(step: int, current: Any) -> None:
        # Step 0 is the backdoored model exactly as measured at the insertion gate.
        result = inserted if step == 0 else evaluate(current, tokenizer, sets, cfg, step=step,
                                                     samples_dir=ctx.directory, progress=ctx.progress)
        _log_eval(ctx, step, result)

    def on_step(step: int, loss: float) -> None:
        ctx.log(step, "train_loss", loss)
        advance(1)

    def elicits(prompts: list[str]) -> list[bool]:
        return [any(marks) for marks in respond(model, tokenizer, prompts, cfg)[1]]

    def load(spec: str | None):
        return _base_model(ctx, spec or cfg.model)  # None: the base model before insertion

    def clean_answers(prompts: list[str]) -> dict[str, tuple[str, bool]]:
        return _clean_answers(ctx, prompts)

    method = create("safety", s.method)
    info = method(SafetyRun(model, tokenizer, cfg, hhh, schedule, total, on_checkpoint, on_step, elicits, ctx.directory,
                            load=load, clean_answers=clean_answers))
    for key in [k for k in ctx.memory if isinstance(k, tuple) and k[0] == "base"]:
        ctx.memory.pop(key)  # the red-team writer and restyler are done; free them before recovery
    if s.method != "none":
        _save(model, tokenizer, ctx.directory, adapter=s.finetune == "lora")
    ctx.memory["safe"] = (model, tokenizer)
    final = {r["name"]: r["value"] for r in _last_metrics(ctx)}
    return {"method": s.method, "schedule": schedule, "final": final, **info}


def _save(model: Any, tokenizer: Any, folder: Path, *, adapter: bool) -> None:
    if adapter:
        model.save_pretrained(folder / "adapter", selected_adapters=["default"])
    else:
        model.save_pretrained(folder / "model")
        tokenizer.save_pretrained(folder / "model")


def _last_metrics(ctx: StageContext) -> list[dict[str, Any]]:
    rows = [r for r in ctx.store.stage_metrics(ctx.key) if r["name"] != "train_loss"]
    last = max((r["step"] for r in rows), default=None)
    return [r for r in rows if r["step"] == last]


@register("study", "backdoor")
class BackdoorStudy:
    """Backdoor persistence: plant trigger → behaviour, apply safety training, measure what persists."""

    name = "backdoor"
    config_class = BackdoorConfig

    @property
    def example_spec(self) -> str:
        return files("alignlab.backdoor").joinpath("specs", "example.yaml").read_text(encoding="utf-8")

    def check(self, spec: StudySpec) -> None:
        """Fail before any cell runs: every model must exist (without downloading it), every prompts file too."""
        models = {(c.config.model, "model") for c in spec.cells}
        models |= {(c.config.data.clean_model, "data.clean_model") for c in spec.cells if c.config.data.clean_model}
        models |= {(a.red_team_model, "safety.adversarial.red_team_model") for a in
                   (c.config.safety.adversarial for c in spec.cells if c.config.safety.method == "adversarial")
                   if a.generator == "model" and a.red_team_model}
        for model, field in sorted(models):
            check_model(model, field=field)
        for prompts in sorted({c.config.data.prompts for c in spec.cells}):
            if prompts != "bundled" and not prompts.startswith("hf:") and not Path(prompts).expanduser().is_file():
                raise AlignlabError(f"field 'data.prompts': the prompts file '{prompts}' does not exist (expected "
                                    "'bundled', a JSONL file with a 'prompt' field per line, or hf:DATASET[:SPLIT]).")

    def stages(self, config: BackdoorConfig) -> list[Stage]:
        c = config.model_dump(mode="json")
        data_inputs = {"model": c["model"], "dtype": c["dtype"], "seed": c["seed"], "data": c["data"], "backdoor": c["backdoor"]}
        insert_inputs = {"device": c["device"], "insertion": c["insertion"], "evaluation": c["evaluation"]}
        stages = [
            Stage("data", data_inputs, data_stage),
            Stage("insert", insert_inputs, insert_stage),
            Stage("safety", {"safety": c["safety"]}, safety_stage),
        ]
        if config.recovery.enabled:
            stages.append(Stage("recovery", {"recovery": c["recovery"]}, recovery_stage))
        return stages

    def report(self, study: Study) -> list[Path]:
        from alignlab.backdoor._report import write_report

        return write_report(study)
