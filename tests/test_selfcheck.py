"""The hints of lessons 01 and 02 lead to the answer without being it.

(What each check says about wrong answers is tested in tests/test_mistakes_01_data.py and
tests/test_mistakes_02_model.py.)
"""

import importlib

import pytest

from cifarlab import selfcheck

hints = importlib.import_module(selfcheck.hint.__module__)  # the module that keeps what hint() has revealed

EXERCISES = {"01": ["mean_std", "train_transforms"], "02": ["residual_block", "resnet9"]}
NAMES = [name for names in EXERCISES.values() for name in names]


def answer_lines(name: str) -> list[str]:
    """The answer's lines that carry code (a short one like `)` or `[` says nothing)."""
    lines = [line.strip() for piece in selfcheck.catalogue()[name]["answer"] for line in piece.splitlines()]
    return [line for line in lines if len(line) > 12]


@pytest.mark.parametrize("lesson", EXERCISES)
def test_each_exercise_of_lessons_01_and_02_has_its_check(lesson):
    assert selfcheck.exercises(lesson) == EXERCISES[lesson]
    for name in EXERCISES[lesson]:
        assert callable(getattr(selfcheck, name))


@pytest.mark.parametrize("name", NAMES)
def test_nudges_and_two_or_three_hints_none_of_which_is_the_answer(name):
    entry = selfcheck.catalogue()[name]
    assert entry["nudges"] and 2 <= len(entry["hints"]) <= 3
    for text in entry["nudges"] + entry["hints"]:
        assert "TODO" not in text
        for line in answer_lines(name):
            assert line not in text, f"{name}: a hint gives away the answer's line {line!r}"


@pytest.mark.parametrize("name", NAMES)
def test_hint_reveals_one_hint_per_call_and_the_answer_last(capsys, monkeypatch, name):
    monkeypatch.setattr(hints, "_REVEALED", {})
    steps = selfcheck.catalogue()[name]["hints"]
    for number, step in enumerate(steps, start=1):
        selfcheck.hint(name)
        out = capsys.readouterr().out
        assert f"Hint {number} of {len(steps)} for {name}: {step}" in out
        assert all(line not in out for line in answer_lines(name))
    selfcheck.hint(name)
    out = capsys.readouterr().out
    assert f"The answer to {name}" in out and all(line in out for line in answer_lines(name))
