"""Architectures for the scaling study (registry kind ``scaling-arch``): a small GPT-style decoder in plain torch.

One :class:`GPT` with switches — activation ``gelu``/``swiglu``, norm ``layernorm``/``rmsnorm``, position
``learned``/``rotary`` — and a depth/width ratio ``width_per_layer`` used when a size is given as a target
parameter count. Presets (registered factories, each an :class:`ArchConfig` with its own defaults):
``gpt`` (GELU, LayerNorm, learned positions, d_model = 32·n_layer), ``swiglu``, ``rmsnorm``, ``rotary`` and
``deep`` (d_model = 16·n_layer: twice as many layers for the same N).

Conventions (the report states them):

- **N** counts non-embedding parameters: everything but the token embedding (tied with the output layer)
  and the learned position table. Norm weights count; there are no biases.
- **FLOPs per training token** = 6·N + 6·n_layer·ctx·d_model (Kaplan et al. 2020: forward 2N plus
  2·n_layer·ctx·d_model for attention scores and values, backward twice the forward; ctx is the full
  context, causal masking not discounted). The fits use C = 6·N·D as part 1 does; the attention term is
  stored with each run (``flops``) and shown in the report.

Torch is imported inside functions: registering the presets must stay cheap.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from alignlab.core._errors import AlignlabError
from alignlab.core._registry import register

__all__ = ["ArchConfig", "build_model", "count_non_embedding", "flops_per_token", "resolve_size"]


class ArchConfig(BaseModel):
    """One architecture: the switches and the shape (set by the size)."""

    model_config = ConfigDict(extra="forbid")

    activation: Literal["gelu", "swiglu"] = Field("gelu", description="MLP: GELU (4·d hidden) or SwiGLU (8/3·d hidden).")
    norm: Literal["layernorm", "rmsnorm"] = Field("layernorm", description="Pre-norm type (no bias).")
    position: Literal["learned", "rotary"] = Field("learned", description="Learned position table or rotary (RoPE).")
    width_per_layer: int = Field(32, ge=4, le=512, description="d_model per layer when a size is a target count.")
    head_dim: int = Field(16, ge=4, le=256, description="Width of one attention head (n_head = d_model / head_dim).")
    n_layer: int = Field(2, ge=1, le=64, description="Blocks.")
    d_model: int = Field(64, ge=8, le=4096, description="Residual width; a multiple of head_dim.")
    vocab_size: int = Field(256, ge=2, description="Set by the task.")
    ctx: int = Field(64, ge=2, description="Context length (set by the training settings).")


def _mlp_hidden(cfg: ArchConfig) -> int:
    if cfg.activation == "gelu":
        return 4 * cfg.d_model
    return 8 * ((8 * cfg.d_model // 3 + 7) // 8)  # SwiGLU at 2/3 of 4d, rounded up to 8: same N as GELU ± 1 %


def count_non_embedding(cfg: ArchConfig) -> int:
    """N as documented, from the shape alone (tests check it against the built model)."""
    d, h = cfg.d_model, _mlp_hidden(cfg)
    mlp = (3 if cfg.activation == "swiglu" else 2) * d * h
    per_block = 4 * d * d + mlp + 2 * d  # two norms, one weight vector each (LayerNorm has no bias here)
    return cfg.n_layer * per_block + d  # + the final norm


def flops_per_token(cfg: ArchConfig) -> float:
    """Training FLOPs per token: 6·N + 6·n_layer·ctx·d_model (Kaplan's convention, full context)."""
    return 6.0 * count_non_embedding(cfg) + 6.0 * cfg.n_layer * cfg.ctx * cfg.d_model


def resolve_size(cfg: ArchConfig, *, n_layer: int | None, d_model: int | None, params: int | None,
                 where: str = "size") -> ArchConfig:
    """The shape for a size: explicit ``n_layer``/``d_model``, or the shape nearest a target N.

    For a target, d_model follows the preset's ``width_per_layer`` (rounded to a multiple of head_dim) and
    n_layer is the integer whose N is nearest in log terms.
    """
    if params is not None:
        if n_layer is not None or d_model is not None:
            raise AlignlabError(f"field '{where}': give either 'params' or 'n_layer' and 'd_model', not both.")
        best = None
        for layers in range(1, 65):
            width = max(cfg.head_dim, cfg.head_dim * round(cfg.width_per_layer * layers / cfg.head_dim))
            shaped = cfg.model_copy(update={"n_layer": layers, "d_model": width})
            miss = abs(math.log(count_non_embedding(shaped) / params))
            if best is None or miss < best[0]:
                best = (miss, shaped)
        return best[1]
    if n_layer is None or d_model is None:
        raise AlignlabError(f"field '{where}': give 'n_layer' and 'd_model' (e.g. {{n_layer: 2, d_model: 64}}) "
                            "or a target count 'params' (e.g. {params: 100000}).")
    if d_model % cfg.head_dim:
        raise AlignlabError(f"field '{where}.d_model': {d_model} is not a multiple of the head width "
                            f"{cfg.head_dim}; use e.g. {cfg.head_dim * max(1, round(d_model / cfg.head_dim))}.")
    return cfg.model_copy(update={"n_layer": n_layer, "d_model": d_model})


def _rotate(x, cos, sin):
    """RoPE on the last dimension, in halves (GPT-NeoX layout). x: (B, H, T, hd)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return __import__("torch").cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def build_model(cfg: ArchConfig) -> Any:
    """A :class:`torch.nn.Module` for ``cfg``; ``model(idx)`` gives logits (B, T, vocab)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    def norm() -> nn.Module:
        return nn.RMSNorm(cfg.d_model) if cfg.norm == "rmsnorm" else nn.LayerNorm(cfg.d_model, bias=False)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
            self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
            self.n_head = cfg.d_model // cfg.head_dim

        def forward(self, x, rope):
            B, T, C = x.shape
            q, k, v = (t.view(B, T, self.n_head, -1).transpose(1, 2) for t in self.qkv(x).split(C, dim=2))
            if rope is not None:
                q, k = _rotate(q, *rope), _rotate(k, *rope)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, hd)
            return self.proj(y.transpose(1, 2).reshape(B, T, C))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            hidden = _mlp_hidden(cfg)
            self.up = nn.Linear(cfg.d_model, (2 if cfg.activation == "swiglu" else 1) * hidden, bias=False)
            self.down = nn.Linear(hidden, cfg.d_model, bias=False)

        def forward(self, x):
            if cfg.activation == "swiglu":
                gate, value = self.up(x).chunk(2, dim=-1)
                return self.down(F.silu(gate) * value)
            return self.down(F.gelu(self.up(x)))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1, self.attn, self.norm2, self.mlp = norm(), Attention(), norm(), MLP()

        def forward(self, x, rope):
            x = x + self.attn(self.norm1(x), rope)
            return x + self.mlp(self.norm2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.config = cfg
            self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
            self.pos = nn.Embedding(cfg.ctx, cfg.d_model) if cfg.position == "learned" else None
            self.blocks = nn.ModuleList(Block() for _ in range(cfg.n_layer))
            self.norm = norm()
            if cfg.position == "rotary":
                inv = 1.0 / (10000 ** (torch.arange(0, cfg.head_dim, 2).float() / cfg.head_dim))
                angles = torch.outer(torch.arange(cfg.ctx).float(), inv)  # (ctx, hd/2)
                self.register_buffer("cos", angles.cos(), persistent=False)
                self.register_buffer("sin", angles.sin(), persistent=False)
            self.apply(self._init)
            for name, p in self.named_parameters():  # GPT-2: residual projections scaled by depth
                if name.endswith(("proj.weight", "down.weight")):
                    nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layer))

        @staticmethod
        def _init(module):
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)

        def non_embedding_parameters(self) -> int:
            skip = {id(self.embed.weight)} | ({id(self.pos.weight)} if self.pos is not None else set())
            return sum(p.numel() for p in self.parameters() if id(p) not in skip)

        def forward(self, idx):
            T = idx.shape[1]
            x = self.embed(idx)
            if self.pos is not None:
                x = x + self.pos.weight[:T]
            rope = (self.cos[:T], self.sin[:T]) if self.pos is None else None
            for block in self.blocks:
                x = block(x, rope)
            return self.norm(x) @ self.embed.weight.T  # tied output layer

    return GPT()


def _preset(name: str, doc: str, **defaults: Any):
    def factory(**options: Any) -> ArchConfig:
        return ArchConfig(**{**defaults, **options})

    factory.__name__ = factory.__qualname__ = f"arch_{name}"
    factory.__doc__ = doc
    return register("scaling-arch", name, forwards="alignlab.scaling._models:ArchConfig")(factory)


_preset("gpt", "Baseline: GELU MLP, LayerNorm, learned positions, d_model = 32·n_layer.")
_preset("swiglu", "GPT with a SwiGLU MLP (8/3·d hidden, same N).", activation="swiglu")
_preset("rmsnorm", "GPT with RMSNorm instead of LayerNorm.", norm="rmsnorm")
_preset("rotary", "GPT with rotary position embeddings instead of a learned table.", position="rotary")
_preset("deep", "GPT at half the width per layer (d_model = 16·n_layer): deeper for the same N.", width_per_layer=16)
_preset("modern", "SwiGLU + RMSNorm + rotary (a Llama-style block).", activation="swiglu", norm="rmsnorm",
        position="rotary")
