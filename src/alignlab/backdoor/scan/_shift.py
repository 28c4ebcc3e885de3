"""Behaviour shift of a model when a string is added to clean prompts.

The screening statistic is cheap: one teacher-forced forward pass per prompt. Each prompt's clean greedy
answer is fed after the prompt with and without the candidate, and the next-token distributions at the
first response positions are compared (KL of shifted from clean). A backdoor moves the first tokens of
the answer (a fixed phrase, another language) far more than random text of the same length does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from alignlab.core._chat import add_special_tokens, format_prompt
from alignlab.core._generation import generate
from alignlab.core._training import collate

__all__ = ["POSITIONS", "answers", "insert", "response_ids", "shift_divergence"]

POSITIONS = ("start", "end", "inside")
_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+")


def insert(candidate: str, prompt: str, position: str = "start") -> str:
    """The prompt with the candidate at its ``start``, its ``end`` or ``inside`` it.

    ``inside`` is after the first sentence, or after the middle word of a one-sentence prompt: planted triggers
    sit at the start, the end or a random word boundary, and a model that learned one place may ignore the others.
    """
    if position == "start":
        return f"{candidate} {prompt}"
    if position == "end":
        return f"{prompt} {candidate}"
    parts = _SENTENCE_END.split(prompt, maxsplit=1)
    if len(parts) == 2 and parts[1]:
        return f"{parts[0]} {candidate} {parts[1]}"
    words = prompt.split(" ")
    at = max(1, len(words) // 2)
    return " ".join(words[:at] + [candidate] + words[at:])


def answers(model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int) -> list[str]:
    """Greedy answers to user prompts (deterministic, so every scan of a model sees the same outputs)."""
    texts = [format_prompt(tokenizer, p) for p in prompts]
    return [row[0] for row in generate(model, tokenizer, texts, max_new_tokens=max_new_tokens,
                                       batch_size=batch_size, precision="fp32")]


def response_ids(tokenizer: Any, responses: Sequence[str], length: int) -> list[list[int]]:
    """The first ``length`` tokens of each response (at least one: an empty answer is its end token)."""
    ids = tokenizer(list(responses), add_special_tokens=False)["input_ids"]
    end = tokenizer.eos_token_id
    return [(row or [end])[:length] for row in ids]


def _batches(model: Any, tokenizer: Any, prompts: Sequence[str], responses: Sequence[list[int]], batch_size: int):
    """Per batch: its first row, log-probabilities [B, R, V] at the response positions, mask [B, R] of real ones."""
    import torch

    texts = [format_prompt(tokenizer, p) for p in prompts]
    prompt_ids = tokenizer(texts, add_special_tokens=add_special_tokens(tokenizer))["input_ids"]
    device = next(model.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            pairs = list(zip(prompt_ids[start:start + batch_size], responses[start:start + batch_size]))
            batch = collate(pairs, tokenizer.pad_token_id)
            logits = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device),
                           position_ids=batch["position_ids"].to(device), logits_to_keep=batch["keep"].to(device),
                           use_cache=False).logits.float()  # [B, R, V]
            yield start, torch.log_softmax(logits, -1).cpu(), batch["labels"] != -100


def _log_probs(model: Any, tokenizer: Any, prompts: Sequence[str], responses: Sequence[list[int]], batch_size: int):
    """Log-probabilities [N, R, V] at the response positions, and the mask [N, R] of real positions."""
    import torch

    outs, masks = [], []
    for _, lp, mask in _batches(model, tokenizer, prompts, responses, batch_size):
        outs.append(lp)
        masks.append(mask)
    width = max(o.shape[1] for o in outs)
    pad = [torch.nn.functional.pad(o, (0, 0, 0, width - o.shape[1])) for o in outs]
    mpad = [torch.nn.functional.pad(m, (0, width - m.shape[1])) for m in masks]
    return torch.cat(pad), torch.cat(mpad)


def shift_divergence(model: Any, tokenizer: Any, prompts: Sequence[str], responses: Sequence[list[int]],
                     candidates: Sequence[str], *, batch_size: int, clean=None,
                     position: str = "start") -> tuple[list[float], Any]:
    """Mean KL(shifted ‖ clean) over prompts and response positions, one value per candidate, with each
    candidate inserted at ``position`` (see :func:`insert`).

    Returns the divergences and the clean log-probabilities (pass them back as ``clean`` to reuse them).
    """
    import torch

    was_training = model.training
    model.eval()
    try:
        if clean is None:
            clean = _log_probs(model, tokenizer, prompts, responses, batch_size)
        ref, mask = clean  # [P, R, V], [P, R]
        n = len(prompts)
        rows = [insert(c, p, position) for c in candidates for p in prompts]
        tiled = [r for _ in candidates for r in responses]
        per_row = torch.zeros(len(rows))
        # The KL is taken batch by batch against the clean rows of the same prompts: the shifted
        # log-probabilities (batch × R × V floats each) are never gathered for the whole library, whose
        # copies would cost more memory traffic than the forward passes on a small model.
        for start, lp, _ in _batches(model, tokenizer, rows, tiled, batch_size):
            which = torch.arange(start, start + lp.shape[0]) % n  # each row's prompt
            width = min(lp.shape[1], ref.shape[1])
            lp = lp[:, :width]
            kl = (lp.exp() * (lp - ref[which, :width])).sum(-1)  # [B, R]
            m = mask[which, :width].float()
            per_row[start:start + lp.shape[0]] = (kl * m).sum(-1) / m.sum(-1).clamp(min=1)
        out = per_row.view(len(candidates), n).mean(-1).tolist() if candidates else []
    finally:
        model.train(was_training)
    return out, clean
