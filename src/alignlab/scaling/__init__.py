"""Scaling laws: which buys more, compute and data or an architecture change?

Fits L(N, D) = E + A/N^α + B/D^β (Chinchilla's approach 3, solved to its global optimum, with run-bootstrap
intervals), isoFLOP profiles (approach 2, with its bias measured) and the loss-vs-compute envelope
(approach 1); expresses a variant as a compute-equivalent gain CEG(C) with a band, flags gains that change
with scale, and audits extrapolation. FLOPs convention: C = 6 N D. The study kind ``scaling`` runs the grid of
training runs itself (tasks, GPT variants, one run per cell; ``docs/scaling.md``). Importing it does not import
torch.

Example::

    from alignlab.scaling import ScalingLaw, read_runs
    runs = read_runs("runs.csv")                       # columns N, D (or FLOPs), loss, [variant, seed, run]
    law = ScalingLaw().fit(runs)
    law.params_, law.intervals_, law.compute_optimal(1e22)
"""

from typing import TYPE_CHECKING

from alignlab.core._lazy import lazy_getattr

if TYPE_CHECKING:
    from alignlab.scaling._analysis import Analysis, analyse_runs, law_summary
    from alignlab.scaling._audit import ExtrapolationAudit, extrapolation_audit
    from alignlab.scaling._data import FLOPS_PER_PARAM_TOKEN, read_runs
    from alignlab.scaling._envelope import Envelope, envelope
    from alignlab.scaling._errors import FitRefused
    from alignlab.scaling._gain import Decision, compute_equivalent_gain, decide, scale_dependence
    from alignlab.scaling._isoflop import IsoflopFit, isoflop_fit
    from alignlab.scaling._law import ScalingLaw, ScalingLawConfig, law_from_params
    from alignlab.scaling._models import ArchConfig, build_model, count_non_embedding, flops_per_token
    from alignlab.scaling._pooled import PooledLaw
    from alignlab.scaling._report import write_report
    from alignlab.scaling._study import ScalingConfig
    from alignlab.scaling._synthetic import CHINCHILLA_EPOCH, synthetic_runs
    from alignlab.scaling._tasks import TokenTask
    from alignlab.scaling._train import TrainSettings, train_run

# Public names load on first use: importing the package stays cheap (no SciPy, pandas or torch).
_SOURCES = {
    "ArchConfig": "alignlab.scaling._models",
    "build_model": "alignlab.scaling._models",
    "count_non_embedding": "alignlab.scaling._models",
    "flops_per_token": "alignlab.scaling._models",
    "ScalingConfig": "alignlab.scaling._study",
    "TokenTask": "alignlab.scaling._tasks",
    "TrainSettings": "alignlab.scaling._train",
    "train_run": "alignlab.scaling._train",
    "Analysis": "alignlab.scaling._analysis",
    "analyse_runs": "alignlab.scaling._analysis",
    "CHINCHILLA_EPOCH": "alignlab.scaling._synthetic",
    "compute_equivalent_gain": "alignlab.scaling._gain",
    "decide": "alignlab.scaling._gain",
    "Decision": "alignlab.scaling._gain",
    "Envelope": "alignlab.scaling._envelope",
    "envelope": "alignlab.scaling._envelope",
    "extrapolation_audit": "alignlab.scaling._audit",
    "ExtrapolationAudit": "alignlab.scaling._audit",
    "FitRefused": "alignlab.scaling._errors",
    "FLOPS_PER_PARAM_TOKEN": "alignlab.scaling._data",
    "isoflop_fit": "alignlab.scaling._isoflop",
    "IsoflopFit": "alignlab.scaling._isoflop",
    "law_from_params": "alignlab.scaling._law",
    "PooledLaw": "alignlab.scaling._pooled",
    "law_summary": "alignlab.scaling._analysis",
    "read_runs": "alignlab.scaling._data",
    "scale_dependence": "alignlab.scaling._gain",
    "ScalingLaw": "alignlab.scaling._law",
    "ScalingLawConfig": "alignlab.scaling._law",
    "synthetic_runs": "alignlab.scaling._synthetic",
    "write_report": "alignlab.scaling._report",
}

__all__ = [
    "CHINCHILLA_EPOCH",
    "FLOPS_PER_PARAM_TOKEN",
    "Analysis",
    "ArchConfig",
    "Decision",
    "Envelope",
    "ExtrapolationAudit",
    "FitRefused",
    "IsoflopFit",
    "PooledLaw",
    "ScalingConfig",
    "ScalingLaw",
    "ScalingLawConfig",
    "TokenTask",
    "TrainSettings",
    "analyse_runs",
    "build_model",
    "compute_equivalent_gain",
    "count_non_embedding",
    "decide",
    "envelope",
    "extrapolation_audit",
    "flops_per_token",
    "isoflop_fit",
    "law_from_params",
    "law_summary",
    "read_runs",
    "scale_dependence",
    "synthetic_runs",
    "train_run",
    "write_report",
]

__getattr__ = lazy_getattr(__name__, _SOURCES, globals())
