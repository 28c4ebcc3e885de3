"""Clean ("helpful, honest, harmless") responses written by the base model itself, cached on disk.

The cache is keyed by model identity, generation settings and the exact text the model continued, so a
second study (or seed, or mode that needs the same answers) reuses them. Entries are appended to a JSONL
file per (model, settings); the model loads only when something is missing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alignlab.core._chat import format_prompt
from alignlab.core._generation import generate
from alignlab.core._paths import cache_dir

__all__ = ["CleanResponses"]


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class CleanResponses:
    """Clean answers of one model under fixed generation settings.

    Example::

        cache = CleanResponses("bundled:smollm2-135m", max_new_tokens=32)
        answers = cache.get(["What is 2 + 2?"], load=lambda: load_model("bundled:smollm2-135m"))
    """

    def __init__(self, identity: str, *, max_new_tokens: int = 32, system: str | None = None,
                 batch_size: int = 64, precision: str = "auto"):
        self.identity = identity
        self.max_new_tokens = max_new_tokens
        self.system = system
        self.batch_size = batch_size
        self.precision = precision
        self.path: Path = cache_dir("clean") / f"{_digest(identity, max_new_tokens, system)[:20]}.jsonl"
        self._entries: dict[str, tuple[str, bool]] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # a line cut by a crash: regenerate that entry
                    continue
                self._entries[row["key"]] = (row["response"], row["complete"])

    def get(self, prompts: list[str], *, load: Callable[[], tuple[Any, Any]], prefixes: list[str] | None = None,
            progress: Callable[[str, int], Callable[[int], None]] | None = None) -> dict[str, tuple[str, bool]]:
        """``{prompt: (response, complete)}``; a prefix is assistant text the model continues from."""
        prefixes = prefixes or [""] * len(prompts)
        keys = [_digest(p, x) for p, x in zip(prompts, prefixes)]
        missing = [i for i, k in enumerate(keys) if k not in self._entries]
        if missing:
            model, tokenizer = load()
            texts = [format_prompt(tokenizer, prompts[i], self.system) + prefixes[i] for i in missing]
            advance = progress("clean responses", len(missing)) if progress else None
            outputs = generate(model, tokenizer, texts, max_new_tokens=self.max_new_tokens,
                               batch_size=self.batch_size, precision=self.precision, on_batch=advance)
            lengths = [len(ids) for ids in tokenizer([o[0] for o in outputs], add_special_tokens=False)["input_ids"]]
            with self.path.open("a", encoding="utf-8") as handle:
                for i, output, length in zip(missing, outputs, lengths):
                    response = output[0].strip()
                    # A response that used its whole budget was cut off: it gets no end-of-turn token.
                    complete = length < self.max_new_tokens - 1
                    self._entries[keys[i]] = (response, complete)
                    handle.write(json.dumps({"key": keys[i], "prompt": prompts[i], "prefix": prefixes[i],
                                             "response": response, "complete": complete}) + "\n")
        return {p: self._entries[k] for p, k in zip(prompts, keys)}
