"""Turning a task's test code into statements the judge can run one by one, strictly.

A test is either HumanEval's form (module code plus ``def check(candidate): ...``) or plain statements
that use ``candidate``. Each statement that mentions ``candidate`` is a *unit* (an ``assert``, or a loop
or block holding asserts); the others are set-up and run in every suite. ``==`` and ``!=`` in units
become calls to the judge's type-strict comparison, with the candidate's side first, and
``assert candidate(x)`` / ``assert not candidate(x)`` require ``True`` / ``False`` exactly.

HumanEval's visible/hidden split (documented in docs/hacking.md): the first third of the units
(rounded up, at least one) is visible, the rest hidden; a test with a single unit is both.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass

__all__ = ["Statement", "parse_tests", "plain_source", "split_units", "strict_source"]


@dataclass(frozen=True)
class Statement:
    """One top-level test statement: its (rewritten) source, whether it is a unit, its line in the test."""

    src: str
    unit: bool
    line: int

    def wire(self) -> dict:
        return {"src": self.src, "unit": self.unit, "line": self.line}


def _mentions_candidate(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "candidate" for n in ast.walk(node))


class _Strict(ast.NodeTransformer):
    """``a == b`` → ``__strict_eq__(a, b)`` (candidate's side first); ``a != b`` → ``not __strict_eq__(…)``."""

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if len(node.ops) != 1 or not isinstance(node.ops[0], (ast.Eq, ast.NotEq)):
            return node
        left, right = node.left, node.comparators[0]
        if _mentions_candidate(right) and not _mentions_candidate(left):
            left, right = right, left
        call = ast.Call(func=ast.Name("__strict_eq__", ast.Load()), args=[left, right], keywords=[])
        if isinstance(node.ops[0], ast.NotEq):
            return ast.copy_location(ast.UnaryOp(ast.Not(), call), node)
        return ast.copy_location(call, node)


def _is_candidate_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "candidate"


class _StrictTruth(ast.NodeTransformer):
    """``assert candidate(x)`` → must return ``True``; ``assert not candidate(x)`` → must return ``False``.

    Truthiness would let a ``None`` (or any empty value) pass every ``assert not`` test.
    """

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        test, expected = node.test, True
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            test, expected = test.operand, False
        if _is_candidate_call(test):
            node.test = ast.Call(func=ast.Name("__strict_eq__", ast.Load()), args=[test, ast.Constant(expected)],
                                 keywords=[])
        return node


def strict_source(node: ast.stmt) -> str:
    """The statement's source with its equality comparisons and truth tests made type-strict."""
    tree = _StrictTruth().visit(_Strict().visit(ast.Module(body=[node], type_ignores=[])))
    tree = ast.fix_missing_locations(tree)
    return ast.unparse(tree)


def parse_tests(source: str, where: str = "test") -> list[Statement]:
    """Split test code into statements; raises SyntaxError (with ``where`` in the message) if it is not Python."""
    try:
        module = ast.parse(source)
    except SyntaxError as exc:
        raise SyntaxError(f"{where} is not valid Python: {exc.msg} (line {exc.lineno})") from None
    statements: list[Statement] = []
    check_body: list[ast.stmt] | None = None
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name == "check":
            check_body = node.body
            continue
        statements.append(Statement(ast.unparse(node), False, node.lineno))
    body = check_body if check_body is not None else []
    if check_body is None:  # plain statements: they are the body
        statements, body = [], list(module.body)
    for node in body:
        is_definition = isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))
        if _mentions_candidate(node) and not is_definition:
            statements.append(Statement(strict_source(node), True, node.lineno))
        else:
            statements.append(Statement(ast.unparse(node), False, node.lineno))
    return statements


def split_units(statements: list[Statement], visible_share: float = 1 / 3) -> tuple[list[Statement], list[Statement]]:
    """(visible, hidden): every set-up statement in both; the first share of units visible, the rest hidden."""
    units = [s for s in statements if s.unit]
    if len(units) <= 1:
        return list(statements), list(statements)
    cut = max(1, math.ceil(len(units) * visible_share))
    visible_units = {id(s) for s in units[:cut]}
    visible = [s for s in statements if not s.unit or id(s) in visible_units]
    hidden = [s for s in statements if not s.unit or id(s) not in visible_units]
    return visible, hidden


class _Plain(ast.NodeTransformer):
    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "__strict_eq__" and len(node.args) == 2:
            return ast.copy_location(ast.Compare(node.args[0], [ast.Eq()], [node.args[1]]), node)
        return node


def plain_source(statements: list[Statement]) -> str:
    """Test code for other graders: the statements with ``__strict_eq__(a, b)`` back to ``a == b``."""
    body = [_Plain().visit(ast.parse(s.src)) for s in statements]
    return "\n".join(ast.unparse(ast.fix_missing_locations(module)) for module in body) + "\n"
