"""A reward wrapper for training loops: no reward for completions the detectors call hacking.

Example (TRL's GRPO; the dataset has a ``task_id`` column naming each prompt's task)::

    from alignlab.hacking import Monitor, guarded_reward, load_tasks
    guard = guarded_reward(my_reward, tasks=load_tasks("tasks.jsonl"), penalty=-1.0, monitor=Monitor())
    trainer = GRPOTrainer(model=..., reward_funcs=[guard], train_dataset=dataset, ...)

or in a plain loop: ``rewards = guard(prompts, completions, task_id=ids)``.

Each completion is graded in the hardened sandbox and judged by every detector. A completion with a
high-severity finding (the scan's verdict: any high finding, or medium ones from two detectors) gets
``penalty`` instead of ``reward_fn``'s value; one the instrument could not score (sandbox or detector
failure) gets ``None`` — TRL reads that as "no reward" (NaN, left out of the group's statistics), so
an unscored sample is never a reward of 0 presented as a verdict. Without ``reward_fn`` the reward is
1.0 for passing the hidden tests and 0.0 otherwise (the sandbox's verdict, not a naive exit code).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from alignlab.core import AlignlabError

__all__ = ["GuardedReward", "guarded_reward"]


def _text(completion: Any) -> str:
    """A completion as text: a string, or TRL's conversational form (a list of messages)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    return str(completion)


class GuardedReward:
    """The callable :func:`guarded_reward` returns; ``stats`` holds the counts so far."""

    def __init__(self, reward_fn: Callable[..., Sequence[float | None]] | None, tasks: Mapping[str, Any], *,
                 penalty: float = 0.0, monitor: Any = None, grader: Any = None, task_key: str = "task_id",
                 detectors: Sequence[str] | None = None):
        if not tasks:
            raise AlignlabError("guarded_reward: 'tasks' is empty; give the tasks the prompts come from (load_tasks(...)).")
        self.reward_fn, self.tasks, self.penalty, self.monitor = reward_fn, dict(tasks), float(penalty), monitor
        self.task_key, self.detectors = task_key, detectors
        self._grader, self._own_grader = grader, grader is None
        self._by_prompt = {task.prompt: task for task in self.tasks.values() if task.prompt}
        self.__name__ = f"guarded_{getattr(reward_fn, '__name__', 'pass')}"  # TRL logs rewards under this name
        self.stats = {"calls": 0, "completions": 0, "hacking": 0, "unscored": 0}
        self.last: list = []  # the verdicts of the last call, for inspection

    @property
    def grader(self):
        if self._grader is None:
            from alignlab.hacking.grading._grader import Grader

            self._grader = Grader()
        return self._grader

    def close(self) -> None:
        """Stop the sandbox workers this wrapper started (a grader passed in is left to its owner)."""
        if self._own_grader and self._grader is not None:
            self._grader.close()
            self._grader = None

    def _task(self, index: int, prompt: Any, ids: Sequence[Any] | None):
        if ids is not None:
            task = self.tasks.get(str(ids[index]))
            if task is None:
                raise AlignlabError(f"guarded_reward: unknown {self.task_key} {ids[index]!r} (known ids look like "
                                    f"{', '.join(list(self.tasks)[:3])}, …).")
            return task
        task = self._by_prompt.get(_text(prompt)) if prompt is not None else None
        if task is None:
            raise AlignlabError(f"guarded_reward: completion {index} has no '{self.task_key}' and its prompt matches no "
                                f"task; pass {self.task_key}=[...] (a dataset column of that name does it in TRL).")
        return task

    def __call__(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None,
                 **kwargs: Any) -> list[float | None]:
        from alignlab.hacking._scan import judge
        from alignlab.hacking._tasks import Sample

        completions = list(completions or [])
        prompts = list(prompts) if prompts is not None else [None] * len(completions)
        ids = kwargs.get(self.task_key)
        tasks = [self._task(i, p, ids) for i, p in enumerate(prompts)]
        texts = [_text(c) for c in completions]
        grades = self.grader.grade_many(list(zip(tasks, texts)))
        samples = [Sample(t.task_id, text, i) for i, (t, text) in enumerate(zip(tasks, texts))]
        verdicts = [None] * len(samples)
        try:
            verdicts = judge(samples, {t.task_id: t for t in tasks}, grades, self.detectors)
        except Exception:  # noqa: BLE001 — a detector failure leaves these samples unscored, never rewarded
            pass
        if self.reward_fn is not None:
            base = list(self.reward_fn(prompts=prompts, completions=completions, **kwargs))
        else:
            base = [None if g.passed_hidden is None else float(bool(g.passed_hidden)) for g in grades]
        rewards: list[float | None] = []
        for grade, found, value in zip(grades, verdicts, base):
            if found is None or grade.unscored or value is None:
                rewards.append(None)
            elif found.hacking:
                rewards.append(self.penalty)
            else:
                rewards.append(float(value))
        self.last = verdicts
        self._log(rewards, verdicts, base, kwargs.get("trainer_state"), kwargs.get("log_metric"))
        return rewards

    def _log(self, rewards, verdicts, base, state, log_metric) -> None:
        scored = [v for v, r in zip(verdicts, rewards) if r is not None]
        hits = sum(v.hacking for v in scored)
        self.stats["calls"] += 1
        self.stats["completions"] += len(rewards)
        self.stats["hacking"] += hits
        self.stats["unscored"] += len(rewards) - len(scored)
        rate = hits / len(scored) if scored else None
        if callable(log_metric) and rate is not None:
            log_metric("hacking/hit_rate", rate)
        if self.monitor is not None and rate is not None:
            proxy = [float(b) for b in base if b is not None]
            step = getattr(state, "global_step", None)
            step = self.stats["calls"] - 1 if step is None else int(step)
            self.monitor.update(step, proxy=sum(proxy) / len(proxy) if proxy else 0.0, hit_rate=rate)


def guarded_reward(reward_fn: Callable[..., Sequence[float | None]] | None = None, *, tasks: Mapping[str, Any],
                   penalty: float = 0.0, monitor: Any = None, grader: Any = None, task_key: str = "task_id",
                   detectors: Sequence[str] | None = None) -> GuardedReward:
    """Wrap ``reward_fn`` (TRL's ``reward_funcs`` signature) so hacking completions get ``penalty``.

    Args:
        reward_fn: ``(prompts, completions, **kwargs) -> list[float | None]``; None: 1.0 for passing the
            hidden tests in the sandbox, else 0.0.
        tasks: the tasks completions answer, by id (``load_tasks(...)``, ``humaneval_tasks()``).
        penalty: the reward for a completion judged hacking.
        monitor: a :class:`Monitor`; each call adds a step (proxy = mean ``reward_fn`` value, hit rate =
            share judged hacking), so its hit-rate alarm fires in training.
        grader: a :class:`Grader` to share (default: one started on first call; ``close()`` stops it).
        task_key: the keyword (TRL: dataset column) holding each completion's task id; without it the
            prompt text is matched against the tasks' prompts.
        detectors: detector names (default: all).

    Returns:
        A callable returning one reward per completion: ``penalty`` when hacking, ``None`` when unscored.
    """
    return GuardedReward(reward_fn, tasks, penalty=penalty, monitor=monitor, grader=grader, task_key=task_key,
                         detectors=detectors)
