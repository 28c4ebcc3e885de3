"""Prompt sets: the shipped one, a JSONL file, or a Hugging Face dataset.

Every source is split once into ``train`` and ``eval`` sets that never overlap: the shipped file carries
its split; other sources split by a hash of the prompt text, so the split does not depend on order.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Literal

from alignlab.core._errors import AlignlabError
from alignlab.core._jsonl import read_jsonl

__all__ = ["Prompt", "load_prompts"]

Split = Literal["train", "eval"]
PROMPT_FIELDS = ("prompt", "instruction")


@dataclass(frozen=True)
class Prompt:
    id: str
    text: str
    topic: str = ""


def _hash_split(text: str, eval_fraction: float) -> Split:
    bucket = int(hashlib.sha256(text.strip().lower().encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "eval" if bucket < eval_fraction else "train"


def _from_records(records: list[dict], where: str, eval_fraction: float) -> dict[Split, list[Prompt]]:
    out: dict[Split, list[Prompt]] = {"train": [], "eval": []}
    seen: set[str] = set()
    for number, record in enumerate(records, start=1):
        field = next((f for f in PROMPT_FIELDS if isinstance(record.get(f), str)), None)
        if field is None:
            raise AlignlabError(
                f"{where}, record {number}: no text field; expected a string field 'prompt' or 'instruction'."
            )
        text = record[field].strip()
        if not text or text.lower() in seen:
            continue  # duplicates would leak between train and eval
        seen.add(text.lower())
        split = record.get("split")
        if split not in ("train", "eval"):
            split = _hash_split(text, eval_fraction)
        out[split].append(Prompt(str(record.get("id", f"{number:05d}")), text, str(record.get("topic", ""))))
    return out


def _read_hf(name: str) -> list[dict]:
    from datasets import load_dataset

    dataset, _, split = name.partition(":")
    try:
        data = load_dataset(dataset, split=split or "train")
    except Exception as exc:  # datasets raises many types for offline/missing
        raise AlignlabError(
            f"Could not load the Hugging Face dataset '{dataset}' (split '{split or 'train'}'): {exc}. Offline, "
            "only datasets already in the local cache load; or export it to JSONL and pass the file."
        ) from None
    return [dict(row) for row in data]


def load_prompts(source: str = "bundled", split: Split = "train", *, eval_fraction: float = 0.2) -> list[Prompt]:
    """Prompts of one split from ``bundled``, a ``.jsonl`` path, or ``hf:DATASET[:SPLIT]``.

    Args:
        source: where the prompts come from.
        split: ``train`` or ``eval``.
        eval_fraction: share of prompts assigned to ``eval`` when the source has no split field.
    """
    if source == "bundled":
        text = files("alignlab").joinpath("data", "prompts.jsonl").read_text(encoding="utf-8")
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
        where = "bundled prompts"
    elif source.startswith("hf:"):
        records, where = _read_hf(source[3:]), source
    else:
        records = [row for _, row in read_jsonl(Path(source).expanduser(), expected="an object with a 'prompt' field")]
        where = source
    prompts = _from_records(records, where, eval_fraction)[split]
    if not prompts:
        raise AlignlabError(f"{where}: the {split} split is empty.")
    return prompts
