"""Lesson 06's self-checks: collecting the misclassified images, GradCAM by hand.

`collect_misclassified` gets a model in *training* mode (as training leaves it, with
BatchNorm statistics far from any batch's) and a hook that records, for every forward pass,
the model's mode and whether gradients were on; the returned arrays are then compared, image
by image, with the usual wrong answers (the right images, the true labels, logits, a softmax
over the batch axis, the true class's probability, the least confident first).

`gradcam_by_hand` computes, from the same activations and gradients, the maps that the
usual mistakes produce (no ReLU, the gradient averaged over the channels, the softmax
backpropagated, the predicted class explained instead of the target...) and names the one
the student's maps match; it also counts the hooks left on the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from cifarlab.recipe import RECIPE
from cifarlab.selfcheck._cases import Trace, naming_the_batch_axis
from cifarlab.selfcheck._core import SIZE, Problem, check

TINY_WIDTHS = (8, 16, 32, 64)  # a small ResNet9: each check runs in a fraction of a second
BATCH = 40  # not the number of classes, so that a softmax or argmax over the batch axis shows
CAM_LAYER = "layer2"  # 8x8: a map left unresized shows in its shape (the lesson uses layer3)
MATCH = 0.98  # correlation above which two sets of maps are the same computation


def _numpy(value: Any) -> np.ndarray:
    """A returned array, tensor (on any device) or list as a numpy array."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


# ----------------------------------------------------------------------------------------
# Exercise 1: collect the misclassified images


def reference_collect_misclassified(
    model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indices, predicted classes, confidences) of the wrongly classified images among
    normalised images x, the most confident mistake first."""
    model.eval()
    with torch.no_grad():
        probs = model(x).float().softmax(1)
    confidence, predicted = probs.max(1)
    wrong = torch.nonzero(predicted != labels.to(predicted.device)).flatten()
    wrong = wrong[torch.argsort(confidence[wrong], descending=True, stable=True)]
    return wrong.cpu().numpy(), predicted[wrong].cpu().numpy(), confidence[wrong].cpu().numpy()


def _model_and_images(n: int, seed: int, **options: Any) -> tuple[torch.nn.Module, torch.Tensor]:
    """A small ResNet9 in eval mode, with BatchNorm statistics from other images (as after training),
    and n images of varied contrast and brightness: so that its answers differ from image to image."""
    from cifarlab.model import ResNet9

    torch.manual_seed(seed)
    model = ResNet9(widths=TINY_WIDTHS, **options)
    generator = torch.Generator().manual_seed(seed)
    contrast = 2 * torch.rand(n, 1, 1, 1, generator=generator)
    x = torch.randn(n, 3, SIZE, SIZE, generator=generator) * contrast
    x = x + torch.randn(n, 3, 1, 1, generator=generator)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = None  # running statistics: a plain average of what it sees
        model.train()(torch.randn(64, 3, SIZE, SIZE, generator=generator))
    return model.eval(), x


def _misclassified_case(device: str | torch.device) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A small model in training mode, 40 images, and labels that make 13 of its predictions wrong."""
    model, x = _model_and_images(BATCH, seed=0, logit_scale=1.0)  # unscaled logits: confidences far apart
    with torch.no_grad():
        predicted = model(x).argmax(1)
    wrong = torch.arange(BATCH) % 3 == 1  # 13 of 40: fewer mistakes than right answers
    labels = predicted.clone()
    labels[wrong] = (predicted[wrong] + 1 + torch.arange(BATCH)[wrong] % 7) % RECIPE.num_classes
    return model.to(device).train(), x.to(device), labels.to(device)  # training mode, as training leaves it


def collect_misclassified(student: Callable[..., Any], device: str | torch.device = "cpu") -> Callable:
    """Check `collect_misclassified(model, x, labels) -> (indices, predicted, confidence)`, with the
    model, images and labels on `device` and the model handed over in training mode."""

    def test() -> str:
        model, x, labels = _misclassified_case(device)
        before = [b.clone() for b in model.buffers()]
        trace = Trace(model)
        with naming_the_batch_axis():
            got = student(model, x, labels)
        _check_modes(trace.forward_modes, model, before)
        if not isinstance(got, tuple) or len(got) != 3:
            raise Problem(f"it returns {type(got).__name__}; return three arrays: (indices, predicted, confidence).")
        indices, guessed, confidence = (_numpy(g).reshape(-1) for g in got)
        if not len(indices) == len(guessed) == len(confidence):
            raise Problem(
                f"the three arrays have {len(indices)}, {len(guessed)} and {len(confidence)} entries; "
                "give one index, one predicted class and one confidence per mistake."
            )
        with torch.no_grad():
            logits = model.eval()(x).float().cpu()
        _check_mistakes(indices.astype(np.int64), guessed, confidence, logits, labels.cpu())
        return f"{len(indices)} mistakes among {BATCH} images, in eval mode without gradients, most confident first."

    return check(student, reference_collect_misclassified, "collect_misclassified", test)


