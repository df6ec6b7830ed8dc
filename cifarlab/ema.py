"""An exponential moving average (EMA) of the weights, kept beside the ones being trained.

SGD's weights jitter around the valley they are settling into; an average of the last few
hundred steps sits nearer its floor than a typical single step does. The EMA is updated after
every optimizer step, `ema = decay * ema + (1 - decay) * weights`, with BatchNorm's running
statistics averaged the same way (and its integer count of batches copied), and it is what
validation, the checkpoints (and so `best.ckpt`, evaluation and export) see; the trained weights
go on unchanged beneath it.
Page's "bag of tricks" evaluates one; airbench uses a close relative, Lookahead, which copies
the average back into the weights every few steps.

Lightning's `WeightAveraging` callback does the bookkeeping (swapping the average in for
validation, saving both in checkpoints, restoring both on resume). This class only chooses
the decay from the length of the run: the average remembers about `horizon` of its steps,
so a 117-step CPU run and a 2,100-step GPU run both average over their own last stretch.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from lightning.pytorch.trainer.states import TrainerFn
from matplotlib.figure import Figure

from cifarlab.errors import OptionError
from cifarlab.recipe import RECIPE

try:  # Lightning 2.6 and later
    from lightning.pytorch.callbacks import WeightAveraging
except ImportError:  # pragma: no cover - depends on the installed Lightning
    WeightAveraging = None


def ema_decay(steps: int, horizon: float = RECIPE.ema_horizon) -> float:
    """The per-step decay whose memory, 1 / (1 - decay) steps, is `horizon` of a `steps`-step run."""
    if not 0 < horizon <= 1:
        raise OptionError(f"ema_horizon must be > 0 and <= 1 (a fraction of the run's steps), got {horizon!r}.")
    return 1.0 - 1.0 / max(1.0, horizon * steps)


def ema_callback(horizon: float = RECIPE.ema_horizon) -> L.Callback:
    """The EMA as a Lightning callback for `Trainer(callbacks=[...])`."""
    if WeightAveraging is None:
        raise OptionError(
            f"EMA needs Lightning's WeightAveraging callback (Lightning 2.6 or later; this is {L.__version__}): "
            "`pip install -U lightning`, or train without --ema."
        )
    return _RunLengthEMA(horizon)


if WeightAveraging is not None:

    class _RunLengthEMA(WeightAveraging):
        """Lightning's WeightAveraging with an EMA whose decay is set from the run's length."""

        def __init__(self, horizon: float) -> None:
            ema_decay(1, horizon)  # checks the horizon before any work
            super().__init__(use_buffers=True, avg_fn=self._average)
            self.horizon = horizon
            self.decay = 0.0

        def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
            if stage == "fit":
                self.decay = ema_decay(int(trainer.estimated_stepping_batches), self.horizon)
            super().setup(trainer, pl_module, stage)

        def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
            # Testing or validating a checkpoint: its weights already are the average. (Lightning's
            # own hook would load the trained weights from current_model_state over them, and the
            # test would score those.) A resumed fit restores both, as Lightning does.
            if trainer.state.fn == TrainerFn.FITTING:
                super().on_load_checkpoint(trainer, pl_module, checkpoint)

        def _average(self, averaged: torch.Tensor, current: torch.Tensor, num_averaged: Any) -> torch.Tensor:
            if not averaged.is_floating_point():  # BatchNorm's num_batches_tracked: a count, copied
                return current
            return self.decay * averaged + (1.0 - self.decay) * current


def noisy_valley_figure(
    update: Callable[[torch.nn.Module, torch.nn.Module, float], None], decay: float = 0.9, steps: int = 200
) -> Figure:
    """Why an average of the weights sits nearer the floor than the weights do, in a picture.

    decay: the EMA's, in [0, 1); steps: SGD steps, at least 2.

    Two weights descend a valley whose floor is at (1, 1), steep across and shallow along it,
    by SGD on noisy gradients (as minibatches give); `update(average, model, decay)` keeps
    their EMA after every step. The title gives the mean distance of each to the floor over
    the second half of the run, where the weights only jitter.
    """
    if not 0 <= decay < 1:
        raise OptionError(f"decay={decay!r}: give the EMA's decay, at least 0 and below 1 (e.g. 0.9).")
    if not isinstance(steps, int) or steps < 2:
        raise OptionError(f"steps={steps!r}: give a whole number of SGD steps, at least 2.")
    generator = torch.Generator().manual_seed(0)
    point = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        point.weight.copy_(torch.tensor([[-2.0, 3.0]]))
    average = copy.deepcopy(point)
    optimizer = torch.optim.SGD(point.parameters(), lr=0.3)
    floor, steepness = torch.tensor([[1.0, 1.0]]), torch.tensor([[1.0, 0.1]])
    weights, averaged = [], []
    for _ in range(steps):
        optimizer.zero_grad()
        noise = torch.randn(1, 2, generator=generator)  # a minibatch's gradient differs from the true one
        loss = (steepness * (point.weight - floor) ** 2).sum() + (noise * point.weight).sum()
        loss.backward()
        optimizer.step()
        update(average, point, decay)
        weights.append(point.weight.detach().flatten().tolist())
        averaged.append(average.weight.detach().flatten().tolist())
    w, a = torch.tensor(weights), torch.tensor(averaged)
    late = slice(steps // 2, None)
    far_w, far_a = ((t[late] - floor).norm(dim=1).mean().item() for t in (w, a))
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.subplots()
    ax.plot(w[:, 0], w[:, 1], ".-", color="tab:gray", alpha=0.5, lw=0.8, ms=3, label="the weights (SGD)")
    ax.plot(a[:, 0], a[:, 1], "-", color="tab:green", lw=2, label=f"their EMA, decay {decay:g}")
    ax.plot(*floor[0].tolist(), "r*", ms=14, label="the valley's floor")
    ax.set(xlabel="weight 1 (steep direction)", ylabel="weight 2 (shallow direction)")
    ax.set_title(
        f"last {steps - steps // 2} steps, mean distance to the floor: weights {far_w:.2f}, EMA {far_a:.2f}",
        fontsize=10,
    )
    ax.legend(loc="upper right", fontsize=8)
    return fig
