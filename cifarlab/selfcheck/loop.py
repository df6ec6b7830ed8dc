"""Lesson 03's self-checks: one epoch of training, and evaluation, written by hand.

Both checks *trace* the student's loop: hooks record every forward pass (in which mode,
with or without gradients), every `zero_grad`, backward pass, optimizer step and schedule
step. The order of those events names most mistakes directly (a missing `model.train()`,
`zero_grad` after `backward`, a schedule stepped once per epoch); the returned numbers,
compared with exact values on batches of unequal size, name the rest (a mean over batches
instead of over images).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from cifarlab.recipe import RECIPE
from cifarlab.selfcheck._cases import Trace, half_right, naming_the_batch_axis, random_batches
from cifarlab.selfcheck._core import Problem, check

BATCH_SIZES = (8, 8, 3)  # unequal on purpose: a mean of per-batch means is then not the mean per image
TINY_WIDTHS = (4, 8, 8, 8)  # a small ResNet9: the check runs in well under a second


def reference_train_one_epoch(model: Any, batches: Any, optimizer: Any, schedule: Any) -> float:
    """One epoch of cifarlab's plain loop; returns the mean training loss per image."""
    from cifarlab.loop import train_epoch

    return train_epoch(model, batches, optimizer, schedule)["loss"]


def reference_evaluate(model: Any, batches: Any) -> tuple[float, float]:
    """(mean loss per image, accuracy) in eval mode without gradients: cifarlab's version."""
    from cifarlab.loop import evaluate_batches

    result = evaluate_batches(model, batches)
    return result["loss"], result["acc"]


def _setup(device: str | torch.device, seed: int = 1) -> tuple[torch.nn.Module, Any, Any]:
    from cifarlab.model import ResNet9
    from cifarlab.schedule import one_cycle

    torch.manual_seed(seed)
    model = ResNet9(widths=TINY_WIDTHS).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=RECIPE.momentum, nesterov=RECIPE.nesterov)
    return model, optimizer, one_cycle(optimizer, 0.1, 3 * len(BATCH_SIZES))


