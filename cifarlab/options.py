"""Numbers a person gives cifarlab, checked before any work: finite, in range, whole where they must be.

`check_number` raises an OptionError naming the option, the value and the range; the
`cifarlab` command uses the same checks through `argparse_number`, so a bad number is one
`error:` line and exit code 2 before anything is imported or loaded. Nothing is silently
replaced: 0 epochs is an error, not "the profile's value".
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass

from cifarlab.errors import OptionError


@dataclass(frozen=True)
class Range:
    """Where a number may lie: bounds inclusive (minimum, maximum) or exclusive (above, below)."""

    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    below: float | None = None

    def describe(self) -> str:
        kind = "a whole number" if self.integer else "a finite number"
        bounds = [
            f">= {self.minimum:g}" if self.minimum is not None else "",
            f"> {self.above:g}" if self.above is not None else "",
            f"< {self.below:g}" if self.below is not None else "",
            f"<= {self.maximum:g}" if self.maximum is not None else "",
        ]
        return f"{kind} {' and '.join(b for b in bounds if b)}".strip()

    def holds(self, value: float) -> bool:
        return (
            (self.minimum is None or value >= self.minimum)
            and (self.maximum is None or value <= self.maximum)
            and (self.above is None or value > self.above)
            and (self.below is None or value < self.below)
        )


COUNT = Range(integer=True, minimum=1)  # epochs, batch size, images
PORT = Range(integer=True, minimum=1, maximum=65535)
SEED = Range(integer=True, minimum=0, maximum=2**32 - 1)  # what numpy's seeding accepts
WORKERS = Range(integer=True, minimum=0)
POSITIVE = Range(above=0)  # a rate, a timeout, a scale

# the recipe numbers `cifarlab train` can change (cifarlab.recipe says what each is for)
# recipe numbers that `cifarlab train` can change, each a LitResNet9 keyword of the same name
RECIPE_OPTIONS = (
    "momentum",
    "weight_decay",
    "label_smoothing",
    "logit_scale",
    "pct_start",
    "div_factor",
    "final_div_factor",
    "cutout_p",
)
RECIPE_RANGES = {
    "max_lr": POSITIVE,
    "weight_decay": Range(minimum=0),
    "label_smoothing": Range(minimum=0, below=1),
    "logit_scale": POSITIVE,
    "pct_start": Range(above=0, below=1),
    "div_factor": POSITIVE,
    "final_div_factor": POSITIVE,
    "cutout_p": Range(minimum=0, maximum=1),
    "momentum": Range(above=0, below=1),  # Nesterov needs some
}


def check_number(name: str, value: object, allowed: Range) -> float | int:
    """`value` if it is a number `allowed` accepts, else an OptionError that says what is."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    whole = is_number and (isinstance(value, int) or (math.isfinite(value) and float(value).is_integer()))
    if not is_number or not math.isfinite(value) or (allowed.integer and not whole) or not allowed.holds(value):
        raise OptionError(f"{name} must be {allowed.describe()}, got {value!r}.")
    return int(value) if allowed.integer else float(value)


def argparse_number(allowed: Range) -> Callable[[str], float | int]:
    """An argparse `type=` that parses and checks a number (argparse then exits with code 2)."""

    def parse(text: str) -> float | int:
        try:
            value = int(text) if allowed.integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {allowed.describe()}, got {text!r}") from None
        try:
            return check_number("it", value, allowed)
        except OptionError:
            raise argparse.ArgumentTypeError(f"must be {allowed.describe()}, got {text!r}") from None

    parse.__name__ = "number"  # argparse names the type in some messages
    return parse
