"""Adapters that feed a :class:`~alignlab.hacking.Monitor` from training code.

- :func:`monitor_callback`: a ``transformers.TrainerCallback`` (so TRL's trainers too: GRPO, PPO, RLOO
  log ``reward`` and ``kl``) that reads each log entry and can stop training on an alarm;
- :func:`monitor_records`: runs a finished log (dicts, a DataFrame or a JSONL file) through a monitor;
  for a plain loop, call :meth:`Monitor.update` once per step.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from alignlab.core import AlignlabError
from alignlab.hacking._monitor import Monitor

__all__ = ["monitor_callback", "monitor_records"]

logger = logging.getLogger("alignlab.hacking")


def monitor_callback(monitor: Monitor, *, proxy_key: str = "reward", gold_key: str | None = None,
                     kl_key: str | None = "kl", length_key: str | None = "completions/mean_length",
                     hit_rate_key: str | None = None, gold_fn: Callable[[Any], float | None] | None = None,
                     stop_on_alarm: bool = False):
    """A ``TrainerCallback`` that sends each logged step to ``monitor``.

    Args:
        monitor: the monitor to feed.
        proxy_key: log key of the training (proxy) reward; steps without it are skipped.
        gold_key, kl_key, length_key, hit_rate_key: log keys of the other measurements (None: not logged).
        gold_fn: called with the trainer state when ``gold_key`` is absent, e.g. a held-out evaluation.
        stop_on_alarm: set ``control.should_training_stop`` when an alarm is raised.

    Returns:
        A ``transformers.TrainerCallback`` instance (``trainer.add_callback(...)``).
    """
    from transformers import TrainerCallback

    class HackingMonitorCallback(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if proxy_key not in logs:
                return control
            gold = logs.get(gold_key) if gold_key else (gold_fn(state) if gold_fn else None)
            alarms = monitor.update(
                state.global_step, logs[proxy_key], gold,
                logs.get(kl_key) if kl_key else None, logs.get(length_key) if length_key else None,
                logs.get(hit_rate_key) if hit_rate_key else None)
            for alarm in alarms:
                logger.warning("reward-hacking alarm at step %s (%s): %s", alarm.step, alarm.kind, alarm.message)
            if alarms and stop_on_alarm:
                control.should_training_stop = True
            return control

    return HackingMonitorCallback()


_FIELDS = ("proxy", "gold", "kl", "length", "hit_rate")


def monitor_records(records: Iterable[dict] | Any, monitor: Monitor | None = None) -> Monitor:
    """Feed per-step records (``step``, ``proxy`` and optional ``gold``, ``kl``, ``length``, ``hit_rate``).

    ``records`` may be an iterable of dicts, a pandas DataFrame, or the path of a JSONL file; a record
    without ``step`` or ``proxy`` is an error naming it.
    """
    monitor = monitor or Monitor()
    if isinstance(records, (str, Path)):
        from alignlab.core._jsonl import read_jsonl

        rows = [(f"{records}, line {n}", row) for n, row in read_jsonl(records)]
    elif hasattr(records, "to_dict"):
        rows = [(f"row {i}", row) for i, row in enumerate(records.to_dict("records"))]
    else:
        rows = [(f"record {i}", row) for i, row in enumerate(records)]
    for where, row in rows:
        if not isinstance(row, dict) or "step" not in row or "proxy" not in row:
            raise AlignlabError(f"{where}: a step record needs 'step' and 'proxy' (got {json.dumps(row)[:120]}).")
        try:
            values = {k: (None if row.get(k) is None else float(row[k])) for k in _FIELDS}
            monitor.update(int(row["step"]), **values)
        except (TypeError, ValueError):
            raise AlignlabError(f"{where}: step, proxy, gold, kl, length and hit_rate must be numbers.") from None
    return monitor
