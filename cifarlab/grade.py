"""Grading a class's notebooks: `cifarlab grade`.

Each student notebook runs from a copy in a temporary folder (its `runs/` and other files land
there, not beside the student's), in a fresh kernel of this Python, in the `smoke` profile by
default, with a time limit per cell. It runs cell by cell and stops at the first cell that
raises or runs out of time (the kernel is interrupted). Then one more cell in the same kernel
reads back the self-checks' verdicts (`cifarlab.selfcheck.outcomes_json()`).

Which exercises a notebook has comes from its metadata (`cifarlab build-lessons` writes the
lesson and its exercises into every lesson, so a renamed copy is still recognised), else from
the lesson number its file name starts with. The report holds one row per exercise (passed,
failed, not checked: its check never ran, not reached: the notebook stopped before it) and
one per notebook (ran, crashed at cell N, timed out at cell N, could not be read), with the
check's message and the seconds the notebook took.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

if TYPE_CHECKING:
    from nbclient import NotebookClient

from cifarlab.errors import LessonBuildError, OptionError
from cifarlab.files import write_text
from cifarlab.profile import ENV_VAR

COLUMNS = ("student", "notebook", "lesson", "exercise", "status", "message", "seconds")
NOTEBOOK = "(notebook)"  # the exercise column of a notebook's own row
PASSED, FAILED, NOT_CHECKED, NOT_REACHED = "passed", "failed", "not checked", "not reached"
RAN, UNREADABLE, NOT_A_LESSON = "ran", "could not be read", "not a cifarlab lesson"
COLLECT = "from cifarlab.selfcheck import outcomes_json; print(outcomes_json())"
INTERRUPT_WAIT = 30.0  # seconds an interrupted cell has to stop
COLLECT_TIMEOUT = 120.0  # at least this long for the verdicts' cell: it may be the first to import cifarlab


@dataclass(frozen=True)
class Row:
    """One line of the report: a student's exercise, or (exercise "(notebook)") the notebook itself."""

    student: str
    notebook: str
    lesson: str
    exercise: str
    status: str
    message: str
    seconds: str = ""  # the notebook's row only


@dataclass
class Execution:
    """What running one notebook gave: how it ended, where it stopped, and the verdicts read back."""

    status: str  # "ran", "crashed at cell N", "timed out at cell N after T s"
    message: str
    stopped_at: int | None  # index of the cell it stopped in; None when every cell ran
    outcomes: dict[str, dict] | None  # exercise -> {"passed", "message"}; None when they could not be read
    unread: str = ""  # why the verdicts could not be read


def check_options(notebooks: Sequence[str | Path], out: str | Path, timeout: float) -> tuple[list[Path], Path]:
    """Every option of `cifarlab grade`, checked before any notebook runs."""
    if not notebooks:
        raise OptionError("name at least one notebook to grade, e.g. cifarlab grade submissions/*.ipynb --out r.csv")
    paths = [Path(n) for n in notebooks]
    for path in paths:
        if path.suffix != ".ipynb":
            raise OptionError(f"'{path}' is not a notebook: give the students' .ipynb files.")
        if not path.is_file():
            raise OptionError(f"the notebook '{path}' does not exist: check the path (run from the right folder?).")
    twice = [str(p) for p, n in Counter(p.resolve() for p in paths).items() if n > 1]
    if twice:
        raise OptionError(f"{', '.join(twice)} is given more than once: name each notebook once.")
    out = Path(out)
    if not out.parent.is_dir():
        raise OptionError(f"--out: the folder '{out.parent}' does not exist; create it or write the report elsewhere.")
    if out.is_dir():
        raise OptionError(f"--out: '{out}' is a folder; give a file name such as {out / 'report.csv'}.")
    if not 0 < timeout < math.inf:
        raise OptionError(f"--timeout must be a number of seconds above 0 (got {timeout:g}); the default is 300.")
    return paths, out


def student_names(paths: Sequence[Path]) -> list[str]:
    """Each notebook's student: its file stem, or parent-folder/stem where two notebooks share a stem."""
    stems = Counter(p.stem for p in paths)
    names = [p.stem if stems[p.stem] == 1 else f"{p.parent.name}/{p.stem}" for p in paths]
    clashes = Counter(names)
    return [str(p.with_suffix("")) if clashes[n] > 1 else n for p, n in zip(paths, names)]


