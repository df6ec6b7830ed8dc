"""Lesson 08's self-checks: label smoothing's targets, an EMA of the weights, and flip TTA.

Each check builds a small case in which every typical mistake gives a different answer from
the right one (an odd number of classes, a model whose BatchNorm and mirror image both
matter, an average that starts away from the weights) and names the mistake it recognises.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from cifarlab.recipe import RECIPE
from cifarlab.selfcheck._core import SIZE, Problem, check


def reference_smoothed_targets(labels: torch.Tensor, num_classes: int, smoothing: float) -> torch.Tensor:
    """The target distribution of each label: 1 - smoothing on the true class, and smoothing
    shared out over all num_classes classes (the true one too), as PyTorch's label_smoothing does."""
    return (1 - smoothing) * F.one_hot(labels, num_classes).float() + smoothing / num_classes


def _smoothing_mistakes(labels: torch.Tensor, k: int, s: float) -> dict[str, torch.Tensor]:
    """What the typical mistakes compute, each under the message that explains it."""
    one_hot = F.one_hot(labels, k).float()
    return {
        f"it spreads the smoothing over the {k - 1} other classes (s / (K - 1)). PyTorch's label_smoothing, "
        "which the recipe's loss uses, spreads it over all K classes, the true one included, so the true "
        "class gets 1 - s + s / K.": (1 - s) * one_hot + s / (k - 1) * (1 - one_hot),
        "the true class gets only 1 - s, so each row sums to less than 1: it also gets its share s / K of "
        "what was spread out.": (1 - s) * one_hot + s / k * (1 - one_hot),
        "it gives the true class s and spreads 1 - s: the other way round. The true class keeps 1 - s.": (
            s * one_hot + (1 - s) / k
        ),
        "these are plain one-hot targets: the smoothing is not applied.": one_hot,
        "the true class gets 1 and every class s / K on top: the rows sum to more than 1. Scale the one-hot "
        "part down to 1 - s first.": one_hot + s / k,
    }


def smoothed_targets(student: Callable[[torch.Tensor, int, float], Any]) -> Callable:
    """Check `smoothed_targets(labels, num_classes, smoothing)` on two cases that tell the mistakes apart."""

    def test() -> str:
        recipe = (torch.tensor([3, 0, 9, 3, 7]), RECIPE.num_classes, RECIPE.label_smoothing)
        # the third case lacks the highest class: F.one_hot without num_classes makes too few columns
        for labels, k, s in (recipe, (torch.tensor([2, 0, 4, 1]), 5, 0.3), (torch.tensor([1, 0, 2, 0]), 5, 0.1)):
            got = student(labels.clone(), k, s)
            if not isinstance(got, torch.Tensor):
                raise Problem(f"it returns a {type(got).__name__}; return a tensor of shape (N, num_classes).")
            if tuple(got.shape) == (k, len(labels)):
                raise Problem(f"its shape is {tuple(got.shape)}: (classes, images). Make one row per image.")
            if got.ndim == 2 and got.shape[0] == len(labels) and got.shape[1] == int(labels.max()) + 1 < k:
                raise Problem(
                    f"for labels {labels.tolist()} and num_classes={k} it makes {got.shape[1]} columns: "
                    "F.one_hot(labels) guesses the number of classes from the largest label it sees. "
                    "Pass num_classes: F.one_hot(labels, num_classes)."
                )
            if tuple(got.shape) != (len(labels), k):
                hint = " (the number of classes is written in: use num_classes)" if got.shape[-1] == 10 else ""
                raise Problem(
                    f"for {len(labels)} labels and num_classes={k} its shape is {tuple(got.shape)}; it should be "
                    f"({len(labels)}, {k}){hint}."
                )
            if not got.is_floating_point():
                raise Problem(f"its dtype is {got.dtype}: targets are probabilities, so make them float.")
            want = reference_smoothed_targets(labels, k, s)
            if torch.allclose(got.float(), want, atol=1e-6):
                continue
            for message, mistake in _smoothing_mistakes(labels, k, s).items():
                if torch.allclose(got.float(), mistake, atol=1e-6):
                    raise Problem(message)
            written_in = reference_smoothed_targets(labels, k, RECIPE.label_smoothing)
            if s != RECIPE.label_smoothing and torch.allclose(got.float(), written_in, atol=1e-6):
                raise Problem(
                    f"it smooths by {RECIPE.label_smoothing} whatever it is given: use the smoothing argument."
                )
            raise Problem(
                f"for label {int(labels[0])} of {k} classes with smoothing {s} it gives "
                f"{[round(v, 3) for v in got[0].tolist()]}; the true class should get {1 - s + s / k:.3g} and "
                f"every other {s / k:.3g}."
            )
        labels, k, s = recipe
        logits = torch.randn(len(labels), k, generator=torch.Generator().manual_seed(0))
        by_hand = -(reference_smoothed_targets(labels, k, s) * logits.log_softmax(1)).sum(1).mean()
        assert torch.allclose(by_hand, F.cross_entropy(logits, labels, label_smoothing=s), atol=1e-6)
        return (
            "the cross-entropy against these targets is exactly F.cross_entropy(logits, labels, "
            "label_smoothing=s), the recipe's loss."
        )

    return check(student, reference_smoothed_targets, "smoothed_targets", test)


