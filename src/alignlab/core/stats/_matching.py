"""One comparison of two levels of a factor: matched strata, effect, bootstrap interval, permutation p.

The estimator is always the average over strata of the within-stratum difference of means (level −
reference). Strata are tried in order:

1. ``matched``: cells that agree on every other factor and on the seed (a paired design);
2. ``stratified``: cells that agree on every other factor (seeds do not line up across the levels);
3. ``unmatched``: one stratum holding every cell, i.e. the plain difference of means.

The permutation test shuffles the factor's labels within strata (the exact null distribution is enumerated
when it has at most ``n_perm`` arrangements); the bootstrap resamples strata for matched designs
(optionally whole seeds) and cells within each (stratum, level) group otherwise. Both are written with
numpy arrays rather than ``scipy.stats.bootstrap``/``permutation_test`` because neither handles
permutations restricted to strata or stratum resampling.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from alignlab.core.stats._common import hashable_column, label_column, quantile_interval

__all__ = ["Comparison", "compare_levels", "matched_differences"]

CHUNK = 256  # replicates per vectorised block, to bound memory on large studies


@dataclass
class Comparison:
    """The result of :func:`compare_levels`."""

    effect: float
    lo: float
    hi: float
    p: float
    n_pairs: int  # matched strata (0 unless matching == "matched")
    n_ref: int
    n_level: int
    matching: str  # matched | stratified | unmatched | none
    note: str = ""
    n_units: int = 0  # independent units resampled and permuted: seeds, pairs, or cells


def _strata(data, keys: list[str]):
    """Stratum codes for ``keys`` (one stratum when there are none)."""
    import numpy as np

    if not keys:
        return np.zeros(len(data), dtype=int)
    return data.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()


def _prepare(cells, *, factor: str, reference: str, level: str, outcome: str, others: list[str],
             seed: str | None):
    """Rows of the two levels with a value, their labels (True = level) and the chosen strata."""
    import numpy as np
    import pandas as pd

    labels = label_column(cells[factor])
    use = labels.isin([reference, level]).to_numpy() & pd.to_numeric(cells[outcome], errors="coerce").notna().to_numpy()
    data = cells.loc[use, [*others, *([seed] if seed else [])]].copy()
    for column in data.columns:
        data[column] = hashable_column(data[column])
    y = pd.to_numeric(cells.loc[use, outcome]).to_numpy(dtype=float)
    is_level = (labels[use] == level).to_numpy()
    matched_keys = [*others, *([seed] if seed else [])]
    attempts = (([("matched", matched_keys)] if matched_keys else [])
                + ([("stratified", others)] if seed and others else []) + [("unmatched", [])])
    for matching, keys in attempts:
        codes = _strata(data, keys)
        both = np.zeros(codes.max() + 1 if len(codes) else 0, dtype=bool)
        if len(codes):
            has_level = np.bincount(codes, weights=is_level, minlength=len(both)) > 0
            has_ref = np.bincount(codes, weights=~is_level, minlength=len(both)) > 0
            both = has_level & has_ref
        if both.any():
            keep = both[codes]
            # renumber the kept strata 0..m-1
            _, codes_kept = np.unique(codes[keep], return_inverse=True)
            seeds = data[seed].to_numpy()[keep] if seed else None
            return y[keep], is_level[keep], codes_kept, seeds, matching
    return y[:0], is_level[:0], np.zeros(0, dtype=int), None, "none"


def _statistic(y, labels, starts, n_level, n_ref):
    """Mean over strata of (mean at level − mean at reference), for each row of ``labels`` (R × n); cells are
    sorted by stratum and ``starts`` holds each stratum's first index."""
    import numpy as np

    total = np.add.reduceat(y, starts)
    level_sum = np.add.reduceat(labels * y, starts, axis=1)  # R × strata
    return (level_sum / n_level - (total - level_sum) / n_ref).mean(axis=1)


def _tolerance(observed: float, values) -> float:
    """Rounding slack so arrangements that tie the observed statistic count as "as extreme"."""
    import numpy as np

    return 1e-9 * (abs(observed) + float(np.max(np.abs(values), initial=0.0)))


