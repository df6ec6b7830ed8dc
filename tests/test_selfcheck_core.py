"""What every self-check shares: hints revealed a step at a time, the record of verdicts, the
marked stand-in, and the list of exercises still open."""

import json

import pytest

from cifarlab import selfcheck as check
from cifarlab.errors import OptionError
from cifarlab.selfcheck import _core
from cifarlab.selfcheck import hints as catalogue


@pytest.fixture(autouse=True)
def fresh_kernel(monkeypatch):
    """Each test starts as a fresh notebook kernel: nothing checked, no hint shown."""
    monkeypatch.setattr(_core, "_OUTCOMES", {})
    monkeypatch.setattr(catalogue, "_REVEALED", {})


def test_hints_come_one_per_call_and_the_answer_last(capsys):
    entry = check.catalogue()["train_one_epoch"]
    assert len(entry["hints"]) >= 2, "an exercise deserves more than one hint"
    for number, hint in enumerate(entry["hints"], start=1):
        check.hint("train_one_epoch")
        out = capsys.readouterr().out
        assert f"Hint {number} of {len(entry['hints'])}" in out and hint in out
        assert entry["answer"][0] not in out
    check.hint("train_one_epoch")
    assert entry["answer"][0] in capsys.readouterr().out


def test_every_exercise_has_a_nudge_two_hints_and_an_answer_in_its_lesson():
    for name, entry in check.catalogue().items():
        assert entry["nudges"] and len(entry["hints"]) >= 2 and entry["answer"], name
        assert name in check.exercises(entry["lesson"])


def test_an_unknown_exercise_names_the_known_ones():
    with pytest.raises(OptionError, match="no exercise 'train_one_epoc'.*train_one_epoch"):
        check.hint("train_one_epoc")


def test_summary_lists_what_is_open_failed_and_done(capsys):
    check.summary("03")
    out = capsys.readouterr().out
    assert "2 of 2 exercises still open" in out and "⚠ train_one_epoch: not checked yet" in out
    _core._OUTCOMES["train_one_epoch"] = _core.Outcome("train_one_epoch", True, "fine")
    _core._OUTCOMES["evaluate"] = _core.Outcome("evaluate", False, "the model ran in training mode")
    check.summary(3)
    out = capsys.readouterr().out
    assert "1 of 2 exercises still open" in out and "✅ train_one_epoch" in out
    assert "❌ evaluate: the model ran in training mode" in out
    _core._OUTCOMES["evaluate"] = _core.Outcome("evaluate", True, "fine")
    check.summary("03")
    assert capsys.readouterr().out.startswith("All 2 exercises of this lesson pass.")


def test_outcomes_are_recorded_and_exported_as_json(capsys):
    check.steepest_lr(lambda lrs, losses: float(lrs[0]))
    recorded = json.loads(check.outcomes_json())
    message = check.outcomes()["steepest_lr"].message
    assert recorded == [{"exercise": "steepest_lr", "passed": False, "message": message}]


class Reference:
    def __init__(self, value):
        self.value = value


def test_a_stand_in_class_says_so_for_every_instance(capsys):
    stand_in = _core.stand_in(Reference, "Block", ["residual_block"])
    first, second = stand_in(1), stand_in(2)
    out = capsys.readouterr().out
    assert out.count("⚠ [cifarlab's reference Block stands in here: exercise residual_block is still open]") == 2
    assert isinstance(first, Reference) and second.value == 2 and stand_in.__name__ == "Reference"


def test_in_a_notebook_a_stand_in_says_so_once_per_cell(capsys, monkeypatch):
    cell = [7]
    monkeypatch.setattr(_core, "_notebook_cell", lambda: cell[0])
    note = "⚠ [cifarlab's reference twice stands in here: exercise ema_update is still open]"
    twice = _core.stand_in(lambda x: 2 * x, "twice", ["ema_update"])
    assert [twice(i) for i in range(200)][-1] == 398  # a cell that calls it in a loop
    assert capsys.readouterr().out.count(note) == 1
    cell[0] = 8  # the next cell says it again
    twice(1)
    twice(2)
    assert capsys.readouterr().out.count(note) == 1


def test_a_crash_in_the_students_code_is_a_verdict_not_a_traceback(capsys):
    def broken(images):
        return images.nonexistent

    used = check.mean_std(broken)
    out = capsys.readouterr().out
    assert "❌ mean_std: it raised AttributeError" in out and used is not broken


def test_numpy_on_a_gpu_tensor_is_named_for_every_check():
    error = TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor.")
    assert ".cpu().numpy()" in _core._crash_message(error)
