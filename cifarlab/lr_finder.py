"""The learning-rate range test with Lightning's tuner, made to say what happened.

The test trains for `num_training` steps while raising the rate exponentially from min_lr
to max_lr and records the (smoothed) loss. The loss first barely moves (rate too small),
then falls fast, then blows up (rate too large). Lightning suggests the rate where it falls
fastest (the steepest negative slope).

It can fail: if the loss diverges within the first few steps, the tuner stops early and
has too few points for a suggestion (the seed course's "stopped early after 5 steps due to
diverging loss", and then nothing). `find_lr` never fails silently: it returns the rate to
use and, when that is not a suggestion, the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import lightning as L
from lightning.pytorch.tuner import Tuner
from matplotlib.figure import Figure

import cifarlab.plots  # noqa: F401  (registers the PNG display of figures)

SKIP_BEGIN, SKIP_END = 10, 1  # Lightning's defaults: ignore the first and last points


@dataclass
class LRFindResult:
    """What the range test measured, and the rate chosen from it."""

    lrs: list[float]
    losses: list[float]
    suggestion: float | None  # the steepest-descent rate, None when none could be made
    lr: float  # the rate to use: the suggestion, or the fallback
    reason: str  # how `lr` was chosen, in words
    stopped_early: bool = field(default=False)

    def describe(self) -> str:
        return f"max LR {self.lr:.3g}: {self.reason}"


def find_lr(
    module: L.LightningModule,
    datamodule: L.LightningDataModule,
    fallback: float,
    min_lr: float = 1e-4,
    max_lr: float = 10.0,
    num_training: int = 100,
    accelerator: str = "auto",
    precision: str = "32-true",
    early_stop_threshold: float | None = 4.0,
) -> LRFindResult:
    """Run the range test on a separate Trainer (its steps never reach the run's history).

    The module's weights are restored afterwards (the tuner does that), and `module.lr` is
    set to the chosen rate. `fallback` is used, and the reason said, when no suggestion can
    be made.
    """
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=1,
        precision=precision,
        max_epochs=-1,  # small data sets simply loop over epochs until num_training steps
        max_steps=num_training,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        enable_progress_bar=True,
    )
    finder = Tuner(trainer).lr_find(
        module,
        datamodule=datamodule,
        min_lr=min_lr,
        max_lr=max_lr,
        num_training=num_training,
        mode="exponential",
        early_stop_threshold=early_stop_threshold,
        update_attr=False,
    )
    if finder is None:  # only when fast_dev_run is on
        module.lr = fallback
        return LRFindResult([], [], None, fallback, f"the range test did not run; using the fallback {fallback:.3g}.")
    lrs, losses = list(finder.results["lr"]), list(finder.results["loss"])
    stopped_early = len(lrs) < num_training
    suggestion = finder.suggestion(skip_begin=SKIP_BEGIN, skip_end=SKIP_END) if len(lrs) > SKIP_BEGIN + SKIP_END + 1 else None
    if suggestion is not None and math.isfinite(suggestion):
        lr, reason = suggestion, f"the steepest descent of the loss in {len(lrs)} steps ({min_lr:g} to {max_lr:g})."
    else:
        suggestion = None
        if stopped_early:
            where = f" (lr {lrs[-1]:.3g})" if lrs else ""
            why = (
                f"the loss diverged (passed {early_stop_threshold}x its best) after {len(lrs)} of {num_training} "
                f"steps{where}, too few points for a suggestion. Lower min_lr and max_lr, or pass "
                "early_stop_threshold=None"
            )
        else:
            why = f"only {len(lrs)} finite points, too few for a suggestion. Raise num_training"
        lr, reason = fallback, f"no suggestion: {why}. Using the fallback {fallback:.3g}."
    module.lr = lr
    return LRFindResult(lrs, losses, suggestion, lr, reason, stopped_early)


def lr_find_figure(result: LRFindResult, title: str = "learning-rate range test") -> Figure:
    """Loss against learning rate (log scale), with the suggestion or the fallback marked."""
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.plot(result.lrs, result.losses, label="smoothed training loss")
    ax.set_xscale("log")
    ax.set(xlabel="learning rate", ylabel="loss", title=title)
    if result.suggestion is not None:
        index = min(range(len(result.lrs)), key=lambda i: abs(result.lrs[i] - result.suggestion))
        ax.plot(result.lrs[index], result.losses[index], "o", color="red", markersize=9, label=f"suggestion {result.suggestion:.3g}")
    else:
        ax.axvline(result.lr, color="grey", linestyle="--", label=f"fallback {result.lr:.3g} (no suggestion)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig
