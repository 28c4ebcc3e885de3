"""Optimizers as registry entries, and the learning-rate schedule.

Each factory takes the trainable ``named_params`` and the shared hyperparameters and returns a
``torch.optim.Optimizer``; ``forwards`` names the class its ``**options`` go to, so a spec's unknown option
fails at validation. Add one with::

    @register("optimizer", "my-package/my-opt", forwards="my_package.optim:MyOptimizer")
    def my_opt(named_params, lr, weight_decay, **options):
        return MyOptimizer([p for _, p in named_params], lr=lr, weight_decay=weight_decay, **options)
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alignlab.core._errors import AlignlabError
from alignlab.core._registry import check_part_options, create, register, registered

__all__ = ["OptimizerConfig", "build_optimizer", "lr_at"]

_PASSED = ("named_params", "lr", "weight_decay")  # what build_optimizer passes itself


class OptimizerConfig(BaseModel):
    """Which optimizer, and its learning-rate schedule."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, registered("optimizer")] = Field(
        "adamw", description="Registered optimizer: adamw, adam, sgd, adafactor, lion, muon, soap, …")
    lr: float = Field(1e-3, gt=0, description="Peak learning rate.")
    weight_decay: float = Field(0.0, ge=0, description="Weight decay (decoupled where the optimizer supports it).")
    schedule: Literal["constant", "linear", "cosine"] = Field("linear", description="Decay after warm-up.")
    warmup_steps: int = Field(0, ge=0, description="Linear warm-up steps.")
    options: dict[str, Any] = Field(default_factory=dict, description="Extra keyword arguments for the optimizer.")

    @model_validator(mode="after")
    def _known_options(self) -> OptimizerConfig:
        # checked against the factory (and the optimizer class it forwards to) here, so a typo fails when
        # the spec loads rather than when the first cell builds its optimizer, after its model has loaded
        if self.options:
            try:
                check_part_options("optimizer", self.name, self.options, reserved=_PASSED, where="options")
            except AlignlabError as exc:
                raise ValueError(str(exc).rstrip(".")) from None  # the spec error adds its own stop
        return self


def lr_at(step: int, total: int, cfg: OptimizerConfig) -> float:
    """Learning rate at ``step`` (1-based) of ``total`` steps: linear warm-up, then the decay.

    The decay runs from the first step after warm-up (full rate) towards zero at ``total`` (never reached:
    the last step still updates).
    """
    if cfg.warmup_steps and step <= cfg.warmup_steps:
        return cfg.lr * step / cfg.warmup_steps
    if cfg.schedule == "constant" or total <= cfg.warmup_steps:
        return cfg.lr
    progress = (step - 1 - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    if cfg.schedule == "linear":
        return cfg.lr * (1.0 - progress)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_optimizer(cfg: OptimizerConfig, named_params: list[tuple[str, Any]]):
    """Build the configured optimizer over ``named_params``; each group remembers its base lr."""
    optimizer = create("optimizer", cfg.name, named_params=named_params, lr=cfg.lr,
                       weight_decay=cfg.weight_decay, **cfg.options)
    for group in optimizer.param_groups:
        group.setdefault("base_lr", group["lr"])
    return optimizer


def _params(named_params):
    return [p for _, p in named_params]


@register("optimizer", "adamw", forwards="torch.optim:AdamW")
def adamw(named_params, lr, weight_decay, **options):
    """AdamW (torch)."""
    import torch

    return torch.optim.AdamW(_params(named_params), lr=lr, weight_decay=weight_decay, **options)


@register("optimizer", "adam", forwards="torch.optim:Adam")
def adam(named_params, lr, weight_decay, **options):
    """Adam (torch); weight decay is L2 added to the gradient."""
    import torch

    return torch.optim.Adam(_params(named_params), lr=lr, weight_decay=weight_decay, **options)


@register("optimizer", "sgd", forwards="torch.optim:SGD")
def sgd(named_params, lr, weight_decay, momentum: float = 0.9, **options):
    """SGD with momentum (default 0.9) (torch)."""
    import torch

    return torch.optim.SGD(_params(named_params), lr=lr, weight_decay=weight_decay, momentum=momentum, **options)


@register("optimizer", "adafactor", forwards="torch.optim:Adafactor")
def adafactor(named_params, lr, weight_decay, **options):
    """Adafactor (torch)."""
    import torch

    return torch.optim.Adafactor(_params(named_params), lr=lr, weight_decay=weight_decay, **options)


@register("optimizer", "lion", forwards="pytorch_optimizer:Lion")
def lion(named_params, lr, weight_decay, **options):
    """Lion (pytorch-optimizer); use a learning rate 3–10× below AdamW's."""
    from pytorch_optimizer import Lion

    return Lion(_params(named_params), lr=lr, weight_decay=weight_decay, **options)


@register("optimizer", "soap", forwards="pytorch_optimizer:SOAP")
def soap(named_params, lr, weight_decay, **options):
    """SOAP: Adam in Shampoo's eigenbasis (pytorch-optimizer)."""
    from pytorch_optimizer import SOAP

    return SOAP(_params(named_params), lr=lr, weight_decay=weight_decay, **options)


@register("optimizer", "muon", forwards="pytorch_optimizer:Muon")
def muon(named_params, lr, weight_decay, adamw_lr: float | None = None, **options):
    """Muon on hidden weight matrices, AdamW on the rest (embeddings, heads, norms) (pytorch-optimizer)."""
    from pytorch_optimizer import Muon

    def is_hidden_matrix(name: str, p) -> bool:
        return p.ndim >= 2 and "embed" not in name and "lm_head" not in name

    matrices = [p for n, p in named_params if is_hidden_matrix(n, p)]
    others = [p for n, p in named_params if not is_hidden_matrix(n, p)]
    groups = [{"params": matrices, "use_muon": True}]
    if others:
        groups.append({"params": others, "use_muon": False})
    return Muon(groups, lr=lr, weight_decay=weight_decay, adamw_lr=adamw_lr or lr / 10,
                adamw_wd=weight_decay, **options)
