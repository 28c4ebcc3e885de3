"""Shared fixtures: an isolated alignlab cache (sharing only the converted bundled model) and tiny models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property-based tests are derandomized: Hypothesis draws the same examples on every machine and run, so a
# run of CI never fails by the luck of the draw (a counterexample found once is added as an @example).
settings.register_profile("alignlab", derandomize=True, database=None, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("ALIGNLAB_HYPOTHESIS_PROFILE", "alignlab"))


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Clean-response caches go to a temporary folder; the converted bundled model (a 25 s conversion,
    needed for the tiny models' tokenizer) is shared with the user's cache so it happens once per machine."""
    real = Path(os.environ.get("ALIGNLAB_CACHE") or Path.home() / ".cache" / "alignlab")
    (real / "models").mkdir(parents=True, exist_ok=True)
    cache = tmp_path_factory.mktemp("alignlab-cache")
    (cache / "models").symlink_to(real / "models", target_is_directory=True)
    old = os.environ.get("ALIGNLAB_CACHE")
    os.environ["ALIGNLAB_CACHE"] = str(cache)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the hub
    yield cache
    if old is None:
        os.environ.pop("ALIGNLAB_CACHE", None)
    else:
        os.environ["ALIGNLAB_CACHE"] = old


@pytest.fixture(scope="session")
def tiny():
    """A tiny random Llama (2 layers × 64) and the bundled tokenizer, loaded once per session."""
    from alignlab.core import load_model

    return load_model("tiny:2x64", seed=0)


def _unwanted_skips(config) -> list:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return reporter.stats.get("skipped", []) if reporter and os.environ.get("ALIGNLAB_NO_SKIPS") else []


def pytest_sessionfinish(session, exitstatus):
    """With ALIGNLAB_NO_SKIPS set (CI), a skipped test fails the run: an optional dependency that did not
    install (ray, inspect-ai, the Gemma wheels, chromium) must not pass unnoticed."""
    if _unwanted_skips(session.config) and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for report in _unwanted_skips(config):
        terminalreporter.write_line(f"ALIGNLAB_NO_SKIPS is set, so this skip fails the run: {report.nodeid}", red=True)
