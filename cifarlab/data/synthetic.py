"""A synthetic, learnable stand-in for CIFAR-10, generated offline from a seed.

Ten classes of procedural shapes, each drawn at a random place and size on a random
background (a two-colour gradient with noise). The object's hue leans towards its class
but varies; the background's colours are independent of the class. So a model can only
score by looking at the object, and every image keeps the mask of its object: the GradCAM
lesson uses those masks to check that the model's attention lands on the object.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import hsv_to_rgb

from cifarlab.data.imageset import ImageSet
from cifarlab.errors import OptionError
from cifarlab.recipe import RECIPE

SIZE = RECIPE.image_size  # CIFAR-shaped, so every model and pipeline takes it
SHAPES = (
    "disc", "square", "triangle", "ring", "plus",
    "diamond", "star", "frame", "crescent", "cross",
)  # fmt: skip


def _shape_mask(shape: str, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """True inside `shape`, for coordinates scaled so the shape spans about -1..1."""
    r2 = dx**2 + dy**2
    box = np.maximum(abs(dx), abs(dy))
    if shape == "disc":
        return r2 <= 1.0
    if shape == "square":
        return box <= 0.8
    if shape == "triangle":  # apex up
        return (dy <= 0.8) & (abs(dx) <= (dy + 1.0) * 0.5)
    if shape == "ring":
        return (r2 <= 1.0) & (r2 >= 0.5**2)
    if shape == "plus":
        return ((abs(dx) <= 0.3) & (abs(dy) <= 1.0)) | ((abs(dy) <= 0.3) & (abs(dx) <= 1.0))
    if shape == "diamond":
        return abs(dx) + abs(dy) <= 1.0
    if shape == "star":  # five points
        angle = np.arctan2(dy, dx) + np.pi / 2
        return np.sqrt(r2) <= 0.4 + 0.6 * np.abs(np.cos(2.5 * angle)) ** 3
    if shape == "frame":
        return (box <= 0.85) & (box >= 0.5)
    if shape == "crescent":
        return (r2 <= 1.0) & ((dx - 0.55) ** 2 + dy**2 > 0.75**2)
    if shape == "cross":  # a plus turned by 45 degrees
        u, v = (dx + dy) / np.sqrt(2), (dx - dy) / np.sqrt(2)
        return ((abs(u) <= 0.28) & (abs(v) <= 1.0)) | ((abs(v) <= 0.28) & (abs(u) <= 1.0))
    raise OptionError(f"unknown shape {shape!r}; choose from {SHAPES}")


def _render(label: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    # Background: a gradient between two random colours in a random direction, plus noise.
    c0, c1 = rng.uniform(0, 255, size=(2, 3))
    theta = rng.uniform(0, 2 * np.pi)
    ramp = ((xx - SIZE / 2) * np.cos(theta) + (yy - SIZE / 2) * np.sin(theta)) / SIZE + 0.5
    background = c0 + (c1 - c0) * ramp[..., None]
    background += rng.normal(0, 10, size=background.shape)
    # Object: class-leaning hue, random saturation and brightness, random place and size.
    radius = rng.uniform(6.0, 11.0)
    cx, cy = rng.uniform(radius - 2, SIZE - radius + 2, size=2)
    mask = _shape_mask(SHAPES[label], (xx - cx) / radius, (yy - cy) / radius)
    hue = (label / len(SHAPES) + rng.normal(0, 0.04)) % 1.0
    colour = hsv_to_rgb([hue, rng.uniform(0.5, 1.0), rng.uniform(0.5, 1.0)]) * 255
    # Keep the object visible: push its colour away from the background under it.
    under = background[mask].mean(axis=0) if mask.any() else background.mean(axis=(0, 1))
    if np.abs(colour - under).mean() < 60:
        colour = np.where(under > 127, colour * 0.35, 255 - (255 - colour) * 0.35)
    image = background.copy()
    image[mask] = colour + rng.normal(0, 6, size=(int(mask.sum()), 3))
    return np.clip(image, 0, 255).round().astype(np.uint8), mask


def make_synthetic(n: int, seed: int = 0, split: str = "train") -> ImageSet:
    """`n` synthetic images (balanced classes, shuffled) with object masks, from `seed`."""
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    labels = rng.permutation(np.arange(n) % len(SHAPES))
    images = np.empty((n, SIZE, SIZE, 3), dtype=np.uint8)
    masks = np.empty((n, SIZE, SIZE), dtype=bool)
    for i, label in enumerate(labels):
        images[i], masks[i] = _render(int(label), rng)
    return ImageSet(
        images=images,
        labels=labels.astype(np.int64),
        classes=SHAPES,
        source=f"synthetic shapes, seed {seed} ({split})",
        masks=masks,
    )


def load_synthetic(n_train: int, n_test: int, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """A (train, test) pair of synthetic sets; the test images come from a separate stream."""
    return make_synthetic(n_train, seed, "train"), make_synthetic(n_test, seed, "test")
