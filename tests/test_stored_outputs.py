"""The outputs stored in solutions/ are what the code prints: tagged, sanitized, regenerated, and checked.

nbval itself compares the tagged cells when pytest runs the notebooks; these tests prove that
every cell is tagged, that the stored outputs come from the current code in the stated profile,
that the sanitizers replace only what varies, that `cifarlab run-solutions` makes the outputs,
and that a stale stored output is reported as exactly that cell, with the command that fixes it.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import get_sanitize_patterns

from cifarlab.cli import main
from cifarlab.errors import LessonBuildError, OptionError
from cifarlab.solutions import (
    CHECKED,
    STORED_PROFILE,
    checked_count,
    find_solutions,
    policy_problems,
    run_solution,
    source_digest,
    stale_cells,
)

from .conftest import REPO

SOLUTIONS = sorted((REPO / "solutions").glob("*.ipynb"))
SANITIZE = REPO / "tests" / "nbval_sanitize.cfg"


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_every_solution_cell_says_whether_its_output_is_checked():
    problems = [p for path in SOLUTIONS for p in policy_problems(read(path), path.name)]
    assert not problems, "\n".join(problems)


def test_most_cells_are_checked():
    # Floors, not a count: they fail when cells drift to "varies" without need. Lesson 00 is about
    # this machine's own setup (doctor, profile, data), so much of it varies by design.
    counts = {path.name[:2]: checked_count(read(path)) for path in SOLUTIONS}
    for lesson, (checked, cells) in counts.items():
        assert checked / cells >= 0.4, f"lesson {lesson}: only {checked} of {cells} code cells are checked"
    assert sum(c for c, _ in counts.values()) / sum(n for _, n in counts.values()) >= 0.6


def test_stored_outputs_come_from_the_current_code():
    stale = [s for path in SOLUTIONS for s in stale_cells(read(path), path.name)]
    assert not stale, "stored outputs older than their code; run `cifarlab run-solutions NN`:\n" + "\n".join(stale)


def test_stored_outputs_come_from_the_stated_profile():
    for path in SOLUTIONS:
        first = next(c for c in read(path).cells if c.cell_type == "code")
        text = "".join(o.get("text", "") for o in first.outputs)
        assert f"| profile: {STORED_PROFILE} |" in text, f"{path.name}: made in another profile: {text!r}"


def test_a_digest_ignores_whitespace_only():
    assert source_digest("x = f(1,  2)\n") == source_digest("x = f(1, 2)")
    assert source_digest("x = f(1, 2)") != source_digest("x = f(1, 3)")


def test_the_policy_names_what_is_wrong():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)", metadata={"tags": [CHECKED]}),
        nbformat.v4.new_code_cell("print(2)"),
        nbformat.v4.new_code_cell("print(3)", metadata={"tags": [CHECKED, "varies-with-timing"]}),
        nbformat.v4.new_code_cell("print(4)", metadata={"tags": ["varies-with-machine"]}),
    ]
    problems = policy_problems(nb, "09_x.ipynb")
    assert len(problems) == 3
    assert "not an nbval comment" in problems[0] and "no output tag" in problems[1] and "timing" in problems[2]


# --- the sanitizers -------------------------------------------------------------------------


def sanitize(text: str) -> str:
    for regex, replace in get_sanitize_patterns(SANITIZE.read_text()):
        text = re.sub(regex, replace, text)
    return text


def test_every_sanitizer_in_the_file_is_read():
    # nbval skips a pair it cannot parse (e.g. "replace:" without its trailing space) without a word
    assert len(get_sanitize_patterns(SANITIZE.read_text())) == SANITIZE.read_text().count("\nregex: ") == 7


@pytest.mark.parametrize(
    "one, other",
    [
        ("a\nDecoding x.tar.gz: 100%|###| 18.5M/18.5M [00:19<00:00, 983kB/s]\nb\n", "a\nb\n"),
        ("evaluating: 100%|####| 4/4 [00:10<00:00,  2.60s/it]\n    \nloss 1\n", "loss 1\n"),
        ("Epoch 0:   3%|▎    | 1/39 [00:02<01:19,  0.48it/s, v_num=1]\n", ""),
        ("7.2 MB JPEG in full: 4000x3000 in 113 ms\n", "7.2 MB JPEG in full: 4000x3000 in 72 ms\n"),
        ("trained in 7 s (bf16)", "trained in 12.5 s (bf16)"),
        ("164 images/s", "1,024.5 images/s"),
        ("at /tmp/tmp2coliian/.lr_find_3e.ckpt", "at /home/ada/runs/x/.lr_find_aa.ckpt"),
        ("<function f at 0x7f3a2c1d0e50>", "<function f at 0x55d0c0ffee00>"),
        ("logs in lightning_logs/version_3", "logs in lightning_logs/version_12"),
    ],
)
def test_sanitizers_make_what_legitimately_varies_equal(one, other):
    assert sanitize(one) == sanitize(other)


@pytest.mark.parametrize(
    "one, other",
    [
        ("ResNet-9: 6,573,130 parameters", "ResNet-9: 6,573,130 parameter"),
        ("training images: 45,000 | 146 per image", "training images: 50,000 | 146 per image"),
        ("(1, 128, 16, 16)", "(1, 128, 8, 8)"),
        ("step   521 of 2088 (epoch  6.0): rate 0.4", "step   522 of 2088 (epoch  6.0): rate 0.4"),
        ("photo 480x360: cat 66%, dog 15%", "photo 480x360: cat 65%, dog 15%"),
        ("runs/lesson04/other_model.pt is not a checkpoint", "runs/lesson05/other_model.pt is not a checkpoint"),
        ("3 epochs of 1,000 images", "4 epochs of 1,000 images"),
        ("image/png", "image/jpeg"),
        ("one pixel in 94 along each side", "one pixel in 93 along each side"),
    ],
)
def test_sanitizers_leave_the_content_alone(one, other):
    assert sanitize(one) != sanitize(other)


# --- regenerating: cifarlab run-solutions -----------------------------------------------------


def tiny_solutions(folder: Path, second: str = "print(6 * 7)") -> Path:
    """A solutions folder with one tiny notebook, beside a pyproject.toml that names the repository."""
    folder.mkdir()
    (folder.parent / "pyproject.toml").write_text('[project.urls]\nRepository = "https://github.com/o/r"\n')
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell('import os\nprint(os.environ["CIFARLAB_PROFILE"], os.getcwd())'),
        nbformat.v4.new_code_cell(second),
    ]
    nbformat.write(nb, folder / "01_tiny.ipynb")
    return folder


def test_run_solutions_stores_outputs_made_in_the_stated_profile_then_rebuilds_lessons(tmp_path, capsys):
    solutions, lessons = tiny_solutions(tmp_path / "solutions"), tmp_path / "lessons"
    lessons.mkdir()
    assert main(["run-solutions", "01", "--solutions", str(solutions), "--lessons", str(lessons)]) == 0
    stored = read(solutions / "01_tiny.ipynb")
    profile, cwd = stored.cells[0].outputs[0]["text"].split()
    assert profile == STORED_PROFILE  # whatever the calling shell's profile (the tests run in smoke)
    assert not cwd.startswith(str(solutions)) and not Path(cwd).exists()  # a scratch folder, removed after
    assert stored.cells[1].outputs[0]["text"] == "42\n" and stored.cells[1].execution_count == 2
    assert stale_cells(stored, "01_tiny.ipynb") == []
    assert read(lessons / "01_tiny.ipynb").cells[1].outputs == []
    assert "01_tiny.ipynb: outputs stored" in capsys.readouterr().out


def test_a_failing_cell_stops_the_run_and_leaves_the_notebook_alone(tmp_path):
    solutions = tiny_solutions(tmp_path / "solutions", second="1 / 0")
    before = (solutions / "01_tiny.ipynb").read_text()
    with pytest.raises(LessonBuildError, match=r"01_tiny.ipynb, cell .* failed .*ZeroDivisionError.*unchanged"):
        run_solution(solutions / "01_tiny.ipynb", timeout=60)
    assert (solutions / "01_tiny.ipynb").read_text() == before


def test_run_solutions_checks_its_options_before_any_work(tmp_path, capsys):
    solutions = tiny_solutions(tmp_path / "solutions")
    before = (solutions / "01_tiny.ipynb").read_text()
    for argv, says in [
        (["run-solutions", "02", "--solutions", str(solutions)], "'02' is not a solution notebook"),
        (["run-solutions", "--solutions", str(solutions), "--lessons", str(tmp_path / "nowhere")], "is not a folder"),
    ]:
        assert main(argv) == 2
        assert says in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:  # argparse's own error line, before anything is imported
        main(["run-solutions", "--timeout", "0", "--solutions", str(solutions)])
    assert exited.value.code == 2 and "--timeout: must be a finite number > 0" in capsys.readouterr().err
    assert (solutions / "01_tiny.ipynb").read_text() == before
    (tmp_path / "pyproject.toml").unlink()  # no repository address for the lessons: refused before the notebooks run
    (tmp_path / "lessons").mkdir()
    assert main(["run-solutions", "--solutions", str(solutions), "--lessons", str(tmp_path / "lessons")]) == 2
    assert "pyproject.toml: run this from the repository root" in capsys.readouterr().err
    assert (solutions / "01_tiny.ipynb").read_text() == before


def test_lessons_are_named_by_number_or_name():
    assert [p.name for p in find_solutions(["3", "03_training_loop", "solutions/07_inference_app.ipynb"])] == [
        "03_training_loop.ipynb",
        "07_inference_app.ipynb",
    ]
    assert len(find_solutions([])) == len(SOLUTIONS)
    with pytest.raises(OptionError, match="03_training"):
        find_solutions(["03_training"])


# --- the check itself: a stale stored output is reported, and only it --------------------------


def test_a_changed_stored_output_is_reported_as_exactly_that_cell(tmp_path, jpeg_tarball, shared_cache, monkeypatch):
    """A copy of solution 00 with one checked cell's stored output changed: nbval must fail that
    cell and only it, and the report must name the command that regenerates the outputs."""
    copy = tmp_path / "solutions"
    copy.mkdir()
    shutil.copy(REPO / "conftest.py", copy / "conftest.py")  # the repository's hooks and settings
    notebook = read(REPO / "solutions" / "00_start_here.ipynb")
    code = [c for c in notebook.cells if c.cell_type == "code"]
    target = next(i for i, c in enumerate(code) if c.id == "00-10")
    assert CHECKED in code[target].metadata["tags"]
    stored = code[target].outputs[0]
    assert "10 classes:" in stored["text"]
    stored["text"] = stored["text"].replace("10 classes:", "9 classes:")
    nbformat.write(notebook, copy / "00_start_here.ipynb")

    monkeypatch.setenv("CIFARLAB_CACHE", str(shared_cache))
    monkeypatch.setenv("CIFARLAB_DATA", str(jpeg_tarball))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), str(copy)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 1, report
    failed = re.findall(r"^FAILED \S*?(00_start_here\.ipynb::Cell \d+)", report, re.M)
    assert failed == [f"00_start_here.ipynb::Cell {target}"], report
    assert f"1 failed, {len(code) - 1} passed" in report, report
    assert "9 classes:" in report and "10 classes:" in report  # nbval shows both
    assert "00_start_here.ipynb, cell 00-10" in report and "cifarlab run-solutions 00" in report, report
