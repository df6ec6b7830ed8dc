"""The stored outputs of `solutions/`: which ones CI compares, and the one way to regenerate them.

The solution notebooks ship with their outputs, so an instructor can show a lesson without
running it and a student can compare. Those outputs must be what the code prints today.

* **Every code cell says whether its output is checked.** Its metadata (invisible in the
  notebook's text, dropped from the lessons) carries one tag:
  `nbval-check-output`, nbval's own: CI runs the notebook and compares the cell's output with
  the stored one, after `tests/nbval_sanitize.cfg` has replaced what legitimately varies
  (times, throughput, paths, addresses, progress bars). A cell that prints nothing is checked
  too: it must go on printing nothing. Or `varies-with-<reason>`, one of `VARIES`: the output
  depends on something CI cannot hold fixed, so it is not compared.
* **Outputs come only from `cifarlab run-solutions`.** It runs each notebook top to bottom in
  a fresh kernel, in a scratch folder (no leftovers of earlier runs), in the `STORED_PROFILE`,
  and records with each code cell a digest of the source that produced its output. A test
  fails when a cell's source no longer matches its digest: its stored output is stale, whether
  nbval checks it or not. The student copies are rebuilt after it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import nbformat

from cifarlab.errors import LessonBuildError, OptionError
from cifarlab.files import write_text
from cifarlab.profile import ENV_VAR

STORED_PROFILE = "cpu"  # the profile the stored outputs come from (the README says so)
COMMAND = "cifarlab run-solutions"
CHECKED = "nbval-check-output"
VARIES = {
    "profile": "sizes, subsets and training results: CI runs the small smoke profile, the outputs come from cpu",
    "machine": "the device, the CPU's features, installed versions, or what `auto` picks for them",
    "data": "values of the data copy in use (the official CIFAR-10 and the JPEG copy differ a little)",
    "timing": "a measurement of speed, which is the whole content of the output",
    "runner": "a widget that draws into its own output area: Jupyter shows that inside the widget, nbval's "
    "kernel client as outputs of the cell, so the two never match",
}
VARIES_TAGS = {f"varies-with-{reason}": why for reason, why in VARIES.items()}
OUTPUT_TAGS = frozenset({CHECKED, *VARIES_TAGS})


def output_tags(cell: nbformat.NotebookNode) -> list[str]:
    """The output tags a cell carries (`nbval-check-output` or `varies-with-...`)."""
    return [t for t in cell.get("metadata", {}).get("tags", []) if t in OUTPUT_TAGS]


def source_digest(source: str) -> str:
    """A digest of a cell's code that ignores whitespace, so that reformatting alone is not a change."""
    return hashlib.sha256("".join(source.split()).encode()).hexdigest()[:16]


def policy_problems(notebook: nbformat.NotebookNode, name: str) -> list[str]:
    """What breaks the rules above in one solution notebook, as sentences (empty when nothing)."""
    problems = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        where = f"{name}, cell {cell.get('id', index)}"
        tags = output_tags(cell)
        if re.search(r"^\s*#\s*NBVAL_", cell.source, re.M):
            problems.append(f"{where}: use the cell tag `{CHECKED}` (or a varies-with tag), not an nbval comment")
        if len(tags) != 1:
            choices = ", ".join([CHECKED, *VARIES_TAGS])
            problems.append(f"{where}: carries {tags or 'no output tag'}; give it exactly one of: {choices}")
    return problems


def stale_cells(notebook: nbformat.NotebookNode, name: str) -> list[str]:
    """The code cells whose source changed since their stored output was made, as sentences."""
    stale = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        made_from = cell.get("metadata", {}).get("cifarlab", {}).get("source")
        if made_from != source_digest(cell.source):
            what = "has no record of the code that made its output" if made_from is None else "changed since"
            stale.append(f"{name}, cell {cell.get('id', index)} {what}")
    return stale


def checked_count(notebook: nbformat.NotebookNode) -> tuple[int, int]:
    """(checked code cells, all code cells) of a notebook."""
    code = [c for c in notebook.cells if c.cell_type == "code"]
    return sum(CHECKED in output_tags(c) for c in code), len(code)


