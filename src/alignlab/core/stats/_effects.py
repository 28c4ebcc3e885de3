"""Factor effects across a study's cells (matched, bootstrapped, permutation-tested, corrected) and the
consistency of their direction across matched pairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alignlab.core._errors import AlignlabError
from alignlab.core.stats._common import (
    check_count,
    check_level,
    label_column,
    level_label,
    levels_in_order,
    require_columns,
    resolve_factors,
    rng,
)
from alignlab.core.stats._matching import compare_levels, matched_differences

__all__ = ["direction_consistency", "factor_effects"]

CORRECTIONS = ("holm", "fdr_bh", "bonferroni", "none")
EFFECT_COLUMNS = ["factor", "level", "reference", "outcome", "effect", "lo", "hi", "p", "p_adj", "n_pairs", "matched",
                  "significant", "matching", "n_units", "n_ref", "n_level", "note"]


def _check_seed(cells, seed: str | None, what: str) -> None:
    if seed is not None and seed not in cells.columns:
        raise AlignlabError(f"{what}: the frame has no seed column {seed!r}; name it with seed=..., or pass "
                            f"seed=None if the cells have no seeds (matching then uses the other factors only).")


def factor_effects(cells, *, factors: Sequence[str], outcomes: str | Sequence[str], seed: str | None = "seed",
                   level: float = 0.95, n_boot: int = 2000, n_perm: int = 2000, correction: str = "holm",
                   random_state: Any = 0, cluster: str = "seed"):
    """Effect of each factor level (vs the factor's first level) on each outcome, with intervals and tests.

    For every factor and every level after the first (the reference, levels in order of appearance; a
    2-level factor gives one row, level B − level A) the effect is the average of within-stratum
    differences of means. Strata are the cells that agree on every other factor and the seed (``matching
    = "matched"``); when no such pair exists, cells that agree on the other factors (``"stratified"``);
    otherwise all cells (``"unmatched"``: the plain difference of means, which other factors may
    confound). The interval is an expanded-percentile bootstrap interval (percentiles read at a level
    widened for the number of units, Hesterberg 2015) and ``p`` a two-sided permutation p-value (exact
    enumeration when there are at most ``n_perm`` arrangements). For matched designs the unit is the seed
    by default (``cluster="seed"``): the bootstrap resamples seeds with all their pairs, the permutation
    swaps the labels in all pairs of a seed at once — valid when cells of one seed share randomness (in
    alignlab they share upstream stages, e.g. the insertion). ``cluster="stratum"`` resamples pairs and
    shuffles labels within each pair independently: more power, but only valid when every cell's randomness
    is its own. Unmatched comparisons resample cells within each stratum and level and shuffle labels within
    strata. ``p_adj`` corrects ``p`` across every (factor, level, outcome) row with statsmodels
    ``multipletests``.

    Args:
        cells: wide frame, one row per cell: factor columns, the seed column and outcome columns.
        factors: the factor columns (not the seed). Dict levels are compared by :func:`level_label`.
        outcomes: outcome column(s); rows with a missing outcome are left out of that outcome's tests.
        seed: the seed column, or None when there is none.
        level: confidence level; rows with ``p_adj < 1 - level`` are ``significant``.
        n_boot: bootstrap replicates.
        n_perm: random permutations (and the largest null distribution enumerated exactly).
        correction: ``"holm"`` (family-wise error), ``"fdr_bh"`` (false discovery rate), ``"bonferroni"``
            or ``"none"``.
        random_state: seed or ``numpy.random.Generator``.
        cluster: the unit of replication for matched designs: ``"seed"`` (all pairs of a seed together) or
            ``"stratum"`` (each matched pair on its own).

    Returns:
        One row per (factor, level, outcome): ``factor, level, reference, outcome, effect, lo, hi, p, p_adj,
        n_pairs, matched, significant, matching, n_units, n_ref, n_level, note``: ``n_pairs`` counts matched
        strata, ``n_units`` the independent units (seeds with ``cluster="seed"``, else pairs; cells when
        unmatched), ``n_ref``/``n_level`` the cells used. Factors with a single level give no row. Levels are
        strings (labels).

    Example:
        >>> import pandas as pd
        >>> cells = pd.DataFrame({"mode": ["normal", "distilled"] * 4, "seed": [0, 0, 1, 1, 2, 2, 3, 3],
        ...                       "final": [0.2, 0.5, 0.3, 0.7, 0.1, 0.6, 0.2, 0.4]})
        >>> row = factor_effects(cells, factors=["mode"], outcomes="final").iloc[0]
        >>> row["level"], row["reference"], round(float(row["effect"]), 3), int(row["n_pairs"]), float(row["p"])
        ('distilled', 'normal', 0.35, 4, 0.125)
    """
    import numpy as np
    import pandas as pd

    factors = [factors] if isinstance(factors, str) else list(factors)
    outcomes = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    check_level(level)
    check_count(n_boot, "n_boot")
    check_count(n_perm, "n_perm")
    if correction not in CORRECTIONS:
        raise AlignlabError(f"correction must be one of {', '.join(CORRECTIONS)}; got {correction!r}.")
    if cluster not in ("stratum", "seed"):
        raise AlignlabError(f"cluster must be 'stratum' or 'seed'; got {cluster!r}.")
    if seed in factors:
        raise AlignlabError(f"factor_effects: the seed column {seed!r} is not a factor; leave it out of factors.")
    require_columns(cells, [*factors, *outcomes], "factor_effects")
    _check_seed(cells, seed, "factor_effects")
    generator = rng(random_state)
    rows = []
    for factor in factors:
        levels = levels_in_order(label_column(cells[factor]))
        others = [f for f in factors if f != factor]
        for lvl in levels[1:]:
            for outcome in outcomes:
                c = compare_levels(cells, factor=factor, reference=levels[0], level=lvl, outcome=outcome,
                                   others=others, seed=seed, confidence=level, n_boot=n_boot, n_perm=n_perm,
                                   generator=generator, cluster=cluster)
                rows.append({"factor": factor, "level": lvl, "reference": levels[0], "outcome": outcome,
                             "effect": c.effect, "lo": c.lo, "hi": c.hi, "p": c.p, "n_pairs": c.n_pairs,
                             "matched": c.matching == "matched", "matching": c.matching, "n_units": c.n_units, "n_ref": c.n_ref,
                             "n_level": c.n_level, "note": c.note})
    table = pd.DataFrame(rows, columns=[c for c in EFFECT_COLUMNS if c not in ("p_adj", "significant")])
    table["p_adj"] = _adjust(table["p"].to_numpy(dtype=float), correction, 1 - level)
    table["significant"] = np.nan_to_num(table["p_adj"].to_numpy(dtype=float), nan=1.0) < 1 - level
    return table[EFFECT_COLUMNS]


def _adjust(p, correction: str, alpha: float):
    """Corrected p-values; NaN p-values (no comparison possible) stay NaN and are not counted."""
    import numpy as np
    from statsmodels.stats.multitest import multipletests

    out = np.full(len(p), np.nan)
    ok = ~np.isnan(p)
    if correction == "none" or not ok.any():
        out[ok] = p[ok]
        return out
    out[ok] = multipletests(p[ok], alpha=alpha, method=correction)[1]
    return out


def direction_consistency(cells, *, factor: str, outcome: str, seed: str | None = "seed",
                          levels: Sequence[Any] | None = None, factors: Sequence[str] | None = None) -> dict[str, Any]:
    """How often matched pairs agree with the sign of a factor's mean effect.

    A matched pair is two cells with the same seed and the same level of every other factor that differ
    only in ``factor`` (several cells of one level in a stratum are averaged). With a real, stable effect
    nearly every pair points the same way; with seed noise about half do.

    Args:
        cells: wide frame, one row per cell.
        factor: the factor column.
        outcome: the outcome column.
        seed: the seed column, or None.
        levels: the two levels to compare, ``[reference, level]``; default: the first two in order of
            appearance.
        factors: every factor column (to match on the others); default ``cells.attrs["factors"]`` (set by
            :func:`cell_outcomes`), else every non-float, non-boolean column except ``cell_id``, the seed and
            the outcome.

    Returns:
        ``factor, reference, level, outcome, mean_effect`` (mean of pair differences, level − reference),
        ``share`` (agreeing pairs / non-tied pairs; NaN without pairs or when the mean is 0), ``n_pairs``,
        ``agree``, ``disagree``, ``ties``.

    Example:
        >>> import pandas as pd
        >>> cells = pd.DataFrame({"mode": ["normal", "cot"] * 3, "seed": [0, 0, 1, 1, 2, 2],
        ...                       "final": [0.2, 0.5, 0.3, 0.2, 0.1, 0.6]})
        >>> out = direction_consistency(cells, factor="mode", outcome="final")
        >>> round(out["share"], 3), out["n_pairs"]
        (0.667, 3)
    """
    import numpy as np

    require_columns(cells, [factor, outcome], "direction_consistency")
    _check_seed(cells, seed, "direction_consistency")
    every = resolve_factors(cells, factors, exclude=[c for c in ("cell_id", seed, outcome) if c],
                            what="direction_consistency")
    others = [f for f in every if f != factor]
    present = levels_in_order(label_column(cells[factor]))
    if levels is None:
        if len(present) < 2:
            raise AlignlabError(f"direction_consistency: factor {factor!r} has a single level ({present[0] if present else 'none'}).")
        chosen = present[:2]
    else:
        chosen = [level_label(v) for v in levels]
        if len(chosen) != 2 or any(c not in present for c in chosen):
            raise AlignlabError(f"direction_consistency: levels must be two levels of {factor!r} "
                                f"(present: {', '.join(present)}); got {list(levels)!r}.")
    diffs = matched_differences(cells, factor=factor, reference=chosen[0], level=chosen[1], outcome=outcome,
                                others=others, seed=seed)
    ties = np.isclose(diffs, 0.0, rtol=0.0, atol=1e-12)
    mean = float(diffs.mean()) if len(diffs) else float("nan")
    sign = np.sign(mean) if len(diffs) else 0.0
    agree = int(np.sum((np.sign(diffs) == sign) & ~ties)) if sign != 0 else 0
    untied = int(np.sum(~ties))
    return {"factor": factor, "reference": chosen[0], "level": chosen[1], "outcome": outcome, "mean_effect": mean,
            "share": agree / untied if untied and sign != 0 else float("nan"), "n_pairs": int(len(diffs)),
            "agree": agree, "disagree": untied - agree if sign != 0 else 0, "ties": int(ties.sum())}
