"""Comparing forecasters: Diebold–Mariano with overlapping windows, and skill with block-bootstrap intervals.

The tests are generic (two loss series with serially dependent errors) and live in
:mod:`alignlab.core.stats`; this module keeps the forecast instrument's names for them.

Example::

    diebold_mariano(loss_model, loss_naive, h=26, step=4)   # {'stat': ..., 'p': ...}
"""

from alignlab.core.stats import diebold_mariano, overlap_lags, skill_interval

__all__ = ["diebold_mariano", "overlap_lags", "skill_interval"]
