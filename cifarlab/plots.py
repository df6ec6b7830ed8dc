"""Figures of images: grids, a class-by-class overview, augmentation rows.

Functions return a matplotlib `Figure` built without pyplot, so a notebook shows it exactly
once (as the cell's value) and scripts can `fig.savefig(...)` it. A notebook shows such a
figure once `%matplotlib inline` has registered the PNG display (each lesson's setup cell).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from cifarlab.data.imageset import ImageSet, check_images
from cifarlab.errors import ImageError


def image_grid(images: np.ndarray, titles: Sequence[str] | None = None, ncols: int = 8, size: float = 1.3) -> Figure:
    """uint8 NHWC images in a grid, with an optional title above each."""
    check_images(images, what="image_grid images")
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    fig = Figure(figsize=(ncols * size, nrows * size * (1.2 if titles else 1.0)))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], interpolation="nearest")
            if titles:
                ax.set_title(titles[i], fontsize=8)
    fig.tight_layout(pad=0.3)
    return fig


def class_grid(images: ImageSet, per_class: int = 8, seed: int = 0, size: float = 1.0) -> Figure:
    """One row per class with `per_class` random examples, the class name on the left."""
    rng = np.random.default_rng(seed)
    fig = Figure(figsize=(per_class * size + 1.2, len(images.classes) * size))
    axes = fig.subplots(len(images.classes), per_class, squeeze=False)
    for label, name in enumerate(images.classes):
        members = np.flatnonzero(images.labels == label)
        chosen = rng.choice(members, size=min(per_class, len(members)), replace=False)
        for j, ax in enumerate(axes[label]):
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if j < len(chosen):
                ax.imshow(images.images[chosen[j]], interpolation="nearest")
        axes[label, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout(pad=0.2)
    return fig


def mosaic(tiles: np.ndarray, gap: int = 2) -> np.ndarray:
    """Tiles (rows, cols, H, W, 3) as one uint8 picture, `gap` white pixels around and between
    them (torchvision's `make_grid`). Tile (i, j) starts at gap + i * (H + gap), gap + j * (W + gap).

    The explorers draw their grids as one picture in one axes: matplotlib lays out and draws
    each axes separately, and a grid of 28 axes took 0.26 s of each slider move (one: 0.05 s).
    """
    import torch
    from torchvision.utils import make_grid

    rows, cols, h, w = tiles.shape[:4]
    batch = torch.from_numpy(np.ascontiguousarray(tiles).reshape(rows * cols, h, w, 3)).permute(0, 3, 1, 2)
    return make_grid(batch, nrow=cols, padding=gap, pad_value=255).permute(1, 2, 0).numpy()


def _mosaic_axes(fig: Figure, picture: np.ndarray, rect: Sequence[float]) -> Axes:
    ax = fig.add_axes(rect)
    ax.imshow(picture, interpolation="nearest")
    ax.axis("off")
    return ax


def augmentation_figure(originals: np.ndarray, grid: np.ndarray, title: str | None = None) -> Figure:
    """Each original image followed by its augmented versions (grid from `augmentation_grid`),
    drawn as one `mosaic`: a row per image, "original" then "version 1..." above the columns."""
    n, versions = grid.shape[:2]
    tiles = np.concatenate([np.asarray(originals)[:, None], grid], axis=1)
    top = 0.35 + (0.3 if title else 0)  # inches above the pictures for the column titles
    fig = Figure(figsize=((versions + 1) * 1.2, n * 1.2 + top))
    ax = _mosaic_axes(fig, mosaic(tiles), (0, 0, 1, n * 1.2 / (n * 1.2 + top)))
    size = tiles.shape[3] + 2  # a tile and its gap, in the mosaic's pixels
    for j in range(versions + 1):
        ax.text(2 + j * size + size / 2 - 1, -1, "original" if j == 0 else f"version {j}", ha="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def feature_map_figure(image: np.ndarray, maps: np.ndarray, title: str = "", ncols: int = 8) -> Figure:
    """An input image (uint8 HWC) beside feature maps of one block (C, H, W floats).

    Each map has its own colour scale (viridis: bright = strong activation), so a weak but
    structured channel is as visible as a strong one. The maps are one `mosaic`, each labelled
    with its channel.
    """
    check_images(image[None], what="feature_map_figure image")
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ImageError(f"maps should be (channels, H, W), got shape {maps.shape}.")
    rows = max(1, -(-len(maps) // ncols))
    low, high = maps.min(axis=(1, 2), keepdims=True), maps.max(axis=(1, 2), keepdims=True)
    scaled = (maps - low) / np.where(high > low, high - low, 1)  # each channel to 0..1 on its own
    coloured = (colormaps["viridis"](scaled)[..., :3] * 255).astype(np.uint8)
    h, w = maps.shape[1:] if len(maps) else (1, 1)
    tiles = np.full((rows * ncols, h, w, 3), 255, np.uint8)
    tiles[: len(maps)] = coloured
    width, height, top = 1.4 * (ncols + 1.5), 1.4 * rows, 0.4
    gap = max(1, h // 8)  # white pixels around each map
    fig = Figure(figsize=(width, height + top))
    inputs = _mosaic_axes(
        fig,
        image,
        (0, 1 - (1.4 * min(rows, 2) + 0.2) / (height + top), 2.4 / width, 1.4 * min(rows, 2) / (height + top)),
    )
    inputs.set_title("input", fontsize=9)
    ax = _mosaic_axes(
        fig,
        mosaic(tiles.reshape(rows, ncols, h, w, 3), gap=gap),
        (2.6 / width, 0, 1 - 2.6 / width, height / (height + top)),
    )
    for i in range(len(maps)):
        ax.text(gap + (i % ncols) * (h + gap), gap + (i // ncols) * (h + gap) - 0.5, f"ch {i}", fontsize=7, va="bottom")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def prediction_figure(
    shown: np.ndarray,
    scores: Sequence[tuple[str, float]],
    original: np.ndarray | None = None,
    caption: str = "what the model sees",
) -> Figure:
    """The inference apps' picture: the uploaded image (optional), the 32x32 image the model
    saw (with a GradCAM overlay, say), and the top-k probabilities as bars."""
    panels = 3 if original is not None else 2
    fig = Figure(figsize=(3.0 * panels, 3.0), layout="constrained")
    axes = fig.subplots(1, panels, width_ratios=[1] * (panels - 1) + [1.3])
    if original is not None:
        axes[0].imshow(original)
        axes[0].set_title("your image (centre square)", fontsize=9)
    axes[-2].imshow(shown, interpolation="nearest")
    axes[-2].set_title(caption, fontsize=9)
    for ax in axes[:-1]:
        ax.axis("off")
    names = [name for name, _ in scores][::-1]
    values = [p for _, p in scores][::-1]
    axes[-1].barh(names, values, color=["tab:blue"] * (len(values) - 1) + ["tab:orange"])
    for y, value in enumerate(values):
        axes[-1].text(value, y, f" {value:.1%}", va="center", fontsize=8)
    axes[-1].set_xlim(0, 1.25)
    axes[-1].set_xlabel("probability")
    axes[-1].set_title(f"top {len(scores)}", fontsize=9)
    return fig
