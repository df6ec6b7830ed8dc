"""The exercises of the course: their hints, revealed one at a time, and which are still open.

`exercises.json` is written by `cifarlab build-lessons` from the markers in `solutions/`
(see `cifarlab.lessons`); nothing here is typed twice.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from cifarlab.errors import OptionError
from cifarlab.selfcheck._core import OK, OPEN, WRONG, outcomes

_REVEALED: dict[str, int] = {}  # exercise -> how many hints this kernel has shown


@cache
def catalogue() -> dict[str, dict]:
    """Every exercise by name: its lesson, nudges, hints and answer."""
    text = resources.files("cifarlab.selfcheck").joinpath("exercises.json").read_text(encoding="utf-8")
    return json.loads(text)


def _exercise(name: str) -> dict:
    known = catalogue()
    if name not in known:
        raise OptionError(f"there is no exercise {name!r}. The exercises are: {', '.join(known)}.")
    return known[name]


def exercises(lesson: str) -> list[str]:
    """The names of a lesson's exercises, in the order the lesson asks for them ('03' or 3)."""
    lesson = f"{int(lesson):02d}"
    return [name for name, e in catalogue().items() if e["lesson"] == lesson]


def hint(exercise: str) -> None:
    """Print the next hint for an exercise; after the last hint, the answer."""
    entry = _exercise(exercise)
    steps = entry["hints"]
    shown = _REVEALED.get(exercise, 0)
    if shown < len(steps):
        _REVEALED[exercise] = shown + 1
        more = "Run this again for the next hint." if shown + 1 < len(steps) else "Run this again for the answer."
        print(f"Hint {shown + 1} of {len(steps)} for {exercise}: {steps[shown]}\n({more})")
        return
    _REVEALED[exercise] = shown + 1
    print(f"The answer to {exercise} (try to write it yourself before you copy it):\n")
    print("\n\n".join(entry["answer"]))


def summary(lesson: str) -> None:
    """Print which of a lesson's exercises pass, which fail and which were never checked."""
    names = exercises(lesson)
    done = outcomes()
    if not names:
        print(f"Lesson {int(lesson):02d} has no exercises.")
        return
    lines, still_open = [], 0
    for name in names:
        outcome = done.get(name)
        if outcome is None:
            still_open += 1
            lines.append(f"{OPEN} {name}: not checked yet (run its cell and the check below it)")
        elif not outcome.passed:
            still_open += 1
            lines.append(f"{WRONG} {name}: {outcome.message}")
        else:
            lines.append(f"{OK} {name}")
    if still_open:
        head = (
            f"{still_open} of {len(names)} exercises still open: the outputs marked {OPEN} came from cifarlab's code."
        )
    else:
        head = f"All {len(names)} exercises of this lesson pass."
    print("\n".join([head, *lines]))
