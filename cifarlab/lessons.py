"""Building the student notebooks in `lessons/` from the instructor notebooks in `solutions/`.

The solutions are the only source. In a solution, exercise code sits between
`# BEGIN SOLUTION <exercise>` and `# END SOLUTION`, where `<exercise>` names the exercise
(`residual_block`) and its self-check (`check.residual_block`). Inside the block:

* `# NUDGE: ...` lines say what to think about or which function to look at, never code.
  They are all the student sees by default.
* `# HINT: ...` lines are further hints, more concrete each time.
* the rest is the answer.

The student version replaces each block with its nudges and a `raise NotImplementedError`,
clears every output and drops the cells' output tags and source digests (`cifarlab.solutions`:
a lesson has no stored outputs to compare with). The hints and the answer go to the exercise catalogue
(`cifarlab/selfcheck/exercises.json`), where `check.hint("residual_block")` reveals them
one per call, the answer last. Each notebook's metadata names its lesson and exercises, so
that `cifarlab grade` knows what to look for even in a renamed copy. `--check` rebuilds in
memory and fails when a lesson or the catalogue differs: stale lessons cannot land.

The build also writes the repository's address (`cifarlab.repository`, from pyproject.toml)
into the Colab badges and install cells of solutions/ and lessons/ and into README.md's
lesson table, so that the address is defined once.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from cifarlab.errors import LessonBuildError
from cifarlab.files import write_text
from cifarlab.repository import Repository, read_repository
from cifarlab.solutions import OUTPUT_TAGS, source_digest

BEGIN, END, NUDGE, HINT = "# BEGIN SOLUTION", "# END SOLUTION", "# NUDGE:", "# HINT:"
CATALOGUE = Path("cifarlab") / "selfcheck" / "exercises.json"  # relative to the repository root
_KEY = re.compile(r"[a-z][a-z0-9_]*")


@dataclass
class Exercise:
    """One exercise as the catalogue keeps it: where it is, and what `check.hint` reveals."""

    key: str
    lesson: str
    nudges: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    answer: list[str] = field(default_factory=list)  # one piece of code per solution block

    def as_json(self) -> dict:
        return {"lesson": self.lesson, "nudges": self.nudges, "hints": self.hints, "answer": self.answer}


def _dedent(lines: list[str]) -> str:
    margin = min((len(s) - len(s.lstrip()) for s in lines if s.strip()), default=0)
    return "\n".join(s[margin:] for s in lines).strip("\n")


def strip_solutions(
    source: str, where: str = "cell", lesson: str = "", exercises: dict[str, Exercise] | None = None
) -> str:
    """Replace each solution block by its nudges and a stub; collect the hints and the answer
    into `exercises` (keyed by exercise) when given."""
    exercises = {} if exercises is None else exercises
    out: list[str] = []
    block: list[str] | None = None
    key, indent = "", ""
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if block is not None:
                raise LessonBuildError(f"{where}, line {number}: {BEGIN} inside another solution block.")
            key = stripped[len(BEGIN) :].strip()
            if not _KEY.fullmatch(key):
                raise LessonBuildError(
                    f"{where}, line {number}: name the exercise after the marker, e.g. "
                    f"'{BEGIN} residual_block' (got {key!r})."
                )
            block, indent = [], line[: len(line) - len(line.lstrip())]
        elif stripped.startswith(END):
            if block is None:
                raise LessonBuildError(f"{where}, line {number}: {END} without a {BEGIN} before it.")
            out += _stub(key, block, indent, where, lesson, exercises)
            block = None
        elif block is not None:
            block.append(line)
        else:
            out.append(line)
    if block is not None:
        raise LessonBuildError(f"{where}: {BEGIN} is never closed by {END}.")
    return "\n".join(out)


def _stub(
    key: str, block: list[str], indent: str, where: str, lesson: str, exercises: dict[str, Exercise]
) -> list[str]:
    """The student's view of one block (nudges and a raise); records the block in `exercises`."""
    nudges = [s.strip()[len(NUDGE) :].strip() for s in block if s.strip().startswith(NUDGE)]
    hints = [s.strip()[len(HINT) :].strip() for s in block if s.strip().startswith(HINT)]
    code = [s for s in block if not s.strip().startswith((NUDGE, HINT))]
    first = key not in exercises
    exercise = exercises.setdefault(key, Exercise(key, lesson))
    if exercise.lesson != lesson:
        raise LessonBuildError(f"{where}: exercise {key!r} is already in lesson {exercise.lesson}.")
    if first and not nudges:
        raise LessonBuildError(f"{where}: exercise {key!r} needs a '{NUDGE} ...' line: what to think about.")
    if not _dedent(code):
        raise LessonBuildError(f"{where}: the solution block of {key!r} has no code.")
    exercise.nudges += nudges
    exercise.hints += hints
    exercise.answer.append(_dedent(code))
    lines = [f"{indent}{NUDGE} {n}" for n in nudges]
    if first:
        lines.append(f'{indent}# Stuck? check.hint("{key}") gives a hint per call; the last one is the answer.')
    lines.append(f"{indent}raise NotImplementedError({f'exercise {key}: not written yet'!r})")
    return lines


