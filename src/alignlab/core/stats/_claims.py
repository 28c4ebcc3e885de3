"""Claims checked against a study: supports, contradicts, cannot decide, or not tested.

The machinery only: an instrument states the claims of its field (and passes them to :func:`check_claims`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alignlab.core._errors import AlignlabError
from alignlab.core.stats._common import (
    check_count,
    check_level,
    label_column,
    level_label,
    levels_in_order,
    quantile_interval,
    resolve_factors,
    rng,
)
from alignlab.core.stats._curves import SUMMARY_COLUMNS
from alignlab.core.stats._matching import compare_levels

__all__ = ["Claim", "check_claims", "parameter_count"]

CLAIM_COLUMNS = ["id", "claim", "verdict", "comparison", "outcome", "effect", "lo", "hi", "p", "n", "matching",
                 "explanation"]
_UNITS = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


class Claim(BaseModel):
    """A published claim, stated so a study can support it, contradict it, or fail to decide.

    Two kinds: a *comparison* (``direction`` set: the outcome is higher (+1) or lower (−1) at ``levels[1]``
    than at ``levels[0]``, or at the largest level than at the smallest by ``order_by``) and a *threshold*
    (``threshold`` set: the mean outcome over the cells at ``levels`` is below / at least the threshold).

    Example:
        >>> claim = Claim(id="sgd-ends-lower", text="SGD ends lower than AdamW.", factor="optimizer",
        ...               levels=["adamw", "sgd"], outcome="final", direction=-1)
        >>> claim.kind
        'compare'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field("claim", description="Short identifier.")
    text: str = Field("", description="The claim as published, in one sentence (with its source).")
    factor: str | list[str] = Field(
        "", description="Column the claim concerns; a list gives alternatives (the first present is used). A "
                        "column named 'X.<factor>' or '<factor>_factor' also matches.")
    levels: list[Any] | None = Field(
        None, description="compare: [reference, level] (effect = level − reference); threshold: the level(s) "
                          "whose cells are pooled.")
    order_by: str | None = Field(
        None, description="compare without levels: compare the largest level with the smallest by this numeric "
                          "column (e.g. n_params); when absent, parameter counts are read from level names "
                          "('135m', '0.5B', 'tiny:LxW').")
    outcome: str = Field("final", description="Outcome column, e.g. final, auc, change.")
    direction: Literal[1, -1] | None = Field(None, description="compare: +1 if the claim says the outcome is higher.")
    threshold: float | None = Field(None, description="threshold: the value the mean outcome is compared with.")
    rule: Literal["below", "at_least"] = Field(
        "below", description="threshold: 'below' supports when the interval's upper end is below the threshold; "
                             "'at_least' when its lower end is above it.")

    @model_validator(mode="after")
    def _complete(self) -> Claim:
        if not self.factor:
            raise ValueError("a claim needs a factor")
        if self.threshold is None:
            if self.direction is None:
                raise ValueError("a comparison claim needs direction (+1 or -1), or give threshold")
            if not self.order_by and (self.levels is None or len(self.levels) != 2):
                raise ValueError("a comparison claim needs levels [reference, level] or order_by")
        elif not self.levels:
            raise ValueError("a threshold claim needs levels (the cells it is about)")
        return self

    @property
    def kind(self) -> str:
        return "threshold" if self.threshold is not None else "compare"


def parameter_count(level: Any) -> float:
    """Parameters implied by a model level: a number, a name with a size ('135m', '0.5B'), or 'tiny:LxW'
    (≈ 12·L·W², only to order tiny models); NaN when unknown.

    Example:
        >>> parameter_count("hf:Qwen/Qwen2.5-0.5B-Instruct"), parameter_count("tiny:2x64")
        (500000000.0, 98304.0)
    """
    if isinstance(level, int | float) and not isinstance(level, bool):
        return float(level)
    text = level_label(level)
    tiny = re.fullmatch(r"tiny:(\d+)x(\d+)", text.strip())
    if tiny:
        layers, width = int(tiny.group(1)), int(tiny.group(2))
        return 12.0 * layers * width * width
    sizes = re.findall(r"(\d+(?:\.\d+)?)\s*([kmbt])(?![a-z])", text.lower())
    return float(sizes[-1][0]) * _UNITS[sizes[-1][1]] if sizes else float("nan")


def _column(cells, factor: str | list[str]) -> str | None:
    for name in [factor] if isinstance(factor, str) else factor:
        if name in cells.columns:
            return name
        found = [c for c in cells.columns if str(c).endswith("." + name) or c == f"{name}_factor"]
        if len(found) == 1:
            return found[0]
    return None


def _row(claim: Claim, verdict: str, explanation: str, **values: Any) -> dict[str, Any]:
    nan = float("nan")
    row = {"id": claim.id, "claim": claim.text, "verdict": verdict, "comparison": "", "outcome": claim.outcome,
           "effect": nan, "lo": nan, "hi": nan, "p": nan, "n": 0, "matching": "", "explanation": explanation}
    row.update(values)
    return row


