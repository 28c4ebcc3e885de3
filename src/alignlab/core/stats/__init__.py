"""Statistics across seeds and conditions: which effects hold, and which are seed noise.

Generic tools only; instruments supply their vocabulary (metric names, published claims) on top:

- intervals: :func:`wilson` for a rate;
- curves: :func:`curve_bands` (mean across seeds with a seed-bootstrap band), :func:`curve_summary` and
  :func:`curve_table` (final rate, normalised AUC, steps to drop below a threshold, return);
- frames: :func:`with_factors`, :func:`cell_outcomes` (a study's store → one row per cell), :func:`level_label`;
- effects: :func:`factor_effects` (matched differences, bootstrap intervals, permutation p-values,
  multiple-comparison correction), :func:`direction_consistency`;
- variance: :func:`variance_decomposition` (type-II ANOVA shares, residual = seed noise), :func:`messiness`;
- claims: :class:`Claim`, :func:`check_claims` (supports / contradicts / cannot decide / not tested),
  :func:`parameter_count`;
- dependent series: :func:`diebold_mariano`, :func:`skill_interval` (moving-block bootstrap),
  :func:`overlap_lags`.

numpy, pandas, SciPy, statsmodels and arch are imported when a function runs, so ``import alignlab.core``
stays light. See docs/statistics.md for assumptions and how to read the results.
"""

from alignlab.core.stats._claims import Claim, check_claims, parameter_count
from alignlab.core.stats._common import level_label
from alignlab.core.stats._curves import curve_bands, curve_summary, curve_table
from alignlab.core.stats._effects import direction_consistency, factor_effects
from alignlab.core.stats._frames import cell_outcomes, with_factors
from alignlab.core.stats._intervals import wilson
from alignlab.core.stats._series import diebold_mariano, overlap_lags, skill_interval
from alignlab.core.stats._variance import messiness, variance_decomposition

__all__ = [
    "Claim",
    "cell_outcomes",
    "check_claims",
    "curve_bands",
    "curve_summary",
    "curve_table",
    "diebold_mariano",
    "direction_consistency",
    "factor_effects",
    "level_label",
    "messiness",
    "overlap_lags",
    "parameter_count",
    "skill_interval",
    "variance_decomposition",
    "wilson",
    "with_factors",
]
