"""What the self-checks share to set up their cases: batches of chosen sizes, labels a model gets
half right, a trace of what code does to a model, and the name of the batch-axis mistake.

A check exposes a mistake by the state it starts from and the inputs it chooses: batches of
unequal size (a mean of per-batch means then differs from the mean per image), labels that the
model gets about half right (a count, a percentage or an error rate then cannot match the
accuracy by accident), and hooks that record each forward pass's mode and each backward pass
and optimizer step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from cifarlab.recipe import RECIPE
from cifarlab.selfcheck._core import SIZE, Problem


def random_batches(sizes: Sequence[int], seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Random images and labels on the CPU, one batch per size, as a DataLoader hands them out
    (the model may be elsewhere)."""
    generator = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randn(n, 3, SIZE, SIZE, generator=generator),
            torch.randint(0, RECIPE.num_classes, (n,), generator=generator),
        )
        for n in sizes
    ]


def half_right(
    model: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], device: Any = "cpu"
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The same images, labelled so that the model (in eval mode) gets every other one right."""
    model.eval()
    relabelled, seen = [], 0
    with torch.no_grad():
        for x, y in batches:
            predicted = model(x.to(device)).argmax(1).cpu()
            keep = (torch.arange(len(y)) + seen) % 2 == 0
            relabelled.append((x, torch.where(keep, predicted, (predicted + 1) % RECIPE.num_classes)))
            seen += len(y)
    return relabelled


@contextlib.contextmanager
def naming_the_batch_axis() -> Iterator[None]:
    """Predictions compared with labels of another size: the argmax ran along the batch axis."""
    try:
        yield
    except RuntimeError as error:
        if "must match the size of tensor" not in str(error):
            raise
        raise Problem(
            "comparing the predictions with the labels failed on their sizes: the predicted class was taken "
            "along the batch axis (dimension 0). The class scores run along dimension 1."
        ) from None


class Trace:
    """Records what a loop does to a model, its optimizer and its schedule, in order."""

    def __init__(self, model: torch.nn.Module, optimizer: Any = None, schedule: Any = None) -> None:
        self.events: list[str] = []
        self.forward_modes: list[tuple[bool, bool]] = []  # (model.training, gradients enabled) per forward
        self.stale: list[bool] = []  # per backward pass: were the last batch's gradients still there?
        self.empty_steps: list[bool] = []  # per optimizer step: were the gradients gone?
        model.register_forward_hook(self._on_forward)
        self.first = next(model.parameters())
        self.first.register_hook(self._on_backward)  # runs before the new gradient is added to .grad
        if optimizer is not None:
            optimizer.register_step_pre_hook(self._on_step)
        if schedule is not None:
            schedule_step = schedule.step

            def traced_schedule_step(*args: Any, **kwargs: Any) -> None:
                self.events.append("schedule")
                schedule_step(*args, **kwargs)

            schedule.step = traced_schedule_step

    def _has_gradient(self) -> bool:
        grad = self.first.grad
        return grad is not None and bool(grad.abs().sum() > 0)

    def _on_forward(self, module: torch.nn.Module, _inputs: Any, _output: Any) -> None:
        self.events.append("forward")
        self.forward_modes.append((module.training, torch.is_grad_enabled()))

    def _on_backward(self, grad: torch.Tensor) -> torch.Tensor:
        self.events.append("backward")
        self.stale.append(self._has_gradient())
        return grad

    def _on_step(self, *_: Any) -> None:
        self.events.append("step")
        self.empty_steps.append(not self._has_gradient())

    def count(self, event: str) -> int:
        return self.events.count(event)

    def per_batch(self) -> list[list[str]]:
        """The events split at each forward pass (the start of a batch)."""
        batches: list[list[str]] = []
        for event in self.events:
            if event == "forward" or not batches:
                batches.append([])
            batches[-1].append(event)
        return batches
