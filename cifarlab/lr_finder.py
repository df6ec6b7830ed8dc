"""The learning-rate range test with Lightning's tuner, made to say what happened.

The test trains for `num_training` steps while raising the rate exponentially from start_lr
to end_lr and records the loss. The loss first barely moves (rate too small), then falls
fast, then blows up (rate too large). The suggestion is the rate where the smoothed loss
falls fastest against the *logarithm* of the rate, before the curve's lowest point: the
steepest descent on the plot as it is drawn (as fastai measures it). Lightning's own rule
takes the slope against the rate itself; the rates grow exponentially, so at the small end
a step in rate is tiny, any noise in the flat part of the curve looks steep, and it often
suggests a rate from the flat part.

Lightning's tuner runs the sweep. We record the raw loss of every step ourselves and smooth
it again, because Lightning's smoothed curve is biased low at the start: its bias correction
divides by 1 - beta**(step + 1) after the optimizer step has already counted the step, so
the first point is about half the true loss and the curve *rises* over the first tens of
steps (Lightning issue #14167 is about the same artefact). In a short test that rise hides
the real shape and misplaces the suggestion.

It can fail: if the loss diverges within the first few steps, the tuner stops early and
has too few points for a suggestion (the seed course's "stopped early after 5 steps due to
diverging loss", and then nothing). `find_lr` never fails silently: it returns the rate to
use and, when that is not a suggestion, the reason.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import numpy as np
from lightning.pytorch.tuner import Tuner
from matplotlib.figure import Figure

from cifarlab.logs import quiet_lightning

SKIP_BEGIN, SKIP_END = 10, 1  # Lightning's defaults: ignore the first and last points
BETA = 0.9  # smoothing: an average over roughly the last 10 steps, short enough for 24-100 step tests


def smooth(losses: Sequence[float], beta: float = BETA) -> list[float]:
    """Exponential moving average with bias correction, so the first value is the first loss."""
    average, out = 0.0, []
    for step, loss in enumerate(losses, start=1):
        average = beta * average + (1 - beta) * loss
        out.append(average / (1 - beta**step))
    return out


def steepest_descent(
    lrs: Sequence[float],
    losses: Sequence[float],
    skip_begin: int = SKIP_BEGIN,
    skip_end: int = SKIP_END,
    log_lr: bool = True,
) -> float | None:
    """The rate where the loss falls fastest against log10(rate), before the loss's lowest point.

    log_lr=False takes the slope against the rate itself, as Lightning does (for comparison).

    Only the part of the curve up to its minimum counts: past it the rate is too large, and a
    network that has blown up can show a falling loss again as it collapses to guessing,
    which is no progress at all. None when too few points are left.
    """
    lr = np.asarray(lrs[skip_begin : len(lrs) - skip_end], dtype=np.float64)
    loss = np.asarray(losses[skip_begin : len(losses) - skip_end], dtype=np.float64)
    keep = np.isfinite(loss)
    lr, loss = lr[keep], loss[keep]
    if len(lr) < 2:
        return None
    lowest = int(np.argmin(loss))
    lr, loss = lr[: lowest + 1], loss[: lowest + 1]
    if len(lr) < 2:
        return None
    return float(lr[np.argmin(np.gradient(loss, np.log10(lr) if log_lr else lr))])


@contextmanager
def _recording_losses(module: L.LightningModule) -> Iterator[list[float]]:
    """Record the unsmoothed loss of every training step of `module`.

    (The tuner replaces all of its Trainer's callbacks with its own for the sweep, so a
    callback cannot do this; we wrap the module's training_step for the duration.)
    """
    losses: list[float] = []
    step = module.training_step

    def recording_step(*args: Any, **kwargs: Any) -> Any:
        out = step(*args, **kwargs)
        loss = out.get("loss") if isinstance(out, dict) else out
        losses.append(float(loss.detach()) if loss is not None else math.nan)
        return out

    module.training_step = recording_step
    try:
        yield losses
    finally:
        del module.training_step  # the class's method shows through again


@dataclass
class LRFindResult:
    """What the range test measured, and the rate chosen from it."""

    lrs: list[float]
    losses: list[float]  # smoothed
    suggestion: float | None  # the steepest-descent rate, None when none could be made
    max_lr: float  # the peak rate to train with: the suggestion, or the fallback
    reason: str  # how `max_lr` was chosen, in words
    stopped_early: bool = field(default=False)
    raw_losses: list[float] = field(default_factory=list)

    def describe(self) -> str:
        return f"max LR {self.max_lr:.3g}: {self.reason}"


def find_lr(
    module: L.LightningModule,
    datamodule: L.LightningDataModule,
    fallback: float,
    start_lr: float = 1e-4,
    end_lr: float = 10.0,
    num_training: int = 100,
    accelerator: str = "auto",
    precision: str = "32-true",
    early_stop_threshold: float | None = 4.0,
) -> LRFindResult:
    """Sweep the rate from start_lr to end_lr over `num_training` steps and choose OneCycle's peak.

    The sweep runs on a separate Trainer (its steps never reach the run's history); the
    module's weights are restored afterwards (the tuner does that), and `module.max_lr` is
    set to the chosen rate. `fallback` is used, and the reason said, when no suggestion can
    be made.
    """
    lrs, raw = _sweep(module, datamodule, start_lr, end_lr, num_training, accelerator, precision, early_stop_threshold)
    losses = smooth(raw)
    suggestion = steepest_descent(lrs, losses)
    if suggestion is not None:
        chosen, reason = (
            suggestion,
            f"the steepest descent of the loss in {len(lrs)} steps ({start_lr:g} to {end_lr:g}).",
        )
    else:
        why = _why_no_suggestion(lrs, losses, num_training, early_stop_threshold)
        chosen, reason = fallback, f"no suggestion: {why}. Using the fallback {fallback:.3g}."
    module.max_lr = chosen
    return LRFindResult(lrs, losses, suggestion, chosen, reason, len(lrs) < num_training, raw)


SWEEP_ADVICE = (
    "Give the peak rate yourself (max_lr, `cifarlab train --max-lr`), or sweep longer (find_lr's num_training; "
    "`cifarlab train --lr-find` sweeps the profile's lr_find_steps: 24 in smoke, 60 in cpu, 100 in full)"
)


def _why_no_suggestion(
    lrs: Sequence[float], losses: Sequence[float], num_training: int, early_stop_threshold: float | None
) -> str:
    """What kept `steepest_descent` from choosing a rate, and what the user can do about it."""
    if len(lrs) < num_training:
        where = f" (lr {lrs[-1]:.3g})" if lrs else ""
        return (
            f"the loss diverged (passed {early_stop_threshold}x its best) after {len(lrs)} of {num_training} "
            f"steps{where}, too few points for a suggestion. Lower start_lr and end_lr, or pass "
            "early_stop_threshold=None"
        )
    kept = [(lr, loss) for lr, loss in list(zip(lrs, losses))[SKIP_BEGIN : len(lrs) - SKIP_END] if math.isfinite(loss)]
    if len(kept) < 2:
        return (
            f"only {len(kept)} finite point(s) of {len(lrs)} are left after skipping the first {SKIP_BEGIN} and the "
            f"last {SKIP_END}, too few for a suggestion. {SWEEP_ADVICE}"
        )
    # steepest_descent found the lowest point at the start of what it looks at: nothing falls before it
    first_lr, first_loss = kept[0]
    return (
        f"the smoothed loss never fell below {first_loss:.3g}, its value at step {SKIP_BEGIN + 1} (lr "
        f"{first_lr:.3g}), in the {len(lrs)} steps of the sweep: there is no descent to measure. In a sweep this "
        f"short the rate grows by {(lrs[-1] / lrs[0]) ** (1 / max(1, len(lrs) - 1)):.2f}x a step, too fast for "
        f"the loss to start falling before the rate is too large. {SWEEP_ADVICE}"
    )


def _sweep(
    module: L.LightningModule,
    datamodule: L.LightningDataModule,
    start_lr: float,
    end_lr: float,
    num_training: int,
    accelerator: str,
    precision: str,
    early_stop_threshold: float | None,
) -> tuple[list[float], list[float]]:
    """Lightning's range test: the rate and the unsmoothed loss of each step it ran."""
    quiet_lightning()
    with tempfile.TemporaryDirectory() as scratch:  # the tuner saves and restores the weights there
        trainer = L.Trainer(
            default_root_dir=scratch,
            accelerator=accelerator,
            devices=1,
            precision=precision,
            max_epochs=-1,  # small data sets simply loop over epochs until num_training steps
            max_steps=num_training,
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
        )
        with _recording_losses(module) as raw_losses:
            finder = Tuner(trainer).lr_find(
                module,
                datamodule=datamodule,
                min_lr=start_lr,
                max_lr=end_lr,
                num_training=num_training,
                mode="exponential",
                early_stop_threshold=early_stop_threshold,
                update_attr=False,
            )
    assert finder is not None  # the tuner returns None only under fast_dev_run
    count = min(len(finder.results["lr"]), len(raw_losses))
    return list(finder.results["lr"])[:count], raw_losses[:count]


def lr_find_figure(result: LRFindResult, title: str = "learning-rate range test") -> Figure:
    """Loss against learning rate (log scale), with the suggestion or the fallback marked."""
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.subplots()
    if result.raw_losses:
        ax.plot(result.lrs, result.raw_losses, color="tab:blue", alpha=0.25, linewidth=0.8, label="loss of each step")
    ax.plot(result.lrs, result.losses, color="tab:blue", label="smoothed")
    ax.set_xscale("log")
    ax.set(xlabel="learning rate", ylabel="loss", title=title)
    if result.suggestion is not None:
        index = min(range(len(result.lrs)), key=lambda i: abs(result.lrs[i] - result.suggestion))
        ax.plot(
            result.lrs[index],
            result.losses[index],
            "o",
            color="red",
            markersize=9,
            label=f"suggestion {result.suggestion:.3g}",
        )
    else:
        ax.axvline(result.max_lr, color="grey", linestyle="--", label=f"fallback {result.max_lr:.3g} (no suggestion)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig
