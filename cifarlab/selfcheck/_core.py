"""What every self-check shares: the report that prints a verdict and picks the function to use."""

from __future__ import annotations

from collections.abc import Callable

from cifarlab.recipe import RECIPE

SIZE = RECIPE.image_size  # the images' height and width in the checks' test cases
OK, WRONG = "✅", "❌"


class _Problem(Exception):
    """What is wrong with an answer, in words a student can act on."""


def _report(student: Callable, fallback: Callable, test: Callable[[], str]) -> Callable:
    label = getattr(student, "__name__", "your function")
    try:
        praise = test()
    except NotImplementedError:
        print(f"{WRONG} {label} is not written yet (it raises NotImplementedError).")
    except _Problem as problem:
        print(f"{WRONG} {label}: {problem}")
    except Exception as error:  # the student's code crashed: show why, keep the lesson going
        print(f"{WRONG} {label} raised {type(error).__name__}: {error}")
    else:
        print(f"{OK} {label} is right. {praise}")
        return student
    print("   Using cifarlab's reference implementation so the rest of the notebook runs.")
    return fallback
