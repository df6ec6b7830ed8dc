"""The OneCycle learning-rate schedule: built for a number of batches, and drawn for lesson 05.

OneCycle (Leslie Smith) warms the rate up from max_lr/div_factor to max_lr over the first
pct_start of training, then anneals it down to far below where it started. The warm-up
lets a freshly initialised network settle before big steps; the high middle explores; the
long low tail settles into a minimum. It is stepped after every batch, not every epoch.
PyTorch's OneCycleLR also cycles momentum against the rate unless told not to; the recipe
keeps SGD's momentum constant, as Page did.
"""

from __future__ import annotations

import math

import torch
from matplotlib.figure import Figure

from cifarlab.recipe import RECIPE


def one_cycle(
    optimizer: torch.optim.Optimizer,
    max_lr: float,
    steps: int,
    pct_start: float = RECIPE.pct_start,
    div_factor: float = RECIPE.div_factor,
    final_div_factor: float = RECIPE.final_div_factor,
    cycle_momentum: bool = RECIPE.cycle_momentum,
) -> torch.optim.lr_scheduler.OneCycleLR:
    """The recipe's OneCycle schedule for `steps` optimizer steps (one per batch).

    cycle_momentum=False (the recipe) leaves the optimizer's momentum alone. PyTorch's default,
    True, silently replaces it with a 0.95 -> 0.85 -> 0.95 cycle whatever momentum SGD was given.
    """
    # +1: the scheduler is stepped after each of the `steps` batches, and OneCycle's last
    # point is where it ends up (with exactly `steps` it would extrapolate to a negative
    # rate). At least 2/pct_start points, so a tiny run still has a warm-up of two steps
    # (fewer makes PyTorch divide by zero).
    total = max(steps + 1, math.ceil(2 / pct_start) + 1)
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=max_lr,
        total_steps=total,
        pct_start=pct_start,
        anneal_strategy=RECIPE.anneal_strategy,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
        cycle_momentum=cycle_momentum,
        base_momentum=RECIPE.base_momentum,
        max_momentum=RECIPE.max_momentum,
    )


def schedule_curve(
    steps: int,
    max_lr: float,
    pct_start: float = RECIPE.pct_start,
    div_factor: float = RECIPE.div_factor,
    final_div_factor: float = RECIPE.final_div_factor,
) -> tuple[list[float], list[float]]:
    """The rate and momentum at each of `steps` batches (a dummy optimizer, nothing trains)."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=max_lr, momentum=RECIPE.momentum)
    schedule = one_cycle(optimizer, max_lr, steps, pct_start, div_factor, final_div_factor)
    rates, momenta = [], []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        momenta.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        schedule.step()
    return rates, momenta


def schedule_figure(
    steps: int,
    max_lr: float,
    pct_start: float = RECIPE.pct_start,
    div_factor: float = RECIPE.div_factor,
    final_div_factor: float = RECIPE.final_div_factor,
    steps_per_epoch: int | None = None,
) -> Figure:
    """The learning rate (and momentum) over a run; epochs on the x axis if steps_per_epoch is given."""
    rates, momenta = schedule_curve(steps, max_lr, pct_start, div_factor, final_div_factor)
    scale = steps_per_epoch or 1
    x = [i / scale for i in range(steps)]
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    lr_ax = fig.subplots()
    lr_ax.plot(x, rates, color="tab:blue")
    start, end = max_lr / div_factor, max_lr / div_factor / final_div_factor
    title = f"OneCycle: peak {max_lr:g} at {pct_start:.0%}, start {start:.2g}, end {end:.2g}"
    lr_ax.set(xlabel="epoch" if steps_per_epoch else "step", ylabel="learning rate", title=title)
    m_ax = lr_ax.twinx()
    m_ax.plot(x, momenta, color="tab:orange", alpha=0.6)
    m_ax.set_ylabel("momentum", color="tab:orange")
    lr_ax.grid(alpha=0.3)
    return fig