def _check_modes(modes: list[tuple[bool, bool]], model: torch.nn.Module, before: list[torch.Tensor]) -> None:
    statistics_moved = any(not torch.equal(a, b) for a, b in zip(before, model.buffers()))
    if any(training for training, _ in modes) or statistics_moved:
        raise Problem(
            "the model ran in training mode (this check hands it over in training mode, as training leaves "
            "it): BatchNorm then normalises with this batch's own statistics and updates its running ones, so "
            "the predictions depend on the batch. Switch the model to evaluation mode before the forward pass."
        )
    if not modes:
        raise Problem("the model never ran: call it on the images x.")
    if any(grad for _, grad in modes):
        raise Problem(
            "the forward pass recorded gradients: finding mistakes needs none, and they cost memory and time. "
            "Run the model under torch.no_grad()."
        )


def _check_mistakes(
    indices: np.ndarray, guessed: np.ndarray, confidence: np.ndarray, logits: torch.Tensor, labels: torch.Tensor
) -> None:
    """Name how (indices, predicted, confidence) differ from the mistakes of `logits`, image by image."""
    probs = logits.softmax(1)
    predicted = probs.argmax(1).numpy()
    truth = labels.numpy()
    wrong = np.flatnonzero(predicted != truth)
    right = np.flatnonzero(predicted == truth)
    if set(indices.tolist()) != set(wrong.tolist()):
        if set(indices.tolist()) == set(right.tolist()):
            raise Problem(
                f"it returns the {len(right)} images the model got right, not the {len(wrong)} it got wrong: keep "
                "the images whose predicted class differs from their label."
            )
        if len(indices) == len(logits):
            raise Problem(f"it returns all {len(indices)} images; keep only those the model got wrong.")
        found = len(set(indices.tolist()) & set(wrong.tolist()))
        raise Problem(
            f"it returns {len(indices)} indices, {found} of them mistakes and {len(indices) - found} not; the "
            f"model got {len(wrong)} of these {len(logits)} images wrong. A mistake is an image whose largest "
            "score is not the one of its label."
        )
    if not np.array_equal(guessed, predicted[indices]):
        if np.array_equal(guessed, truth[indices]):
            raise Problem("the 'predicted' classes are the true labels; return what the model said instead.")
        raise Problem("the predicted classes are not the model's: the class with the largest score for each image.")
    pick = (torch.as_tensor(indices), torch.as_tensor(predicted[indices]))
    variants = {
        "": probs[pick],
        " They are the logits (the raw scores): turn them into probabilities with a softmax over the classes.": (
            logits[pick]
        ),
        " They come from a softmax over the batch axis (dimension 0); the probabilities of one image run "
        "along dimension 1.": logits.softmax(0)[pick],
        " They are the probabilities of the true class; the confidence is the one the model gave its own "
        "answer, the predicted class.": probs[torch.as_tensor(indices), labels[torch.as_tensor(indices)]],
        " They are log-probabilities: a softmax, not a log_softmax.": logits.log_softmax(1)[pick],
    }
    for why, values in variants.items():
        if np.allclose(confidence, values.numpy(), atol=1e-5):
            if why:
                raise Problem(f"the confidences are not the softmax probability of the predicted class.{why}")
            break
    else:
        raise Problem(
            f"the confidences (from {confidence.min():.3g} to {confidence.max():.3g}) are not the softmax "
            "probabilities of the predicted classes."
        )
    want = indices[np.argsort(-confidence, kind="stable")]
    if not np.array_equal(indices, want):
        if np.array_equal(indices, want[::-1]):
            raise Problem("the right mistakes, least confident first: sort by confidence, the highest first.")
        if np.array_equal(indices, np.sort(indices)):
            raise Problem("the right mistakes in the batch's order: sort them by confidence, the highest first.")
        raise Problem("the right mistakes, but not sorted by confidence, the highest first.")


# ----------------------------------------------------------------------------------------
# Exercise 2: GradCAM by hand


def reference_gradcam_by_hand(
    model: torch.nn.Module, x: torch.Tensor, layer: str, targets: Sequence[int]
) -> np.ndarray:
    """GradCAM written out with two hooks: the layer's activations A and the gradient of the
    target scores with respect to them; weights = spatial mean of the gradient; map =
    ReLU(sum of weights * A), scaled to 0..1 per image, resized to 32x32."""
    activations, gradients = _activations_and_gradients(model, x, layer, _target_scores(targets))
    return _cam(activations, gradients, x.shape[-2:]).cpu().numpy()


