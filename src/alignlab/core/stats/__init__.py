"""Statistics across seeds and conditions: which effects hold, and which are seed noise.

- intervals: :func:`wilson` for a rate;
- curves: :func:`curve_bands` (mean across seeds with a seed-bootstrap band), :func:`persistence_summary`
  and :func:`persistence_table` (final rate, normalised AUC, steps to drop below a threshold, return);
- frames: :func:`with_factors`, :func:`cell_outcomes` (a study's store → one row per cell), :func:`level_label`;
- effects: :func:`factor_effects` (matched differences, bootstrap intervals, permutation p-values,
  multiple-comparison correction), :func:`direction_consistency`;
- variance: :func:`variance_decomposition` (type-II ANOVA shares, residual = seed noise), :func:`messiness`;
- claims: :class:`Claim`, :data:`DEFAULT_CLAIMS`, :func:`check_claims` (supports / contradicts / cannot
  decide / not tested).

numpy, pandas, SciPy and statsmodels are imported when a function runs, so ``import alignlab.core`` stays light.
See docs/statistics.md for assumptions and how to read the results.
"""

from alignlab.core.stats._claims import DEFAULT_CLAIMS, Claim, check_claims
from alignlab.core.stats._common import level_label
from alignlab.core.stats._curves import curve_bands, persistence_summary, persistence_table
from alignlab.core.stats._effects import direction_consistency, factor_effects
from alignlab.core.stats._frames import cell_outcomes, with_factors
from alignlab.core.stats._intervals import wilson
from alignlab.core.stats._variance import messiness, variance_decomposition

__all__ = [
    "Claim",
    "DEFAULT_CLAIMS",
    "cell_outcomes",
    "check_claims",
    "curve_bands",
    "direction_consistency",
    "factor_effects",
    "level_label",
    "messiness",
    "persistence_summary",
    "persistence_table",
    "variance_decomposition",
    "wilson",
    "with_factors",
]