def _as_number(value: Any, what: str) -> float:
    if value is None:
        raise Problem(f"it returns nothing; return the {what}.")
    if isinstance(value, torch.Tensor):
        if value.requires_grad:
            raise Problem(
                f"it returns the {what} as a tensor still attached to the gradient graph, which keeps every "
                "batch's graph in memory: add up plain numbers, loss.item()."
            )
        if value.numel() != 1:
            raise Problem(f"it returns a tensor of shape {tuple(value.shape)}; return one number, the {what}.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise Problem(f"it returns {type(value).__name__}; return one number, the {what}.") from None


def _check_training_order(trace: Trace, batches: int) -> None:
    """Name the first thing the traced epoch did out of order, or not at all."""
    if trace.count("forward") != batches:
        raise Problem(f"the model ran {trace.count('forward')} forward passes for {batches} batches: one per batch.")
    if any(not training for training, _ in trace.forward_modes):
        raise Problem(
            "the model ran in eval mode: the cell before left it there (evaluation calls model.eval()), and "
            "nothing switched it back. Put the model in training mode at the start of the epoch."
        )
    if trace.count("backward") == 0:
        raise Problem("no gradient was computed: call backward() on the loss for every batch.")
    if trace.count("step") == 0:
        raise Problem("the optimizer never stepped, so no weight changed: call optimizer.step() for every batch.")
    for events in trace.per_batch():
        order = [e for e in events if e in ("backward", "step")]
        if "step" in order and "backward" in order and order.index("step") < order.index("backward"):
            raise Problem("optimizer.step() comes before backward(): it steps with the previous batch's gradients.")
    if any(trace.empty_steps):
        raise Problem(
            "when the optimizer stepped, the gradients were gone: zero_grad() comes between backward() and "
            "step(), so it wipes the gradients just computed. Clear them before backward()."
        )
    later = trace.stale[1:]  # the first batch starts from a model that has no gradients yet
    if later and all(later):
        raise Problem(
            "the gradients are never cleared: PyTorch adds each backward pass's gradients to the old ones, so "
            "every step would carry all the previous batches' gradients. Clear them once per batch "
            "(optimizer.zero_grad())."
        )
    if any(later):
        raise Problem("the gradients are not cleared in every batch: some steps carry the previous batch's.")
    steps = trace.count("schedule")
    if steps == 0:
        raise Problem("the learning rate never moved: step the schedule after every optimizer step.")
    if steps < batches:
        raise Problem(
            f"the schedule stepped {steps} time(s) in an epoch of {batches} batches: OneCycle is planned per "
            "batch, so step it after every optimizer step, inside the loop."
        )
    if steps > batches:
        raise Problem(f"the schedule stepped {steps} times for {batches} batches: once per batch.")
    for events in trace.per_batch():
        ordered = [e for e in events if e in ("step", "schedule")]
        if ordered and ordered[0] == "schedule":
            raise Problem("the schedule steps before the optimizer: step the optimizer first, then the schedule.")


def train_one_epoch(student: Callable[..., Any], device: str | torch.device = "cpu") -> Callable:
    """Check `train_one_epoch(model, batches, optimizer, schedule) -> mean loss per image`, on `device`
    with batches on the CPU, starting from a model left in eval mode."""

    def test() -> str:
        batches = random_batches(BATCH_SIZES, 0)
        model, optimizer, schedule = _setup(device)
        model.eval()  # as the previous cell's evaluation leaves it
        trace = Trace(model, optimizer, schedule)
        returned = student(model, batches, optimizer, schedule)
        _check_training_order(trace, len(batches))
        loss = _as_number(returned, "mean loss of the epoch")

        ref_model, ref_optimizer, ref_schedule = _setup(device)
        from cifarlab.loop import train_epoch

        losses = train_epoch(ref_model, batches, ref_optimizer, ref_schedule, device)["batch_losses"]
        same = all(
            torch.allclose(a, b, atol=1e-5)
            for a, b in zip(model.state_dict().values(), ref_model.state_dict().values())
        )
        if not same:
            raise Problem(
                "the steps run in the right order, yet the weights differ from the reference after the epoch, "
                "so something changes the gradients. The loss here is plain cross-entropy of the logits and the "
                "labels with its defaults: a mean over the batch, no label smoothing, no softmax before it; and "
                "nothing else touches the gradients (no clipping)."
            )
        _check_mean_loss(loss, losses)
        return f"same weights as the reference after an epoch, and the mean loss per image {loss:.4f}."

    return check(student, reference_train_one_epoch, "train_one_epoch", test)


def _check_mean_loss(loss: float, losses: list[float]) -> None:
    """Name how a returned epoch loss differs from the mean per image of per-batch `losses`."""
    sizes = BATCH_SIZES
    exact = sum(v * n for v, n in zip(losses, sizes)) / sum(sizes)
    if math.isclose(loss, exact, rel_tol=1e-4):
        return
    if math.isclose(loss, sum(losses) / len(losses), rel_tol=1e-4):
        raise Problem(
            f"it returns the mean of the per-batch losses ({loss:.4f}); the last batch is smaller, so that "
            f"weighs its images more. Weight each batch's loss by its number of images: {exact:.4f}."
        )
    if math.isclose(loss, losses[-1], rel_tol=1e-4):
        raise Problem("it returns the last batch's loss; return the mean over the whole epoch.")
    if math.isclose(loss, sum(losses), rel_tol=1e-4) or math.isclose(
        loss, sum(v * n for v, n in zip(losses, sizes)), rel_tol=1e-4
    ):
        raise Problem("it returns a sum of losses; divide by the number of images to get the mean.")
    raise Problem(f"it returns {loss:.4f}; the mean loss per image of this epoch is {exact:.4f}.")


def evaluate(student: Callable[..., Any], device: str | torch.device = "cpu") -> Callable:
    """Check `evaluate(model, batches) -> (mean loss per image, accuracy in 0..1)`, on `device`,
    starting from a model left in training mode."""

    def test() -> str:
        from cifarlab.model import ResNet9

        torch.manual_seed(3)
        model = ResNet9(widths=TINY_WIDTHS).to(device)
        _give_running_statistics(model, device)
        batches = half_right(model, random_batches(BATCH_SIZES, 2), device)
        model.train()  # as training leaves it: BatchNorm would use each batch's own statistics
        before = {k: v.clone() for k, v in model.state_dict().items()}
        trace = Trace(model)
        with naming_the_batch_axis():
            returned = student(model, batches)
        if not isinstance(returned, (tuple, list)) or len(returned) != 2:
            raise Problem(f"it returns {type(returned).__name__}; return a pair (mean loss, accuracy).")
        if any(training for training, _ in trace.forward_modes):
            raise Problem(
                "the model ran in training mode: BatchNorm then normalises with each batch's own statistics "
                "(and updates its running averages), so the result depends on the batch. Switch to eval mode first."
            )
        if any(grad for _, grad in trace.forward_modes):
            raise Problem(
                "the forward passes recorded gradients: evaluation needs none, and they cost memory and time. "
                "Run them under torch.no_grad()."
            )
        if any(not torch.equal(before[k], v) for k, v in model.state_dict().items()):
            raise Problem("evaluation changed the model's weights or statistics; it must only measure.")
        loss = _as_number(returned[0], "mean loss")
        accuracy = _as_number(returned[1], "accuracy")
        _check_evaluation_numbers(model, batches, device, loss, accuracy)
        return f"eval mode, no gradients, loss {loss:.4f} and accuracy {accuracy:.1%} per image."

    return check(student, reference_evaluate, "evaluate", test)


def _give_running_statistics(model: torch.nn.Module, device: Any) -> None:
    """Running statistics far from any one batch's, so eval and train mode give different outputs."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.fill_(0.5)
            module.running_var.fill_(4.0)


def _check_evaluation_numbers(model: Any, batches: Any, device: Any, loss: float, accuracy: float) -> None:
    model.eval()
    losses, hits, sizes = [], [], []
    with torch.no_grad():
        for x, y in batches:
            logits = model(x.to(device)).cpu()
            losses.append(F.cross_entropy(logits, y).item())
            hits.append((logits.argmax(1) == y).sum().item())
            sizes.append(len(y))
    total = sum(sizes)
    exact_loss = sum(v * n for v, n in zip(losses, sizes)) / total
    exact_accuracy = sum(hits) / total
    if not 0 <= accuracy <= 1:
        if math.isclose(accuracy, 100 * exact_accuracy, rel_tol=1e-4):
            raise Problem("the accuracy is in percent; return a fraction in 0..1 (the lesson formats it as %).")
        if math.isclose(accuracy, sum(hits), rel_tol=1e-4):
            raise Problem("it returns the number of correct images; divide by the number of images.")
        raise Problem(f"the accuracy is {accuracy:g}, outside 0..1.")
    if not math.isclose(loss, exact_loss, rel_tol=1e-4):
        if math.isclose(loss, sum(losses) / len(losses), rel_tol=1e-4):
            raise Problem(
                "the loss is the mean of the per-batch means; the last batch is smaller, so weigh each batch's "
                "loss by its number of images."
            )
        raise Problem(f"the mean loss is {loss:.4f}; over these images it is {exact_loss:.4f}.")
    if not math.isclose(accuracy, exact_accuracy, abs_tol=1e-6):
        if math.isclose(accuracy, 1 - exact_accuracy, abs_tol=1e-6):
            raise Problem("it returns the error rate, the share of wrong images: the accuracy is the share right.")
        if accuracy == 0 and sum(hits) > 0:
            raise Problem(
                f"the accuracy is 0 though {sum(hits)} of {total} images are right: an integer division (//) "
                "rounds the fraction down. Divide with /."
            )
        per_batch = sum(h / n for h, n in zip(hits, sizes)) / len(sizes)
        if math.isclose(accuracy, per_batch, abs_tol=1e-6):
            raise Problem(
                "the accuracy is the mean of the per-batch accuracies; the last batch is smaller, so count the "
                "correct images over all batches and divide once by the total."
            )
        raise Problem(
            f"the accuracy is {accuracy:.4f}, but {sum(hits)} of {total} images are right ({exact_accuracy:.4f}). "
            "The predicted class is the largest logit along the class axis (dimension 1)."
        )
