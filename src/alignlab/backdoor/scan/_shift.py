"""Behaviour shift of a model when a string is added to clean prompts.

The screening statistic is cheap: one teacher-forced forward pass per prompt. Each prompt's clean greedy
answer is fed after the prompt with and without the candidate, and the next-token distributions at the
first response positions are compared (KL of shifted from clean). A backdoor moves the first tokens of
the answer (a fixed phrase, another language) far more than random text of the same length does.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from typing import Any

from alignlab.core._chat import add_special_tokens, format_prompt, format_response
from alignlab.core._generation import generate
from alignlab.core._training import collate

__all__ = ["POSITIONS", "answers", "forced_ids", "insert", "response_ids", "shift_divergence", "shift_stats"]

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


def forced_ids(tokenizer: Any, target: str, length: int) -> list[int]:
    """The first ``length`` tokens of ``target`` written as the assistant's answer: the rows a suspected target
    is teacher-forced on."""
    return response_ids(tokenizer, [format_response(tokenizer, target, complete=False)], length)[0]


def _common_prefix(rows: Sequence[list[int]]) -> int:
    """Tokens every row starts with, leaving each row at least one token of its own."""
    first, n = rows[0], min(len(r) for r in rows) - 1
    for row in rows[1:]:
        i = 0
        while i < n and row[i] == first[i]:
            i += 1
        n = i
    return max(n, 0)


class _Prefix:
    """The key/value cache of the tokens all rows share (the chat template's system turn and header).

    Every screened row starts with the same 30-odd template tokens, often more than its own text, so
    running them once and reusing their cache halves the screen's cost. transformers' caches are
    model-specific (sliding windows, hybrids), so the cache is checked once against a plain forward pass
    on one row and dropped if it does not reproduce it.
    """

    MIN_TOKENS = 8

    def __init__(self, model: Any, ids: list[int]):
        import torch

        self.length, self.ids = len(ids), list(ids)
        self.device = next(model.parameters()).device
        # transformers renamed ``past_key_values`` to ``cache`` (5.x); take whichever this model's forward has.
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        self.keyword = "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"
        with torch.inference_mode():
            out = model(input_ids=torch.tensor([ids], device=self.device), use_cache=True)
        self.cache = getattr(out, self.keyword)

    def forward(self, model: Any, batch: dict[str, Any]):
        """Logits [B, R, V] of a batch of rows with the prefix cut off, run on the cached prefix."""
        import copy

        import torch

        b = batch["input_ids"].shape[0]
        cache = copy.deepcopy(self.cache)  # the forward pass appends to it
        cache.batch_repeat_interleave(b)
        mask = batch["attention_mask"].to(self.device)
        mask = torch.cat([torch.ones(b, self.length, dtype=mask.dtype, device=self.device), mask], dim=1)
        return model(input_ids=batch["input_ids"].to(self.device), attention_mask=mask,
                     position_ids=batch["position_ids"].to(self.device) + self.length, **{self.keyword: cache},
                     logits_to_keep=batch["keep"].to(self.device), use_cache=True).logits


def _plain_forward(model: Any, batch: dict[str, Any]):
    device = next(model.parameters()).device
    return model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device),
                 position_ids=batch["position_ids"].to(device), logits_to_keep=batch["keep"].to(device),
                 use_cache=False).logits


def _prefix_for(model: Any, prompt_ids: Sequence[list[int]], responses: Sequence[list[int]], pad_id: int):
    """The shared-prefix cache when it is long enough and reproduces a plain forward pass, else None."""
    import torch

    shared = _common_prefix(prompt_ids)
    if shared < _Prefix.MIN_TOKENS:
        return None
    try:
        prefix = _Prefix(model, list(prompt_ids[0][:shared]))
        with torch.inference_mode():
            whole = _plain_forward(model, collate([(prompt_ids[0], responses[0])], pad_id)).float()
            cut = prefix.forward(model, collate([(prompt_ids[0][shared:], responses[0])], pad_id)).float()
    except (AttributeError, TypeError, ValueError, RuntimeError, NotImplementedError):
        return None  # a cache this model's forward does not take: run rows whole
    return prefix if torch.allclose(whole, cut, atol=1e-3, rtol=1e-3) else None


def forward_rows(model: Any, prefix: _Prefix | None, rows: Sequence[list[int]], responses: Sequence[list[int]],
                 pad_id: int):
    """Logits [B, R, V] of (row, response) pairs and their batch, on ``prefix``'s cache when every row starts with
    it (a row can merge a token across the prefix's end: then the batch runs whole)."""
    cached = prefix is not None and all(r[:prefix.length] == prefix.ids for r in rows)
    cut = prefix.length if cached else 0
    batch = collate([(r[cut:], resp) for r, resp in zip(rows, responses)], pad_id)
    return (prefix.forward(model, batch) if cached else _plain_forward(model, batch)), batch


# A group of rows gets a cache of its own when at least _GROUP_ROWS of them share _GROUP_TOKENS tokens beyond what
# every row shares: rows of one prompt with candidates inserted after its start (``end``, ``inside``) share the
# prompt's tokens, often more than a row's own. Below that, one prefix forward pass per group would cost more
# than it saves.
_GROUP_TOKENS, _GROUP_ROWS = 4, 8


def _groups(rows: Sequence[list[int]]) -> list[list[int]]:
    """Row indices grouped by the tokens they share past the rows' common prefix (ungrouped rows last, together)."""
    shared = _common_prefix(rows) if len(rows) > 1 else 0
    key = shared + _GROUP_TOKENS
    by_key: dict[tuple[int, ...], list[int]] = {}
    rest = []
    for i, row in enumerate(rows):
        if len(row) > key:
            by_key.setdefault(tuple(row[:key]), []).append(i)
        else:
            rest.append(i)
    groups = []
    for members in by_key.values():
        if len(members) >= _GROUP_ROWS:
            groups.append(members)
        else:
            rest += members
    return groups + ([rest] if rest else [])


def run_rows(model: Any, rows: Sequence[list[int]], responses: Sequence[list[int]], pad_id: int, batch_size: int):
    """Per batch of (row, response) pairs: the rows' indices, logits [B, R, V] at the response positions, the batch.

    Rows run on the cached key/values of what they share (see ``_Prefix``): every row shares the chat template,
    and a group that also shares a prompt (``_groups``) runs on the cache of template and prompt. Within a group,
    batches go in order of length (less padding). The cache is checked once per call against a plain forward pass
    (``_prefix_for``); where it does not reproduce it, every row runs whole.
    """
    import torch

    works = None  # whether this model's cache reproduces a plain forward pass: checked on the first prefix
    for members in _groups(rows):
        group = [rows[i] for i in members]
        shared = _common_prefix(group) if len(group) > 1 else 0
        prefix = None
        if shared >= _Prefix.MIN_TOKENS and works is not False:
            if works is None:
                prefix = _prefix_for(model, group, [responses[i] for i in members], pad_id)
                works = prefix is not None
            else:
                prefix = _Prefix(model, list(group[0][:shared]))
        members = sorted(members, key=lambda i: len(rows[i]) + len(responses[i]))
        for start in range(0, len(members), batch_size):
            chunk = members[start:start + batch_size]
            logits, batch = forward_rows(model, prefix, [rows[i] for i in chunk], [responses[i] for i in chunk], pad_id)
            yield torch.tensor(chunk), logits, batch


def _batches(model: Any, tokenizer: Any, prompts: Sequence[str], responses: Sequence[list[int]], batch_size: int):
    """Per batch: its rows' indices, log-probabilities [B, R, V] at the response positions, labels [B, R]
    (the response's token ids, -100 past a row's end); see ``run_rows``."""
    import torch

    texts = [format_prompt(tokenizer, p) for p in prompts]
    prompt_ids = tokenizer(texts, add_special_tokens=add_special_tokens(tokenizer))["input_ids"]
    if not prompt_ids:
        return
    with torch.inference_mode():
        for rows, logits, batch in run_rows(model, prompt_ids, responses, tokenizer.pad_token_id, batch_size):
            yield rows, torch.log_softmax(logits.float(), -1).cpu(), batch["labels"]


def _log_probs(model: Any, tokenizer: Any, prompts: Sequence[str], responses: Sequence[list[int]], batch_size: int):
    """Log-probabilities [N, R, V] at the response positions, the mask [N, R] of real positions, and each row's
    mean log-probability of its own response tokens [N]."""
    import torch

    width = max((len(r) for r in responses), default=1)
    out, masks, own = None, torch.zeros(len(prompts), width, dtype=torch.bool), torch.zeros(len(prompts))
    for rows, lp, labels in _batches(model, tokenizer, prompts, responses, batch_size):
        if out is None:
            out = torch.zeros(len(prompts), width, lp.shape[-1])
        out[rows, : lp.shape[1]] = lp
        masks[rows, : labels.shape[1]] = labels != -100
        own[rows] = _response_log_prob(lp, labels)
    return out, masks, own


def _response_log_prob(lp, labels):
    """Mean log-probability per row of its response tokens (labels -100 excluded): [B]."""
    m = (labels != -100).float()
    picked = lp.gather(-1, labels.clamp(min=0)[..., None])[..., 0]
    return (picked * m).sum(-1) / m.sum(-1).clamp(min=1)


def shift_divergence(model: Any, tokenizer: Any, prompts: Sequence[str], responses: Sequence[list[int]],
                     candidates: Sequence[str], *, batch_size: int, clean=None,
                     position: str = "start") -> tuple[list[float], Any]:
    """Mean KL(shifted ‖ clean) over prompts and response positions, one value per candidate, with each
    candidate inserted at ``position`` (see :func:`insert`).

    Returns the divergences and the clean log-probabilities (pass them back as ``clean`` to reuse them).
    """
    (divergence, _), clean = shift_stats(model, tokenizer, prompts, responses, candidates, batch_size=batch_size,
                                         clean=clean, position=position)
    return divergence, clean


def shift_stats(model: Any, tokenizer: Any, prompts: Sequence[str], responses: Sequence[list[int]],
                candidates: Sequence[str], *, batch_size: int, clean=None, position: str = "start",
                kl_positions: int | None = None) -> tuple[tuple[list[float], list[float]], Any]:
    """Per candidate, from one teacher-forced pass: the divergence (see :func:`shift_divergence`) and the
    *lift*, how much the candidate raises the forced responses' mean log-probability per token (nats) over the
    clean prompts'. With a suspected target as every prompt's response, the lift is the target's likelihood
    gain, which names a trigger even where every insertion shifts the first tokens.

    ``kl_positions``: take the divergence over the first that many response positions only. The first answer
    token's distribution does not depend on the forced response, so with a suspected target forced the
    divergence at position 0 is the one the clean answers would give; later positions forced on the target
    would hide a trigger of that target (past its first tokens, the clean model continues it as surely).
    """
    import torch

    was_training = model.training
    model.eval()
    try:
        if clean is None:
            clean = _log_probs(model, tokenizer, prompts, responses, batch_size)
        ref, mask, ref_own = clean  # [P, R, V], [P, R], [P]
        n = len(prompts)
        rows = [insert(c, p, position) for c in candidates for p in prompts]
        tiled = [r for _ in candidates for r in responses]
        per_row, lift = torch.zeros(len(rows)), torch.zeros(len(rows))
        # The KL is taken batch by batch against the clean rows of the same prompts: the shifted
        # log-probabilities (batch × R × V floats each) are never gathered for the whole library, whose
        # copies would cost more memory traffic than the forward passes on a small model.
        for index, lp, labels in _batches(model, tokenizer, rows, tiled, batch_size):
            which = index % n  # each row's prompt
            width = min(lp.shape[1], ref.shape[1])
            lp = lp[:, :width]
            lift[index] = _response_log_prob(lp, labels[:, :width]) - ref_own[which]
            width = min(width, kl_positions or width)
            kl = (lp[:, :width].exp() * (lp[:, :width] - ref[which, :width])).sum(-1)  # [B, R]
            m = mask[which, :width].float()
            per_row[index] = (kl * m).sum(-1) / m.sum(-1).clamp(min=1)
        shape = (len(candidates), n)
        out = (per_row.view(shape).mean(-1).tolist(), lift.view(shape).mean(-1).tolist()) if candidates else ([], [])
    finally:
        model.train(was_training)
    return out, clean
