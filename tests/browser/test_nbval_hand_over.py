"""The lessons the browser suite runs are not run a second time by nbval in the same session,
and nbval runs them whenever the browser suite does not (the root conftest.py's hook)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import conftest as root  # the repository's root conftest.py
import tests.browser.pages as pages

BROWSER = "tests/browser/test_lessons_in_jupyterlab.py::test_lesson_07_app_answers_an_uploaded_photo"
EXPLORER_LESSON = "lessons/01_data_and_augmentation.ipynb::Cell 3"
OTHER_LESSON = "lessons/03_training_loop.ipynb::Cell 3"
SOLUTION = "solutions/01_data_and_augmentation.ipynb::Cell 3"


def collect(nodeids: list[str]) -> tuple[list[str], list[str]]:
    """What the hook keeps and what it deselects from items with these ids."""
    deselected: list = []
    config = SimpleNamespace(hook=SimpleNamespace(pytest_deselected=lambda items: deselected.extend(items)))
    items = [SimpleNamespace(nodeid=nodeid) for nodeid in nodeids]
    root.pytest_collection_modifyitems(config, items)
    return [i.nodeid for i in items], [i.nodeid for i in deselected]


@pytest.fixture(autouse=True)
def fresh_summary(monkeypatch):
    monkeypatch.setattr(root, "_IN_THE_BROWSER", [])
    monkeypatch.delenv("CIFARLAB_REQUIRE_BROWSER", raising=False)


def test_the_browser_suite_takes_its_lessons_over_from_nbval(monkeypatch):
    monkeypatch.setattr(pages, "browser_available", lambda: True)
    kept, deselected = collect([BROWSER, EXPLORER_LESSON, OTHER_LESSON, SOLUTION])
    assert kept == [BROWSER, OTHER_LESSON, SOLUTION] and deselected == [EXPLORER_LESSON]
    assert root._IN_THE_BROWSER == ["lessons/01_data_and_augmentation.ipynb"]  # named in the run's summary


def test_nbval_keeps_them_when_the_browser_suite_does_not_run(monkeypatch):
    monkeypatch.setattr(pages, "browser_available", lambda: True)
    assert collect([EXPLORER_LESSON, OTHER_LESSON]) == ([EXPLORER_LESSON, OTHER_LESSON], [])  # `pytest lessons/`
    monkeypatch.setattr(pages, "browser_available", lambda: False)  # the suite will skip: nbval runs them
    assert collect([BROWSER, EXPLORER_LESSON]) == ([BROWSER, EXPLORER_LESSON], [])
    monkeypatch.setenv("CIFARLAB_REQUIRE_BROWSER", "1")  # CI: the suite fails instead of skipping
    assert collect([BROWSER, EXPLORER_LESSON]) == ([BROWSER], [EXPLORER_LESSON])
    monkeypatch.setattr(pages, "NOTEBOOKS", "solutions")  # the browser runs the solutions: nbval keeps every lesson
    assert collect([BROWSER, EXPLORER_LESSON, SOLUTION]) == ([BROWSER, EXPLORER_LESSON, SOLUTION], [])
