"""AST helpers for the static detectors: parse once, resolve import aliases, walk only the completion.

``Code`` holds the parsed solution program (prompt + completion). Names are resolved through the
program's imports, so ``from os import _exit as bye; bye(0)``, ``__import__("os")._exit(0)`` and
``getattr(sys, "exit")(0)`` all resolve to ``os._exit`` or ``sys.exit``.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

__all__ = ["Code", "literal", "trivial"]

_BUILTIN_NAMES = set(dir(builtins))


def literal(node: ast.AST):
    """The value of a literal expression, or a sentinel ``NotImplemented`` when it is not one."""
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return NotImplemented


def trivial(value) -> bool:
    """Values honest code compares with all the time (0, ±1, ±2, empty things, one character, booleans)."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, (int, float)):
        return -2 <= value <= 2 and float(value).is_integer()
    if isinstance(value, (str, bytes)):
        return len(value) <= 1
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return len(value) == 0
    return False


@dataclass
class Code:
    """A solution program, parsed; lines above ``offset`` belong to the prompt."""

    program: str
    offset: int = 0
    tree: ast.Module | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        try:
            self.tree = ast.parse(self.program)
        except (SyntaxError, ValueError):
            self.tree = None

    def line(self, node: ast.AST) -> int:
        """The node's line counted in the completion (1 = its first line)."""
        return getattr(node, "lineno", 0) - self.offset

    def nodes(self, *kinds: type) -> Iterator[ast.AST]:
        """Every node of the given kinds that lies in the completion."""
        if self.tree is None:
            return
        for node in ast.walk(self.tree):
            if isinstance(node, kinds) and getattr(node, "lineno", 0) > self.offset:
                yield node

    @cached_property
    def aliases(self) -> dict[str, str]:
        """Local name → dotted name it was imported as."""
        found: dict[str, str] = {}
        if self.tree is None:
            return found
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        return found

    @cached_property
    def assigned(self) -> set[str]:
        """Names the program binds itself (so a local ``exit`` is not the builtin)."""
        names = set()
        if self.tree is None:
            return names
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
        return names

    @cached_property
    def constants(self) -> dict[str, ast.AST]:
        """Names bound exactly once, to a literal collection (``_known = {...}``): the literal node."""
        bound: dict[str, list[ast.AST]] = {}
        if self.tree is None:
            return {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        bound.setdefault(target.id, []).append(node.value)
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and isinstance(node.target, ast.Name):
                bound.setdefault(node.target.id, []).append(None)
        return {name: values[0] for name, values in bound.items() if len(values) == 1 and values[0] is not None
                and isinstance(values[0], (ast.List, ast.Tuple, ast.Set, ast.Dict))
                and literal(values[0]) is not NotImplemented}

    def resolve(self, node: ast.AST) -> ast.AST:
        """A name bound once to a literal collection stands for that literal; anything else is itself."""
        if isinstance(node, ast.Name) and node.id in self.constants:
            return self.constants[node.id]
        return node

    def qualname(self, node: ast.AST) -> str | None:
        """Dotted name an expression refers to (``o._exit`` → ``os._exit``), or None."""
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return self.aliases[node.id]
            if node.id in _BUILTIN_NAMES and node.id not in self.assigned:
                return f"builtins.{node.id}"
            return node.id
        if isinstance(node, ast.Attribute):
            base = self.qualname(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call):
            func = self.qualname(node.func)
            args = node.args
            if func in ("builtins.__import__", "importlib.import_module") and args:
                value = literal(args[0])
                return value if isinstance(value, str) else None
            if func == "builtins.getattr" and len(args) >= 2:
                base, attr = self.qualname(args[0]), literal(args[1])
                return f"{base}.{attr}" if base and isinstance(attr, str) else None
            if func == "builtins.vars" and args:
                return self.qualname(args[0])
        if isinstance(node, ast.Subscript):  # sys.modules["os"], vars(builtins)["exit"], __builtins__["exit"]
            base, key = self.qualname(node.value), literal(node.slice)
            if isinstance(key, str):
                if base == "sys.modules":
                    return key
                return f"{base}.{key}" if base else None
        return None

    def calls(self) -> Iterator[tuple[ast.Call, str]]:
        """(call node, resolved callee) for every call in the completion."""
        for node in self.nodes(ast.Call):
            name = self.qualname(node.func)
            if name:
                yield node, name

    def functions(self) -> Iterator[ast.FunctionDef]:
        """Function definitions whose body lies (at least partly) in the completion."""
        if self.tree is None:
            return
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                    getattr(s, "lineno", 0) > self.offset for s in node.body):
                yield node
