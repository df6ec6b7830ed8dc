"""What one slider move costs in the kernel: each explorer's redraw, from the new value to the
PNG that Jupyter sends to the page.

    python benchmarks/explorer_redraw.py [--repeats 10]

For each explorer: the median time of its computation (augmentation, feature maps, GradCAM,
prediction), of building its figure, and of rendering the figure to PNG as Jupyter's inline
backend does (`bbox_inches="tight"`). For lessons 01 and 02 the figure as it was drawn before
(one matplotlib axes per tile, constrained layout) is timed beside the one drawn now (one
mosaic in one axes), in the same run. What the browser adds on top (the widget messages, the
page's redraw) is measured by the browser tests, which print it at the end of their run.
Uses synthetic images and an untrained ResNet9: the costs do not depend on what the pictures show.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
from IPython.core.pylabtools import print_figure
from matplotlib.figure import Figure

from cifarlab.augment import augmentation_grid, normalize_batch
from cifarlab.checkpoint import LoadedModel
from cifarlab.data import make_synthetic
from cifarlab.gradcam import gradcam_view
from cifarlab.hardware import cpu_features
from cifarlab.inference import explain
from cifarlab.model import ResNet9, feature_maps
from cifarlab.plots import augmentation_figure, feature_map_figure, prediction_figure
from cifarlab.recipe import RECIPE
from cifarlab.schedule import schedule_figure


def median_ms(run: Callable[[], object], repeats: int) -> tuple[float, object]:
    result = run()  # warm-up: fonts, caches, first-call allocations
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds)) * 1000, result


def axes_per_tile_augmentation(originals: np.ndarray, grid: np.ndarray) -> Figure:
    """Lesson 01's figure as it was drawn before: one axes per tile, constrained layout."""
    n, versions = grid.shape[:2]
    fig = Figure(figsize=((versions + 1) * 1.2, n * 1.2 + 0.2), layout="constrained")
    axes = fig.subplots(n, versions + 1, squeeze=False)
    for i in range(n):
        for j, ax in enumerate(axes[i]):
            ax.axis("off")
            ax.imshow(originals[i] if j == 0 else grid[i, j - 1], interpolation="nearest")
    for j, ax in enumerate(axes[0]):
        ax.set_title("original" if j == 0 else f"version {j}", fontsize=8)
    return fig


def axes_per_tile_feature_maps(image: np.ndarray, maps: np.ndarray, ncols: int = 8) -> Figure:
    """Lesson 02's figure as it was drawn before: one axes per channel, constrained layout."""
    rows = int(np.ceil(len(maps) / ncols))
    fig = Figure(figsize=(1.4 * (ncols + 1.5), 1.4 * max(rows, 1) + 0.4), layout="constrained")
    grid = fig.add_gridspec(max(rows, 1), ncols + 2)
    ax = fig.add_subplot(grid[: min(rows, 2), :2])
    ax.imshow(image)
    ax.axis("off")
    for i, channel_map in enumerate(maps):
        ax = fig.add_subplot(grid[i // ncols, 2 + i % ncols])
        ax.imshow(channel_map, cmap="viridis")
        ax.set_title(f"ch {i}", fontsize=7)
        ax.axis("off")
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_grad_enabled(True)
    data = make_synthetic(8, seed=0)
    images = data.images[:4]
    model = ResNet9().eval()
    mean, std = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)
    x = normalize_batch(images, mean, std, torch.device("cpu"))
    loaded = LoadedModel(model, mean, std, tuple(data.classes), {})
    fill = np.array(mean) * 255
    grid_args = dict(versions=6, pad=RECIPE.pad, flip_p=RECIPE.flip_p, holes=1, hole_size=8, cutout_p=1.0, seed=3)

    rows = []  # (explorer, computation ms, figure ms, PNG ms)

    def measure(name: str, compute: Callable[[], object], draw: Callable[[object], Figure]) -> None:
        compute_ms, value = median_ms(compute, args.repeats)
        figure_ms, figure = median_ms(lambda: draw(value), args.repeats)
        png_ms, _ = median_ms(lambda: print_figure(figure, "png", bbox_inches="tight"), args.repeats)
        rows.append((name, compute_ms, figure_ms, png_ms))

    augment = lambda: augmentation_grid(images, fill, **grid_args)  # noqa: E731
    measure("01 augmentation, before: an axes per tile", augment, lambda g: axes_per_tile_augmentation(images, g))
    measure("01 augmentation, now: one mosaic", augment, lambda g: augmentation_figure(images, g))
    maps = lambda: feature_maps(model, x[0], "layer1", 0, 16)  # noqa: E731
    measure("02 feature maps, before: an axes per channel", maps, lambda m: axes_per_tile_feature_maps(images[0], m))
    measure("02 feature maps, now: one mosaic", maps, lambda m: feature_map_figure(images[0], m, title="layer1"))
    measure("05 schedule", lambda: None, lambda _: schedule_figure(24 * 97, 0.4, steps_per_epoch=97))
    measure(
        "06 GradCAM (computed inside the figure)",
        lambda: None,
        lambda _: gradcam_view(model, x[0], images[0], data.classes, "layer3", "predicted", 0.5),
    )
    measure(
        "07 in-notebook app",
        lambda: explain(images[0], loaded, 3, True, "layer3", 0.5),
        lambda r: prediction_figure(r.shown, [tuple(s) for s in r.scores], original=r.preview),
    )

    print(f"cpu: {cpu_features().describe()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"median of {args.repeats} redraws, ms")
    print(f"{'explorer':<46} {'compute':>8} {'figure':>8} {'PNG':>8} {'total':>8}")
    for name, compute_ms, figure_ms, png_ms in rows:
        total = compute_ms + figure_ms + png_ms
        print(f"{name:<46} {compute_ms:8.1f} {figure_ms:8.1f} {png_ms:8.1f} {total:8.1f}")
    by_name = {name: sum(values) for name, *values in rows}
    for lesson, before, now in (
        ("01", "01 augmentation, before: an axes per tile", "01 augmentation, now: one mosaic"),
        ("02", "02 feature maps, before: an axes per channel", "02 feature maps, now: one mosaic"),
    ):
        print(f"lesson {lesson}: now {by_name[before] / by_name[now]:.1f}x faster than before")


if __name__ == "__main__":
    main()