def _target_scores(targets: Sequence[int]) -> Callable[[torch.Tensor], torch.Tensor]:
    def pick(scores: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(len(scores), device=scores.device)
        return scores[positions, torch.as_tensor(targets, device=scores.device)].sum()

    return pick


def _activations_and_gradients(
    model: torch.nn.Module, x: torch.Tensor, layer: str, score: Callable[[torch.Tensor], torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The layer's output A and the gradient of score(model's logits) with respect to it."""
    from cifarlab.gradcam import target_layer

    saved: dict[str, torch.Tensor] = {}

    def keep(_module: Any, _inputs: Any, output: torch.Tensor) -> None:
        saved["activations"] = output
        output.register_hook(lambda grad: saved.__setitem__("gradients", grad))

    handle = target_layer(model, layer).register_forward_hook(keep)
    model.eval()
    try:
        with torch.enable_grad():
            score(model(x.clone().requires_grad_(True))).backward()
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
    return saved["activations"].detach(), saved["gradients"]


def _unit(maps: torch.Tensor) -> torch.Tensor:
    """Each map scaled to 0..1 on its own."""
    maps = maps - maps.flatten(1).min(1).values.view(-1, 1, 1)
    return maps / (maps.flatten(1).max(1).values.view(-1, 1, 1) + 1e-7)


def _cam(
    activations: torch.Tensor,
    gradients: torch.Tensor,
    size: Sequence[int],
    over: tuple[int, ...] = (2, 3),
    relu: bool = True,
) -> torch.Tensor:
    """GradCAM from a layer's activations and gradients (a mistake's version with `over`, `relu`)."""
    cam = (gradients.mean(dim=over, keepdim=True) * activations).sum(1)
    cam = F.relu(cam) if relu else cam
    resized = F.interpolate(_unit(cam)[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]
    return _unit(resized)  # pytorch-grad-cam scales again after resizing


def _cam_variants(model: torch.nn.Module, x: torch.Tensor, targets: list[int]) -> dict[str, np.ndarray]:
    """The right maps and those the usual mistakes give, by the mistake's description (right: "")."""
    size = x.shape[-2:]
    activations, gradients = _activations_and_gradients(model, x, CAM_LAYER, _target_scores(targets))
    chosen = torch.as_tensor(targets, device=x.device)
    _, of_softmax = _activations_and_gradients(
        model, x, CAM_LAYER, lambda s: s.softmax(1)[torch.arange(len(s), device=s.device), chosen].sum()
    )
    _, of_argmax = _activations_and_gradients(model, x, CAM_LAYER, lambda s: s.max(1).values.sum())
    _, of_all = _activations_and_gradients(model, x, CAM_LAYER, lambda s: s[:, chosen].sum())
    deeper, deeper_gradients = _activations_and_gradients(model, x, "layer3", _target_scores(targets))
    maps = {
        "": _cam(activations, gradients, size),
        "the negative part of the weighted sum is kept (no ReLU, or a ReLU after the map was scaled to 0..1, "
        "where nothing is negative any more), so the map shows what speaks against the class too. Apply the "
        "ReLU to the weighted sum itself.": _cam(activations, gradients, size, relu=False),
        "the gradient is averaged over the channels (dimension 1); each channel's weight is its gradient's "
        "mean over height and width (dimensions 2 and 3).": _cam(activations, gradients, size, over=(1,)),
        "the softmax probability was backpropagated; GradCAM backpropagates the class's score, the logit "
        "before the softmax.": _cam(activations, of_softmax, size),
        "each map explains the predicted class (the largest score), not the class in targets: pick each "
        "image's score of its own target.": _cam(activations, of_argmax, size),
        "each image's map explains all the targets at once (scores[:, targets] takes every target's score for "
        "every image): pick one score per image, the image's own target.": _cam(activations, of_all, size),
        "the maps explain layer3 whatever layer is asked for: hook the module target_layer(model, layer) gives.": _cam(
            deeper, deeper_gradients, size
        ),
    }
    return {why: cam.cpu().numpy() for why, cam in maps.items()}


def _hooks(model: torch.nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) + len(m._backward_pre_hooks)
        for m in model.modules()
    )


