"""Lesson 06's self-checks: collecting the misclassified images, GradCAM by hand."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from cifarlab.recipe import RECIPE
from cifarlab.selfcheck._core import SIZE, _Problem, _report


def reference_collect_misclassified(
    model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indices, predicted classes, confidences) of the wrongly classified images among
    normalised images x, the most confident mistake first."""
    model.eval()
    with torch.no_grad():
        probs = model(x).float().softmax(1)
    confidence, predicted = probs.max(1)
    wrong = torch.nonzero(predicted != labels).flatten()
    order = torch.argsort(confidence[wrong], descending=True, stable=True)
    wrong = wrong[order]
    return wrong.numpy(), predicted[wrong].numpy(), confidence[wrong].numpy()


def collect_misclassified(student: Callable[..., Any]) -> Callable:
    """Check `collect_misclassified(model, x, labels) -> (indices, predicted, confidence)`."""

    def test() -> str:
        from cifarlab.model import ResNet9

        torch.manual_seed(0)
        model = ResNet9(widths=(8, 16, 32, 64)).eval()
        x = torch.randn(40, 3, SIZE, SIZE)
        with torch.no_grad():
            predicted = model(x).argmax(1)
        labels = predicted.clone()
        labels[::3] = (labels[::3] + 1) % RECIPE.num_classes  # every third image is "wrong"
        want = reference_collect_misclassified(model, x, labels)
        got = student(model, x, labels)
        if not isinstance(got, tuple) or len(got) != 3:
            raise _Problem("it should return three arrays: (indices, predicted, confidence).")
        indices, guessed, confidence = (np.asarray(g.cpu() if isinstance(g, torch.Tensor) else g) for g in got)
        if sorted(indices.tolist()) != sorted(want[0].tolist()):
            raise _Problem(
                f"it finds {len(indices)} mistakes, there are {len(want[0])} (images "
                f"{sorted(want[0].tolist())[:6]}...). Compare the argmax with the labels."
            )
        if not np.array_equal(indices, want[0]):
            raise _Problem(
                "the right mistakes, in the wrong order: sort them by confidence, highest first "
                "(torch.argsort(..., descending=True))."
            )
        if not np.array_equal(guessed, want[1]):
            raise _Problem("the predicted classes are not the argmax of the model's output for those images.")
        if not np.allclose(confidence, want[2], atol=1e-5):
            hint = " They look like logits: take .softmax(1) first." if np.abs(confidence).max() > 1 else ""
            raise _Problem(f"the confidences should be the softmax probability of the predicted class.{hint}")
        return f"{len(indices)} mistakes, most confident first."

    return _report(student, reference_collect_misclassified, test)


def reference_gradcam_by_hand(
    model: torch.nn.Module, x: torch.Tensor, layer: str, targets: Sequence[int]
) -> np.ndarray:
    """GradCAM written out with two hooks: the layer's activations A and the gradient of the
    target scores with respect to them; weights = spatial mean of the gradient; map =
    ReLU(sum of weights * A), scaled to 0..1 per image, resized to 32x32."""
    from cifarlab.gradcam import target_layer

    saved: dict[str, torch.Tensor] = {}

    def keep(_module: Any, _inputs: Any, output: torch.Tensor) -> None:
        saved["activations"] = output
        output.register_hook(lambda grad: saved.__setitem__("gradients", grad))

    handle = target_layer(model, layer).register_forward_hook(keep)
    model.eval()
    try:
        with torch.enable_grad():
            scores = model(x.clone().requires_grad_(True))
            scores[torch.arange(len(x)), torch.as_tensor(targets)].sum().backward()
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
    activations, gradients = saved["activations"].detach(), saved["gradients"]
    weights = gradients.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activations).sum(1))
    low = cam.flatten(1).min(1).values.view(-1, 1, 1)
    cam = cam - low
    cam = cam / (cam.flatten(1).max(1).values.view(-1, 1, 1) + 1e-7)
    cam = F.interpolate(cam[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    cam = cam - cam.flatten(1).min(1).values.view(-1, 1, 1)  # pytorch-grad-cam scales again after resizing
    return (cam / (cam.flatten(1).max(1).values.view(-1, 1, 1) + 1e-7)).numpy()


def gradcam_by_hand(student: Callable[..., Any]) -> Callable:
    """Check `gradcam_by_hand(model, x, layer, targets)` against pytorch-grad-cam."""

    def test() -> str:
        from cifarlab.gradcam import gradcam
        from cifarlab.model import ResNet9

        torch.manual_seed(1)
        model = ResNet9(widths=(8, 16, 32, 64)).eval()
        x = torch.randn(6, 3, SIZE, SIZE)
        targets = [0, 1, 2, 3, 4, 5]
        want = gradcam(model, x, "layer2", targets)
        got = student(model, x, "layer2", targets)
        got = np.asarray(got.detach().cpu() if isinstance(got, torch.Tensor) else got, dtype=np.float32)
        if got.shape != want.shape:
            raise _Problem(
                f"it returns shape {got.shape}; one 32x32 map per image is {want.shape}. Upsample with "
                "F.interpolate(..., size=(32, 32))."
            )
        if got.min() < -1e-6 or got.max() > 1 + 1e-5:
            raise _Problem(
                f"the maps run from {got.min():.3g} to {got.max():.3g}; scale each to 0..1 (subtract its min, "
                "divide by its max)."
            )
        correlation = np.corrcoef(got.ravel(), want.ravel())[0, 1]
        if correlation < 0.95:
            hint = (
                " Did you apply the ReLU to the weighted sum, and average the gradient over height and "
                "width (dims 2, 3)?"
            )
            raise _Problem(f"the maps differ from pytorch-grad-cam's (correlation {correlation:.2f}).{hint}")
        return (
            f"it matches pytorch-grad-cam (correlation {correlation:.3f}, largest difference "
            f"{np.abs(got - want).max():.3f})."
        )

    return _report(student, reference_gradcam_by_hand, test)