def _ordered_levels(cells, column: str, claim: Claim) -> tuple[str, str] | str:
    """(reference, level) for a comparison claim, or the reason it cannot be tested."""
    import pandas as pd

    labels = label_column(cells[column])
    present = levels_in_order(labels)
    if claim.levels is not None:
        wanted = [level_label(v) for v in claim.levels]
        missing = [w for w in wanted if w not in present]
        if missing:
            return f"the study has no cells with {column} = {', '.join(missing)} (levels: {', '.join(present)})"
        return wanted[0], wanted[1]
    if len(present) < 2:
        return f"the study does not vary {column} (one level: {', '.join(present)})"
    if claim.order_by in cells.columns:
        keys = pd.to_numeric(cells[claim.order_by], errors="coerce").groupby(labels.to_numpy()).mean()
    else:
        first = {lab: raw for lab, raw in zip(labels, cells[column])}
        keys = pd.Series({lab: parameter_count(first[lab]) for lab in present})
    keys = keys.reindex(present)
    if keys.isna().any():
        return (f"the levels of {column} cannot be ordered by {claim.order_by}: add a numeric column "
                f"{claim.order_by!r} to the cells")
    if keys.max() == keys.min():
        return f"every level of {column} has the same {claim.order_by}"
    return str(keys.idxmin()), str(keys.idxmax())


def _threshold(cells, column: str, claim: Claim, level: float, n_boot: int, generator) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    wanted = [level_label(v) for v in claim.levels or []]
    rows = label_column(cells[column]).isin(wanted).to_numpy()
    comparison = f"mean {claim.outcome} at {column} = {', '.join(wanted)} " + (
        "< " if claim.rule == "below" else "≥ ") + f"{claim.threshold:g}"
    if not rows.any():
        present = levels_in_order(label_column(cells[column]))
        return _row(claim, "not tested", f"Not tested: the study has no cells with {column} = "
                    f"{', '.join(wanted)} (levels: {', '.join(present)}).", comparison=comparison)
    y = pd.to_numeric(cells.loc[rows, claim.outcome], errors="coerce").dropna().to_numpy(dtype=float)
    if len(y) == 0:
        return _row(claim, "cannot decide", f"Cannot decide: no cell with {column} = {', '.join(wanted)} has a "
                    f"value of {claim.outcome}.", comparison=comparison)
    mean = float(y.mean())
    lo = hi = float("nan")
    if len(y) >= 2:
        draws = generator.integers(0, len(y), size=(n_boot, len(y)))
        lo, hi = (float(v) for v in quantile_interval(y[draws].mean(axis=1), level, n=len(y)))
    t = claim.threshold
    holds, fails = (hi < t, lo > t) if claim.rule == "below" else (lo > t, hi < t)
    interval = f"{mean:+.3f} [{lo:+.3f}, {hi:+.3f}] over {len(y)} cells"
    if np.isnan(lo):
        verdict, why = "cannot decide", f"{interval}: one cell gives no interval"
    elif holds:
        verdict, why = "supports", f"{interval}: the whole {level:.0%} interval is on the claimed side of {t:g}"
    elif fails:
        verdict, why = "contradicts", f"{interval}: the whole {level:.0%} interval is on the wrong side of {t:g}"
    else:
        verdict, why = "cannot decide", f"{interval}: the {level:.0%} interval straddles {t:g}"
    at = f"{column} = {', '.join(wanted)}"
    return _row(claim, verdict, f"{verdict.capitalize()}: mean {claim.outcome} at {at}: {why}.", comparison=comparison,
                effect=mean, lo=lo, hi=hi, n=len(y), matching="pooled cells")


def _compare(cells, column: str, claim: Claim, others: list[str], seed: str | None, level: float, n_boot: int,
             n_perm: int, generator, cluster: str) -> dict[str, Any]:
    import math

    levels = _ordered_levels(cells, column, claim)
    if isinstance(levels, str):
        return _row(claim, "not tested", f"Not tested: {levels}.")
    reference, lvl = levels
    comparison = f"{column}: {lvl} − {reference}"
    c = compare_levels(cells, factor=column, reference=reference, level=lvl, outcome=claim.outcome, others=others,
                       seed=seed, confidence=level, n_boot=n_boot, n_perm=n_perm, generator=generator,
                       cluster=cluster)
    n = c.n_pairs if c.matching == "matched" else c.n_ref + c.n_level
    by_seed = cluster == "seed" and seed is not None
    unit = f"cells ({c.matching})"
    if c.matching == "matched":
        unit = f"matched pairs from {c.n_units} seeds" if by_seed else "matched pairs"
    alpha = 1 - level
    stats = f"{lvl} − {reference} in {claim.outcome} = {c.effect:+.3f} [{c.lo:+.3f}, {c.hi:+.3f}], p = {c.p:.3g} over {n} {unit}"
    values = {"comparison": comparison, "effect": c.effect, "lo": c.lo, "hi": c.hi, "p": c.p, "n": n,
              "matching": c.matching}
    if math.isnan(c.effect):
        return _row(claim, "cannot decide", f"Cannot decide: {c.note}.", **values)
    decided = c.p < alpha and (c.lo > 0 or c.hi < 0)
    if decided:
        verdict = "supports" if (1 if c.lo > 0 else -1) == claim.direction else "contradicts"
        why = f"the effect is {'positive' if c.lo > 0 else 'negative'}, the claim says {'higher' if claim.direction > 0 else 'lower'}"
    else:
        verdict = "cannot decide"
        if math.isnan(c.lo):
            why = c.note or "there is no interval"
        elif c.lo <= 0 <= c.hi:
            why = f"the {level:.0%} interval covers 0"
        else:
            why = f"the interval excludes 0 but the permutation test does not (p ≥ {alpha:g})"
        smallest = 2.0 / 2**c.n_units  # two-sided exact sign-flip test without ties
        exact_flip = by_seed or c.n_ref == c.n_level == c.n_pairs  # seeds, or one cell per level and pair
        if c.matching == "matched" and exact_flip and smallest >= alpha:
            unit = "seeds" if by_seed else "pairs"
            why += (f"; with {c.n_units} {unit} the test cannot reach p < {alpha:g} (smallest possible p = "
                    f"{smallest:.3g}): add seeds")
    return _row(claim, verdict, f"{verdict.capitalize()}: {stats}; {why}.", **values)


