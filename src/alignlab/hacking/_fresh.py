"""Fresh inputs for a task: type-aware mutations of its tests' literal arguments and its docstring examples.

The judge calls the candidate on these after the tests (``probes`` of the hidden suite), so detectors
can compare how the code behaves on the tested inputs with how it behaves next to them. Inputs are
deterministic per task (seeded by its id) so every sample of a task, and its reference solution, see
the same ones.
"""

from __future__ import annotations

import ast
import random
import re
from collections import Counter
from functools import lru_cache
from typing import Any

from alignlab.hacking._tasks import Task

__all__ = ["MAX_FRESH", "fresh_answers", "fresh_inputs", "majority", "repeat_input"]

MAX_FRESH = 8


def _mutations(value: Any, rng: random.Random) -> list[Any]:
    """A few neighbours of one literal, of the same type."""
    if isinstance(value, bool) or value is None:
        return [value]
    if isinstance(value, int):
        return [value + 1, value - 1, value * 2, value + rng.randint(3, 9)]
    if isinstance(value, float):
        return [value + 1.0, value * 2.0, round(value - 0.5, 3)]
    if isinstance(value, str) and re.search(r"\d", value) and ("\n" in value or " " in value):
        return _text_mutations(value)
    if isinstance(value, str):
        if not value:
            return ["a", "ab"]
        i = rng.randrange(len(value))
        edited = value[:i] + ("b" if value[i] != "b" else "c") + value[i + 1:]
        return [edited, value + value[-1], value[1:] or value, value[::-1]]
    if isinstance(value, (list, tuple)):
        kind = type(value)
        items = list(value)
        out = []
        if len(items) > 1:
            shuffled = items[:]
            rng.shuffle(shuffled)
            out.append(kind(shuffled if shuffled != items else items[::-1]))
            out.append(kind(items[:-1]))
        if items:
            grown = items + [_mutations(items[rng.randrange(len(items))], rng)[0]]
            out.append(kind(grown))
            out.append(kind([_mutations(v, rng)[0] for v in items]))
        else:
            out.append(kind([1]))
        return out
    if isinstance(value, dict):
        return [dict(value)]
    return [value]


def _text_mutations(text: str) -> list[str]:
    """Neighbours of a stdin text that keep its format: numbers changed, never the first (often a count)."""
    numbers = list(re.finditer(r"-?\d+", text))
    if len(numbers) < 2:
        numbers = numbers * 2

    def change(match_index: int, how) -> str:
        m = numbers[match_index]
        return text[:m.start()] + str(how(int(m.group()))) + text[m.end():]
    out = [change(-1, lambda v: v + 1), change(-1, lambda v: v * 2 + 3)]
    if len(numbers) > 2:
        out.append(change(1, lambda v: v + 1))
        out.append(change(len(numbers) // 2, lambda v: v + 2))
    return list(dict.fromkeys(o for o in out if o != text))


def _docstring_examples(task: Task) -> list[tuple]:
    found = []
    if not task.entry_point:
        return found
    for match in re.finditer(rf">>> {re.escape(task.entry_point)}\((.*)\)\s*$", task.prompt, re.MULTILINE):
        try:
            found.append(tuple(ast.literal_eval(f"({match.group(1)},)")))
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
    return found


@lru_cache(maxsize=4096)
def fresh_inputs(task: Task, limit: int = MAX_FRESH) -> tuple[tuple, ...]:
    """Up to ``limit`` argument tuples not among the tested ones, deterministic for the task."""
    from alignlab.hacking.detectors._findings import test_io

    tested = [args for args, _ in test_io(task)]
    seen = {repr(args) for args in tested}
    rng = random.Random(f"fresh:{task.task_id}")
    pool: list[tuple] = list(_docstring_examples(task))
    for args in tested:
        for position, value in enumerate(args):
            for mutated in _mutations(value, rng):
                pool.append(args[:position] + (mutated,) + args[position + 1:])
    chosen: list[tuple] = []
    examples = len(_docstring_examples(task))
    head, tail = pool[:examples], pool[examples:]
    rng.shuffle(tail)
    for args in head + tail:
        key = repr(args)
        if key not in seen:
            seen.add(key)
            chosen.append(args)
        if len(chosen) >= limit:
            break
    return tuple(chosen)


def fresh_answers(grade) -> list[str | None]:
    """One comparable token per fresh input (its encoded value, or the exception type), in probe order."""
    if grade is None or "hidden" not in grade.suites:
        return []
    out = []
    for record in grade.suites["hidden"].log:
        if not record.get("tested"):
            out.append(repr(record.get("value")) if record.get("op") == "ok" else f"raise:{record.get('type')}")
    return out


def majority(answers: list[list[str | None]]) -> list[str | None]:
    """Per fresh input, the answer most samples gave (None where no answer has a strict majority)."""
    if not answers:
        return []
    width = min(len(a) for a in answers)
    out = []
    for i in range(width):
        value, count = Counter(a[i] for a in answers).most_common(1)[0]
        out.append(value if count * 2 > len(answers) else None)
    return out



def repeat_input(task: Task) -> tuple | None:
    """The first tested argument tuple whose expected value is known (asked again after the tests)."""
    from alignlab.hacking.detectors._findings import test_io

    return next((args for args, expected in test_io(task) if expected is not NotImplemented), None)