def lesson_of(notebook: nbformat.NotebookNode, path: Path) -> tuple[str, list[str]] | None:
    """(lesson number, its exercises) from the notebook's metadata, else from its file name; None if neither."""
    from cifarlab.lessons import lesson_number
    from cifarlab.selfcheck import exercises

    meta = notebook.metadata.get("cifarlab")
    if isinstance(meta, dict) and isinstance(meta.get("exercises"), list) and isinstance(meta.get("lesson"), str):
        return meta["lesson"], [str(e) for e in meta["exercises"]]
    try:
        number = lesson_number(path.name)
    except LessonBuildError:
        return None
    names = exercises(number)
    return (f"{int(number):02d}", names) if names else None


def _where(notebook: nbformat.NotebookNode, index: int) -> str:
    first = next((line.strip() for line in notebook.cells[index].source.splitlines() if line.strip()), "")
    return f"cell {index + 1}, which starts {first[:60]!r}"


def _read_outcomes(cell: nbformat.NotebookNode) -> dict[str, dict] | None:
    """The verdicts printed by the COLLECT cell, by exercise; None if it printed none."""
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    for line in reversed(text.splitlines()):
        if line.startswith("["):
            return {o["exercise"]: o for o in json.loads(line)}
    return None


def execute(notebook: nbformat.NotebookNode, folder: Path, timeout: float, profile: str) -> Execution:
    """Run `notebook` cell by cell in a fresh kernel started in `folder`; stop at the first cell that
    raises or takes longer than `timeout` seconds; then read the self-checks' verdicts in the same kernel."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    limit = [timeout]
    client = NotebookClient(
        notebook,
        kernel_name="python3",  # this Python, which has cifarlab, whatever the student's kernel was called
        resources={"metadata": {"path": str(folder)}},
        timeout_func=lambda cell: limit[0],
        interrupt_on_timeout=False,  # we interrupt ourselves, to tell a timeout from an error
        shutdown_kernel="immediate",
    )
    env = {**os.environ, ENV_VAR: profile}
    result = Execution(RAN, "every cell ran", None, None)
    with client.setup_kernel(env=env):
        for index, cell in enumerate(notebook.cells):
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as error:
                evalue = (error.evalue or "").strip().splitlines()
                message = f"{error.ename}: {evalue[0] if evalue else ''}".rstrip(": ")
                result = Execution(
                    f"crashed at cell {index + 1}", f"{message} (in {_where(notebook, index)})", index, None
                )
                break
            except CellTimeoutError:
                status = f"timed out at cell {index + 1} after {timeout:g} s"
                result = Execution(status, f"interrupted {_where(notebook, index)}", index, None)
                if not _interrupt(client):
                    result.unread = "the cell did not stop when interrupted, so the verdicts could not be read"
                    return result
                break
            except DeadKernelError:
                message = f"the kernel died (killed, or out of memory?) while running {_where(notebook, index)}"
                result = Execution(f"crashed at cell {index + 1}", message, index, None, "its verdicts died with it")
                return result
        collect = nbformat.v4.new_code_cell(COLLECT)
        notebook.cells.append(collect)
        limit[0] = max(timeout, COLLECT_TIMEOUT)
        try:
            client.execute_cell(collect, len(notebook.cells) - 1)
            result.outcomes = _read_outcomes(collect)
            if result.outcomes is None:
                result.unread = "its verdicts could not be read (the kernel printed none)"
        except DeadKernelError:
            result.unread = "the kernel died before its verdicts could be read"
        except CellTimeoutError:
            result.unread = "the kernel did not answer after the notebook stopped, so its verdicts could not be read"
        except (CellExecutionError, ValueError, KeyError, TypeError) as error:
            result.unread = f"its verdicts could not be read ({str(error).strip().splitlines()[-1][:200]})"
    return result


def _interrupt(client: NotebookClient) -> bool:
    """Interrupt the running cell and wait for its reply: a request sent before that reply would be
    aborted by the kernel (it drops what was queued behind an error). False if no reply came."""
    from queue import Empty

    from nbclient.util import run_sync

    run_sync(client.km.interrupt_kernel)()
    try:
        run_sync(client.kc.shell_channel.get_msg)(timeout=INTERRUPT_WAIT)
    except Empty:
        return False
    return True


def _check_cell(notebook: nbformat.NotebookNode, exercise: str) -> int | None:
    """Where an exercise's check runs: the cell calling check.<exercise>(, else the first cell naming it."""
    code = [(i, c.source) for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    called = [i for i, source in code if f"check.{exercise}(" in source]
    named = [i for i, source in code if re.search(rf"\b{re.escape(exercise)}\b", source)]
    return (called or named or [None])[0]


def _exercise_row(notebook: nbformat.NotebookNode, ran: Execution, exercise: str) -> tuple[str, str]:
    """(status, message) of one exercise after the notebook ran."""
    if ran.outcomes is not None and exercise in ran.outcomes:
        outcome = ran.outcomes[exercise]
        return (PASSED if outcome["passed"] else FAILED), outcome["message"]
    where = _check_cell(notebook, exercise)
    if ran.stopped_at is not None and (where is None or where >= ran.stopped_at):
        return NOT_REACHED, f"the notebook stopped at cell {ran.stopped_at + 1}, before this exercise's check"
    if ran.outcomes is None:
        return NOT_CHECKED, f"whether its check ran is unknown: {ran.unread}"
    return NOT_CHECKED, "its check never ran: was the check cell below the exercise deleted, skipped or changed?"


def grade_notebook(path: Path, student: str, timeout: float = 300, profile: str = "smoke") -> list[Row]:
    """The report's rows for one notebook: the notebook's own row first, then one per exercise."""
    start = time.perf_counter()

    def row(lesson: str, status: str, message: str) -> Row:
        return Row(student, str(path), lesson, NOTEBOOK, status, message, f"{time.perf_counter() - start:.1f}")

    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # a student's file may be anything: it gets its row, the others still run
        return [row("", UNREADABLE, f"{type(error).__name__}: {str(error).strip().splitlines()[0][:200]}")]
    found = lesson_of(notebook, path)
    if found is None:
        why = "no cifarlab metadata, and its name does not start with the number of a lesson with exercises"
        return [row("", NOT_A_LESSON, why)]
    lesson, names = found
    with tempfile.TemporaryDirectory(prefix="cifarlab-grade-") as folder:
        shutil.copy2(path, Path(folder) / path.name)
        ran = execute(notebook, Path(folder), timeout, profile)
    rows = [row(lesson, ran.status, ran.message if not ran.unread else f"{ran.message}; {ran.unread}")]
    for exercise in names:
        status, message = _exercise_row(notebook, ran, exercise)
        rows.append(Row(student, str(path), lesson, exercise, status, message))
    return rows


def write_csv(rows: Sequence[Row], out: Path) -> None:
    """The report as CSV, written to a temporary name and renamed, so a half-written report never exists."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow([f.name for f in fields(Row)])
    writer.writerows(astuple(r) for r in rows)
    write_text(out, text.getvalue())


def table(rows: Sequence[Row], width: int = 70) -> str:
    """The report as a short text table: student, lesson, exercise, status, and the message cut to `width`."""
    heads = ("student", "lesson", "exercise", "status")
    cells = [(r.student, r.lesson, r.exercise, r.status) for r in rows]
    sizes = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    line = "  ".join(f"{{:<{s}}}" for s in sizes) + "  {}"
    out = [line.format(*heads, "message")]
    for r, c in zip(rows, cells):
        message = r.message if len(r.message) <= width else r.message[: width - 3] + "..."
        out.append(line.format(*c, message).rstrip())
    return "\n".join(out)


def grade(
    notebooks: Sequence[str | Path],
    out: str | Path,
    timeout: float = 300,
    profile: str = "smoke",
    progress: Callable[[str], None] = lambda line: print(line, flush=True),
) -> list[Row]:
    """Grade every notebook, write the report to `out` (CSV) and return its rows. Options are checked
    first; a notebook that cannot be read, crashes or hangs gets its row and the others still run."""
    paths, out = check_options(notebooks, out, timeout)
    rows: list[Row] = []
    for number, (path, student) in enumerate(zip(paths, student_names(paths)), start=1):
        progress(f"[{number}/{len(paths)}] {student} ({path}) ...")
        mine = grade_notebook(path, student, timeout, profile)
        passed = sum(r.status == PASSED for r in mine[1:])
        progress(f"    {mine[0].status} in {mine[0].seconds} s; {passed} of {len(mine) - 1} exercises passed")
        rows += mine
    write_csv(rows, out)
    return rows
