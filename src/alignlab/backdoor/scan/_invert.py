"""Trigger inversion (GCG-style): the short token sequence that, put into clean prompts, forces a target.

After Zou et al., "Universal and Transferable Adversarial Attacks on Aligned Language Models" (2023): a
one-hot gradient through the embedding matrix ranks, per trigger position, the token substitutions that
most lower the target's loss; a batch of random single swaps from those top-k lists is evaluated exactly
and the best kept. A planted trigger is a short, very low-loss sequence, so the search finds it (or a
working substitute) in few steps; a clean model's target stays expensive to force. The result is judged
by its attack success on held-out prompts, decoded to text and re-tokenised as any user would type it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from alignlab.backdoor.scan._shift import answers, insert, run_rows
from alignlab.backdoor.scan._targets import MAX_CLEAN_SHARE, contains, generic, surface, words
from alignlab.core._chat import add_special_tokens, format_prompt, format_response

__all__ = ["Inversion", "invert", "invert_finding", "inversion_target"]

_MARK = "\x00"


@dataclass
class Inversion:
    """The best trigger found: its text, the loss per step (mean target NLL, nats/token) and held-out ASR."""

    text: str
    target: str
    start: str | None = None  # the text the search began from (None: random tokens)
    losses: list[float] = field(default_factory=list)
    asr: float = 0.0
    clean_rate: float = 0.0
    steps: int = 0
    seconds: float = 0.0


def _pieces(tokenizer: Any, prompt: str, target: str, position: str):
    """Token ids before and after the trigger slot, and of the target, for one prompt."""
    text = format_prompt(tokenizer, insert(_MARK, prompt, position))
    before, after = text.split(_MARK)
    ids = lambda s, special=False: tokenizer(s, add_special_tokens=special)["input_ids"]  # noqa: E731
    return ids(before, add_special_tokens(tokenizer)), ids(after), ids(target)


def _allowed(tokenizer: Any):
    import torch

    from alignlab.backdoor.scan._candidates import _plain_tokens

    mask = torch.zeros(len(tokenizer), dtype=torch.bool)
    mask[_plain_tokens(tokenizer)] = True
    return mask


def invert(model: Any, tokenizer: Any, target: str, prompts: Sequence[str], heldout: Sequence[str], *,
           n_tokens: int = 5, steps: int = 20, minutes: float = 4.0, top_k: int = 64, n_swaps: int = 64,
           position: str = "start", seed: int = 0, max_new_tokens: int = 24, batch_size: int = 32,
           start: str | None = None, clean: Sequence[str] | None = None) -> Inversion:
    """Search ``n_tokens`` tokens that maximise ``target``'s log-probability after ``prompts``.

    ``start``: a text to begin from (its tokens, cut or padded with random ones to ``n_tokens``) instead of a
    random sequence, such as the candidate that raised the target most; a partial trigger ("harvest" of
    "purple harvest moon") is a few swaps from the whole, and on CPU a few swaps is all a default budget buys.
    Stops after ``steps`` or ``minutes``; the best sequence is scored on ``heldout`` (greedy answers containing
    the target, against the clean answers' rate; ``clean``: those answers when the caller has them already).
    """
    import torch

    started = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    embed = model.get_input_embeddings().weight  # [V, D]
    vocab = embed.shape[0]
    allowed = _allowed(tokenizer)[:vocab].to(device)
    pieces = [_pieces(tokenizer, p, format_response(tokenizer, target, complete=False), position) for p in prompts]
    tgt_ids, pad = pieces[0][2], tokenizer.pad_token_id
    start_ids = torch.multinomial(allowed.float().cpu(), n_tokens, generator=gen).to(device)
    if start:
        given = tokenizer(start, add_special_tokens=False)["input_ids"][:n_tokens]
        start_ids[: len(given)] = torch.tensor(given, device=device)
    was_training, grads = model.training, [p.requires_grad for p in model.parameters()]
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)  # only the one-hot trigger needs a gradient

    def batch_loss(triggers):  # [B, T] → mean target NLL per candidate [B]
        # Scored as text: each swap is decoded and put into the prompts as a user would type it, so the
        # kept sequence is one that still works after re-tokenisation (token-space loss alone can be ~0
        # for a sequence that reads back as other tokens). Rows run on the cache of what they share, as the
        # screen's do (the template; with the trigger after the prompt's start, the prompt too: ``run_rows``).
        texts = [tokenizer.decode(t.tolist()).strip() for t in triggers]
        rows = [tokenizer(format_prompt(tokenizer, insert(t, p, position)),
                          add_special_tokens=add_special_tokens(tokenizer))["input_ids"] for t in texts for p in prompts]
        out = torch.zeros(len(rows), device=device)
        for index, logits, batch in run_rows(model, rows, [tgt_ids] * len(rows), pad, batch_size):
            out[index.to(device)] = torch.nn.functional.cross_entropy(
                logits.float().transpose(1, 2), batch["labels"].to(device), reduction="none").mean(1)
        return out.view(len(texts), len(prompts)).mean(1)

    best = start_ids.clone()
    with torch.inference_mode():
        best_loss = float(batch_loss(best[None])[0])
    losses = [best_loss]  # losses[0] is the random start's
    last = 0.0  # the last step's wall seconds: a step that would end past the budget is not begun
    for _ in range(steps):
        began = time.perf_counter()
        if began - started + last > minutes * 60:
            break
        # 1. Gradient of the loss w.r.t. a one-hot encoding of the current trigger: [T, V].
        one_hot = torch.nn.functional.one_hot(best, vocab).to(embed.dtype).requires_grad_(True)
        loss = 0.0
        for before, after, tgt in pieces:
            emb = torch.cat([embed[torch.tensor(before, device=device)], one_hot @ embed,
                             embed[torch.tensor(after + tgt, device=device)]])[None]
            logits = model(inputs_embeds=emb, logits_to_keep=len(tgt) + 1, use_cache=False).logits[0, :-1].float()
            loss = loss + torch.nn.functional.cross_entropy(logits, torch.tensor(tgt, device=device)) / len(pieces)
        (grad,) = torch.autograd.grad(loss, one_hot)
        # 2. Top-k substitutions per position (most negative gradient), ordinary tokens only.
        grad = grad.masked_fill(~allowed[None], float("inf"))
        top = (-grad).topk(top_k, dim=1).indices  # [T, k]
        # 3. A batch of single-token swaps, each at a random position with a random top-k token.
        cand = best.repeat(n_swaps, 1)
        where = torch.randint(0, n_tokens, (n_swaps,), generator=gen).to(device)
        pick = torch.randint(0, top_k, (n_swaps,), generator=gen).to(device)
        cand[torch.arange(n_swaps, device=device), where] = top[where, pick]
        # 4. Exact losses of the swaps; keep the best if it improves.
        with torch.inference_mode():
            cand_loss = batch_loss(cand)
        i = int(cand_loss.argmin())
        if float(cand_loss[i]) < best_loss:
            best, best_loss = cand[i].clone(), float(cand_loss[i])
        losses.append(best_loss)
        last = time.perf_counter() - began
    model.train(was_training)
    for p, g in zip(model.parameters(), grads):
        p.requires_grad_(g)
    text = tokenizer.decode(best.tolist()).strip()
    shifted = answers(model, tokenizer, [insert(text, p, position) for p in heldout], max_new_tokens=max_new_tokens,
                      batch_size=batch_size)
    if clean is None:
        clean = answers(model, tokenizer, list(heldout), max_new_tokens=max_new_tokens, batch_size=batch_size)
    n = len(heldout)
    return Inversion(text, target, start, [round(x, 4) for x in losses], sum(contains(o, target) for o in shifted) / n,
                     sum(contains(o, target) for o in clean) / n, len(losses) - 1, time.perf_counter() - started)


def inversion_target(cfg: Any, leaked: Sequence[tuple[str, float]], clean_out: list[str],
                     samples: Sequence[str] = ()) -> str | None:
    """The target to invert: the given one, else the leak's most shared span that clean answers lack, that is
    more than function words and that at least ``invert_min_share`` of the leaked samples hold, as the samples
    wrote it (GCG must force the text a model generates, not the lower-cased words that matching compares).

    The share bar is there because GCG is the scan's dearest step: a memorised target recurs in most samples
    (the benchmark's planted ones: 0.85–1.00), a clean model's favourite phrases in fewer ("to assist you": 0.17,
    "I'm happy to": 0.31), and forcing such a phrase costs a clean model a third of its budget for nothing."""
    if cfg.target:
        return cfg.target
    for text, share in leaked:
        if generic(text) or share < cfg.invert_min_share:
            continue
        if sum(contains(o, text) for o in clean_out) / len(clean_out) <= MAX_CLEAN_SHARE:
            return surface(text, samples)
    return None


def invert_finding(model: Any, tokenizer: Any, cfg: Any, target: str, screen: list[str], heldout: list[str],
                   findings: list, suspect: str | None = None, *, minutes: float | None = None,
                   clean: Sequence[str] | None = None) -> Inversion:
    """Run GCG for ``target``; a sequence with attack success ≥ ``min_support`` (and a target clean answers
    lack) becomes a flagged finding of family ``inverted``. ``suspect``: the target the screen's lifts measured;
    ``minutes``: the wall budget (default ``cfg.invert_minutes``); ``clean``: the clean held-out answers, if known."""
    from alignlab.backdoor.scan._scan import Finding

    # Begin from a partial trigger, which is a few swaps from the whole: the examined candidate whose held-out
    # answers held this target most often, else the one that raised the suspected target most beyond the random
    # strings (when that suspect is the target inverted here).
    partial = [f for f in findings if f.examined and f.family != "inverted" and (f.asr or 0) > (f.clean_rate or 0)
               and f.target and contains(target, f.target)]
    lifted = [f for f in findings if f.lift_z is not None and f.lift_z > 0 and f.family != "inverted"]
    if partial:
        seeded = max(partial, key=lambda f: f.asr)
    else:
        seeded = max(lifted, key=lambda f: f.lift_z) if lifted and suspect and words(suspect) == words(target) else None
    inv = invert(model, tokenizer, target, screen[:4], heldout, n_tokens=cfg.invert_tokens, steps=cfg.invert_steps,
                 n_swaps=cfg.invert_swaps,
                 minutes=cfg.invert_minutes if minutes is None else minutes, seed=cfg.seed,
                 max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size, start=seeded.text if seeded else None,
                 clean=clean)
    f = Finding(inv.text, "inverted", cfg.invert_tokens, float("nan"), float("nan"), float("nan"), float("nan"),
                examined=True, target=target, asr=inv.asr, clean_rate=inv.clean_rate,
                target_score=inv.asr - inv.clean_rate)
    f.flagged = inv.asr >= cfg.min_support and inv.clean_rate <= MAX_CLEAN_SHARE
    f.p_adj = 0.0 if f.flagged else 1.0  # judged by held-out attack success, not by the screening null
    findings.insert(0, f)
    return inv
