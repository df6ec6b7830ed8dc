"""`cifarlab grade`: students' notebooks run, and their verdicts, crashes and hangs land in the report.

The notebooks are small ones built here that call real self-checks needing no data; two grading
runs (one with a 3 s limit per cell, for the hanging and the killed kernel) are shared by the tests.
"""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import pytest

from cifarlab import cli, selfcheck
from cifarlab.grade import COLUMNS, NOTEBOOK, grade, student_names
from cifarlab.selfcheck import _core

v4 = nbformat.v4
IMPORT = "from cifarlab import selfcheck as check"
RIGHT_MEAN_STD = (
    "def compute_mean_std(images):\n    x = images / 255\n    return x.mean(axis=(0, 1, 2)), x.std(axis=(0, 1, 2))"
)
SCALE_MISTAKE = "def compute_mean_std(images):\n    return images.mean(axis=(0, 1, 2)), images.std(axis=(0, 1, 2))"
CHECK_MEAN_STD = "compute_mean_std = check.mean_std(compute_mean_std)"
RIGHT_LR = "steepest_lr = check.reference_steepest_lr"
CHECK_LR = "steepest_lr = check.steepest_lr(steepest_lr)"
BOTH = {"lesson": "05", "exercises": ["mean_std", "steepest_lr"]}


def write(path: Path, cells: list[str], meta: dict | None = BOTH) -> Path:
    """A notebook of code cells, with a markdown cell first (cell numbers count every cell)."""
    notebook = v4.new_notebook(cells=[v4.new_markdown_cell("# An exercise"), *map(v4.new_code_cell, cells)])
    if meta is not None:
        notebook.metadata["cifarlab"] = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[list[dict], str, Path]:
    """One run over a passing, a failing, a partly checked, a crashing, a corrupt and a foreign notebook."""
    root = tmp_path_factory.mktemp("class")
    notebooks = [
        write(root / "a" / "alice.ipynb", [IMPORT, RIGHT_MEAN_STD, CHECK_MEAN_STD, RIGHT_LR, CHECK_LR]),
        write(root / "bob.ipynb", [IMPORT, SCALE_MISTAKE, CHECK_MEAN_STD, RIGHT_LR]),  # steepest_lr never checked
        write(root / "carol.ipynb", [IMPORT, RIGHT_MEAN_STD, CHECK_MEAN_STD, "ratio = 1 / 0", RIGHT_LR, CHECK_LR]),
        root / "b" / "alice.ipynb",
        write(root / "notes.ipynb", ["x = 1"], meta=None),
    ]
    notebooks[3].parent.mkdir()
    notebooks[3].write_text('{"cells": [ this is not JSON')
    out = root / "report.csv"
    lines: list[str] = []
    grade(notebooks, out, timeout=120, progress=lines.append)
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return rows, "\n".join(lines), root


@pytest.fixture(scope="module")
def stopped(tmp_path_factory) -> list[dict]:
    """One run with --timeout 3 over a hanging notebook and one whose kernel is killed."""
    root = tmp_path_factory.mktemp("stopped")
    hang = write(root / "05_dave.ipynb", ["import time; time.sleep(60)", IMPORT, RIGHT_LR, CHECK_LR], meta=None)
    killed = write(root / "erin.ipynb", ["import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", IMPORT])
    out = root / "report.csv"
    assert cli.main(["grade", str(hang), str(killed), "--out", str(out), "--timeout", "3"]) == 0
    with out.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def verdict(monkeypatch, source: str, name: str, exercise: str) -> _core.Outcome:
    """The verdict the check gives `name` (defined by `source`) in this process, as the notebook's kernel should."""
    namespace: dict = {}
    exec(source, namespace)
    monkeypatch.setattr(_core, "_OUTCOMES", {})  # this process's record stays as it was
    getattr(selfcheck, exercise)(namespace[name])
    return _core.outcomes()[exercise]


def find(rows: list[dict], student: str, exercise: str = NOTEBOOK) -> dict:
    matches = [r for r in rows if r["student"] == student and r["exercise"] == exercise]
    assert len(matches) == 1, f"{student}/{exercise}: {matches}"
    return matches[0]


def test_the_report_has_its_columns_and_a_row_per_notebook_and_exercise(report):
    rows, _, _ = report
    assert tuple(rows[0]) == COLUMNS
    students = ["a/alice", "bob", "carol", "b/alice", "notes"]
    assert [r["student"] for r in rows if r["exercise"] == NOTEBOOK] == students
    for student in students[:3]:  # the lessons that ran: one row per exercise of the metadata
        assert [r["exercise"] for r in rows if r["student"] == student] == [NOTEBOOK, "mean_std", "steepest_lr"]
        assert float(find(rows, student)["seconds"]) > 0
        assert find(rows, student)["lesson"] == "05"


