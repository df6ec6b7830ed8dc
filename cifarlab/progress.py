"""Progress bars that a saved notebook shows truthfully.

`tqdm.auto` draws a widget in Jupyter. A notebook saved after running (the solutions, nbval,
`cifarlab grade`) keeps only the widget's first state, so every finished bar reads
`0%| | 0/39`. tqdm's text bar rewrites one line with a carriage return instead: Jupyter, Colab
and a terminal show it moving, and a saved notebook keeps where it ended. The self-checks
silence the bars of the code they run, so that a check prints only its verdict.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from tqdm.std import tqdm

_silenced = 0


def progress(iterable: Iterable | None = None, desc: str | None = None, **options: Any) -> tqdm:
    """A text progress bar over `iterable` (tqdm's options pass through), on stdout."""
    options.setdefault("ncols", 100)
    options.setdefault("mininterval", 0.5)
    return tqdm(iterable, desc=desc, file=sys.stdout, disable=_silenced > 0 or options.pop("disable", False), **options)


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """No bar from `progress` inside the block (the self-checks run students' loops in one)."""
    global _silenced
    _silenced += 1
    try:
        yield
    finally:
        _silenced -= 1


def reading(stream: Any, desc: str, total: int, **options: Any) -> Any:
    """`stream` with a progress bar that follows the bytes read from it (a context manager)."""
    options.setdefault("ncols", 100)
    return tqdm.wrapattr(stream, "read", total=total, desc=desc, file=sys.stdout, disable=_silenced > 0, **options)