def lesson_number(name: str) -> str:
    """'03' for '03_training_loop.ipynb'."""
    match = re.match(r"(\d+)", Path(name).name)
    if not match:
        raise LessonBuildError(f"'{name}': a solution's file name starts with its lesson number, e.g. 03_... .")
    return match.group(1)


def build_lesson(
    solution: nbformat.NotebookNode, name: str = "00_notebook.ipynb", exercises: dict[str, Exercise] | None = None
) -> nbformat.NotebookNode:
    """The student version of one solution notebook."""
    exercises = {} if exercises is None else exercises
    lesson = copy.deepcopy(solution)
    number = lesson_number(name)
    before = set(exercises)
    for index, cell in enumerate(lesson.cells):
        cell.metadata.pop("execution", None)
        cell.metadata.pop("cifarlab", None)  # the digest of the code that made the solution's outputs
        if "tags" in cell.metadata:
            cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t not in OUTPUT_TAGS]
            if not cell.metadata["tags"]:
                del cell.metadata["tags"]
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, f"{name} cell {index}", number, exercises)
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = re.sub(r"/blob/([^/]+)/solutions/", r"/blob/\1/lessons/", cell.source)
    mine = [k for k in exercises if k not in before]
    lesson.metadata["cifarlab"] = {"lesson": number, "exercises": mine}
    return lesson


def _render(notebook: nbformat.NotebookNode) -> str:
    return nbformat.writes(notebook) + "\n"


def _compare_or_write(target: Path, text: str, check: bool, stale: list[str]) -> None:
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if current == text:
        return
    stale.append(f"{target} ({'missing' if current is None else 'out of date'})")
    if not check:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text(target, text)


def with_repository(notebook: nbformat.NotebookNode, repository: Repository) -> bool:
    """Write `repository` into `notebook`'s Colab links and install lines, in place; True if
    anything changed. A cell whose stored output was current stays current (its digest is
    renewed): the address is read only on Colab, where the outputs are not stored."""
    changed = False
    for cell in notebook.cells:
        source = repository.write_into(cell.source)
        if source == cell.source:
            continue
        digest = cell.metadata.get("cifarlab", {})
        if digest.get("source") == source_digest(cell.source):
            digest["source"] = source_digest(source)
        cell.source, changed = source, True
    return changed


def build_lessons(
    solutions: Path,
    lessons: Path,
    check: bool = False,
    catalogue: Path | None = None,
    repository: Repository | None = None,
    readme: Path | None = None,
) -> list[str]:
    """Write (or with check=True, compare) every lesson and the exercise catalogue, and the
    repository's address into solutions/, lessons/ and the README. Returns what is stale, as
    sentences.

    repository: default, the one pyproject.toml (beside `solutions`) names; readme: default,
    the README.md beside `solutions`, when there is one.
    """
    solutions, lessons = Path(solutions), Path(lessons)
    catalogue = Path(catalogue) if catalogue is not None else solutions.parent / CATALOGUE
    repository = repository or read_repository(solutions.parent / "pyproject.toml")
    readme = Path(readme) if readme is not None else solutions.parent / "README.md"
    stale: list[str] = []
    sources = sorted(solutions.glob("*.ipynb"))
    if not sources:
        raise LessonBuildError(f"no notebooks in '{solutions}': run this from the repository root.")
    exercises: dict[str, Exercise] = {}
    for path in sources:
        solution = nbformat.read(path, as_version=4)
        if with_repository(solution, repository):
            _compare_or_write(path, _render(solution), check, stale)
        lesson = build_lesson(solution, path.name, exercises)
        _compare_or_write(lessons / path.name, _render(lesson), check, stale)
    text = json.dumps({k: e.as_json() for k, e in exercises.items()}, indent=1, ensure_ascii=False) + "\n"
    _compare_or_write(catalogue, text, check, stale)
    if readme.is_file():
        _compare_or_write(readme, repository.write_into(readme.read_text(encoding="utf-8")), check, stale)
    for extra in sorted({p.name for p in lessons.glob("*.ipynb")} - {p.name for p in sources}):
        stale.append(f"{lessons / extra} (no solution in {solutions})")
        if not check:  # lessons/ is generated: a lesson whose solution is gone goes too
            (lessons / extra).unlink()
    return stale
