"""The lessons the browser suite runs are not run a second time by nbval in the same session,
and are run by nbval whenever the browser suite is not."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.browser.pages import browser_available
from tests.conftest import REPO

LESSON = "lessons/01_data_and_augmentation.ipynb"


def collect(*paths: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", *paths],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_nbval_runs_a_lesson_when_the_browser_suite_does_not():
    out = collect(LESSON)
    assert f"{LESSON}::Cell 0" in out and "deselected" not in out


@pytest.mark.skipif(not browser_available(), reason="without Chromium the browser suite skips, and nbval keeps them")
def test_the_browser_suite_takes_the_lesson_over_from_nbval():
    out = collect(LESSON, "tests/browser/test_lessons_in_jupyterlab.py", "lessons/03_training_loop.ipynb")
    assert f"{LESSON}::Cell" not in out and "lessons/03_training_loop.ipynb::Cell 0" in out
    cells = out.count("lessons/03_training_loop.ipynb::Cell")
    assert f"not by nbval (their cells deselected): {LESSON}\n" in out and "deselected)" in out and cells > 0