def _cam_case(device: str | torch.device) -> tuple[torch.nn.Module, torch.Tensor, list[int]]:
    """A small model in eval mode, 6 images, and a target per image that is never its prediction
    (with this seed, no image's right map is flat)."""
    model, x = _model_and_images(6, seed=2)
    with torch.no_grad():
        predicted = model(x).argmax(1)
    targets = ((predicted + 1 + torch.arange(6) % 9) % RECIPE.num_classes).tolist()
    return model.to(device), x.to(device), targets


def gradcam_by_hand(student: Callable[..., Any], device: str | torch.device = "cpu") -> Callable:
    """Check `gradcam_by_hand(model, x, layer, targets)` against pytorch-grad-cam and the maps of the
    usual mistakes, with the model and images on `device`."""

    def test() -> str:
        from cifarlab.gradcam import gradcam, target_layer

        model, x, targets = _cam_case(device)
        hooks = _hooks(model)
        got = student(model, x, CAM_LAYER, targets)
        left = _hooks(model) - hooks
        if left:
            where = "on the layer" if target_layer(model, CAM_LAYER)._forward_hooks else "on the model"
            raise Problem(
                f"it leaves {left} hook(s) {where} after it returns: a forgotten hook runs on every later forward "
                "pass (and keeps its tensors alive). Remove it with the handle that registering returned, in a "
                "`finally:` block so that it goes even when something fails."
            )
        got = _numpy(got).astype(np.float32)
        variants = _cam_variants(model, x, targets)
        right = variants[""]
        _check_cam_shape(got, right.shape)
        scores = _correlations(got, variants)
        why = max(scores, key=lambda w: scores[w])
        if why and scores[why] >= MATCH:
            raise Problem(f"the maps match a known mistake (correlation {scores[why]:.3f}): {why}")
        if scores[""] < MATCH:
            raise Problem(
                f"the maps differ from GradCAM's (correlation {scores['']:.2f}), and match none of the usual "
                f"mistakes either (the closest, at {scores[why]:.2f}: {why or 'the right maps'}). Compare each "
                "step with the recipe above the exercise."
            )
        _check_cam_scale(got[right.reshape(len(right), -1).max(1) > 0.5])  # a flat right map has no scale
        library = gradcam(model, x, CAM_LAYER, targets)
        return (
            f"it matches pytorch-grad-cam (largest difference {np.abs(got - library).max():.3f}) and leaves no "
            "hook behind."
        )

    return check(student, reference_gradcam_by_hand, "gradcam_by_hand", test)


def _check_cam_shape(got: np.ndarray, want: tuple[int, ...]) -> None:
    if got.shape == want:
        return
    if got.ndim == 3 and got.shape[0] == want[0]:
        raise Problem(
            f"it returns maps of {got.shape[1]}x{got.shape[2]}, the layer's own size; stretch each to the "
            f"image's {want[1]}x{want[2]} (bilinear interpolation) to lay it over the image."
        )
    if got.ndim == 4 and got.shape[1] == 1 and got.shape[2:] == want[1:]:
        raise Problem(
            f"it returns shape {got.shape}: the channel axis that interpolation needed is still there; "
            "drop it (one 2-D map per image)."
        )
    raise Problem(f"it returns shape {got.shape}; one {want[1]}x{want[2]} map per image is {want}.")


def _correlations(got: np.ndarray, variants: dict[str, np.ndarray]) -> dict[str, float]:
    """How well the student's maps (each scaled to 0..1 here, so that scale cannot hide a match)
    correlate with each variant's."""
    scaled = _unit(torch.from_numpy(np.nan_to_num(got))).numpy().ravel()
    if scaled.std() == 0:
        raise Problem("every map is flat (the same value everywhere): nothing was weighted or summed.")
    return {why: float(np.corrcoef(scaled, cams.ravel())[0, 1]) for why, cams in variants.items()}


def _check_cam_scale(got: np.ndarray) -> None:
    """Each map must run from 0 to 1 on its own (scaled per image, after resizing)."""
    lows, highs = got.reshape(len(got), -1).min(1), got.reshape(len(got), -1).max(1)
    if np.all(np.abs(highs - 1) < 0.1) and np.all(np.abs(lows) < 0.1) and got.min() > -1e-4 and got.max() < 1 + 1e-4:
        return
    if abs(got.max() - 1) < 1e-3 and abs(got.min()) < 1e-3:
        raise Problem(
            f"the maps were scaled together: their maxima run from {highs.min():.2f} to {highs.max():.2f}. Scale "
            "each image's map to 0..1 on its own (its own min and max)."
        )
    raise Problem(
        f"the maps are not scaled to 0..1: they run from {got.min():.3g} to {got.max():.3g}. Subtract each "
        "map's minimum and divide by its maximum (plus a tiny number), after resizing."
    )
