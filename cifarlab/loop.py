"""The plain PyTorch training loop of lesson 03: everything Lightning later does for us, by hand.

One epoch is: for each batch, move it to the device, compute the loss, zero the old
gradients, backpropagate, step the optimizer, step the (per-batch) schedule. Evaluation is
the same forward pass in eval mode (BatchNorm uses its running statistics) without gradients.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sized
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cifarlab.progress import progress
from cifarlab.recipe import RECIPE
from cifarlab.schedule import one_cycle


class Limited:
    """At most `n` batches of a loader per pass (all of them for n=None), with a len()."""

    def __init__(self, batches: Iterable, n: int | None) -> None:
        self.batches, self.n = batches, n

    def __iter__(self) -> Iterator:
        return itertools.islice(iter(self.batches), self.n)

    def __len__(self) -> int:
        total = len(self.batches) if isinstance(self.batches, Sized) else self.n
        return total if self.n is None else min(self.n, total)


def train_epoch(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler | None = None,
    device: str | torch.device | None = None,
    label_smoothing: float = 0.0,
    description: str = "train",
) -> dict[str, Any]:
    """One pass over `batches`, with a progress bar; returns the mean loss, the accuracy and each
    batch's loss (`batch_losses`).

    The batches go to `device`, by default the device the model is on.
    """
    device = device or next(model.parameters()).device
    model.train()
    total_loss, correct, seen, batch_losses = 0.0, 0, 0, []
    bar = progress(batches, desc=description)
    for x, y in bar:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()  # OneCycle moves the rate after every batch, not every epoch
        batch_losses.append(loss.item())
        total_loss += batch_losses[-1] * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
        bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.1%}")
    return {"loss": total_loss / seen, "acc": correct / seen, "batch_losses": batch_losses}


@torch.no_grad()
def evaluate_batches(
    model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], device: str | torch.device | None = None
) -> dict[str, float]:
    """Mean cross-entropy and accuracy over `batches`, in eval mode (on the model's device by default)."""
    device = device or next(model.parameters()).device
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    for x, y in batches:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
    return {"loss": total_loss / seen, "acc": correct / seen}


def fit(
    model: nn.Module,
    train_batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    val_batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    epochs: int,
    max_lr: float = RECIPE.max_lr,
    weight_decay: float = RECIPE.weight_decay,
    label_smoothing: float = RECIPE.label_smoothing,
    device: str | torch.device = "cpu",
) -> list[dict[str, float]]:
    """Train with SGD (Nesterov) and OneCycle for `epochs`; one history row per epoch."""
    model.to(device)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=max_lr, momentum=RECIPE.momentum, nesterov=RECIPE.nesterov, weight_decay=weight_decay
    )
    steps = epochs * len(train_batches)
    schedule = one_cycle(optimizer, max_lr, steps)
    history = []
    for epoch in range(1, epochs + 1):
        train = train_epoch(
            model, train_batches, optimizer, schedule, device, label_smoothing, f"epoch {epoch}/{epochs}"
        )
        val = evaluate_batches(model, val_batches, device)
        history.append(
            {
                "epoch": epoch,
                "train_loss": train["loss"],
                "train_acc": train["acc"],
                "val_loss": val["loss"],
                "val_acc": val["acc"],
            }
        )
        print(
            f"epoch {epoch}: train loss {train['loss']:.3f} acc {train['acc']:.1%} | val loss "
            f"{val['loss']:.3f} acc {val['acc']:.1%}"
        )
    return history
