"""One training run of the scaling study: a GPT on a token stream for a token budget, its loss curve logged.

The step is one flat loop (lr, checkpoint, batch, forward/backward, clip, step). Deterministic on a CPU
under a seed: the seed sets the initial weights (``torch.manual_seed``) and the data order (a separate
``torch.Generator`` draws the batch offsets); the validation windows are fixed by the task, the same for
every run.

Learning-rate rule (stated in the report): the peak lr is ``lr · (lr_width / d_model) ** 0.5`` — lr ∝
1/√d_model, so wider models take smaller steps — with a linear warm-up over ``warmup`` of the steps and a
cosine decay to ``final_lr`` of the peak at the end of the budget. ``lr_rule: constant`` turns the width
scaling off; ``lr_rule: inverse-width`` uses lr ∝ 1/d_model (μP's rule for hidden matrices under Adam).
Because the schedule ends with the budget, only a run's last checkpoint is a finished run of that size;
earlier checkpoints are stored for the loss curves (and can feed the fit, ``analysis.checkpoints: all``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from alignlab.scaling._models import ArchConfig, build_model, count_non_embedding, flops_per_token
from alignlab.scaling._tasks import TokenTask

__all__ = ["TrainSettings", "peak_lr", "train_run"]


class TrainSettings(BaseModel):
    """How every run of a study trains (a field given as a list becomes a factor, like any other)."""

    model_config = ConfigDict(extra="forbid")

    # --- batches ---
    batch_size: int = Field(16, ge=1, le=4096, description="Sequences per step.")
    ctx: int = Field(64, ge=4, le=8192, description="Tokens per sequence (the model's context).")
    # --- learning rate ---
    lr: float = Field(3e-3, gt=0, le=1, description="Peak learning rate at d_model = lr_width.")
    lr_width: int = Field(64, ge=1, description="Width at which the peak lr is exactly 'lr'.")
    lr_rule: Literal["inverse-sqrt-width", "inverse-width", "constant"] = Field(
        "inverse-sqrt-width", description="How the peak lr scales with d_model.")
    warmup: float = Field(0.05, ge=0, lt=1, description="Fraction of the steps of linear warm-up.")
    final_lr: float = Field(0.1, ge=0, le=1, description="Cosine decay ends at this fraction of the peak lr.")
    weight_decay: float = Field(0.1, ge=0, description="AdamW weight decay (matrices only).")
    grad_clip: float = Field(1.0, gt=0, description="Clip the gradient norm to this.")
    # --- evaluation ---
    checkpoints: int = Field(8, ge=1, le=1000, description="Evaluations of the validation loss, evenly spaced; the last is at the end.")
    eval_tokens: int = Field(16384, ge=64, description="Validation tokens per evaluation (fixed windows).")
    # --- machine ---
    threads: int = Field(1, ge=1, le=256, description="Torch CPU threads per run: small models run fastest on one, "
                         "and --workers then uses the other cores.")
    device: Literal["auto", "cpu", "cuda"] = Field("cpu", description="Where a run trains; auto: CUDA when available. "
                                                 "Bit-for-bit repeatable on the CPU only.")


def peak_lr(settings: TrainSettings, d_model: int) -> float:
    """The peak learning rate of a run of width ``d_model`` under the settings' rule."""
    ratio = settings.lr_width / d_model
    power = {"inverse-sqrt-width": 0.5, "inverse-width": 1.0, "constant": 0.0}[settings.lr_rule]
    return settings.lr * ratio ** power


def _lr_at(step: int, steps: int, peak: float, settings: TrainSettings) -> float:
    warm = max(1, int(settings.warmup * steps)) if settings.warmup else 0
    if step < warm:
        return peak * (step + 1) / warm
    progress = (step - warm) / max(1, steps - warm)
    return peak * (settings.final_lr + (1 - settings.final_lr) * 0.5 * (1 + math.cos(math.pi * progress)))


def _val_windows(task: TokenTask, ctx: int, tokens: int):
    import torch

    val = torch.from_numpy(task.val)
    count = max(1, min(tokens // ctx, (len(val) - 1) // (ctx + 1)))
    starts = torch.linspace(0, len(val) - ctx - 1, count).long()  # spread over the split, the same for every run
    return torch.stack([val[s: s + ctx + 1] for s in starts.tolist()])


def train_run(task: TokenTask, arch: ArchConfig, tokens: int, seed: int, settings: TrainSettings,
              advance: Callable[[int], None] = lambda k: None) -> dict[str, Any]:
    """Train one model for ``tokens`` training tokens; returns its shape, N, FLOPs and loss curve.

    The curve has one row per checkpoint: step, tokens, flops (with attention), flops_6nd, lr,
    train_loss (mean over the steps since the previous checkpoint) and val_loss (nats per token).
    """
    import torch
    from torch.nn import functional as F

    torch.set_num_threads(settings.threads)
    device = settings.device if settings.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        from alignlab.core._errors import AlignlabError

        raise AlignlabError("field 'train.device' is 'cuda' but torch sees no CUDA device; use 'auto' or 'cpu'.")
    torch.manual_seed(seed)
    model = build_model(arch).to(device)
    n = count_non_embedding(arch)
    assert model.non_embedding_parameters() == n, "N formula and built model disagree"
    per_step = settings.batch_size * settings.ctx
    steps = max(1, tokens // per_step)
    peak = peak_lr(settings, arch.d_model)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=peak, betas=(0.9, 0.95))
    data = torch.from_numpy(task.train).to(device)
    windows = _val_windows(task, settings.ctx, settings.eval_tokens).to(device)
    order = torch.Generator().manual_seed(seed)
    evals = sorted({max(1, round(steps * (k + 1) / settings.checkpoints)) for k in range(settings.checkpoints)})
    offsets = torch.arange(settings.ctx + 1, device=device)
    curve, running, since = [], 0.0, 0
    started = time.perf_counter()
    model.train()
    for step in range(steps):
        lr = _lr_at(step, steps, peak, settings)
        for group in opt.param_groups:
            group["lr"] = lr
        # Offsets are drawn on the CPU generator whatever the device: the data order depends on the seed only.
        starts = torch.randint(len(data) - settings.ctx - 1, (settings.batch_size,), generator=order).to(device)
        batch = data[starts[:, None] + offsets]  # (B, ctx + 1)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        running, since = running + loss.item(), since + 1
        if step + 1 in evals:
            seen = (step + 1) * per_step
            curve.append({"step": step + 1, "tokens": seen, "flops": flops_per_token(arch) * seen,
                          "flops_6nd": 6.0 * n * seen, "lr": lr, "train_loss": running / since,
                          "val_loss": _evaluate(model, windows)})
            running, since = 0.0, 0
        advance(1)
    return {"n_layer": arch.n_layer, "d_model": arch.d_model, "N": n, "tokens": steps * per_step, "steps": steps,
            "peak_lr": peak, "flops_per_token": flops_per_token(arch), "seconds": time.perf_counter() - started,
            "curve": curve, "final_val_loss": curve[-1]["val_loss"], "final_train_loss": curve[-1]["train_loss"]}


def _evaluate(model: Any, windows: Any, batch: int = 64) -> float:
    import torch
    from torch.nn import functional as F

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(windows), batch):
            chunk = windows[i: i + batch]
            logits = model(chunk[:, :-1])
            total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1),
                                           reduction="sum"))
            count += chunk[:, 1:].numel()
    model.train()
    return total / count
