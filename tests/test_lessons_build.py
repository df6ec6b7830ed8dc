"""lessons/ is generated from solutions/: the build, its check, and the repository's own state."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from cifarlab.lessons import LessonBuildError, build_lessons, strip_solutions

from .conftest import REPO, tomllib

SOLVED = '''def f(x):
    """Doc stays."""
    # BEGIN SOLUTION
    # HINT: double it
    # HINT: with x * 2
    y = x * 2
    return y
    # END SOLUTION

# NBVAL_CHECK_OUTPUT
print(f(2))'''


def test_strip_keeps_hints_and_raises_with_the_first():
    lesson = strip_solutions(SOLVED)
    assert "y = x * 2" not in lesson and '"""Doc stays."""' in lesson
    assert (
        "    # HINT: double it\n    # HINT: with x * 2\n    raise NotImplementedError('Exercise: double it')" in lesson
    )
    assert "NBVAL_CHECK_OUTPUT" not in lesson and lesson.endswith("print(f(2))")
    namespace: dict = {}
    exec(lesson.replace("print(f(2))", ""), namespace)
    with pytest.raises(NotImplementedError, match="double it"):
        namespace["f"](1)


def test_a_block_without_hints_still_gets_a_stub():
    assert "raise NotImplementedError('Exercise: this part is yours to write')" in strip_solutions(
        "# BEGIN SOLUTION\nx = 1\n# END SOLUTION"
    )


@pytest.mark.parametrize(
    "source, problem",
    [
        ("# BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n# END SOLUTION", "without a # BEGIN SOLUTION"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", "inside another"),
    ],
)
def test_malformed_markers_are_named(source, problem):
    with pytest.raises(LessonBuildError, match=problem):
        strip_solutions(source, where="demo.ipynb cell 3")


def make_solutions(folder: Path) -> Path:
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "[badge](https://colab.research.google.com/github/o/r/blob/main/solutions/a.ipynb)"
        ),
        nbformat.v4.new_code_cell(SOLVED, outputs=[nbformat.v4.new_output("stream", text="4\n")], execution_count=3),
    ]
    nbformat.write(nb, folder / "a.ipynb")
    return folder


def test_build_writes_clean_lessons_and_check_finds_them_current(tmp_path):
    solutions, lessons = make_solutions(tmp_path / "solutions"), tmp_path / "lessons"
    assert build_lessons(solutions, lessons) == [f"{lessons / 'a.ipynb'} (missing)"]
    lesson = nbformat.read(lessons / "a.ipynb", as_version=4)
    assert lesson.cells[1].outputs == [] and lesson.cells[1].execution_count is None
    assert "/blob/main/lessons/a.ipynb" in lesson.cells[0].source
    assert build_lessons(solutions, lessons, check=True) == []


def test_check_finds_stale_missing_and_orphaned_lessons(tmp_path):
    solutions, lessons = make_solutions(tmp_path / "solutions"), tmp_path / "lessons"
    build_lessons(solutions, lessons)
    nb = nbformat.read(solutions / "a.ipynb", as_version=4)
    nb.cells[0].source += " (edited)"
    nbformat.write(nb, solutions / "a.ipynb")
    (lessons / "old.ipynb").write_text("{}")
    stale = build_lessons(solutions, lessons, check=True)
    assert any("a.ipynb (out of date)" in s for s in stale) and any("old.ipynb (no solution" in s for s in stale)
    assert (lessons / "old.ipynb").exists()  # --check writes and deletes nothing
    build_lessons(solutions, lessons)
    assert not (lessons / "old.ipynb").exists() and build_lessons(solutions, lessons, check=True) == []


def test_the_repository_lessons_are_up_to_date():
    stale = build_lessons(REPO / "solutions", REPO / "lessons", check=True)
    assert stale == [], "run `cifarlab build-lessons` and commit lessons/: " + "; ".join(stale)


def test_every_notebook_opens_with_header_badge_costs_and_the_setup_cell():
    solutions = sorted((REPO / "solutions").glob("*.ipynb"))
    assert [p.name for p in solutions] == sorted(p.name for p in (REPO / "lessons").glob("*.ipynb"))
    setup_cells = set()
    for path in solutions:
        nb = json.loads(path.read_text())
        header = "".join(nb["cells"][0]["source"])
        assert f"/blob/main/solutions/{path.name}" in header, f"{path.name}: Colab badge"
        for words in ("You will learn", "You need", "Compute", "CPU", "GPU"):
            assert words in header, f"{path.name}: header lacks {words!r}"
        first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
        setup_cells.add("".join(first_code["source"]))
        assert "print_run_info()" in "".join(first_code["source"])
        assert any(
            "cifarlab" in line and "profile" in line for o in first_code["outputs"] for line in o.get("text", [])
        ), f"{path.name}: the stored first output must say what produced the notebook"
    assert len(setup_cells) == 1, "every notebook must share the same setup cell"


def test_colab_cell_quotes_the_same_specifiers_as_pyproject():
    from packaging.requirements import Requirement

    declared = {
        Requirement(r).name: Requirement(r)
        for r in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    cell = "".join(json.loads((REPO / "solutions" / "00_start_here.ipynb").read_text())["cells"][1]["source"])
    quoted = re.findall(r'"([^"]+)"', cell.split("%pip install", 1)[1].splitlines()[0])
    for spec in quoted:
        req = Requirement(spec)
        if req.name != "cifarlab":
            assert req.name in declared and req.specifier == declared[req.name].specifier, spec
    assert any(q.startswith("cifarlab @ git+") for q in quoted)


def test_student_notebooks_carry_no_outputs_or_solutions():
    for path in sorted((REPO / "lessons").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name
                assert "BEGIN SOLUTION" not in "".join(cell["source"]), path.name
