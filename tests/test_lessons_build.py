"""lessons/ is generated from solutions/: the build, its check, and the repository's own state."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from cifarlab.lessons import LessonBuildError, build_lessons, strip_solutions
from cifarlab.solutions import source_digest

from .conftest import REPO, tomllib

SOLVED = '''def f(x):
    """Doc stays."""
    # BEGIN SOLUTION double
    # NUDGE: what does doubling mean for a number?
    # HINT: multiply it
    # HINT: by two, with *
    y = x * 2
    return y
    # END SOLUTION

print(f(2))'''


def test_strip_keeps_the_nudge_only_and_files_hints_and_answer():
    exercises = {}
    lesson = strip_solutions(SOLVED, lesson="01", exercises=exercises)
    assert "y = x * 2" not in lesson and "multiply" not in lesson and '"""Doc stays."""' in lesson
    assert "    # NUDGE: what does doubling mean for a number?" in lesson
    assert 'check.hint("double")' in lesson
    assert lesson.endswith("print(f(2))")
    namespace: dict = {}
    exec(lesson.replace("print(f(2))", ""), namespace)
    with pytest.raises(NotImplementedError, match="exercise double"):
        namespace["f"](1)
    entry = exercises["double"].as_json()
    assert entry == {
        "lesson": "01",
        "nudges": ["what does doubling mean for a number?"],
        "hints": ["multiply it", "by two, with *"],
        "answer": ["y = x * 2\nreturn y"],
    }


def test_two_blocks_of_one_exercise_share_its_entry():
    exercises = {}
    source = (
        "# BEGIN SOLUTION e\n# NUDGE: a\nx = 1\n# END SOLUTION\n# BEGIN SOLUTION e\n# HINT: b\ny = 2\n# END SOLUTION"
    )
    lesson = strip_solutions(source, lesson="02", exercises=exercises)
    assert lesson.count("check.hint") == 1 and lesson.count("NotImplementedError") == 2
    assert exercises["e"].answer == ["x = 1", "y = 2"] and exercises["e"].hints == ["b"]


@pytest.mark.parametrize(
    "source, problem",
    [
        ("# BEGIN SOLUTION e\n# NUDGE: n\nx = 1", "never closed"),
        ("x = 1\n# END SOLUTION", "without a # BEGIN SOLUTION"),
        ("# BEGIN SOLUTION e\n# BEGIN SOLUTION e\n# END SOLUTION", "inside another"),
        ("# BEGIN SOLUTION\n# NUDGE: n\nx = 1\n# END SOLUTION", "name the exercise"),
        ("# BEGIN SOLUTION e\nx = 1\n# END SOLUTION", "needs a '# NUDGE:"),
        ("# BEGIN SOLUTION e\n# NUDGE: n\n# END SOLUTION", "has no code"),
    ],
)
def test_malformed_markers_are_named(source, problem):
    with pytest.raises(LessonBuildError, match=problem):
        strip_solutions(source, where="demo.ipynb cell 3")


def test_an_exercise_belongs_to_one_lesson():
    exercises = {}
    strip_solutions("# BEGIN SOLUTION e\n# NUDGE: n\nx = 1\n# END SOLUTION", lesson="01", exercises=exercises)
    with pytest.raises(LessonBuildError, match="already in lesson 01"):
        strip_solutions("# BEGIN SOLUTION e\n# NUDGE: n\nx = 1\n# END SOLUTION", lesson="02", exercises=exercises)


def make_solutions(folder: Path, repository: str = "https://github.com/o/r") -> Path:
    folder.mkdir()
    (folder.parent / "pyproject.toml").write_text(f'[project.urls]\nRepository = "{repository}"\n')
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "[badge](https://colab.research.google.com/github/o/r/blob/main/solutions/01_a.ipynb)"
        ),
        nbformat.v4.new_code_cell(
            SOLVED,
            outputs=[nbformat.v4.new_output("stream", text="4\n")],
            execution_count=3,
            metadata={"tags": ["nbval-check-output", "keep-me"], "cifarlab": {"source": "0123"}},
        ),
    ]
    nbformat.write(nb, folder / "01_a.ipynb")
    return folder


def test_build_writes_clean_lessons_and_check_finds_them_current(tmp_path):
    solutions, lessons = make_solutions(tmp_path / "solutions"), tmp_path / "lessons"
    catalogue = tmp_path / "exercises.json"
    written = build_lessons(solutions, lessons, catalogue=catalogue)
    assert written == [f"{lessons / '01_a.ipynb'} (missing)", f"{catalogue} (missing)"]
    lesson = nbformat.read(lessons / "01_a.ipynb", as_version=4)
    assert lesson.cells[1].outputs == [] and lesson.cells[1].execution_count is None
    # no output tags (nbval would compare the lesson with outputs it does not have) and no digest; others stay
    assert lesson.cells[1].metadata == {"tags": ["keep-me"]}
    assert "/blob/main/lessons/01_a.ipynb" in lesson.cells[0].source
    assert lesson.metadata["cifarlab"] == {"lesson": "01", "exercises": ["double"]}
    assert json.loads(catalogue.read_text())["double"]["hints"] == ["multiply it", "by two, with *"]
    assert build_lessons(solutions, lessons, check=True, catalogue=catalogue) == []


def test_check_finds_stale_missing_and_orphaned_lessons(tmp_path):
    solutions, lessons = make_solutions(tmp_path / "solutions"), tmp_path / "lessons"
    catalogue = tmp_path / "exercises.json"
    build_lessons(solutions, lessons, catalogue=catalogue)
    nb = nbformat.read(solutions / "01_a.ipynb", as_version=4)
    nb.cells[1].source = nb.cells[1].source.replace("# HINT: multiply it", "# HINT: multiply it by 2")
    nbformat.write(nb, solutions / "01_a.ipynb")
    (lessons / "old.ipynb").write_text("{}")
    stale = build_lessons(solutions, lessons, check=True, catalogue=catalogue)
    assert stale == [f"{catalogue} (out of date)", f"{lessons / 'old.ipynb'} (no solution in {solutions})"]
    assert (lessons / "old.ipynb").exists()  # --check writes and deletes nothing
    build_lessons(solutions, lessons, catalogue=catalogue)
    assert not (lessons / "old.ipynb").exists()
    assert build_lessons(solutions, lessons, check=True, catalogue=catalogue) == []


def test_the_repository_lessons_are_up_to_date():
    stale = build_lessons(REPO / "solutions", REPO / "lessons", check=True)
    assert stale == [], "run `cifarlab build-lessons` and commit lessons/: " + "; ".join(stale)


def test_every_notebook_opens_with_header_badge_costs_and_the_setup_cell():
    from cifarlab.repository import read_repository

    repository = read_repository(REPO / "pyproject.toml")
    solutions = sorted((REPO / "solutions").glob("*.ipynb"))
    assert [p.name for p in solutions] == sorted(p.name for p in (REPO / "lessons").glob("*.ipynb"))
    setup_cells = set()
    for path in solutions:
        nb = json.loads(path.read_text())
        header = "".join(nb["cells"][0]["source"])
        assert repository.colab(f"solutions/{path.name}") in header, f"{path.name}: Colab badge"
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
    repository = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    assert f"cifarlab @ git+{repository}" in quoted  # the address pyproject.toml names, and no other


SETUP = '%pip install -q "torchinfo>=1.8" "cifarlab @ git+https://github.com/o/r"\nprint(1)'


def test_the_repository_address_is_written_everywhere_from_pyproject(tmp_path):
    solutions, lessons = make_solutions(tmp_path / "solutions"), tmp_path / "lessons"
    nb = nbformat.read(solutions / "01_a.ipynb", as_version=4)
    current = nbformat.v4.new_code_cell(SETUP, metadata={"cifarlab": {"source": source_digest(SETUP)}})
    stale = nbformat.v4.new_code_cell(SETUP, metadata={"cifarlab": {"source": "0123"}})  # its output was stale
    nb.cells += [current, stale]
    nbformat.write(nb, solutions / "01_a.ipynb")
    readme = tmp_path / "README.md"
    readme.write_text(
        "| 01 | [![Colab](b.svg)](https://colab.research.google.com/github/o/r/blob/main/lessons/01_a.ipynb) |\n"
    )
    catalogue = tmp_path / "exercises.json"
    build_lessons(solutions, lessons, catalogue=catalogue)
    assert build_lessons(solutions, lessons, check=True, catalogue=catalogue) == []

    (tmp_path / "pyproject.toml").write_text(
        '[project.urls]\nRepository = "https://github.com/course-org/cifar-course"\n'
    )
    stale_now = build_lessons(solutions, lessons, check=True, catalogue=catalogue)
    assert stale_now == [
        f"{solutions / '01_a.ipynb'} (out of date)",
        f"{lessons / '01_a.ipynb'} (out of date)",
        f"{readme} (out of date)",
    ]
    assert "github/o/r/" in readme.read_text()  # --check wrote nothing
    build_lessons(solutions, lessons, catalogue=catalogue)
    new = "https://colab.research.google.com/github/course-org/cifar-course/blob/main/"
    solution, lesson = (nbformat.read(folder / "01_a.ipynb", as_version=4) for folder in (solutions, lessons))
    assert (
        new + "solutions/01_a.ipynb" in solution.cells[0].source
        and new + "lessons/01_a.ipynb" in lesson.cells[0].source
    )
    assert readme.read_text().count(new + "lessons/01_a.ipynb") == 1
    for cell in (solution.cells[2], lesson.cells[2], solution.cells[3]):
        assert '"cifarlab @ git+https://github.com/course-org/cifar-course"' in cell.source and "o/r" not in cell.source
    assert solution.cells[2].metadata["cifarlab"]["source"] == source_digest(solution.cells[2].source)  # still current
    assert solution.cells[3].metadata["cifarlab"]["source"] == "0123"  # still stale: the address changes no output
    assert build_lessons(solutions, lessons, check=True, catalogue=catalogue) == []


@pytest.mark.parametrize(
    "urls, problem",
    [
        ("", "it is None"),
        ('Homepage = "https://github.com/o/r"', "it is None"),
        ('Repository = "https://gitlab.com/o/r"', "Colab opens notebooks from GitHub"),
        ('Repository = "https://github.com/o"', "https://github.com/<owner>/<name>"),
    ],
)
def test_a_missing_or_wrong_repository_address_is_named(tmp_path, urls, problem):
    from cifarlab.repository import read_repository

    (tmp_path / "pyproject.toml").write_text(f"[project.urls]\n{urls}\n")
    with pytest.raises(LessonBuildError, match=re.escape(problem)):
        read_repository(tmp_path / "pyproject.toml")
    with pytest.raises(LessonBuildError, match="no .*pyproject.toml: run this from the repository root"):
        read_repository(tmp_path / "elsewhere" / "pyproject.toml")
    assert read_repository(REPO / "pyproject.toml").url.startswith("https://github.com/")


def test_student_notebooks_carry_no_outputs_or_solutions():
    for path in sorted((REPO / "lessons").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name
                # no output tag: nbval would compare the lesson's outputs with ones it does not store
                assert not cell["metadata"].get("tags") and "cifarlab" not in cell["metadata"], path.name
                assert "BEGIN SOLUTION" not in "".join(cell["source"]), path.name


def test_no_line_of_a_solution_shows_in_its_lesson():
    """What a student sees by default (the lesson) holds no line of an exercise's answer, nor a hint."""
    catalogue = json.loads((REPO / "cifarlab" / "selfcheck" / "exercises.json").read_text())
    lessons = {path.name[:2]: json.loads(path.read_text()) for path in (REPO / "lessons").glob("*.ipynb")}
    for name, entry in catalogue.items():
        shown = "\n".join("".join(cell["source"]) for cell in lessons[entry["lesson"]]["cells"])
        shown_lines = {line.strip() for line in shown.splitlines()}
        answer_lines = {line.strip() for piece in entry["answer"] for line in piece.splitlines()}
        # lines that say nothing on their own (a bracket, a short return) may appear anywhere
        telling = {line for line in answer_lines if len(line) > 12 and not line.startswith(("return {", ")", "]"))}
        assert not telling & shown_lines, f"{name}: a line of the answer shows in its lesson: {telling & shown_lines}"
        for hint in entry["hints"]:
            assert hint not in shown, f"{name}: a hint shows in its lesson: {hint}"


def test_every_lesson_from_01_has_two_exercises_and_ends_with_quiz_and_summary():
    catalogue = json.loads((REPO / "cifarlab" / "selfcheck" / "exercises.json").read_text())
    for path in sorted((REPO / "solutions").glob("*.ipynb")):
        number = path.name[:2]
        names = [n for n, e in catalogue.items() if e["lesson"] == number]
        sources = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]
        assert f'quiz("{number}")' in "\n".join(sources[-3:]), f"{path.name}: no quiz at the end"
        if number == "00":
            continue
        assert len(names) >= 2, f"{path.name}: {names}"
        assert sources[-1].endswith(f'check.summary("{number}")'), (
            f"{path.name}: the last cell must list open exercises"
        )
        for name in names:
            assert any(f"check.{name}(" in s for s in sources) or name.startswith("lightning_"), f"{path.name}: {name}"
