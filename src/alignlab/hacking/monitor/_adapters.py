"""Adapters that feed a :class:`~alignlab.hacking.Monitor` from training code.

- :func:`monitor_callback`: a ``transformers.TrainerCallback`` (so TRL's trainers too: GRPO, PPO, RLOO
  log ``reward`` and ``kl``) that reads each log entry and can stop training on an alarm;
- :func:`monitor_records`: runs a finished log (dicts, a DataFrame or a JSONL file) through a monitor;
  for a plain loop, call :meth:`Monitor.update` once per step.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from alignlab.core import AlignlabError
from alignlab.hacking.monitor._monitor import Monitor

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


def _number(row: dict, key: str, where: str) -> float | None:
    value = row.get(key)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AlignlabError(f"{where}: '{key}' must be a number (got {json.dumps(value)[:60]}); step, proxy, gold, "
                            "kl, length and hit_rate are all numbers.") from None
    # JSON files may hold NaN and Infinity tokens; either would silently poison every slope and fit.
    if not math.isfinite(number):
        raise AlignlabError(f"{where}: '{key}' must be a finite number (got {value}).")
    if key == "hit_rate" and not 0 <= number <= 1:
        raise AlignlabError(f"{where}: 'hit_rate' is a share of episodes, between 0 and 1 (got {value}).")
    return number


def monitor_records(records: Iterable[dict] | Any, monitor: Monitor | None = None) -> Monitor:
    """Feed per-step records (``step``, ``proxy`` and optional ``gold``, ``kl``, ``length``, ``hit_rate``).

    ``records`` may be an iterable of dicts, a pandas DataFrame, or the path of a JSONL file. A record
    without ``step`` or ``proxy``, a value that is not a finite number, a step that is not an integer
    larger than the one before, or no records at all is an :class:`AlignlabError` naming the record.
    """
    monitor = monitor or Monitor()
    if isinstance(records, (str, Path)):
        from alignlab.core._jsonl import read_jsonl

        source = str(records)
        rows = [(f"{records}, line {n}", row) for n, row in read_jsonl(records, expected="a step record")]
    elif hasattr(records, "to_dict"):
        source = "the frame"
        rows = [(f"row {i}", row) for i, row in enumerate(records.to_dict("records"))]
    else:
        source = "the records"
        rows = [(f"record {i}", row) for i, row in enumerate(records)]
    if not rows:
        raise AlignlabError(f"{source}: no step records; expected one JSON object per step with 'step' and 'proxy'.")
    # Check everything before feeding anything: a half-fed monitor would report alarms on a prefix.
    checked, previous = [], None
    for where, row in rows:
        if not isinstance(row, dict) or "step" not in row or "proxy" not in row:
            raise AlignlabError(f"{where}: a step record needs 'step' and 'proxy' (got {json.dumps(row, default=str)[:120]}).")
        step = _number(row, "step", where)
        if step is None or step != int(step):
            raise AlignlabError(f"{where}: 'step' must be an integer (got {row['step']}).")
        if previous is not None and step <= previous:
            kind = "repeats" if step == previous else "comes before"
            raise AlignlabError(f"{where}: step {int(step)} {kind} step {int(previous)} of the record before; "
                                "steps must be strictly increasing (one record per step, in order).")
        values = {k: _number(row, k, where) for k in _FIELDS}
        if values["proxy"] is None:
            raise AlignlabError(f"{where}: 'proxy' must be a number (got null).")
        checked.append((int(step), values))
        previous = step
    for step, values in checked:
        monitor.update(step, **values)
    return monitor
