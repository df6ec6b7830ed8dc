"""Albumentations pipelines for CIFAR-10, the `denormalize` helper, and a pure augmentation grid.

The training pipeline follows the course's recipe (the numbers are `RECIPE`'s):

1. reflect-pad by `pad` pixels, then take a random 32x32 crop: the object moves by up to `pad`
   pixels, so the model learns that a shifted cat is still a cat (translation invariance);
2. horizontal flip: a mirrored airplane is still an airplane (but never flip vertically);
3. CoarseDropout ("cutout"): blank a `hole_size` square with the mean colour, so the model
   cannot rely on a single telltale patch and must use the whole object;
4. Normalize with the training mean and std, then ToTensorV2 (HWC uint8 -> CHW float tensor).

The test pipeline only normalises: we evaluate on the images as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import cv2
import numpy as np
import torch
from albumentations.pytorch import ToTensorV2

from cifarlab.data.imageset import check_images
from cifarlab.errors import ImageError
from cifarlab.recipe import RECIPE

SIZE = RECIPE.image_size


def augmentations(
    fill: Sequence[float],
    pad: int = RECIPE.pad,
    flip_p: float = RECIPE.flip_p,
    holes: int = RECIPE.holes,
    hole_size: int = RECIPE.hole_size,
    cutout_p: float = RECIPE.cutout_p,
) -> list[A.BasicTransform]:
    """The augmentation steps alone (no normalisation), on uint8 images.

    fill: the colour cutout holes are filled with, in 0..255 (the training mean times 255).
    A step whose parameter is 0 is left out, so the explorer can switch each one off.
    """
    steps: list[A.BasicTransform] = []
    if pad > 0:
        steps += [
            A.PadIfNeeded(SIZE + 2 * pad, SIZE + 2 * pad, border_mode=cv2.BORDER_REFLECT_101),
            A.RandomCrop(SIZE, SIZE),
        ]
    if flip_p > 0:
        steps.append(A.HorizontalFlip(p=flip_p))
    if holes > 0 and hole_size > 0 and cutout_p > 0:
        steps.append(
            A.CoarseDropout(
                num_holes_range=(holes, holes),
                hole_height_range=(hole_size, hole_size),
                hole_width_range=(hole_size, hole_size),
                fill=tuple(float(v) for v in fill),
                p=cutout_p,
            )
        )
    return steps


def train_transforms(mean: Sequence[float], std: Sequence[float], **augmentation: float) -> A.Compose:
    """Training pipeline: augmentations (see `augmentations` for the keywords), Normalize, ToTensorV2."""
    fill = tuple(float(m) * 255 for m in mean)
    return A.Compose(
        [
            *augmentations(fill, **augmentation),
            A.Normalize(mean=tuple(mean), std=tuple(std), max_pixel_value=255.0),
            ToTensorV2(),
        ]
    )


def eval_transforms(mean: Sequence[float], std: Sequence[float]) -> A.Compose:
    """Evaluation pipeline: Normalize and ToTensorV2 only."""
    return A.Compose([A.Normalize(mean=tuple(mean), std=tuple(std), max_pixel_value=255.0), ToTensorV2()])


def normalize_batch(
    images: np.ndarray, mean: Sequence[float], std: Sequence[float], device: str | torch.device = "cpu"
) -> torch.Tensor:
    """uint8 NHWC images -> normalised float NCHW tensor on `device` (what eval_transforms does, batched)."""
    check_images(images, what="images to normalise")
    return normalize_tensor(torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2), mean, std)


def normalize_tensor(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 NCHW images, already on their device -> normalised float NCHW, there (Normalize's arithmetic)."""
    x = images.float().div_(255)
    m = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    return (x - m) / s


def denormalize(x: torch.Tensor | np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Undo Normalize for display: CHW or NCHW floats -> HWC or NHWC uint8 images."""
    array = x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if array.ndim not in (3, 4) or array.shape[-3] != 3:
        raise ImageError(
            f"denormalize expects normalised images of shape (3, H, W) or (N, 3, H, W), got {array.shape}."
        )
    m = np.asarray(mean, dtype=np.float32).reshape(3, 1, 1)
    s = np.asarray(std, dtype=np.float32).reshape(3, 1, 1)
    images = np.clip((array * s + m) * 255.0, 0, 255).round().astype(np.uint8)
    return np.moveaxis(images, -3, -1)


def augmentation_grid(
    images: np.ndarray,
    fill: Sequence[float],
    versions: int = 6,
    seed: int = 0,
    **augmentation: float,
) -> np.ndarray:
    """`versions` augmented copies of each image: uint8 array (N, versions, 32, 32, 3).

    fill: cutout colour in 0..255 (the training mean times 255). A pure function (same
    inputs and seed, same output) that the explorer widget draws and the tests check.
    Keywords are those of `augmentations`.
    """
    check_images(images, what="augmentation_grid images")
    pipeline = A.Compose(augmentations(fill, **augmentation), seed=seed)
    return np.stack([np.stack([pipeline(image=image)["image"] for _ in range(versions)]) for image in images])
