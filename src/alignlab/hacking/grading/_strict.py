"""Type-strict equality for graded values.

``assert candidate(x) == y`` in a test is rewritten to ``__strict_eq__(candidate(x), y)``: the types must
match exactly (``True`` is not ``1``, ``[1]`` is not ``(1,)``, a ``str`` subclass is not ``str``),
containers compare element by element, and floats compare with a tight tolerance — only where the
expected value is a float. Plain ``==`` cannot be trusted because it asks the *actual* object, which a
hack controls.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["strict_equal"]

REL_TOL = 1e-9
ABS_TOL = 1e-12


def _typed(items: Any) -> dict:
    # Dict and set lookups use ==, under which 1, 1.0 and True collide; key on (type, value) instead.
    return {(type(k), k): v for k, v in items}


def strict_equal(actual: Any, expected: Any) -> bool:
    """Whether ``actual`` equals ``expected`` with exact types, recursively.

    Example:
        >>> strict_equal([1, 2.0], [1, 2.0000000000001]), strict_equal(True, 1), strict_equal((1,), [1])
        (True, False, False)
    """
    kind = type(expected)
    if type(actual) is not kind:
        return False
    if kind is float:
        if math.isnan(expected):
            return math.isnan(actual)
        return math.isclose(actual, expected, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if kind in (list, tuple):
        return len(actual) == len(expected) and all(strict_equal(a, e) for a, e in zip(actual, expected))
    if kind is dict:
        if len(actual) != len(expected):
            return False
        index = _typed(actual.items())
        missing = object()
        return all(
            strict_equal(index.get((type(k), k), missing), v) for k, v in expected.items()
        )
    if kind in (set, frozenset):
        if len(actual) != len(expected):
            return False
        return _typed((x, None) for x in actual).keys() == _typed((x, None) for x in expected).keys()
    if kind in (int, bool, str, bytes, complex, type(None)):
        return actual == expected
    # Anything else is trusted test-side data (the wire admits only the types above from a solution).
    return bool(actual == expected)