def stale_output_help(notebook: str | os.PathLike, cell: str) -> str:
    """What to do when nbval finds that a checked cell's stored output differs from what it prints now."""
    path = Path(notebook)
    number = path.name.split("_")[0]
    return (
        f"{path.name}, cell {cell}: its stored output is not what the code prints now. If the change is "
        f"intended, regenerate the stored outputs with `{COMMAND} {number}` (it runs the notebook in the "
        f"{STORED_PROFILE} profile and rebuilds lessons/), read the diff, and commit both. If it is not "
        "intended, the change broke what this cell shows."
    )


def find_solutions(names: Sequence[str], folder: str | os.PathLike = "solutions") -> list[Path]:
    """The solution notebooks that `names` mean ("03", "3", "03_training_loop" or a path); all when empty."""
    folder = Path(folder)
    available = sorted(folder.glob("*.ipynb"))
    if not available:
        raise OptionError(f"no notebooks in '{folder}': run this from the repository root, or pass --solutions.")
    by_number = {p.name.split("_")[0]: p for p in available}
    chosen = []
    for name in names:
        stem = Path(name).name.removesuffix(".ipynb")
        number = stem.split("_")[0]
        number = number.zfill(2) if number.isdigit() else number
        path = by_number.get(number)
        if path is None or not (stem.isdigit() or stem == path.stem):
            listing = ", ".join(sorted(by_number))
            raise OptionError(f"'{name}' is not a solution notebook in '{folder}'. Name one by its number: {listing}.")
        chosen.append(path)
    return sorted(set(chosen)) if names else available


def run_solution(
    path: Path, timeout: float = 900, on_cell: Callable[[int, int], None] | None = None
) -> nbformat.NotebookNode:
    """Run one solution notebook top to bottom in the stored profile and return it with fresh outputs
    and source digests. The file itself is not touched; a cell that raises stops the run with an error."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    notebook = nbformat.read(path, as_version=4)
    scratch = Path(tempfile.mkdtemp(prefix="cifarlab-solution-"))
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",  # this Python, which has cifarlab
        resources={"metadata": {"path": str(scratch)}},
        record_timing=False,  # no timestamps in the stored notebook: only the outputs change between runs
        shutdown_kernel="immediate",
    )
    code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    try:
        with client.setup_kernel(env={**os.environ, ENV_VAR: STORED_PROFILE}):
            for done, index in enumerate(code):
                cell = notebook.cells[index]
                cell.outputs, cell.execution_count = [], None
                cell.metadata.pop("execution", None)
                try:
                    client.execute_cell(cell, index)
                except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
                    first = (str(error).strip().splitlines() or [type(error).__name__])[-1]
                    raise LessonBuildError(
                        f"{path.name}, cell {cell.get('id', index)} failed ({first[:300]}); '{path}' is unchanged."
                    ) from error
                cell.metadata["cifarlab"] = {"source": source_digest(cell.source)}
                if on_cell:
                    on_cell(done + 1, len(code))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return notebook


def write_notebook(notebook: nbformat.NotebookNode, path: Path) -> None:
    """Write a notebook through a temporary file, so an interrupted write leaves the old one whole."""
    write_text(path, nbformat.writes(notebook) + "\n")


def run_solutions(
    paths: Sequence[Path], timeout: float = 900, say: Callable[[str], None] = print
) -> list[tuple[Path, float]]:
    """Run and store each notebook in turn (see `run_solution`); returns (path, seconds) per notebook."""
    from cifarlab.progress import progress

    done = []
    for path in paths:
        start = time.perf_counter()
        cells = sum(c.cell_type == "code" for c in nbformat.read(path, as_version=4).cells)
        with progress(desc=f"{path.name} (cells)", total=cells, mininterval=0) as bar:
            notebook = run_solution(path, timeout, on_cell=lambda done, total: bar.update(1))
        write_notebook(notebook, path)
        seconds = time.perf_counter() - start
        say(f"{path}: outputs stored ({seconds:.0f} s)")
        done.append((path, seconds))
    return done


__all__ = [
    "STORED_PROFILE",
    "COMMAND",
    "CHECKED",
    "VARIES",
    "VARIES_TAGS",
    "output_tags",
    "source_digest",
    "policy_problems",
    "stale_cells",
    "stale_output_help",
    "checked_count",
    "find_solutions",
    "run_solution",
    "write_notebook",
    "run_solutions",
]
