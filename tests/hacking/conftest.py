"""Shared fixtures: one grader (two sandbox workers) per test module keeps the suite fast."""

from __future__ import annotations

import pytest

from alignlab.hacking import Grader, humaneval_tasks


@pytest.fixture(scope="module")
def grader():
    with Grader(timeout_s=2.0) as g:
        yield g


@pytest.fixture(scope="session")
def tasks():
    return humaneval_tasks()