def test_a_right_notebook_passes_every_exercise(report, monkeypatch):
    rows, _, _ = report
    assert find(rows, "a/alice")["status"] == "ran"
    assert find(rows, "a/alice", "steepest_lr")["status"] == "passed"
    passed = find(rows, "a/alice", "mean_std")
    praise = verdict(monkeypatch, RIGHT_MEAN_STD, "compute_mean_std", "mean_std")
    assert praise.passed and passed["status"] == "passed" and passed["message"] == praise.message


def test_a_wrong_answer_fails_with_the_checks_message_and_an_unrun_check_is_not_checked(report, monkeypatch):
    rows, _, _ = report
    assert find(rows, "bob")["status"] == "ran"
    failed = find(rows, "bob", "mean_std")
    mistake = verdict(monkeypatch, SCALE_MISTAKE, "compute_mean_std", "mean_std")
    assert not mistake.passed and failed["status"] == "failed" and failed["message"] == mistake.message
    unchecked = find(rows, "bob", "steepest_lr")
    assert unchecked["status"] == "not checked" and "never ran" in unchecked["message"]


def test_a_crash_names_the_cell_and_error_and_later_exercises_are_not_reached(report):
    rows, _, _ = report
    crash = find(rows, "carol")
    assert crash["status"] == "crashed at cell 5"  # markdown, import, answer, check, then the division
    assert crash["message"].startswith("ZeroDivisionError: division by zero") and "ratio = 1 / 0" in crash["message"]
    assert find(rows, "carol", "mean_std")["status"] == "passed"  # checked before the crash
    later = find(rows, "carol", "steepest_lr")
    assert later["status"] == "not reached" and "cell 5" in later["message"]


def test_a_corrupt_file_and_a_foreign_notebook_get_their_rows(report):
    rows, _, _ = report
    corrupt = find(rows, "b/alice")
    assert corrupt["status"] == "could not be read" and corrupt["message"]
    assert [r for r in rows if r["student"] == "b/alice"] == [corrupt]
    foreign = find(rows, "notes")
    assert foreign["status"] == "not a cifarlab lesson" and "metadata" in foreign["message"]


def test_progress_is_printed_per_notebook_and_the_runs_stay_out_of_the_class_folder(report):
    _, progress, root = report
    assert "[1/5] a/alice" in progress and "[5/5] notes" in progress
    assert "2 of 2 exercises passed" in progress
    assert not (root / "runs").exists() and not list(root.glob(".*partial"))


def test_a_hanging_cell_is_interrupted_and_reported(stopped):
    hang = find(stopped, "05_dave")
    assert hang["lesson"] == "05"  # no metadata: the lesson number of the file name
    assert hang["status"] == "timed out at cell 2 after 3 s" and "time.sleep(60)" in hang["message"]
    assert "could not be read" not in hang["message"]  # the verdicts' cell ran after the interrupt
    assert float(hang["seconds"]) < 60
    assert find(stopped, "05_dave", "steepest_lr")["status"] == "not reached"


def test_a_killed_kernel_is_said_to_have_died(stopped):
    died = find(stopped, "erin")
    assert died["status"] == "crashed at cell 2" and "kernel died" in died["message"]
    assert {find(stopped, "erin", e)["status"] for e in BOTH["exercises"]} == {"not reached"}


def test_students_are_named_by_stem_or_folder_and_stem_when_stems_clash():
    paths = [Path("x/ann.ipynb"), Path("y/ann.ipynb"), Path("y/ben.ipynb")]
    assert student_names(paths) == ["x/ann", "y/ann", "ben"]


@pytest.mark.parametrize(
    "arguments, words",
    [
        (["missing.ipynb"], "does not exist"),
        (["notes.txt"], "is not a notebook"),
        (["good.ipynb", "--timeout", "0"], "--timeout: must be a finite number > 0"),
        (["good.ipynb", "--out", "nowhere/report.csv"], "'nowhere' does not exist"),
    ],
    ids=["missing-file", "wrong-suffix", "bad-timeout", "missing-out-folder"],
)
def test_wrong_options_are_errors_before_any_work(tmp_path, monkeypatch, capsys, arguments, words):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "good.ipynb", ["x = 1"])
    (tmp_path / "notes.txt").write_text("not a notebook")
    if "--out" not in arguments:
        arguments = [*arguments, "--out", "report.csv"]
    try:
        code = cli.main(["grade", *arguments])
    except SystemExit as exited:  # a bad number: argparse's own error line, before anything is imported
        code = exited.code
    error = capsys.readouterr().err
    assert code == 2 and "error: " in error.splitlines()[-1] and words in error
    assert not (tmp_path / "report.csv").exists()
