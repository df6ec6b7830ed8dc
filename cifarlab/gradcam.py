"""GradCAM with pytorch-grad-cam: where in the image the ResNet9 looked for a class.

GradCAM (Selvaraju et al., 2017) weights each channel of a layer's output by how much the
class score grows with it (the spatial mean of the score's gradient), sums the channels,
keeps the positive part and scales it to 0..1 at the image's size.

Three things the seed course got wrong, and this module gets right:

* the **target layer** is a conv block's output (its ReLU) or a residual block's sum, named
  in `TARGET_LAYERS`; never a Dropout module (identity at evaluation, so any hook on it says
  nothing about the convolution);
* it runs in **fp32, outside autocast, with gradients on** and on a copy of the input made
  outside inference mode, so it works right after Lightning's test loop (which runs under
  `torch.inference_mode`) and on models trained with mixed precision;
* it leaves the model as it found it: same train/eval mode, no gradients left behind.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from cifarlab.data.imageset import check_images
from cifarlab.errors import ImageError, OptionError
from cifarlab.model import eval_mode

# name -> what the layer is. The names are what the lesson, the widget and the app offer.
TARGET_LAYERS = {
    "prep": "prep conv, 32x32: edges and colours",
    "layer1.0": "layer1 conv + pool, 16x16",
    "layer1": "layer1 after its residual block, 16x16",
    "layer2": "layer2 conv + pool, 8x8",
    "layer3.0": "layer3 conv + pool, 4x4",
    "layer3": "layer3 after its residual block, 4x4: the last conv output, the usual choice",
}
DEFAULT_LAYER = "layer3"


def _network(model: nn.Module) -> nn.Module:
    """The ResNet9 inside a LitResNet9 (or the model itself)."""
    return getattr(model, "model", model)


def target_layer(model: nn.Module, name: str) -> nn.Module:
    """The module whose output GradCAM uses for the layer called `name` (see TARGET_LAYERS).

    For a conv block that is its ReLU (the block may end in a Dropout); for "layer1" and
    "layer3" it is the residual block, whose output is the layer's output.
    """
    if name not in TARGET_LAYERS:
        raise OptionError(f"no GradCAM layer called {name!r}; choose one of {list(TARGET_LAYERS)}.")
    modules = dict(_network(model).named_modules())
    path = {"layer1": "layer1.1", "layer3": "layer3.1"}.get(name, name)
    if path not in modules:
        raise OptionError(f"the model has no module {path!r}: GradCAM's layer names are those of cifarlab's ResNet9.")
    module = modules[path]
    if isinstance(module, nn.Sequential):  # a ConvBlock: conv, (pool), BN, ReLU, (Dropout)
        module = [m for m in module if isinstance(m, nn.ReLU)][-1]
    return module


def gradcam(
    model: nn.Module,
    x: torch.Tensor,
    layer: str = DEFAULT_LAYER,
    targets: Sequence[int] | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """GradCAM maps, shape (N, 32, 32), values 0..1, for normalised images x (N, 3, 32, 32).

    targets: the class to explain for each image; None explains the predicted class.
    """
    net = _network(model)
    parameter = next(net.parameters())
    if parameter.dtype != torch.float32:
        raise OptionError(
            f"GradCAM runs in fp32, but the model's weights are {parameter.dtype}: call model.float() first."
        )
    if x.ndim == 3:
        x = x[None]
    if targets is not None and len(targets) != len(x):
        raise OptionError(
            f"targets has {len(targets)} classes for {len(x)} images: give one per image, or None for the "
            "predicted ones."
        )
    maps = []
    try:
        # Outside inference mode and autocast, gradients on: whatever context the caller is in.
        with (
            eval_mode(net),
            torch.inference_mode(False),
            torch.enable_grad(),
            torch.autocast(parameter.device.type, enabled=False),
        ):
            with GradCAM(model=net, target_layers=[target_layer(net, layer)]) as cam:
                for start in range(0, len(x), batch_size):
                    # A copy made here is an ordinary tensor even if x was made under inference mode.
                    chunk = x[start : start + batch_size].detach().clone().float().to(parameter.device)
                    chunk.requires_grad_(True)  # so activations carry gradients even in a frozen model
                    chosen = (
                        None
                        if targets is None
                        else [ClassifierOutputTarget(int(t)) for t in targets[start : start + batch_size]]
                    )
                    maps.append(cam(input_tensor=chunk, targets=chosen))
    finally:
        net.zero_grad(set_to_none=True)  # GradCAM's backward pass filled .grad; leave no trace
    return np.concatenate(maps).astype(np.float32)


def overlay(image: np.ndarray, cam: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """The CAM as a jet heat map over a uint8 HWC image; opacity 0 = image only, 1 = map only."""
    check_images(image[None], what="the image under a GradCAM overlay")
    if cam.shape != image.shape[:2]:
        raise ImageError(f"the CAM's shape {cam.shape} differs from the image's {image.shape[:2]}.")
    if not 0.0 <= opacity <= 1.0:
        raise OptionError(f"opacity must be between 0 and 1, got {opacity}.")
    return show_cam_on_image(
        image.astype(np.float32) / 255, np.clip(cam, 0, 1), use_rgb=True, image_weight=1.0 - opacity
    )


def mass_in_mask(cams: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """For each image, the share of its CAM's total that lies inside the object mask.

    A map that ignored the object would score about the mask's share of the image (its area
    fraction); a map that looks at the object scores clearly more.
    """
    cams, masks = np.asarray(cams, dtype=np.float64), np.asarray(masks, dtype=bool)
    if cams.shape != masks.shape:
        raise ImageError(f"cams {cams.shape} and masks {masks.shape} must have the same shape.")
    total = cams.sum(axis=(1, 2))
    return np.where(total > 0, (cams * masks).sum(axis=(1, 2)) / np.maximum(total, 1e-12), 0.0)


def gradcam_figure(
    images: np.ndarray,
    columns: dict[str, np.ndarray],
    row_titles: Sequence[str] | None = None,
    opacity: float = 0.5,
    size: float = 1.6,
) -> Figure:
    """One row per image: the image, then one overlay per entry of `columns` (title -> CAMs).

    E.g. `{"CAM: predicted": cams_pred, "CAM: true": cams_true}` puts the two explanations
    of a misclassified image side by side. The keys are the column titles.
    """
    check_images(images, what="gradcam_figure images")
    ncols = 1 + len(columns)
    fig = Figure(figsize=(ncols * size + (1.2 if row_titles else 0), len(images) * size + 0.3), layout="constrained")
    axes = fig.subplots(len(images), ncols, squeeze=False)
    for i, image in enumerate(images):
        axes[i, 0].imshow(image, interpolation="nearest")
        for j, cams in enumerate(columns.values(), start=1):
            axes[i, j].imshow(overlay(image, cams[i], opacity))
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
        if row_titles:
            axes[i, 0].set_ylabel(row_titles[i], fontsize=8, rotation=0, ha="right", va="center")
    for j, title in enumerate(["image", *columns], start=0):
        axes[0, j].set_title(title, fontsize=9)
    return fig


def gradcam_view(
    model: nn.Module,
    x: torch.Tensor,
    image: np.ndarray,
    classes: Sequence[str],
    layer: str = DEFAULT_LAYER,
    target: str = "predicted",
    opacity: float = 0.5,
    true_label: int | None = None,
) -> Figure:
    """One image and its GradCAM for a chosen class: what the GradCAM explorer draws.

    x: the image normalised, (3, 32, 32); image: the same as uint8 HWC, for display.
    target: "predicted", "true" (needs true_label) or a class name.
    """
    net = _network(model)
    with torch.no_grad(), eval_mode(net):
        probs = net(x[None].float().to(next(net.parameters()).device)).float().softmax(1)[0].cpu().numpy()
    predicted = int(probs.argmax())
    if target == "predicted":
        chosen = predicted
    elif target == "true":
        if true_label is None:
            raise OptionError("target='true' needs the image's true_label.")
        chosen = int(true_label)
    elif target in classes:
        chosen = list(classes).index(target)
    else:
        raise OptionError(f"target must be 'predicted', 'true' or one of {list(classes)}, got {target!r}.")
    cam = gradcam(net, x[None], layer, targets=[chosen])[0]
    fig = Figure(figsize=(5.2, 2.9), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.imshow(image, interpolation="nearest")
    truth = f"true {classes[true_label]}, " if true_label is not None else ""
    left.set_title(f"{truth}predicted {classes[predicted]} ({probs[predicted]:.0%})", fontsize=9)
    right.imshow(overlay(image, cam, opacity))
    right.set_title(f"GradCAM at {layer} for {classes[chosen]} ({probs[chosen]:.0%})", fontsize=9)
    for ax in (left, right):
        ax.axis("off")
    return fig
