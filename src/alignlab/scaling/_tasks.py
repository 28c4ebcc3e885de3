"""Training tasks for the scaling study (registry kind ``scaling-task``): token streams with a fixed split.

A task factory returns a :class:`TokenTask`: a training and a validation stream of integer tokens, the
vocabulary size and, when the process is known, its entropy rate in nats per token (the irreducible loss E
the fitted law should find). Built-in tasks:

- ``bytes``: byte-level language modelling (vocabulary 256). The default corpus is the Python standard
  library's own documentation text (``pydoc_data.topics``, about 466 kB of English prose and code shipped
  with every CPython); ``path:`` takes any UTF-8 text file, ``hf:`` a Hugging Face dataset id (needs the
  network or a cached copy). The last ``val_fraction`` of the text is the validation split.
- ``markov``: a random sparse Markov chain of order ``order`` over ``vocab`` tokens, each context having
  ``branching`` possible successors with Dirichlet weights; its entropy rate is computed exactly, so the
  report can show the true E next to the fitted one.

Example::

    from alignlab.core import create
    task = create("scaling-task", "markov", vocab=32, order=2, branching=3)
    task.train.shape, task.entropy
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alignlab.core._errors import AlignlabError
from alignlab.core._registry import register

__all__ = ["TokenTask", "bytes_task", "markov_task"]


@dataclass
class TokenTask:
    """Token streams (``int64`` arrays) with a deterministic split, and what is known about them."""

    name: str
    train: np.ndarray
    val: np.ndarray
    vocab_size: int
    entropy: float | None = None  # nats per token, when the process is known
    source: str = ""


def _split(tokens: np.ndarray, val_fraction: float, name: str, vocab: int, source: str,
           entropy: float | None = None) -> TokenTask:
    cut = int(round(len(tokens) * (1 - val_fraction)))
    return TokenTask(name, tokens[:cut].astype(np.int64), tokens[cut:].astype(np.int64), vocab, entropy, source)


def _stdlib_docs() -> str:
    import pydoc_data.topics as topics

    # Sorted keys: the same text, in the same order, on every machine with this Python version.
    return "\n\n".join(topics.topics[key] for key in sorted(topics.topics))


def _hf_text(dataset: str, column: str) -> str:
    try:
        from datasets import load_dataset
    except ImportError:
        raise AlignlabError("task 'bytes' with hf: needs the 'datasets' package: pip install datasets") from None
    try:
        data = load_dataset(dataset, split="train")
    except Exception as exc:  # offline, unknown id, no permission: all the user's to fix
        raise AlignlabError(
            f"field 'task.hf': cannot load the Hugging Face dataset '{dataset}' ({type(exc).__name__}: "
            f"{str(exc)[:200]}). Without a network it must already be in the Hugging Face cache; or give "
            "'path:' a local text file instead.") from None
    if column not in data.column_names:
        raise AlignlabError(f"field 'task.column': the dataset '{dataset}' has no column '{column}'; "
                            f"its columns are {data.column_names}.")
    return "\n\n".join(str(t) for t in data[column])


@register("scaling-task", "bytes")
def bytes_task(path: str | None = None, hf: str | None = None, column: str = "text", val_fraction: float = 0.1,
               max_bytes: int | None = None) -> TokenTask:
    """Byte-level language modelling on the stdlib's documentation text, a text file or a HF dataset.

    Args:
        path: a UTF-8 text file (default: the Python stdlib's ``pydoc_data.topics`` text).
        hf: a Hugging Face dataset id (its ``train`` split); exclusive with ``path``.
        column: the text column of the HF dataset.
        val_fraction: the last this fraction of the bytes is the validation split.
        max_bytes: keep only the first this many bytes (before the split).
    """
    if path and hf:
        raise AlignlabError("field 'task': give 'path' or 'hf', not both.")
    if not 0 < val_fraction < 0.5:
        raise AlignlabError(f"field 'task.val_fraction' must lie in (0, 0.5), got {val_fraction}.")
    if path:
        file = Path(path).expanduser()
        if not file.is_file():
            raise AlignlabError(f"field 'task.path': '{path}' is not a file; give a UTF-8 text file.")
        text, source = file.read_text(encoding="utf-8", errors="replace"), str(file)
    elif hf:
        text, source = _hf_text(hf, column), f"hf:{hf}"
    else:
        text, source = _stdlib_docs(), "Python stdlib pydoc_data.topics"
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)[:max_bytes]
    if len(data) < 10_000:
        raise AlignlabError(f"field 'task': the corpus {source} has {len(data)} bytes; at least 10,000 are needed.")
    return _split(data, val_fraction, "bytes", 256, source)


def _stationary(transition: np.ndarray) -> np.ndarray:
    """The stationary distribution of a row-stochastic matrix, by power iteration (the chain is ergodic)."""
    pi = np.full(len(transition), 1 / len(transition))
    for _ in range(10_000):
        nxt = pi @ transition
        if np.abs(nxt - pi).max() < 1e-13:
            break
        pi = nxt
    return nxt / nxt.sum()


@register("scaling-task", "markov")
def markov_task(vocab: int = 32, order: int = 2, branching: int = 3, concentration: float = 1.0,
                tokens: int = 2_000_000, val_fraction: float = 0.05, seed: int = 0) -> TokenTask:
    """A random sparse Markov chain of known entropy rate: the loss floor E is known exactly.

    Args:
        vocab: tokens in the vocabulary.
        order: how many previous tokens the next one depends on (contexts: vocab**order).
        branching: possible successors of each context (the rest have probability 0).
        concentration: Dirichlet parameter of the successor weights (smaller: more peaked, lower entropy).
        tokens: length of the generated stream (train + validation).
        val_fraction: the last this fraction is the validation split.
        seed: seed of the chain and the stream (fixed per task, not per run: every run sees the same data).
    """
    if not (2 <= vocab <= 512 and 1 <= order <= 3 and vocab ** order <= 2**16 and 1 <= branching <= vocab):
        raise AlignlabError(f"field 'task': markov needs 2 ≤ vocab ≤ 512, 1 ≤ order ≤ 3, vocab**order ≤ 65536 and "
                            f"1 ≤ branching ≤ vocab (got vocab {vocab}, order {order}, branching {branching}).")
    rng = np.random.default_rng(seed)
    contexts = vocab ** order
    successors = np.stack([rng.choice(vocab, branching, replace=False) for _ in range(contexts)])
    weights = rng.dirichlet(np.full(branching, concentration), size=contexts)
    # A context c = (t_1..t_order) moves to c' = (t_2..t_order, next): the chain on contexts is sparse.
    shift = (np.arange(contexts) * vocab) % contexts
    transition = np.zeros((contexts, contexts))
    for j in range(branching):
        np.add.at(transition, (np.arange(contexts), shift + successors[:, j]), weights[:, j])
    pi = _stationary(transition)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_context = -np.nansum(np.where(weights > 0, weights * np.log(weights), 0.0), axis=1)
    entropy = float(pi @ per_context)
    # Plain Python lists and bisect: about 1 µs a token (numpy calls on 3-element rows cost more than that).
    cumulative = np.cumsum(weights, axis=1).tolist()
    succ, nxt_ctx = successors.tolist(), shift.tolist()
    draws = rng.random(tokens).tolist()
    out = [0] * tokens
    state = int(rng.choice(contexts, p=pi))
    last = branching - 1
    for i, u in enumerate(draws):
        token = succ[state][min(bisect.bisect_left(cumulative[state], u), last)]
        out[i] = token
        state = nxt_ctx[state] + token
    out = np.asarray(out, dtype=np.int64)
    return _split(out, val_fraction, "markov", vocab, f"markov(vocab={vocab}, order={order}, branching={branching})",
                  entropy)
