"""The package surface: lazy, torch-free import and a sorted, complete ``__all__``."""

import subprocess
import sys


def test_import_is_light():
    code = ("import sys, alignlab.scaling, alignlab.scaling.cli; "
            "print(any(m in sys.modules for m in ('torch', 'pandas', 'scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_all_is_sorted_and_resolves():
    import alignlab.scaling as scaling

    key = lambda n: (not n.isupper(), not n[0].isupper(), n)  # noqa: E731  (constants, classes, functions)
    assert scaling.__all__ == sorted(scaling.__all__, key=key)
    assert set(scaling.__all__) == set(scaling._SOURCES)
    for name in scaling.__all__:
        assert getattr(scaling, name) is not None
