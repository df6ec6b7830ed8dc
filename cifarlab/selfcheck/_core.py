"""What every self-check shares: the verdict, the record of outcomes, and the stand-in.

A check runs a student's code on cases chosen to expose typical mistakes and raises
`Problem` with a message naming the mistake it found. `run_check` turns that into one line
(✅ or ❌), records the outcome for `summary()` and `cifarlab grade`, and returns the
student's code when it is right. When it is not, it returns cifarlab's reference wrapped as
a *stand-in* that says so in every cell where it produces something, so that a ❌ cannot be
missed further down the notebook.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from cifarlab.progress import silenced
from cifarlab.recipe import RECIPE

SIZE = RECIPE.image_size  # the images' height and width in the checks' test cases
OK, WRONG, OPEN = "✅", "❌", "⚠"


class Problem(Exception):
    """What is wrong with an answer, in words a student can act on."""


_Problem = Problem  # the name the check modules were written with


@dataclass(frozen=True)
class Outcome:
    """The last verdict on one exercise in this kernel."""

    exercise: str
    passed: bool
    message: str


_OUTCOMES: dict[str, Outcome] = {}


def outcomes() -> dict[str, Outcome]:
    """Every exercise checked in this kernel so far, by name: the latest verdict on each."""
    return dict(_OUTCOMES)


def outcomes_json() -> str:
    """The outcomes as one JSON line (what `cifarlab grade` reads back from a notebook)."""
    return json.dumps([asdict(o) for o in _OUTCOMES.values()])


def _crash_message(error: Exception) -> str:
    """A crash of the student's code, in words: the common ones get their cause named."""
    text = str(error)
    if "same device" in text or "Expected all tensors to be on the same device" in text:
        return (
            f"the model and the batch are on different devices ({text.splitlines()[0][:120]}). "
            "Move each batch where the model is: x, y = x.to(device), y.to(device)."
        )
    if "requires grad" in text and "numpy" in text:
        return (
            "it calls .numpy() on a tensor that is part of the gradient graph: compute the "
            "predictions under torch.no_grad()."
        )
    if isinstance(error, TypeError) and "numpy" in text and "cuda" in text:
        return "it calls .numpy() on a tensor on the GPU: bring it to the CPU first, tensor.cpu().numpy()."
    return f"it raised {type(error).__name__}: {text.splitlines()[0] if text else ''}"


def _verdict(name: str, test: Callable[[], str]) -> Outcome:
    try:
        with silenced():  # the student's progress bars would bury the verdict
            praise = test()
    except NotImplementedError:
        return Outcome(name, False, "not written yet (it raises NotImplementedError).")
    except Problem as problem:
        return Outcome(name, False, str(problem))
    except Exception as error:  # the student's code crashed: say why, keep the lesson going
        return Outcome(name, False, _crash_message(error))
    return Outcome(name, True, praise)


def run_check(student: Any, reference: Any, tests: Mapping[str, Callable[[], str]], label: str | None = None) -> Any:
    """Run each exercise's test, print and record the verdicts, and return what the notebook
    should use from here on: `student` if every test passed, else a stand-in for `reference`."""
    label = label or getattr(student, "__name__", "your code")
    failed = []
    for exercise, test in tests.items():
        outcome = _verdict(exercise, test)
        _OUTCOMES[exercise] = outcome
        if outcome.passed:
            print(f"{OK} {exercise}: right. {outcome.message}")
        else:
            print(f"{WRONG} {exercise}: {outcome.message}")
            failed.append(exercise)
    if not failed:
        return student
    print(
        f"   From here on the notebook uses cifarlab's reference {label} instead of yours, and says so "
        "wherever it does. Fix yours and run this cell again."
    )
    return stand_in(reference, label, failed)


def _notebook_cell() -> int | None:
    """The number of the notebook cell running now, or None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        return None
    shell = get_ipython()
    return None if shell is None else shell.execution_count


def _once_per_cell(note: str) -> Callable[[], None]:
    """A function that prints `note`: once per notebook cell (a cell that calls a stand-in 200
    times would bury its output), and every time outside a notebook."""
    noted_in: list[int | None] = [None]

    def say() -> None:
        cell = _notebook_cell()
        if cell is None or cell != noted_in[0]:
            print(note)
        noted_in[0] = cell

    return say


def stand_in(reference: Any, label: str, exercises: list[str]) -> Any:
    """`reference`, marked: every cell that calls it (or, for a class, makes an instance) prints a
    note that the output comes from cifarlab's code because the exercise is still open."""
    note = f"{OPEN} [cifarlab's reference {label} stands in here: exercise {', '.join(exercises)} is still open]"
    say = _once_per_cell(note)
    if isinstance(reference, type):
        return type(reference.__name__, (reference,), {"__init__": _noting_init(reference, say), "__doc__": note})

    @functools.wraps(reference)
    def noted(*args: Any, **kwargs: Any) -> Any:
        say()
        return reference(*args, **kwargs)

    noted.stand_in_for = exercises  # type: ignore[attr-defined]
    return noted


def _noting_init(reference: type, say: Callable[[], None]) -> Callable:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        say()
        reference.__init__(self, *args, **kwargs)

    return __init__


def check(student: Any, reference: Any, exercise: str, test: Callable[[], str]) -> Any:
    """`run_check` for the usual case: one exercise, one test."""
    return run_check(student, reference, {exercise: test})
