"""Every public function's docstring example runs and prints what it says."""

import doctest
import importlib

import pytest

import alignlab.core.stats as stats

MODULES = ["_calibration", "_claims", "_common", "_curves", "_effects", "_frames", "_intervals", "_series", "_variance"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"alignlab.core.stats.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_public_api_is_sorted_and_documented_with_examples():
    assert stats.__all__ == sorted(stats.__all__)
    for name in stats.__all__:
        obj = getattr(stats, name)
        if callable(obj):
            assert "Example" in (obj.__doc__ or ""), name


def test_importing_core_stays_light():
    import subprocess
    import sys

    code = ("import sys, alignlab.core.stats; "
            "print(any(m in sys.modules for m in ('pandas', 'scipy', 'torch', 'arch', 'statsmodels')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