def _arrangements(codes, is_level, limit: int) -> int | None:
    """Number of within-stratum label arrangements, or None when it exceeds ``limit``."""
    total = 1
    for s in range(codes.max() + 1):
        members = codes == s
        total *= math.comb(int(members.sum()), int(is_level[members].sum()))
        if total > limit:
            return None
    return total


def _enumerate_labels(codes, is_level):
    """Every within-stratum arrangement of the labels (rows), cells assumed sorted by stratum."""
    import numpy as np

    blocks = []
    for s in range(codes.max() + 1):
        n_s, k_s = int((codes == s).sum()), int(is_level[codes == s].sum())
        block = np.zeros((math.comb(n_s, k_s), n_s))
        for row, chosen in enumerate(itertools.combinations(range(n_s), k_s)):
            block[row, list(chosen)] = 1.0
        blocks.append(block)
    grids = np.indices([len(b) for b in blocks]).reshape(len(blocks), -1)
    return np.hstack([b[g] for b, g in zip(blocks, grids)])


def _permutation_p(y, is_level, codes, n_perm: int, generator) -> float:
    """Two-sided p for shuffling the labels within strata (exact when there are at most ``n_perm`` ways)."""
    import numpy as np

    order = np.argsort(codes, kind="stable")
    y, is_level, codes = y[order], is_level[order], codes[order]
    m = codes.max() + 1
    n_level = np.bincount(codes, weights=is_level, minlength=m)
    n_ref = np.bincount(codes, minlength=m) - n_level
    starts = np.concatenate([[0], np.cumsum(n_level + n_ref)[:-1]]).astype(int)
    labels = is_level.astype(float)
    observed = _statistic(y, labels[None, :], starts, n_level, n_ref)[0]
    tolerance = _tolerance(observed, y)
    if _arrangements(codes, is_level, n_perm) is not None:
        stats = _statistic(y, _enumerate_labels(codes, is_level), starts, n_level, n_ref)
        return float(np.mean(np.abs(stats) >= abs(observed) - tolerance))
    extreme = 0
    for start in range(0, n_perm, CHUNK):
        r = min(CHUNK, n_perm - start)
        # adding U[0,1) to the stratum code and sorting shuffles within strata only
        shuffle = np.argsort(codes[None, :] + generator.random((r, len(y))), axis=1)
        stats = _statistic(y, labels[shuffle], starts, n_level, n_ref)
        extreme += int(np.sum(np.abs(stats) >= abs(observed) - tolerance))
    return (1 + extreme) / (1 + n_perm)


def _sign_flip_p(diffs, clusters, n_perm: int, generator) -> float:
    """Two-sided p when each cluster's labels are swapped as a whole: that flips the sign of all the cluster's
    stratum differences. Clusters are seeds, or single strata with one cell per level (where this is the same
    as shuffling within strata, only faster). Exact over all 2^clusters sign patterns when at most ``n_perm``."""
    import numpy as np

    _, cluster_codes = np.unique(clusters, return_inverse=True)
    sums = np.bincount(cluster_codes, weights=diffs)
    c = len(sums)
    observed = sums.sum()
    tolerance = _tolerance(observed, sums)
    if 2**c <= n_perm:
        signs = 1.0 - 2.0 * ((np.arange(2**c)[:, None] >> np.arange(c)[None, :]) & 1)
        return float(np.mean(np.abs(signs @ sums) >= abs(observed) - tolerance))
    extreme = 0
    for start in range(0, n_perm, CHUNK * 4):
        signs = generator.choice([-1.0, 1.0], size=(min(CHUNK * 4, n_perm - start), c))
        extreme += int(np.sum(np.abs(signs @ sums) >= abs(observed) - tolerance))
    return (1 + extreme) / (1 + n_perm)


def _stratum_differences(y, is_level, codes):
    import numpy as np

    m = codes.max() + 1
    n_level = np.bincount(codes, weights=is_level, minlength=m)
    n_ref = np.bincount(codes, minlength=m) - n_level
    level_mean = np.bincount(codes, weights=y * is_level, minlength=m) / n_level
    ref_mean = np.bincount(codes, weights=y * ~is_level, minlength=m) / n_ref
    return level_mean - ref_mean


