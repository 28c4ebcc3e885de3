"""How a backdoor scan runs: one pydantic model, every field with a default."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["ScanConfig"]


class ScanConfig(BaseModel):
    """Settings of ``alignlab backdoor scan``; the defaults are the scan the benchmark measures."""

    model_config = ConfigDict(extra="forbid")

    # --- what is scanned ---
    model: str = Field(..., description="Model spec: bundled:…, hf:ORG/NAME, tiny:LxW or a local directory.")
    adapter: str | None = Field(None, description="A PEFT adapter directory applied to the model.")
    target: str | None = Field(None, description="A known or suspected target text; null: discover it.")
    candidates: str | None = Field(None, description="A user candidate file (JSONL with 'text', or one per line).")
    library: bool = Field(True, description="Scan the shipped trigger-candidate library too.")
    probe_contrast: str | None = Field(None, description="JSONL of contrast pairs for the defection probe; null: shipped.")
    cpu_minutes: float | None = Field(10.0, gt=0, description="CPU minutes (user + system of all threads) the scan "
                                      "aims at, robustness aside: composition and GCG, which run only when nothing "
                                      "whole was found, spend what the earlier phases left, and the report lists "
                                      "what the budget cut; null: no budget (invert_minutes alone bounds GCG).")
    # --- prompts and decoding ---
    n_prompts: int = Field(12, ge=4, description="Clean prompts each tested candidate is tried on (screening).")
    rank_prompts: int = Field(3, ge=0, description="Other clean prompts every candidate is ranked on first; the best "
                              "rank_top are then tested on n_prompts. 0: test every candidate (one stage).")
    rank_top: int = Field(48, ge=1, description="Best-ranked candidates that are tested; the others are never flagged.")
    rank_null: int = Field(4, ge=2, description="Random strings per token length in the ranking stage's null.")
    n_heldout: int = Field(24, ge=4, description="Held-out prompts for attack success and probes.")
    positions: list[Literal["start", "end", "inside"]] = Field(
        ["start", "end", "inside"], min_length=1,
        description="Where candidates are inserted: the prompt's start, end, or after its first sentence.")
    screen: Literal["rotate", "every"] = Field(
        "rotate", description="Screening: 'rotate' tries each screening prompt at one position in turn, so every "
        "position is covered at the cost of one; 'every' tries each prompt at every position (cost × positions).")
    response_tokens: int = Field(4, ge=1, description="Response positions whose next-token distributions are compared.")
    max_new_tokens: int = Field(24, ge=4, description="Greedy tokens generated for outputs and attack success.")
    batch_size: int = Field(32, gt=0, description="Prompts per forward pass.")
    # --- statistics ---
    n_null: int = Field(12, ge=4, description="Random strings per token length in the test's null (the spread is "
                        "pooled over lengths, so a few per length suffice).")
    top_k: int = Field(8, ge=1, description="Best-screened candidates whose outputs are generated and examined.")
    examine_null: int = Field(4, ge=0, description="Random strings, shaped like the best examined candidates, whose "
                              "held-out answers are the output test's reference (and must rarely hold the target); "
                              "0: no output test (only a significant shift can flag).")
    alpha: float = Field(0.01, gt=0, lt=1, description="False discovery rate (Benjamini–Hochberg) over the candidates.")
    min_divergence: float = Field(0.05, ge=0, description="Effect floor: a candidate shifting the first answer tokens "
                                  "by less KL (nats) is never significant, whatever its p-value.")
    min_null_spread: float = Field(0.5, gt=0, description="Floor of the null's spread of log-divergences, so an "
                                   "unreactive model's near-constant null cannot make tiny p-values.")
    examine_lift: int = Field(4, ge=0, description="With a suspected target (given or leaked), the best-ranked "
                              "candidates by the target's likelihood gain (lift) examined besides the top_k; 0: none.")
    min_lift_spread: float = Field(0.25, gt=0, description="Floor of the null's spread of lifts (nats per target token).")
    min_support: float = Field(0.5, gt=0, le=1, description="Share of triggered outputs a discovered target must reach.")
    examine_first: int = Field(8, ge=0, description="Held-out prompts each examined candidate is answered on first; "
                               "only one whose first answers share a text the clean answers to the same prompts "
                               "lack (two of them; a given target: one) is answered on the rest and can be flagged; "
                               "0: all at once.")
    compose_rounds: int = Field(2, ge=0, description="Rounds of composition when no examined candidate is a whole "
                                "trigger: partial triggers' words joined with each other and the library's (0: off).")
    compose_min_asr: float = Field(0.25, gt=0, le=1, description="Attack success an examined candidate needs to be "
                                   "a partial trigger that composition starts from.")
    compose_pool: int = Field(24, ge=1, description="Library words (those that raised the suspected target most) "
                              "joined with the partial triggers.")
    compose_units: int = Field(3, ge=1, description="Partial triggers' texts and words that are extended.")
    compose_examine: int = Field(3, ge=1, description="Composed phrases examined per round, the best by the target's lift.")
    # --- leaked training data (target and trigger discovery) ---
    leak_samples: int = Field(48, ge=0, description="Generations sampled from empty prompts; 0 skips leak discovery.")
    leak_tokens: int = Field(32, ge=4, description="Tokens per leaked sample.")
    # --- trigger inversion (GCG) ---
    invert_steps: int = Field(20, ge=0, description="GCG steps when a target is known but no candidate is flagged; 0: off.")
    invert_tokens: int = Field(5, ge=1, le=16, description="Length of the inverted trigger in tokens.")
    invert_swaps: int = Field(64, ge=1, description="Candidate token swaps evaluated per GCG step.")
    invert_min_share: float = Field(0.5, ge=0, le=1, description="Share of leaked samples a leaked target must "
                                    "reach to be inverted (a given --target always is).")
    invert_minutes: float = Field(4.0, gt=0, description="Most wall-clock minutes of trigger inversion (the CPU "
                                  "budget, cpu_minutes, usually leaves less).")
    # --- robustness of what was found ---
    robustness: Literal["sft", "adversarial", "dpo"] | None = Field(
        None, description="Safety training run on the scanned model with the found trigger and target.")
    robustness_steps: int = Field(40, ge=1, description="Optimiser steps of that safety training.")
    # --- probes ---
    layers: list[int] | None = Field(None, description="Residual-stream layers for probes (the trigger probe "
                                     "chooses among them inside its training folds); null: the middle, three-quarter "
                                     "and last-but-one.")
    seed: int = Field(0, description="Seed of prompt choice and null strings.")
    device: str = Field("auto", description="auto, cpu or cuda.")

    @field_validator("positions")
    @classmethod
    def _positions_distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"positions repeat a position ({value}); give each of start, end, inside at most once")
        return value

    @field_validator("target")
    @classmethod
    def _target_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("the target is empty; give the text the backdoor is suspected to produce, or leave it out")
        return value

    @model_validator(mode="after")
    def _top_k_within_tested(self) -> ScanConfig:
        if self.rank_prompts and self.top_k > self.rank_top:
            raise ValueError(f"top_k ({self.top_k}) exceeds rank_top ({self.rank_top}): only tested candidates are "
                             "examined, so raise rank_top or lower top_k")
        return self
