"""Lesson 05's self-checks: the range test's suggestion rule, and OneCycle's rate at a step.

Both take numbers and return numbers, so each check compares the student's answer with
the ones the typical mistakes would give (computed here, on inputs chosen to tell them
apart) and names the mistake whose answer it matches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cifarlab.recipe import RECIPE
from cifarlab.selfcheck._core import Problem, check


def reference_steepest_lr(
    lrs: Sequence[float], losses: Sequence[float], skip_begin: int = 10, skip_end: int = 1
) -> float:
    """The rate where the loss falls fastest against log10 of the rate."""
    from cifarlab.lr_finder import steepest_descent

    return steepest_descent(lrs, losses, skip_begin, skip_end)


def _range_test_curve() -> tuple[np.ndarray, np.ndarray]:
    """A made-up range test: noise in the first points, a fall, the lowest point, a blow-up, a
    'recovery' as the network collapses; each mistake lands somewhere else on it."""
    lrs = np.geomspace(1e-4, 10, 100)
    x = np.log10(lrs)
    losses = 2.3 - 1.2 / (1 + np.exp(-3 * (x + 1.5))) + 0.002 * np.exp(2.2 * (x + 1))  # falls, then rises
    losses = np.where(x > 0.3, 3.5 - 2.0 * (x - 0.3), losses)  # blows up, then "recovers" as it collapses
    losses[2] -= 0.3  # the unsettled start: a spurious cliff the rule must skip
    losses[20] += 0.01  # a bump in the flat part: where the loss rises fastest before its lowest point
    return lrs, losses


def steepest_lr(student: Callable[..., Any]) -> Callable:
    """Check `steepest_lr(lrs, losses)` on a made-up range-test curve."""
    from cifarlab.lr_finder import steepest_descent

    def test() -> str:
        lrs, losses = _range_test_curve()
        want = reference_steepest_lr(list(lrs), list(losses))
        got = student(list(lrs), list(losses))
        if isinstance(got, (int, np.integer)) and not isinstance(got, bool) and 0 <= got < len(lrs):
            raise Problem(f"it returns {got}, an index into the arrays; return the learning rate at that index.")
        if not isinstance(got, (float, np.floating)) or not np.isfinite(got):
            raise Problem(f"it should return one learning rate (a float), got {got!r}.")
        lowest = lrs[int(np.argmin(losses))]
        index = int(np.argmin(np.abs(lrs - got)))
        if np.isclose(got, want, rtol=1e-6):
            return _same_with_other_skips(student, f"{got:.3g}, where the loss falls fastest.")
        if np.isclose(got, lowest):
            raise Problem(
                "that is the rate of the lowest loss, which is already close to diverging; look for the "
                "steepest descent before it."
            )
        if got > lowest:
            raise Problem(
                f"it gives {got:.3g}, past the lowest point of the curve, where the loss falls only because "
                "the network collapsed. Search only up to the lowest loss."
            )
        if np.isclose(got, steepest_descent(list(lrs), list(losses), log_lr=False)):
            raise Problem(
                f"it gives {got:.3g}: the slope against the rate itself, where noise at small rates looks "
                "steep. Take the slope against log10 of the rate."
            )
        if np.isclose(got, steepest_descent(list(lrs), list(losses), skip_begin=0)) or index < 10:
            raise Problem(
                f"it gives {got:.3g}, among the first 10 points, where the smoothing has not settled: skip them."
            )
        gradient = np.gradient(losses[10:-1], x := np.log10(lrs[10:-1]))
        if np.isclose(got, lrs[10:-1][int(np.argmax(gradient[: int(np.argmin(losses[10:-1])) + 1]))]):
            raise Problem(
                f"it gives {got:.3g}, where the loss rises fastest: the steepest descent is the most negative slope."
            )
        if abs(index - int(np.argmin(np.abs(lrs - want)))) == 1 and np.isclose(got, lrs[index]):
            return _same_with_other_skips(student, f"{got:.3g}, one point from np.gradient's {want:.3g}: as good.")
        del x
        raise Problem(f"it gives {got:.3g}; the steepest descent against log10 of the rate is at {want:.3g}.")

    return check(student, reference_steepest_lr, "steepest_lr", test)


def _same_with_other_skips(student: Callable[..., Any], praise: str) -> str:
    """The rule must use the skip_begin and skip_end it is given, not the defaults written in."""
    lrs, losses = _range_test_curve()
    want = reference_steepest_lr(list(lrs), list(losses), skip_begin=55, skip_end=3)
    got = student(list(lrs), list(losses), skip_begin=55, skip_end=3)
    if not np.isclose(got, want, rtol=0.15):  # one grid point either way is fine
        raise Problem(
            f"with skip_begin=55 it still gives {got:.3g} (the right answer is {want:.3g}): use the skip_begin "
            "and skip_end it is given, not the numbers 10 and 1."
        )
    return praise


def reference_one_cycle_lr(step: int, total_steps: int, max_lr: float) -> float:
    """OneCycle's rate at `step` (0-based) of `total_steps`, as torch's OneCycleLR computes it
    with the recipe's shape: linear warm-up to max_lr, then linear annealing."""
    return _one_cycle(step, total_steps, max_lr)


