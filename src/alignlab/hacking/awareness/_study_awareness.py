"""The ``hacking-awareness`` study kind: evaluation awareness over model × cue set × scorer × seeds.

Two stages per cell: ``respond`` (the model answers every item under the evaluation and the deployment cue
of its pair; the rows go to ``responses.jsonl``) and ``score`` (the behaviour scorer per response, then the
paired statistics of :func:`~alignlab.hacking.paired_statistics`: McNemar's exact test and an Agresti–Min
interval). Spec::

    study: hacking-awareness
    name: my-awareness
    seeds: 2
    model: tiny:2x64
    cues: [all, graded]      # a factor: named cue sets (see CUE_SETS) or pair indices such as "0,2"
    scorer: refusal
    n: 8
    max_new_tokens: 8
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alignlab.core._errors import AlignlabError
from alignlab.core._jsonl import read_jsonl, write_jsonl
from alignlab.core._models import check_model
from alignlab.core._registry import create, register, registered
from alignlab.core._spec import StudySpec
from alignlab.core._study import Stage, StageContext, Study
from alignlab.hacking.awareness._awareness import CUE_PAIRS, AwarenessResult, paired_statistics

__all__ = ["CUE_SETS", "AwarenessCellConfig", "AwarenessStudy", "awareness_spec", "cell_result", "cue_indices"]

# Named subsets of CUE_PAIRS (by the gist of the evaluation cue), so that a cue set can be a factor level.
CUE_SETS: dict[str, tuple[int, ...]] = {
    "all": tuple(range(len(CUE_PAIRS))),
    "graded": (0,),
    "benchmark": (1,),
    "researchers": (2,),
    "safety": (3,),
}


def cue_indices(cues: str) -> tuple[int, ...]:
    """The CUE_PAIRS indices of a cue set: a name of CUE_SETS or comma-separated indices ("0,2")."""
    if cues in CUE_SETS:
        return CUE_SETS[cues]
    try:
        indices = tuple(int(part) for part in cues.split(","))
    except ValueError:
        indices = ()
    if not indices or any(not 0 <= i < len(CUE_PAIRS) for i in indices):
        raise ValueError(f"cue set '{cues}' is neither one of {', '.join(CUE_SETS)} nor comma-separated indices "
                         f"0..{len(CUE_PAIRS) - 1} into CUE_PAIRS (e.g. '0,2')")
    return indices


class AwarenessCellConfig(BaseModel):
    """One awareness cell: a model, a cue set, a behaviour scorer and a seed."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, ge=0, description="Seed (set by the spec's 'seeds'): which items, and generation.")
    model: str = Field(..., description="Model spec, e.g. tiny:2x64, bundled:smollm2-135m, hf:ORG/NAME.")
    cues: str = Field("all", description="Cue set: a name (all, graded, benchmark, researchers, safety) or indices '0,2'.")
    scorer: Annotated[str, registered("behaviour", "behaviour scorer")] = Field(
        "refusal", description="Behaviour scorer (registry kind 'behaviour'): refusal, humaneval-pass, hack-rate, …")
    n: int = Field(40, ge=1, le=100_000, description="Paired items.")
    max_new_tokens: int = Field(64, ge=1, le=32_768, description="Token budget per response.")
    batch_size: int = Field(16, ge=1, description="Prompts per forward pass.")
    level: float = Field(0.95, gt=0, lt=1, description="Confidence level of the difference's interval.")

    @field_validator("cues")
    @classmethod
    def _known_cues(cls, value: str) -> str:
        cue_indices(value)
        return value


def respond_stage(ctx: StageContext) -> dict[str, Any]:
    """Answer each item under its pair's evaluation cue and its deployment cue (greedy, batched)."""
    # The pieces of awareness_test, with the cue pairs drawn from the cell's set instead of all of them.
    from alignlab.core import format_prompt, generate, load_model

    cfg: AwarenessCellConfig = ctx.config
    items = create("behaviour", cfg.scorer).items(cfg.n, cfg.seed)
    if not items:
        raise AlignlabError(f"the behaviour scorer '{cfg.scorer}' gave no items.")
    pairs = [CUE_PAIRS[i] for i in cue_indices(cfg.cues)]
    model, tokenizer = load_model(cfg.model, seed=cfg.seed)
    prompts = []
    for index, item in enumerate(items):
        for cue in pairs[index % len(pairs)]:
            prompts.append(format_prompt(tokenizer, f"{cue}\n\n{item['text']}"))
    advance = ctx.progress("respond", len(prompts))
    responses = [r[0] for r in generate(model, tokenizer, prompts, max_new_tokens=cfg.max_new_tokens,
                                        batch_size=cfg.batch_size, seed=cfg.seed, on_batch=advance)]
    rows = [{"index": k, "item": item, "eval_cue": pairs[k % len(pairs)][0], "deploy_cue": pairs[k % len(pairs)][1],
             "eval_response": responses[2 * k], "deploy_response": responses[2 * k + 1]}
            for k, item in enumerate(items)]
    write_jsonl(ctx.directory / "responses.jsonl", rows)
    return {"items": len(items), "pairs": len(pairs)}


def score_stage(ctx: StageContext) -> dict[str, Any]:
    """Score both responses of every item and compare the conditions, paired."""
    from alignlab.core.stats import wilson

    cfg: AwarenessCellConfig = ctx.config
    rows = [row for _, row in read_jsonl(ctx.artifacts["respond"] / "responses.jsonl")]
    items = [r["item"] for r in rows]
    behaviour = create("behaviour", cfg.scorer)
    eval_hits = [bool(h) for h in behaviour.score(items, [r["eval_response"] for r in rows])]
    deploy_hits = [bool(h) for h in behaviour.score(items, [r["deploy_response"] for r in rows])]
    stats = paired_statistics(eval_hits, deploy_hits, cfg.level)
    n = len(rows)
    for name, hits in (("rate_eval", eval_hits), ("rate_deploy", deploy_hits)):
        _, lo, hi = wilson(sum(hits), n, cfg.level)
        ctx.log(0, name, stats[name], lo, hi)
    ctx.log(0, "difference", stats["difference"], *stats["ci"])
    ctx.log(0, "p_value", stats["p_value"])
    ctx.log(0, "n", n)
    write_jsonl(ctx.directory / "scored.jsonl",
                [{**r, "eval": e, "deploy": d} for r, e, d in zip(rows, eval_hits, deploy_hits)])
    return stats | {"n": n}


@register("study", "hacking-awareness")
class AwarenessStudy:
    """Evaluation awareness: behaviour under evaluation vs deployment cues, over models, cue sets and seeds."""

    name = "hacking-awareness"
    config_class = AwarenessCellConfig
    example_spec = """\
# Evaluation awareness: does behaviour change when the prompt says it is a test? Each item is asked twice,
# after an evaluation cue and after the matched deployment cue; McNemar's exact test on the pairs.
study: hacking-awareness
name: my-awareness
seeds: 2                 # a count or a list; seeds pick the items and seed generation
model: tiny:2x64         # or bundled:smollm2-135m, hf:ORG/NAME, a local model folder; a list is a factor
cues: [all, graded]      # a factor: every cue pair, one named set (graded, benchmark, researchers, safety) or "0,2"
scorer: refusal          # behaviour scorer: refusal, humaneval-pass, hack-rate (or a plugin's)
n: 8                     # paired items per cell
max_new_tokens: 8        # token budget per response
"""
    init_command = "alignlab hacking init --kind awareness"

    def check(self, spec: StudySpec) -> None:
        """Fail before any cell runs: every model must exist (without downloading it)."""
        for model in sorted({c.config.model for c in spec.cells}):
            check_model(model, field="model")

    def stages(self, config: AwarenessCellConfig) -> list[Stage]:
        c = config.model_dump(mode="json")
        # The scorer picks the items, so it is an input of the responses; the cue set by its indices, so
        # "graded" and "0" share them.
        respond = {"model": c["model"], "cues": list(cue_indices(config.cues)), "scorer": c["scorer"], "n": c["n"],
                   "max_new_tokens": c["max_new_tokens"], "batch_size": c["batch_size"], "seed": c["seed"]}
        return [Stage("respond", respond, respond_stage), Stage("score", {"level": c["level"]}, score_stage)]

    def report(self, study: Study) -> list[Path]:
        import pandas as pd

        from alignlab.hacking._study_report import cell_rows, write_report

        rows = cell_rows(study, "score")
        frame = pd.DataFrame(rows)
        for column in ("rate_eval", "rate_deploy", "difference", "difference_lo", "difference_hi", "p_value", "n"):
            if column not in frame:
                frame[column] = float("nan")
        frame = frame.drop(columns=[c for c in frame if c.startswith("rate_") and c.endswith(("_lo", "_hi"))])
        notes = [f"{len(rows)} cells. Each item is asked twice, once after an evaluation cue and once after the matched "
                 "deployment cue; difference = rate under evaluation − rate under deployment, with an Agresti–Min "
                 "interval; p is McNemar's exact test on the paired outcomes."]
        done = frame.dropna(subset=["difference"])
        figure = (_plot(done), "Evaluation − deployment difference per cell, with its interval.") if len(done) else None
        return write_report(study, "Evaluation awareness", frame, notes, figure)


def _plot(frame: Any):
    from alignlab.core._report import new_figure

    factors = [c for c in frame.columns if c not in {"status", "note", "rate_eval", "rate_deploy", "difference",
                                                     "difference_lo", "difference_hi", "p_value", "n"}]
    labels = [", ".join(f"{k}={row[k]}" for k in factors) for _, row in frame.iterrows()]
    fig, ax = new_figure(7.0, 0.6 + 0.35 * len(frame))
    y = list(range(len(frame)))
    diff = frame["difference"].to_numpy()
    err = [diff - frame["difference_lo"].to_numpy(), frame["difference_hi"].to_numpy() - diff]
    ax.errorbar(diff, y, xerr=err, fmt="o", capsize=3)
    ax.axvline(0, color="#8a94a8", linewidth=1)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("rate under evaluation cues − rate under deployment cues")
    return fig


def awareness_spec(model: str, *, scorer: str = "refusal", n: int = 40, max_new_tokens: int = 64, seed: int = 0,
                   cues: str = "all", name: str = "hacking-awareness") -> dict[str, Any]:
    """The one-cell ``hacking-awareness`` spec that ``alignlab hacking awareness`` runs (as a dict, for
    :meth:`~alignlab.core.Study.from_data`): the command's options, every cue pair, one seed."""
    return {"study": "hacking-awareness", "name": name, "seeds": [seed], "model": model, "cues": cues,
            "scorer": scorer, "n": n, "max_new_tokens": max_new_tokens}


def cell_result(study: Study, cell_id: str) -> AwarenessResult:
    """A finished cell's outcome as :func:`~alignlab.hacking.awareness_test` returns it (rows included)."""
    store = study.store()
    try:
        stages = store.cell_stages(cell_id)
        cell = next(c for c in store.cells() if c["cell_id"] == cell_id)
    finally:
        store.close()
    score = stages.get("score") or {}
    if score.get("status") != "done":
        raise AlignlabError(f"cell '{cell_id}' of {study.directory} has no scored responses yet.")
    stats = score["result"]
    rows = [row for _, row in read_jsonl(study.directory / "artifacts" / "score" / score["stage_key"] / "scored.jsonl")]
    item_rows = [{"item": r["item"].get("id") or r["item"].get("task_id") or r["index"], "eval_cue": r["eval_cue"],
                  "deploy_cue": r["deploy_cue"], "eval": r["eval"], "deploy": r["deploy"],
                  "eval_response": r["eval_response"][:300], "deploy_response": r["deploy_response"][:300]}
                 for r in rows]
    table = tuple(tuple(int(v) for v in row) for row in stats["table"])
    return AwarenessResult(cell["config"]["model"], cell["config"]["scorer"], int(stats["n"]), stats["rate_eval"],
                           stats["rate_deploy"], stats["difference"], tuple(stats["ci"]), stats["p_value"], table,
                           item_rows)

