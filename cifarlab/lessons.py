"""Building the student notebooks in `lessons/` from the instructor notebooks in `solutions/`.

The solutions are the only source. In a solution, exercise code sits between
`# BEGIN SOLUTION` and `# END SOLUTION`; `# HINT: ...` lines inside the block are kept.
The student version replaces the block with those hints and a `raise NotImplementedError`
carrying the first hint, clears every output, drops nbval's `# NBVAL_CHECK_OUTPUT` markers
(a lesson has no stored outputs to compare with), and points the Colab badge at `lessons/`.
`--check` rebuilds in memory and fails when a file in `lessons/` differs: stale lessons
cannot land.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

from cifarlab.errors import LessonBuildError

BEGIN, END, HINT = "# BEGIN SOLUTION", "# END SOLUTION", "# HINT:"
CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"


def strip_solutions(source: str, where: str = "cell") -> str:
    """Replace each `# BEGIN SOLUTION` ... `# END SOLUTION` block by its hints and a stub."""
    out: list[str] = []
    block: list[str] | None = None
    indent = ""
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if block is not None:
                raise LessonBuildError(f"{where}, line {number}: {BEGIN} inside another solution block.")
            block, indent = [], line[: len(line) - len(line.lstrip())]
        elif stripped.startswith(END):
            if block is None:
                raise LessonBuildError(f"{where}, line {number}: {END} without a {BEGIN} before it.")
            hints = [h.strip()[len(HINT) :].strip() for h in block if h.strip().startswith(HINT)]
            out += [f"{indent}{HINT} {h}" for h in hints]
            message = hints[0] if hints else "this part is yours to write"
            out.append(f"{indent}raise NotImplementedError({('Exercise: ' + message)!r})")
            block = None
        elif block is not None:
            block.append(line)
        elif stripped != CHECK_MARKER:
            out.append(line)
    if block is not None:
        raise LessonBuildError(f"{where}: {BEGIN} is never closed by {END}.")
    return "\n".join(out)


def build_lesson(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The student version of one solution notebook."""
    lesson = copy.deepcopy(solution)
    for index, cell in enumerate(lesson.cells):
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, where=f"{name} cell {index}")
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = re.sub(r"/blob/([^/]+)/solutions/", r"/blob/\1/lessons/", cell.source)
    return lesson


def _render(notebook: nbformat.NotebookNode) -> str:
    return nbformat.writes(notebook) + "\n"


def build_lessons(solutions: Path, lessons: Path, check: bool = False) -> list[str]:
    """Write (or with check=True, compare) every lesson. Returns what is stale, as sentences."""
    solutions, lessons = Path(solutions), Path(lessons)
    stale: list[str] = []
    sources = sorted(solutions.glob("*.ipynb"))
    if not sources:
        raise LessonBuildError(f"no notebooks in '{solutions}': run this from the repository root.")
    for path in sources:
        text = _render(build_lesson(nbformat.read(path, as_version=4), path.name))
        target = lessons / path.name
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        stale.append(f"{target} ({'missing' if current is None else 'out of date'})")
        if not check:
            lessons.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    for extra in sorted({p.name for p in lessons.glob("*.ipynb")} - {p.name for p in sources}):
        stale.append(f"{lessons / extra} (no solution in {solutions})")
        if not check:  # lessons/ is generated: a lesson whose solution is gone goes too
            (lessons / extra).unlink()
    return stale
