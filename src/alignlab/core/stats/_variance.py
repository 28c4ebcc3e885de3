"""How much of an outcome's variance the factors explain, and how much is seed noise."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from alignlab.core._errors import AlignlabError
from alignlab.core.stats._common import hashable_column, require_columns

__all__ = ["messiness", "variance_decomposition"]

COLUMNS = ["source", "sum_sq", "df", "share", "F", "p", "note"]
RESIDUAL = "residual"


def _empty(sources: list[str], note: str, outcome: str, total: float = float("nan")):
    import pandas as pd

    table = pd.DataFrame({"source": [*sources, RESIDUAL], "sum_sq": float("nan"), "df": float("nan"),
                          "share": float("nan"), "F": float("nan"), "p": float("nan"), "note": note})
    table.loc[table["source"] == RESIDUAL, "sum_sq"] = total
    table.attrs["outcome"] = outcome
    return table[COLUMNS]


def variance_decomposition(cells, *, factors: Sequence[str], outcome: str, seed: str | None = "seed",
                           interactions: int = 2, seed_effect: bool = False):
    """Share of an outcome's variance explained by each factor, pairwise interaction, and seed noise.

    Fits an OLS model with every factor as categorical (and, with ``interactions=2``, every pairwise
    interaction that is estimable: all combinations of the two factors have cells) and reads type-II sums of
    squares from statsmodels' ``anova_lm``. ``share`` is each sum of squares over their total, so the shares
    (residual included) sum to 1; in a balanced design this is each source's share of the total variance,
    in an unbalanced one type-II sums of squares do not partition the total exactly and the shares are
    normalised. The residual is the variation between seeds of the same condition ("seed noise"), unless
    there is one seed per condition (then it holds the highest-order interactions; the note says so).

    Problems never raise: a constant outcome, too few cells, or no residual degrees of freedom give NaN
    values with an explanation in ``note``; non-estimable interactions are listed with a note.

    Args:
        cells: wide frame, one row per cell.
        factors: factor columns (categorical; dict levels are grouped by their label).
        outcome: the outcome column; rows without a value are dropped.
        seed: the seed column (for the replication check), or None.
        interactions: 1 (main effects only) or 2 (plus pairwise interactions).
        seed_effect: also fit a seed main effect (variance shared by a seed across conditions).

    Returns:
        ``source, sum_sq, df, share, F, p, note``; sources are factor names, ``"a:b"`` interactions,
        ``"seed"`` (with ``seed_effect``) and ``"residual"``. ``attrs["outcome"]`` names the outcome.

    Example:
        >>> import pandas as pd
        >>> cells = pd.DataFrame({"mode": ["a", "b"] * 4, "seed": [0, 0, 1, 1, 2, 2, 3, 3],
        ...                       "final": [0.1, 0.9, 0.2, 0.8, 0.1, 0.7, 0.2, 0.9]})
        >>> table = variance_decomposition(cells, factors=["mode"], outcome="final")
        >>> table[["source", "df"]].to_dict("list"), round(float(table["share"].sum()), 6)
        ({'source': ['mode', 'residual'], 'df': [1.0, 6.0]}, 1.0)
    """
    import numpy as np
    import pandas as pd

    factors = [factors] if isinstance(factors, str) else list(factors)
    if interactions not in (1, 2):
        raise AlignlabError(f"variance_decomposition: interactions must be 1 or 2; got {interactions!r}.")
    require_columns(cells, [*factors, outcome, *([seed] if seed else [])], "variance_decomposition")
    y = pd.to_numeric(cells[outcome], errors="coerce")
    data = pd.DataFrame({f"f{i}": hashable_column(cells[f]).astype(str) for i, f in enumerate(factors)})
    if seed:
        data["seed_"] = hashable_column(cells[seed]).astype(str)
    data["y"] = y.to_numpy()
    data = data[data["y"].notna()].reset_index(drop=True)
    notes = []
    names = {f"f{i}": f for i, f in enumerate(factors)}
    varying = [k for k in names if data[k].nunique() > 1]
    if len(varying) < len(names):
        notes.append("constant factors left out: " + ", ".join(names[k] for k in names if k not in varying))
    sources = [names[k] for k in varying]
    if len(data) < 2:
        return _empty(sources, f"too few cells with a value ({len(data)})", outcome)
    total = float(((data["y"] - data["y"].mean()) ** 2).sum())
    if total <= 1e-15 * max(1.0, float((data["y"] ** 2).sum())):
        return _empty(sources, "the outcome is constant: there is no variance to split", outcome, total)

    terms = [f"C({k})" for k in varying]
    skipped = []
    if interactions == 2:
        for a, b in itertools.combinations(varying, 2):
            full = data.groupby([a, b]).size().reindex(
                pd.MultiIndex.from_product([data[a].unique(), data[b].unique()]), fill_value=0)
            if (full > 0).all():
                terms.append(f"C({a}):C({b})")
            else:
                skipped.append(f"{names[a]}:{names[b]}")
    if seed and seed_effect and data["seed_"].nunique() > 1:
        terms.append("C(seed_)")
    fit, terms, dropped = _fit(data, terms)
    if dropped:
        notes.append("terms left out (no residual degrees of freedom): " + ", ".join(_source(t, names) for t in dropped))
    if fit is None:
        return _empty(sources, "; ".join(notes + ["no residual degrees of freedom: every cell is its own "
                                                  "condition, so seed noise cannot be separated (add seeds)"]),
                      outcome, total)
    from statsmodels.stats.anova import anova_lm

    anova = anova_lm(fit, typ=2)
    table = pd.DataFrame({"source": [_source(t, names) for t in anova.index], "sum_sq": anova["sum_sq"].to_numpy(),
                          "df": anova["df"].to_numpy(), "F": anova["F"].to_numpy(), "p": anova["PR(>F)"].to_numpy()})
    table["sum_sq"] = table["sum_sq"].clip(lower=0.0)  # tiny negative values from floating point
    table["share"] = table["sum_sq"] / table["sum_sq"].sum()
    table["note"] = ""
    if seed and not _replicated(data, varying):
        table.loc[table["source"] == RESIDUAL, "note"] = ("one cell per condition: the residual holds the left-out "
                                                          "interactions as well as seed noise")
    if skipped:
        extra = pd.DataFrame({"source": skipped, "sum_sq": np.nan, "df": np.nan, "F": np.nan, "p": np.nan,
                              "share": np.nan, "note": "not estimable: some combinations of the two factors have no cells"})
        residual = table[table["source"] == RESIDUAL]
        table = pd.concat([table[table["source"] != RESIDUAL], extra, residual], ignore_index=True)
    if notes:
        table.loc[table["source"] == RESIDUAL, "note"] = "; ".join(
            [n for n in [*notes, *table.loc[table["source"] == RESIDUAL, "note"]] if n])
    table.attrs["outcome"] = outcome
    return table[COLUMNS]


def _fit(data, terms: list[str]):
    """OLS on the terms; interactions are dropped (last first) until the design is full rank with residual df."""
    import numpy as np
    import statsmodels.formula.api as smf

    terms = list(terms)
    dropped = []
    while True:
        formula = "y ~ " + (" + ".join(terms) if terms else "1")
        model = smf.ols(formula, data)
        rank = np.linalg.matrix_rank(model.exog)
        if rank == model.exog.shape[1] and len(data) - rank >= 1 and terms:
            return model.fit(), terms, dropped
        interaction = next((t for t in reversed(terms) if ":" in t or t == "C(seed_)"), None)
        if interaction is None:
            return None, terms, dropped
        terms.remove(interaction)
        dropped.append(interaction)


def _source(term: str, names: dict[str, str]) -> str:
    if term == "Residual":
        return RESIDUAL
    if term == "C(seed_)":
        return "seed"
    parts = [p[2:-1] for p in term.split(":")]
    return ":".join(names.get(p, p) for p in parts)


def _replicated(data, varying: list[str]) -> bool:
    """Whether some condition has more than one cell (so the residual contains seed-to-seed variation)."""
    if not varying:
        return len(data) > 1
    return bool((data.groupby(varying).size() > 1).any())


def messiness(decomposition, outcome: str | None = None) -> str:
    """One line saying how much of the variance is seed noise and which factor matters most.

    Args:
        decomposition: a :func:`variance_decomposition` table.
        outcome: the outcome's name for the sentence (default: the table's ``attrs["outcome"]``).

    Returns:
        E.g. ``"62% of the variance in final is between seeds; the largest factor, mode, explains 25%."``

    Example:
        >>> import pandas as pd
        >>> table = pd.DataFrame({"source": ["mode", "residual"], "share": [0.25, 0.75], "note": ["", ""]})
        >>> messiness(table, "final")
        '75% of the variance in final is between seeds; the largest factor, mode, explains 25%.'
    """
    outcome = outcome or decomposition.attrs.get("outcome", "the outcome")
    residual = decomposition[decomposition["source"] == RESIDUAL]
    share: Any = residual["share"].iloc[0] if len(residual) else float("nan")
    if share != share:  # NaN
        note = residual["note"].iloc[0] if len(residual) and "note" in residual else ""
        return f"The variance in {outcome} cannot be split" + (f": {note}." if note else ".")
    note = str(residual["note"].iloc[0]) if "note" in residual else ""
    where = "left unexplained (one cell per condition, so not only seed noise)" if "one cell per condition" in note \
        else "between seeds"
    line = f"{share:.0%} of the variance in {outcome} is {where}"
    effects = decomposition[(decomposition["source"] != RESIDUAL) & decomposition["share"].notna()]
    if len(effects):
        top = effects.loc[effects["share"].idxmax()]
        kind = "interaction" if ":" in str(top["source"]) else "factor"
        line += f"; the largest {kind}, {top['source']}, explains {top['share']:.0%}"
    return line + "."
