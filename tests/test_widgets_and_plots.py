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


def test_the_augmentation_figure_is_one_mosaic_of_originals_then_versions():
    data = make_synthetic(30, seed=0)
    aug = augmentation_grid(data.images[:3], data.images.mean(axis=(0, 1, 2)), versions=4)
    fig = augmentation_figure(data.images[:3], aug)
    (ax,) = fig.axes  # one axes: the explorer redraws it on every slider move
    picture = ax.images[0].get_array()
    assert picture.shape == (3 * 34 + 2, 5 * 34 + 2, 3)  # 32-pixel tiles, 2-pixel gaps around and between
    for i in range(3):
        assert np.array_equal(picture[2 + i * 34 : 2 + i * 34 + 32, 2:34], data.images[i])
        for j in range(4):
            assert np.array_equal(
                picture[2 + i * 34 : 2 + i * 34 + 32, 2 + (j + 1) * 34 : (j + 1) * 34 + 34], aug[i, j]
            )
    assert [t.get_text() for t in ax.texts] == ["original", "version 1", "version 2", "version 3", "version 4"]


def test_mosaic_puts_white_gaps_between_tiles():
    from cifarlab.plots import mosaic

    tiles = np.zeros((2, 3, 4, 5, 3), np.uint8)
    tiles[1, 2] = 7
    picture = mosaic(tiles, gap=1)
    assert picture.shape == (2 * 5 + 1, 3 * 6 + 1, 3)
    assert (picture[[0, 5, 10]] == 255).all() and (picture[:, [0, 6, 12, 18]] == 255).all()  # the gaps
    assert (picture[6:10, 13:18] == 7).all() and picture[1:5, 1:6].max() == 0


def test_feature_map_explorer_draws_the_chosen_block_and_channels(monkeypatch):
    import torch

    from cifarlab.model import ResNet9

    data = make_synthetic(3, seed=0)
    x = torch.from_numpy(data.images).permute(0, 3, 1, 2).float().div(255)
    drawn = []
    monkeypatch.setattr(
        widgets_module, "feature_map_figure", lambda image, maps, title: drawn.append((image, maps, title))
    )
    explorer = widgets_module.feature_map_explorer(ResNet9(widths=(16, 32, 64, 128)), data.images, x, count=8)
    controls = {w.description: w for w in explorer.children[0].children}
    assert drawn[-1][1].shape == (8, 32, 32)  # prep keeps 32x32
    controls["block"].value = "layer2"
    controls["image"].value = 2
    image, maps, title = drawn[-1]
    assert maps.shape == (8, 8, 8) and np.array_equal(image, data.images[2]) and "layer2" in title
    controls["channels from"].value = 400  # past layer2's 64 channels: clamped to the last 8
    assert drawn[-1][1].shape == (8, 8, 8)
    maps = drawn[-1][1]
    fig = feature_map_figure_real(data.images[0], maps)
    inputs, grid = fig.axes
    assert np.array_equal(inputs.images[0].get_array(), data.images[0])
    picture = grid.images[0].get_array()  # 8 maps of 8x8 in a row, 1-pixel gaps, each on its own scale
    assert picture.shape == (10, 8 * 9 + 1, 3) and [t.get_text() for t in grid.texts] == [f"ch {i}" for i in range(8)]
    for i, channel in enumerate(maps):
        tile = picture[1:9, 1 + i * 9 : 1 + i * 9 + 8].astype(int)
        if channel.max() > channel.min():  # the strongest activation is viridis' yellow, the weakest its purple
            brightest, dimmest = (
                np.unravel_index(channel.argmax(), channel.shape),
                np.unravel_index(channel.argmin(), channel.shape),
            )
            assert tile[brightest].tolist() == [253, 231, 36] and tile[dimmest].tolist() == [68, 1, 84]


def feature_map_figure_real(image, maps):
    from cifarlab.plots import feature_map_figure

    return feature_map_figure(image, maps)


def test_schedule_explorer_redraws_with_the_sliders(monkeypatch):
    import cifarlab.schedule as schedule

    calls = []
    real = schedule.schedule_figure
    monkeypatch.setattr(schedule, "schedule_figure", lambda *a, **k: calls.append((a, k)) or real(*a, **k))
    explorer = widgets_module.schedule_explorer(steps_per_epoch=10, epochs=4)
    sliders = {w.description: w for box in explorer.children[:2] for w in box.children}
    assert calls[-1][0][:2] == (40, 0.4)
    sliders["epochs"].value = 2
    sliders["warm-up"].value = 0.5
    assert calls[-1][0][0] == 20 and calls[-1][0][2] == 0.5
