"""The quizzes' computed answers: sizes, counts and shapes, worked out by the package's own code.

Each function runs what a lesson runs (the ResNet9 and its shape walk, the augmentation
pipeline, the OneCycle schedule, the image preparation) and returns the answer, or facts for
an explanation. They are called when an answer is checked, never at import, and depend on
neither the profile nor the machine. The expensive ones are computed once per kernel.
"""

from __future__ import annotations

import functools
from typing import Any

from cifarlab.profile import full_training_images
from cifarlab.recipe import RECIPE

PHOTO = (480, 360)  # lesson 07's 4:3 "photo", width x height


def zeros_image() -> Any:
    """A black uint8 image of the recipe's size, (H, W, 3), to run the pipelines on."""
    import numpy as np

    return np.zeros((RECIPE.image_size, RECIPE.image_size, 3), np.uint8)


@functools.cache
def resnet9(widths: tuple[int, ...] = RECIPE.widths) -> Any:
    """The package's ResNet9 at `widths`, in eval mode (built once per widths)."""
    from cifarlab.model import ResNet9

    return ResNet9(widths=widths).eval()


def parameters(widths: tuple[int, ...] = RECIPE.widths) -> int:
    """count_parameters of the ResNet9 at `widths`."""
    from cifarlab.model import count_parameters

    return count_parameters(resnet9(widths))


@functools.cache
def block_shapes() -> dict[str, tuple[int, ...]]:
    """Each block's output shape for one image, as the shape walk of lesson 02 prints it."""
    import torch

    from cifarlab.model import block_outputs

    size = RECIPE.image_size
    return {name: tuple(out.shape) for name, out in block_outputs(resnet9(), torch.zeros(1, 3, size, size)).items()}


def full_run_steps() -> int:
    """Optimizer steps of the full recipe (the training loader drops each epoch's incomplete last batch)."""
    return RECIPE.epochs * (full_training_images() // RECIPE.batch_size)


def full_run_ema_decay() -> float:
    """The EMA's per-step decay for the full recipe's run, as `cifarlab train --ema` sets it."""
    from cifarlab.ema import ema_decay

    return ema_decay(full_run_steps(), RECIPE.ema_horizon)


def ema_facts() -> dict[str, float]:
    """The full run's steps and the steps the EMA remembers, for the explanation."""
    return {"steps": full_run_steps(), "memory": 1 / (1 - full_run_ema_decay())}


@functools.cache
def full_schedule() -> tuple[list[float], list[float]]:
    """The full recipe's OneCycle rate and momentum at every batch."""
    from cifarlab.schedule import schedule_curve

    return schedule_curve(full_run_steps(), RECIPE.max_lr)


def schedule_facts() -> dict[str, float]:
    """The full run's steps, its start and peak rate, and the rate after only one step per epoch."""
    rates, _ = full_schedule()
    return {"steps": len(rates), "start": rates[0], "peak": max(rates), "late": rates[RECIPE.epochs]}


def momentum_at_peak() -> str:
    """Where momentum is when the rate peaks, in the words of the question's choices."""
    rates, momenta = full_schedule()
    at_peak, low, high = momenta[rates.index(max(rates))], min(momenta), max(momenta)
    if high - low < 1e-6:
        return "Unchanged: it stays at RECIPE.momentum"
    return "At its lowest" if at_peak - low < (high - low) / 10 else "At its highest"


def momentum_facts() -> dict[str, float]:
    """The lowest and highest momentum of the full run."""
    _, momenta = full_schedule()
    return {"low": min(momenta), "high": max(momenta)}


def image_bytes() -> int:
    """The bytes of one image as every data source stores it."""
    from cifarlab.data import make_synthetic  # every source gives the same uint8 images

    return int(make_synthetic(1).images[0].nbytes)


AXES = ((0, 1, 2), (1, 2, 3), (0,), (3,))


def per_channel_axes() -> str:
    """The choice among AXES that reduces (N, H, W, C) images to one number per channel."""
    import numpy as np

    images = np.zeros((2, *zeros_image().shape))  # (N, H, W, C)
    return next(f"axis={axes}" for axes in AXES if images.mean(axis=axes).shape == (3,))


def padded_width() -> int:
    """The width of an image after the recipe's reflect padding, before the random crop."""
    from cifarlab.augment import augmentations

    pad = augmentations(fill=(0, 0, 0), flip_p=0, holes=0)[0]  # the recipe's padding, before its random crop
    return int(pad(image=zeros_image())["image"].shape[1])


def pipeline_output() -> str:
    """Shape and dtype of what the training pipeline makes of one uint8 image."""
    from cifarlab.augment import train_transforms

    out = train_transforms(mean=(0.5,) * 3, std=(0.25,) * 3)(image=zeros_image())["image"]
    return f"{tuple(out.shape)}, {out.dtype}"


def residual_conv_weights() -> int:
    """The weights of the first conv in layer3's residual block."""
    return int(dict(resnet9().named_modules())["layer3.1.body.0.0"].weight.numel())


def layer3_share() -> dict[str, float]:
    """The share of all parameters in layer3's residual block, its width and the side of its maps."""
    from cifarlab.model import count_parameters

    width, _, side = block_shapes()["layer3.1"][1:]  # channels, height, width
    return {"share": count_parameters(resnet9().layer3[1]) / parameters(), "width": width, "side": side}


def walk() -> dict[str, str]:
    """Each block's output for one image as "C x H x W", as lesson 02's table writes it ("layer1.1" as layer1_1)."""
    return {name.replace(".", "_"): " x ".join(map(str, shape[1:])) for name, shape in block_shapes().items()}


def halved_widths() -> tuple[int, ...]:
    """The recipe's widths, each halved (lesson 02's Try this)."""
    return tuple(w // 2 for w in RECIPE.widths)


def smoothed_target() -> dict[str, float]:
    """The target cross-entropy trains towards with the recipe's smoothing: softmax minus the gradient."""
    import torch
    import torch.nn.functional as F

    logits = torch.zeros(1, RECIPE.num_classes, requires_grad=True)
    F.cross_entropy(logits, torch.tensor([0]), label_smoothing=RECIPE.label_smoothing).backward()
    target = (torch.softmax(logits, 1) - logits.grad)[0].detach()
    return {"true": float(target[0]), "other": float(target[1])}


def cam_cell() -> int:
    """How many image pixels wide one cell of layer3's map (and so of its GradCAM) is."""
    return RECIPE.image_size // block_shapes()["layer3.1"][-1]


def map_sides() -> dict[str, int]:
    """How many cells wide layer3's and layer2's maps are: GradCAM's resolution there."""
    shapes = block_shapes()
    return {"side": shapes["layer3.1"][-1], "layer2": shapes["layer2"][-1]}


def model_image() -> str:
    """Shape and dtype of what to_model_image makes of lesson 07's 4:3 photo."""
    from PIL import Image

    from cifarlab.inference import to_model_image

    array = to_model_image(Image.new("RGB", PHOTO))
    return f"{array.shape}, {array.dtype}"


def transparent_becomes() -> str:
    """What colour a fully transparent pixel becomes, in the words of the question's choices."""
    from PIL import Image

    from cifarlab.inference import to_model_image

    pixel = tuple(int(v) for v in to_model_image(Image.new("RGBA", (8, 8), (0, 0, 0, 0)))[0, 0])
    return {(255, 255, 255): "White", (0, 0, 0): "Black"}.get(pixel, str(pixel))