@torch.no_grad()
def reference_ema_update(average: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """Move `average` towards `model` in place: average = decay * average + (1 - decay) * model,
    for the parameters and the floating-point buffers (BatchNorm's running statistics); the
    integer buffers (BatchNorm's count of batches) are copied."""
    for mine, theirs in zip(average.state_dict().values(), model.state_dict().values()):
        if mine.is_floating_point():
            mine.lerp_(theirs, 1 - decay)
        else:
            mine.copy_(theirs)


def _small_net() -> torch.nn.Module:
    """A network with weights, BatchNorm statistics and its integer count, and a linear head."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 3),
    )


def _ema_case(seed: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(average, model): the average a copy of the network, the model moved away from it by a
    training step's worth of changes to its weights and BatchNorm statistics."""
    torch.manual_seed(seed)
    model = _small_net()
    average = copy.deepcopy(model)  # as one starts an EMA: its parameters still require grad
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    model.train()
    model(torch.randn(8, 3, SIZE // 4, SIZE // 4))  # BatchNorm updates its running statistics and count
    return average, model


def _states(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: t.detach().clone() for name, t in module.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], names: list[str]) -> bool:
    return all(torch.allclose(a[n].float(), b[n].float(), atol=1e-6) for n in names)


def ema_update(student: Callable[[torch.nn.Module, torch.nn.Module, float], Any]) -> Callable:
    """Check `ema_update(average, model, decay)`, which must update `average` in place."""

    def test() -> str:
        for decay in (0.9, 0.5):  # two decays: one written into the code shows
            average, model = _ema_case(seed=int(decay * 10))
            before, weights = _states(average), _states(model)
            try:
                student(average, model, decay)
            except RuntimeError as error:
                if "leaf Variable that requires grad" in str(error):
                    raise Problem(
                        "an in-place change to a parameter that requires grad: do the update under "
                        "torch.no_grad() (a decorator @torch.no_grad() on the function, or a with block)."
                    ) from None
                if "can't be cast" in str(error) or "Long" in str(error):
                    raise Problem(
                        "it tried to average an integer tensor, BatchNorm's num_batches_tracked: average only "
                        "the floating-point tensors (tensor.is_floating_point()) and copy the others."
                    ) from None
                raise
            after = _states(average)
            if not _same(_states(model), weights, list(weights)):
                raise Problem(
                    "it changed the model: the average follows the weights being trained, never the reverse. "
                    "Update the tensors of `average`."
                )
            params = [n for n, _ in average.named_parameters()]
            stats = [n for n, b in average.named_buffers() if b.is_floating_point()]
            counts = [n for n, b in average.named_buffers() if not b.is_floating_point()]

            def mix(names: list[str], keep: float, old: dict = before, new: dict = weights) -> dict[str, torch.Tensor]:
                return {n: keep * old[n] + (1 - keep) * new[n] for n in names}

            if _same(after, before, params):
                raise Problem(
                    "the average did not change: update its tensors in place (p.mul_(decay).add_(...) or "
                    "p.lerp_(...)); assigning a new tensor to a loop variable changes nothing in the module."
                )
            if _same(after, weights, params):
                raise Problem("it copied the weights into the average: keep `decay` of the old average.")
            if _same(after, mix(params, 1 - decay), params) and decay != 0.5:
                raise Problem(
                    f"decay and 1 - decay are swapped: the average should keep {decay} of itself and take "
                    f"{1 - decay:.1f} of the weights; yours keeps {1 - decay:.1f}, so it forgets at once."
                )
            if decay != 0.9 and _same(after, mix(params, 0.9), params):
                raise Problem(f"with decay={decay} it still keeps 0.9 of the average: use the decay it is given.")
            if not _same(after, mix(params, decay), params):
                raise Problem(
                    f"with decay={decay} the parameters should become {decay} x average + {1 - decay:.1f} x model; "
                    "they did not. Both parts are weighted: decay for the average, 1 - decay for the model."
                )
            if _same(after, before, stats):
                raise Problem(
                    "BatchNorm's running mean and variance were left as they were: they are buffers, not "
                    "parameters, so model.parameters() misses them. Average the floating-point buffers too "
                    "(average.state_dict() holds both), or the average normalises with stale statistics."
                )
            if _same(after, weights, stats) and not _same(after, mix(stats, decay), stats):
                raise Problem(
                    "BatchNorm's running statistics were copied, not averaged: average them like the weights."
                )
            if not _same(after, mix(stats, decay), stats):
                raise Problem("BatchNorm's running statistics are not decay x average + (1 - decay) x model.")
            if not _same(after, weights, counts):
                raise Problem(
                    "BatchNorm's num_batches_tracked (an integer count) was not copied from the model: copy the "
                    "tensors that are not floating point."
                )
        return "parameters and BatchNorm statistics move (1 - decay) of the way to the model, in place."

    return check(student, reference_ema_update, "ema_update", test)


@torch.no_grad()
def reference_flip_tta(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The mean of the model's logits for `images` (N, C, H, W) and for their left-right mirror
    images, in evaluation mode and without a gradient graph."""
    model.eval()
    return (model(images) + model(images.flip(-1))) / 2


def _tta_mistakes(model: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """What the typical mistakes compute on (a copy of) `model` in eval mode, by message."""
    with torch.no_grad():
        plain = model(x)
        mean = {dim: (plain + model(x.flip(dim))) / 2 for dim in (0, 1, 2)}
        mirrored = model(x.flip(-1))
    return {
        "it flips the images upside down (dim 2, the rows); a mirror image flips left-right, the last "
        "dimension: images.flip(-1) (or 3).": mean[2],
        "it reverses the colour channels (dim 1, RGB becomes BGR); a mirror image flips the last dimension, "
        "the columns: images.flip(-1).": mean[1],
        "it reverses the order of the batch (dim 0), so each image's logits are averaged with another "
        "image's; flip the last dimension, images.flip(-1).": mean[0],
        "it returns the mirror images' logits alone: average them with the logits of the images as they are.": (
            mirrored
        ),
        "it returns the logits of the images as they are: the mirror images are not used.": plain,
        "it adds the two views' logits: divide by 2, so they stay on the scale the model's logits have.": (
            plain + mirrored
        ),
        "it averages probabilities (softmax): return the mean of the logits, as cifarlab.tta does.": (
            plain.softmax(1) + mirrored.softmax(1)
        )
        / 2,
    }


def flip_tta(student: Callable[[torch.nn.Module, torch.Tensor], Any]) -> Callable:
    """Check `flip_tta(model, images)` on a network whose mirror image and BatchNorm both matter."""

    def test() -> str:
        torch.manual_seed(8)
        model = _small_net()
        model.train()
        for _ in range(3):  # running statistics unlike any single batch's
            model(3 * torch.randn(16, 3, 8, 8) + 1)
        x = torch.randn(6, 3, 8, 8)
        in_eval = copy.deepcopy(model).eval()
        in_train = copy.deepcopy(model)
        want = reference_flip_tta(copy.deepcopy(model), x)
        given = x.clone()
        got = student(model, given)
        if not torch.equal(given, x):
            raise Problem(
                "it changed the images it was given (in place): the caller's batch is now mirrored. "
                "images.flip(-1) returns a new tensor; use that, and leave `images` as it came."
            )
        if not isinstance(got, torch.Tensor):
            raise Problem(f"it returns a {type(got).__name__}; return the averaged logits, a tensor (N, classes).")
        if tuple(got.shape) != tuple(want.shape):
            raise Problem(f"its shape is {tuple(got.shape)}; one row of logits per image is {tuple(want.shape)}.")
        if got.requires_grad:
            raise Problem(
                "the logits carry a gradient graph: compute them under torch.no_grad() (or torch.inference_mode()); "
                "at test time nothing is trained, and the graph costs memory."
            )
        if torch.allclose(got, want, atol=1e-5):  # (putting the model back in training mode afterwards is fine)
            return "the mean of the logits of each image and of its mirror image, in eval mode."
        with torch.no_grad():
            train_mode = (in_train(x) + in_train(x.flip(-1))) / 2
        if torch.allclose(got, train_mode, atol=1e-5):
            raise Problem(
                "the model was still in training mode: BatchNorm normalised with this batch's statistics (and "
                "changed its running ones). Call model.eval() first."
            )
        for message, mistake in _tta_mistakes(in_eval, x).items():
            if torch.allclose(got, mistake, atol=1e-5):
                raise Problem(message)
        raise Problem("these are not the mean of the logits of the images and of their mirror images (flip(-1)).")

    return check(student, reference_flip_tta, "flip_tta", test)
