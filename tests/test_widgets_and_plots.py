import numpy as np
from matplotlib.figure import Figure

import cifarlab.widgets as widgets_module
from cifarlab.augment import augmentation_grid
from cifarlab.data import make_synthetic
from cifarlab.plots import augmentation_figure, class_grid, image_grid


def test_explorer_redraws_with_the_slider_values(monkeypatch):
    images = make_synthetic(2, seed=0).images
    calls = []

    def spy(images, fill, **kwargs):
        calls.append(kwargs)
        return augmentation_grid(images, fill, **kwargs)

    monkeypatch.setattr(widgets_module, "augmentation_grid", spy)
    explorer = widgets_module.augmentation_explorer(images, fill=(125, 123, 114), versions=3)
    sliders = {w.description: w for box in explorer.children[0].children for w in box.children}
    assert set(sliders) == {"pad (px)", "flip p", "holes", "hole size", "cutout p", "seed"}
    assert calls and calls[-1]["pad"] == 4  # drawn once on creation, at the defaults
    sliders["hole size"].value = 12
    sliders["pad (px)"].value = 0
    assert calls[-1]["hole_size"] == 12 and calls[-1]["pad"] == 0 and calls[-1]["versions"] == 3


def test_figures_have_one_panel_per_image():
    data = make_synthetic(30, seed=0)
    grid_fig = image_grid(data.images[:10], titles=[str(i) for i in range(10)], ncols=4)
    assert isinstance(grid_fig, Figure) and len(grid_fig.axes) == 12  # 3 rows of 4
    assert sum(bool(ax.images) for ax in grid_fig.axes) == 10
    classes_fig = class_grid(data, per_class=2)
    assert len(classes_fig.axes) == 20
    assert classes_fig.axes[0].get_ylabel() == data.classes[0]
    aug = augmentation_grid(data.images[:3], data.images.mean(axis=(0, 1, 2)), versions=4)
    assert len(augmentation_figure(data.images[:3], aug).axes) == 15
