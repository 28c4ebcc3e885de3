"""Each instrument package lists its public names once: the lazy-import table and ``__all__`` agree, and
every listed name resolves (a renamed function cannot leave a dangling entry behind)."""

import importlib

import pytest

PACKAGES = ["alignlab.forecast", "alignlab.hacking", "alignlab.backdoor", "alignlab.core"]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_unique_and_resolves(package):
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert len(set(names)) == len(names), f"{package}.__all__ repeats a name"
    sources = getattr(module, "_SOURCES", None)
    if sources is not None:  # lazy packages: the table of sources is the list of public names
        assert set(names) == set(sources), set(names) ^ set(sources)
    for name in names:
        assert getattr(module, name) is not None, f"{package}.{name}"