def _one_cycle(
    step: int,
    total: int,
    max_lr: float,
    pct_start: float = RECIPE.pct_start,
    div_factor: float = RECIPE.div_factor,
    final_div_factor: float = RECIPE.final_div_factor,
    peak_offset: float = 1.0,
    end_offset: float = 1.0,
    cosine: bool = False,
) -> float:
    start = max_lr / div_factor
    end = start / final_div_factor
    peak_step = pct_start * total - peak_offset
    last_step = total - end_offset

    def between(a: float, b: float, fraction: float) -> float:
        if cosine:
            return b + (a - b) / 2 * (math.cos(math.pi * fraction) + 1)
        return a + (b - a) * fraction

    if peak_step > 0 and step <= peak_step:
        return between(start, max_lr, step / peak_step)
    return between(max_lr, end, (step - peak_step) / (last_step - peak_step))


def _one_cycle_mistakes(max_lr: float) -> dict[str, Callable[[int, int], float]]:
    """What the typical mistakes compute, each named by the message that explains it."""
    start = max_lr / RECIPE.div_factor
    return {
        f"the peak is the recipe's max_lr ({RECIPE.max_lr}), not the max_lr passed in ({max_lr}).": lambda s, t: (
            _one_cycle(s, t, RECIPE.max_lr)
        ),
        "it anneals along a cosine; the recipe's OneCycle is linear (anneal_strategy "
        f"'{RECIPE.anneal_strategy}'): a straight line up, a straight line down.": lambda s, t: _one_cycle(
            s, t, max_lr, cosine=True
        ),
        "the peak comes one step late: PyTorch counts steps from 0, so the warm-up ends at step "
        "pct_start * total_steps - 1.": lambda s, t: _one_cycle(s, t, max_lr, peak_offset=0),
        "the descent ends one step late: the last step is total_steps - 1, where the rate must reach its "
        "lowest value.": lambda s, t: _one_cycle(s, t, max_lr, end_offset=0),
        "the warm-up lasts 30% of the steps, PyTorch's default; the recipe's pct_start is "
        f"{RECIPE.pct_start}.": lambda s, t: _one_cycle(s, t, max_lr, pct_start=0.3),
        f"the rate starts at max_lr * div_factor ({max_lr * RECIPE.div_factor:g}); it starts at max_lr / "
        f"div_factor ({start:g}).": lambda s, t: _one_cycle(s, t, max_lr, div_factor=1 / RECIPE.div_factor),
        f"the rate ends at 0; it ends at the starting rate / final_div_factor ({start / RECIPE.final_div_factor:g}), "
        "low but not zero.": lambda s, t: _one_cycle(s, t, max_lr, final_div_factor=math.inf),
        f"the rate ends where it started ({start:g}); it goes on down, to the start / final_div_factor.": lambda s, t: (
            _one_cycle(s, t, max_lr, final_div_factor=1.0)
        ),
        "there is no warm-up: the rate starts at max_lr. It should start at max_lr / div_factor and climb.": (
            lambda s, t: _one_cycle(s, t, max_lr, pct_start=0.0, peak_offset=0)
        ),
    }


def _torch_rates(total: int, max_lr: float) -> list[float]:
    """torch's OneCycleLR with the recipe's shape, planned for exactly `total` steps: the rate at each."""
    import torch

    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=max_lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=max_lr,
        total_steps=total,
        pct_start=RECIPE.pct_start,
        anneal_strategy=RECIPE.anneal_strategy,
        div_factor=RECIPE.div_factor,
        final_div_factor=RECIPE.final_div_factor,
        cycle_momentum=False,
    )
    rates = []
    for _ in range(total):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return rates


def one_cycle_lr(student: Callable[[int, int, float], Any]) -> Callable:
    """Check `one_cycle_lr(step, total_steps, max_lr)` against torch's OneCycleLR over whole runs."""

    def test() -> str:
        max_lr = 0.3  # not the recipe's, so a function that ignores its argument shows it
        for total in (50, 37):
            want = _torch_rates(total, max_lr)
            got = [student(step, total, max_lr) for step in range(total)]
            if any(not isinstance(g, (int, float, np.floating)) or not math.isfinite(g) for g in got):
                bad = next(g for g in got if not isinstance(g, (int, float, np.floating)) or not math.isfinite(g))
                raise Problem(f"it returns {bad!r} for some step; return the rate as a number.")
            if np.allclose(got, want, rtol=1e-6, atol=1e-12):
                continue
            for message, mistake in _one_cycle_mistakes(max_lr).items():
                if np.allclose(got, [mistake(s, total) for s in range(total)], rtol=1e-6, atol=1e-12):
                    raise Problem(message)
            step = int(np.argmax(np.abs(np.subtract(got, want))))
            raise Problem(
                f"over {total} steps, step {step} gives {got[step]:.4g} where OneCycle has {want[step]:.4g}. "
                f"Warm up linearly from max_lr / {RECIPE.div_factor:g} to max_lr by step pct_start * total_steps - 1, "
                "then down linearly to the last step."
            )
        return "the same rate as torch's OneCycleLR at every step, for 50 and for 37 steps."

    return check(student, reference_one_cycle_lr, "one_cycle_lr", test)