def _bootstrap_strata(diffs, clusters, level: float, n_boot: int, generator):
    import numpy as np

    _, cluster_codes = np.unique(clusters, return_inverse=True)
    sums = np.bincount(cluster_codes, weights=diffs)
    counts = np.bincount(cluster_codes).astype(float)
    c = len(sums)
    if c < 2:
        return float("nan"), float("nan")
    draws = generator.integers(0, c, size=(n_boot, c))
    stats = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    lo, hi = quantile_interval(stats, level, n=c)
    return float(lo), float(hi)


def _bootstrap_groups(y, is_level, codes, level: float, n_boot: int, generator):
    """Resample cells within each (stratum, level) group; NaN when a group has a single cell."""
    import numpy as np

    group = codes * 2 + is_level
    order = np.argsort(group, kind="stable")
    y, group = y[order], group[order]
    _, group = np.unique(group, return_inverse=True)
    sizes = np.bincount(group)
    if sizes.min() < 2:
        return float("nan"), float("nan")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    # groups alternate reference, level within each stratum (codes*2 + label, every stratum has both)
    stats = []
    for start in range(0, n_boot, CHUNK):
        r = min(CHUNK, n_boot - start)
        draws = starts[group] + np.floor(generator.random((r, len(y))) * sizes[group]).astype(int)
        means = np.add.reduceat(y[draws], starts, axis=1) / sizes
        stats.append((means[:, 1::2] - means[:, 0::2]).mean(axis=1))
    # expanded percentile with the smallest group's size (conservative) and pooled degrees of freedom
    lo, hi = quantile_interval(np.concatenate(stats), level, n=int(sizes.min()), df=int(len(y) - len(sizes)))
    return float(lo), float(hi)


def compare_levels(cells, *, factor: str, reference: str, level: str, outcome: str, others: list[str],
                   seed: str | None, confidence: float, n_boot: int, n_perm: int, generator,
                   cluster: str = "stratum") -> Comparison:
    """Effect of ``level`` vs ``reference`` (labels) of ``factor`` on ``outcome``; see the module docstring."""
    import numpy as np

    y, is_level, codes, seeds, matching = _prepare(cells, factor=factor, reference=reference, level=level,
                                                   outcome=outcome, others=others, seed=seed)
    n_level, n_ref = int(is_level.sum()), int((~is_level).sum())
    if matching == "none":
        return Comparison(np.nan, np.nan, np.nan, np.nan, 0, n_ref, n_level, matching,
                          "no cells with a value at both levels", 0)
    diffs = _stratum_differences(y, is_level, codes)
    effect = float(diffs.mean())
    note = ""
    if matching == "matched":
        by_seed = cluster == "seed" and seeds is not None
        clusters = np.arange(len(diffs))
        if by_seed:
            clusters = np.zeros(len(diffs), dtype=object)
            clusters[codes] = seeds  # every cell of a matched stratum has the same seed
        lo, hi = _bootstrap_strata(diffs, clusters, confidence, n_boot, generator)
        if np.isnan(lo):
            note = f"one matched {'seed' if by_seed else 'pair'}: no interval"
        one_each = len(y) == 2 * len(diffs)  # every stratum holds one cell of each level
        if by_seed or one_each:
            p = _sign_flip_p(diffs, clusters, n_perm, generator)
        else:
            p = _permutation_p(y, is_level, codes, n_perm, generator)
    else:
        lo, hi = _bootstrap_groups(y, is_level, codes, confidence, n_boot, generator)
        if np.isnan(lo):
            note = "a group has a single cell: no interval"
        p = _permutation_p(y, is_level, codes, n_perm, generator)
    units = len(np.unique(clusters)) if matching == "matched" else n_ref + n_level
    return Comparison(effect, lo, hi, p, len(diffs) if matching == "matched" else 0, n_ref, n_level,
                      matching, note, units)


def matched_differences(cells, *, factor: str, reference: str, level: str, outcome: str, others: list[str],
                        seed: str | None) -> Any:
    """Within-stratum differences (level − reference) of the matched pairs only (empty when none)."""
    import numpy as np

    y, is_level, codes, _, matching = _prepare(cells, factor=factor, reference=reference, level=level,
                                               outcome=outcome, others=others, seed=seed)
    if matching != "matched":
        return np.zeros(0)
    return _stratum_differences(y, is_level, codes)
