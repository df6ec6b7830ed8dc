"""Test-time augmentation (TTA): ask the trained model about a few harmless variants of each image.

A model trained on mirrored and shifted images has learnt that a mirrored cat is still a
cat, but each single look at an image is a little noisy. Averaging its logits over the
image and its mirror image (and over the two shifted by a pixel) cancels part of that
noise, for the price of two (six) forward passes instead of one. Page's ResNet-9 mirrors;
airbench mirrors and shifts, with the weights used here: half for the image as it is (and
its mirror), a quarter for each one-pixel shift (up-left and down-right, each with its
mirror).

The levels: "none" (one pass), "flip" (two), "flip-translate" (six).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cifarlab.errors import OptionError
from cifarlab.recipe import TTA_LEVELS

SHIFT = 1  # px: the translations are small, so that no object leaves the 32 x 32 frame
VIEWS = {
    "none": "1 pass: the image as it is",
    "flip": "2 passes: and its mirror image",
    "flip-translate": "6 passes: and both shifted 1 px up-left and down-right",
}


def check_level(level: str) -> str:
    """`level` if it is one of TTA_LEVELS, else an OptionError naming them."""
    if level not in TTA_LEVELS:
        raise OptionError(f"tta={level!r}: choose one of {TTA_LEVELS}.")
    return level


def _mirrored(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The mean of the logits of `x` and of its left-right mirror."""
    return 0.5 * (model(x).float() + model(x.flip(-1)).float())


def _shifted(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """`x` moved by (dy, dx) pixels, the edge reflected into the gap (as the training crops do)."""
    padded = F.pad(x, (SHIFT,) * 4, mode="reflect")
    h, w = x.shape[-2:]
    top, left = SHIFT - dy, SHIFT - dx
    return padded[..., top : top + h, left : left + w]


def tta_logits(model: torch.nn.Module, x: torch.Tensor, level: str = "flip-translate") -> torch.Tensor:
    """The model's logits for a normalised batch (N, C, H, W), averaged over the level's views (fp32)."""
    return logits_by_level(model, x, level)[level]


def logits_by_level(model: torch.nn.Module, x: torch.Tensor, up_to: str = "flip-translate") -> dict[str, torch.Tensor]:
    """The logits of every level from "none" to `up_to`, each view computed once (fp32).

    `cifarlab evaluate` reports them side by side for the price of the largest.
    """
    levels = TTA_LEVELS[: TTA_LEVELS.index(check_level(up_to)) + 1]
    plain = model(x).float()
    out = {"none": plain}
    if "flip" in levels:
        out["flip"] = 0.5 * (plain + model(x.flip(-1)).float())
    if "flip-translate" in levels:
        shifted = 0.5 * (_mirrored(model, _shifted(x, SHIFT, SHIFT)) + _mirrored(model, _shifted(x, -SHIFT, -SHIFT)))
        out["flip-translate"] = 0.5 * out["flip"] + 0.5 * shifted
    return out