def check_claims(cells, *, claims: Sequence[Claim], level: float = 0.95,
                 factors: Sequence[str] | None = None, seed: str | None = "seed", n_boot: int = 2000,
                 n_perm: int = 2000, random_state: Any = 0, cluster: str = "seed"):
    """Check claims against a study's cells.

    A comparison claim is tested like a :func:`factor_effects` row (matched pairs where possible, bootstrap
    interval, permutation p). Its verdict is "supports" or "contradicts" only when the claim's own,
    *uncorrected* p is below ``1 - level`` **and** the interval excludes 0, "supports" when the sign
    matches the claim; otherwise "cannot decide". (Uncorrected, because each claim is a separate, pre-stated
    hypothesis; run :func:`factor_effects` for the corrected family of every effect.) A threshold claim
    pools the cells at its levels: the mean outcome with a bootstrap interval over cells; "supports" when the
    whole interval is on the claimed side of the threshold, "contradicts" when it is all on the other
    side. "Not tested": the study lacks the column or level, or does not vary the factor.

    Args:
        cells: wide frame, one row per cell (e.g. :func:`cell_outcomes`).
        claims: the claims (an instrument's published findings, or your own).
        level: confidence level of intervals; ``1 - level`` is the p threshold.
        factors: the factor columns to match on (default ``cells.attrs["factors"]``, else the non-float,
            non-boolean columns other than ``cell_id``, the seed and outcomes).
        seed: the seed column, or None.
        n_boot: bootstrap replicates.
        n_perm: permutations (exact enumeration when there are at most this many).
        random_state: seed or ``numpy.random.Generator``.
        cluster: unit of replication of matched comparisons, ``"seed"`` or ``"stratum"`` (see
            :func:`factor_effects`).

    Returns:
        One row per claim: ``id, claim, verdict, comparison, outcome, effect, lo, hi, p, n, matching,
        explanation``.

    Example:
        >>> import pandas as pd
        >>> cells = pd.DataFrame({"method": ["sgd"] * 4, "seed": [0, 1, 2, 3], "final": [0.0, 0.02, 0.01, 0.0]})
        >>> low = Claim(id="ends-low", factor="method", levels=["sgd"], outcome="final", threshold=0.1)
        >>> other = Claim(id="other", factor="size", levels=["1b"], outcome="final", threshold=0.1)
        >>> check_claims(cells, claims=[low, other])[["id", "verdict"]].values.tolist()
        [['ends-low', 'supports'], ['other', 'not tested']]
    """
    import pandas as pd

    check_level(level)
    check_count(n_boot, "n_boot")
    check_count(n_perm, "n_perm")
    if cluster not in ("stratum", "seed"):
        raise AlignlabError(f"cluster must be 'seed' or 'stratum'; got {cluster!r}.")
    generator = rng(random_state)
    known = [c for c in ("cell_id", seed, *SUMMARY_COLUMNS) if c]
    every = resolve_factors(cells, factors, exclude=known + [c.outcome for c in claims], what="check_claims")
    rows = []
    for claim in claims:
        column = _column(cells, claim.factor)
        names = " or ".join(repr(f) for f in ([claim.factor] if isinstance(claim.factor, str) else claim.factor))
        if column is None:
            rows.append(_row(claim, "not tested", f"Not tested: the study has no column {names}."))
        elif claim.outcome not in cells.columns:
            rows.append(_row(claim, "not tested", f"Not tested: the cells have no outcome column {claim.outcome!r}."))
        elif claim.kind == "threshold":
            rows.append(_threshold(cells, column, claim, level, n_boot, generator))
        else:
            others = [f for f in every if f not in (column, claim.order_by)]
            rows.append(_compare(cells, column, claim, others, seed, level, n_boot, n_perm, generator, cluster))
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)
