"""Augmentation of whole batches on the device: the fast path beside Albumentations.

Albumentations augments one image at a time in DataLoader workers, on the CPU. On a GPU
that becomes the bottleneck: the model eats a batch of 512 in milliseconds, while the CPU
workers need far longer to crop, flip and cut out 512 images one by one. The same three
steps are cheap tensor operations on the whole batch at once, on the GPU (airbench does
the same). They act on normalised images, so the cutout fill is 0: the mean colour.

Randomness comes from a `torch.Generator` on the CPU (a few numbers per image), so a seeded
run draws the same crops, flips and holes on any device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cifarlab.errors import ImageError
from cifarlab.recipe import RECIPE


def random_crop(x: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Reflect-pad by `pad` and cut a random 32x32 (HxW) window from every image of (N, C, H, W)."""
    if pad <= 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")  # = OpenCV's BORDER_REFLECT_101
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (N, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (N, 1, 1, W)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def random_flip(x: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability p."""
    if p <= 0:
        return x
    flip = (torch.rand(x.shape[0], generator=generator) < p).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def random_cutout(x: torch.Tensor, size: int, p: float, generator: torch.Generator, fill: float = 0.0) -> torch.Tensor:
    """With probability p, fill one size x size square (wholly inside the image) with `fill`."""
    if p <= 0 or size <= 0:
        return x
    n, _, h, w = x.shape
    apply = torch.rand(n, generator=generator) < p
    top = torch.randint(0, h - size + 1, (n,), generator=generator)
    left = torch.randint(0, w - size + 1, (n,), generator=generator)
    rows = torch.arange(h)[None, :]
    cols = torch.arange(w)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < top[:, None] + size)  # (N, H)
    in_cols = (cols >= left[:, None]) & (cols < left[:, None] + size)  # (N, W)
    hole = (in_rows[:, :, None] & in_cols[:, None, :] & apply[:, None, None]).to(x.device)
    return torch.where(hole[:, None], torch.as_tensor(fill, dtype=x.dtype, device=x.device), x)


def batch_augment(
    x: torch.Tensor,
    generator: torch.Generator,
    pad: int = RECIPE.pad,
    flip_p: float = RECIPE.flip_p,
    hole_size: int = RECIPE.hole_size,
    cutout_p: float = RECIPE.cutout_p,
) -> torch.Tensor:
    """Crop, flip and cutout a normalised batch (N, 3, H, W), as `cifarlab.augment` does per image.

    One cutout square per image, the recipe's `holes`; the per-image path also takes more.
    """
    if x.ndim != 4:
        raise ImageError(f"batch_augment expects a batch of shape (N, C, H, W), got {tuple(x.shape)}.")
    x = random_crop(x, pad, generator)
    x = random_flip(x, flip_p, generator)
    return random_cutout(x, hole_size, cutout_p, generator)


def batch_generator(seed: int, epoch: int, batch_index: int) -> torch.Generator:
    """A CPU generator for one batch, fixed by (seed, epoch, batch): resumed runs draw the same."""
    return torch.Generator().manual_seed(hash((seed, epoch, batch_index)) & 0x7FFF_FFFF_FFFF_FFFF)
