"""Tests given as input/output pairs, in the forms APPS, CodeContests and LiveCodeBench use.

A task without an entry point (``"entry_point": ""``) is a whole program that reads stdin and writes
stdout; each pair becomes ``assert candidate(INPUT) == OUTPUT``, where ``candidate`` runs the program
on ``INPUT`` and returns what it printed. Outputs are compared after normalising white space: trailing
spaces of every line and trailing blank lines are dropped (:func:`normalise_output`). With an entry
point, pairs are calls: an input list is the argument list, an input string holds one JSON value per
line (LiveCodeBench's functional form); APPS wraps each expected value in a one-item list.

Accepted (``test`` may hold any of the dict forms, also as a JSON string):

- ``{"io": [{"input": "...", "output": "..."}, ...]}`` or ``{"tests": [...]}`` or a bare list of pairs;
- ``{"inputs": [...], "outputs": [...]}`` (APPS ``input_output``; its ``fn_name`` names the entry point);
- top-level ``input_output`` (APPS), ``inputs``/``outputs``, ``tests``;
- top-level ``public_tests`` / ``private_tests`` / ``generated_tests`` as ``{"input": [...], "output": [...]}``
  (CodeContests: public ones are the visible tests, the others hidden);
- top-level ``public_test_cases`` / ``private_test_cases``: lists (or JSON strings) of
  ``{"input", "output", "testtype"}`` (LiveCodeBench: public visible, private hidden).
"""

from __future__ import annotations

import json
from typing import Any

from alignlab.core import AlignlabError
from alignlab.hacking.grading._runtime import normalise_output

__all__ = ["io_tests", "normalise_output"]

_SPLIT = (("public_tests", "private_tests", "generated_tests"), ("public_test_cases", "private_test_cases"))


def _json(value: Any, where: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise AlignlabError(f"{where}: expected JSON input/output tests, got a string that is not JSON.") from None
    return value


def _pairs(value: Any, where: str) -> tuple[list[tuple[Any, Any]], bool]:
    """(pairs, wrapped) from one of the accepted forms; ``wrapped``: APPS-style one-item output lists."""
    value = _json(value, where)
    if isinstance(value, dict):
        for key in ("io", "tests"):
            if key in value:
                return _pairs(value[key], f"{where}.{key}")
        if "inputs" in value or "input" in value:
            ins, outs = value.get("inputs", value.get("input")), value.get("outputs", value.get("output"))
            if not isinstance(ins, list) or not isinstance(outs, list) or len(ins) != len(outs):
                raise AlignlabError(f"{where}: 'inputs' and 'outputs' must be lists of the same length.")
            return list(zip(ins, outs)), "inputs" in value and bool(value.get("fn_name"))
    if isinstance(value, list):
        pairs = []
        for n, item in enumerate(value):
            if not isinstance(item, dict) or "input" not in item or "output" not in item:
                raise AlignlabError(f"{where}[{n}]: each test must be an object with 'input' and 'output'.")
            pairs.append((item["input"], item["output"]))
        return pairs, False
    raise AlignlabError(f"{where}: input/output tests must be a list of {{'input', 'output'}} objects or "
                        "{'inputs': [...], 'outputs': [...]}.")


def _args(value: Any, functional: bool) -> tuple:
    if not functional:
        return (value if isinstance(value, str) else "\n".join(map(str, value)) if isinstance(value, list) else str(value),)
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, str):
        try:
            return tuple(json.loads(line) for line in value.splitlines() if line.strip())
        except ValueError:
            return (value,)
    return (value,)


def _expected(value: Any, functional: bool, wrapped: bool) -> Any:
    if not functional:
        return normalise_output("\n".join(map(str, value)) if isinstance(value, list) else value)
    if wrapped and isinstance(value, list) and len(value) == 1:
        return value[0]
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _source(pairs: list[tuple[Any, Any]], functional: bool, wrapped: bool, where: str) -> str:
    lines = []
    for n, (raw_in, raw_out) in enumerate(pairs):
        args, expected = _args(raw_in, functional), _expected(raw_out, functional, wrapped)
        text = f"assert candidate({', '.join(map(repr, args))}) == {expected!r}"
        try:
            compile(text, where, "exec")
        except (SyntaxError, ValueError):
            raise AlignlabError(f"{where}, test {n}: its input or output is not plain data.") from None
        lines.append(text)
    if not lines:
        raise AlignlabError(f"{where}: no input/output tests.")
    return "\n".join(lines) + "\n"


def io_tests(row: dict, where: str, functional: bool) -> tuple[str, str | None] | None:
    """(visible test source, hidden test source or None to split) for a row with input/output tests.

    None when the row has none of the input/output forms (its ``test`` is code).
    """
    for public, *private in _SPLIT:
        if public in row:
            visible, wrapped = _pairs(row[public], f"{where}, {public}")
            hidden = []
            for key in private:
                if row.get(key):
                    hidden += _pairs(row[key], f"{where}, {key}")[0]
            hidden_src = _source(hidden, functional, wrapped, f"{where}, {private[0]}") if hidden else None
            return _source(visible, functional, wrapped, f"{where}, {public}"), hidden_src
    for key in ("input_output", "tests"):
        if key in row:
            pairs, wrapped = _pairs(row[key], f"{where}, {key}")
            return _source(pairs, functional, wrapped, f"{where}, {key}"), None
    if "inputs" in row and "outputs" in row:
        pairs, wrapped = _pairs({"inputs": row["inputs"], "outputs": row["outputs"]}, where)
        return _source(pairs, functional, wrapped, where), None
    test = row.get("test")
    if isinstance(test, (dict, list)) or (isinstance(test, str) and test.lstrip().startswith(("{", "["))):
        pairs, wrapped = _pairs(test, f"{where}, test")
        return _source(pairs, functional, wrapped, f"{where}, test"), None
    return None
