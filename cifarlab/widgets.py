"""Interactive explorers for the notebooks. The drawing is done by pure functions in the
package (tested directly); this module only wires sliders to them."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

import ipywidgets as widgets
import numpy as np
from IPython.display import display

from cifarlab.augment import augmentation_grid
from cifarlab.model import BLOCKS, feature_maps
from cifarlab.plots import augmentation_figure, feature_map_figure
from cifarlab.recipe import RECIPE

if TYPE_CHECKING:
    import torch

    from cifarlab.checkpoint import LoadedModel


def augmentation_explorer(images: np.ndarray, fill: Sequence[float], versions: int = 6) -> widgets.VBox:
    """Sliders for each augmentation parameter over a grid of augmented versions of `images`.

    fill: cutout colour in 0..255 (the training mean times 255).
    """
    sliders = {
        "pad": widgets.IntSlider(RECIPE.pad, 0, 8, description="pad (px)"),
        "flip_p": widgets.FloatSlider(RECIPE.flip_p, min=0, max=1, step=0.1, description="flip p"),
        "holes": widgets.IntSlider(RECIPE.holes, 0, 4, description="holes"),
        "hole_size": widgets.IntSlider(RECIPE.hole_size, 0, 16, description="hole size"),
        # every version gets its hole at first, so that the student sees what cutout does
        "cutout_p": widgets.FloatSlider(1.0, min=0, max=1, step=0.1, description="cutout p"),
        "seed": widgets.IntSlider(0, 0, 99, description="seed"),
    }
    output = widgets.Output()

    def redraw(**values: float) -> None:
        grid = augmentation_grid(images, fill, versions=versions, **values)
        output.clear_output(wait=True)
        with output:
            display(augmentation_figure(images, grid))

    widgets.interactive_output(redraw, sliders)
    controls = widgets.HBox([widgets.VBox(list(sliders.values())[:3]), widgets.VBox(list(sliders.values())[3:])])
    return widgets.VBox([controls, output])


def feature_map_explorer(model: torch.nn.Module, images: np.ndarray, x: torch.Tensor, count: int = 16) -> widgets.VBox:
    """Sliders for image, block and first channel over the model's feature maps.

    images: uint8 NHWC (what is shown); x: the same images normalised, (N, 3, 32, 32).
    """
    widest = max(getattr(m, "out_channels", 0) for m in model.modules())  # the most channels a block has
    layers = [b for b in BLOCKS if b not in ("pool", "fc")]
    controls = {
        "index": widgets.IntSlider(0, 0, len(images) - 1, description="image"),
        "layer": widgets.Dropdown(options=layers, value=layers[0], description="block"),
        "first": widgets.IntSlider(0, 0, widest - count, step=count, description="channels from"),
    }
    output = widgets.Output()

    def redraw(index: int, layer: str, first: int) -> None:
        maps = feature_maps(model, x[index], layer, first, count)
        output.clear_output(wait=True)
        with output:
            display(feature_map_figure(images[index], maps, title=f"{layer}: {count} channels from {first}"))

    widgets.interactive_output(redraw, controls)
    return widgets.VBox([widgets.HBox(list(controls.values())), output])


def schedule_explorer(steps_per_epoch: int, epochs: int = RECIPE.epochs) -> widgets.VBox:
    """Sliders for OneCycle's peak rate, warm-up share, start divisor and epochs."""
    from cifarlab.schedule import schedule_figure

    controls = {
        "max_lr": widgets.FloatLogSlider(RECIPE.max_lr, base=10, min=-3, max=0.5, description="max lr"),
        "pct_start": widgets.FloatSlider(RECIPE.pct_start, min=0.05, max=0.6, step=0.05, description="warm-up"),
        "div_factor": widgets.FloatLogSlider(RECIPE.div_factor, base=10, min=0, max=3, description="start ÷"),
        "epochs": widgets.IntSlider(epochs, 1, 50, description="epochs"),
    }
    output = widgets.Output()

    def redraw(max_lr: float, pct_start: float, div_factor: float, epochs: int) -> None:
        output.clear_output(wait=True)
        with output:
            figure = schedule_figure(
                epochs * steps_per_epoch, max_lr, pct_start, div_factor, steps_per_epoch=steps_per_epoch
            )
            display(figure)

    widgets.interactive_output(redraw, controls)
    return widgets.VBox([widgets.HBox(list(controls.values())[:2]), widgets.HBox(list(controls.values())[2:]), output])


def gradcam_explorer(
    model: torch.nn.Module,
    images: np.ndarray,
    x: torch.Tensor,
    classes: Sequence[str],
    labels: Sequence[int] | None = None,
) -> widgets.VBox:
    """Image, layer, class and opacity controls over `cifarlab.gradcam.gradcam_view`.

    images: uint8 NHWC (what is shown); x: the same images normalised; labels: true classes
    (optional; they add "true" to the class choices).
    """
    from cifarlab.gradcam import DEFAULT_LAYER, TARGET_LAYERS, gradcam_view

    targets = ["predicted"] + (["true"] if labels is not None else []) + list(classes)
    controls = {
        "index": widgets.IntSlider(0, 0, len(images) - 1, description="image"),
        "layer": widgets.Dropdown(options=list(TARGET_LAYERS), value=DEFAULT_LAYER, description="layer"),
        "target": widgets.Dropdown(options=targets, value="predicted", description="class"),
        "opacity": widgets.FloatSlider(0.5, min=0, max=1, step=0.05, description="opacity"),
    }
    output = widgets.Output()

    def redraw(index: int, layer: str, target: str, opacity: float) -> None:
        true_label = None if labels is None else int(labels[index])
        figure = gradcam_view(model, x[index], images[index], classes, layer, target, opacity, true_label)
        output.clear_output(wait=True)
        with output:
            display(figure)

    widgets.interactive_output(redraw, controls)
    return widgets.VBox([widgets.HBox(list(controls.values())[:2]), widgets.HBox(list(controls.values())[2:]), output])


class InferenceApp:
    """Lesson 07's in-notebook app: upload an image file, see the top-k classes and GradCAM.

    Built on `cifarlab.inference.explain` and `cifarlab.plots.prediction_figure`.

    `display(app.widget)` shows it; `app.show(data)` classifies bytes, a path or an image
    directly (the upload button calls it too). The answer is a line of text (`app.answer`:
    what a screen reader reads, and what a page test finds) above the picture. A file that is
    not an image gets its message, in red, instead of a traceback.
    """

    def __init__(self, loaded: LoadedModel, example: object | None = None) -> None:
        from cifarlab.gradcam import DEFAULT_LAYER, TARGET_LAYERS

        self.loaded = loaded
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="Upload image")
        self.k = widgets.IntSlider(3, 1, len(loaded.classes), description="top k")
        self.show_cam = widgets.Checkbox(True, description="GradCAM")
        self.layer = widgets.Dropdown(options=list(TARGET_LAYERS), value=DEFAULT_LAYER, description="layer")
        self.opacity = widgets.FloatSlider(0.5, min=0, max=1, step=0.05, description="opacity")
        self.output = widgets.Output()
        self.message = widgets.HTML()
        self.answer = widgets.HTML()
        self._image: object | None = None
        self.result = None  # the last cifarlab.inference.Explanation shown
        self.upload.observe(self._on_upload, names="value")
        for control in (self.k, self.show_cam, self.layer, self.opacity):
            control.observe(lambda _change: self._redraw(), names="value")
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.upload, self.k, self.show_cam]),
                widgets.HBox([self.layer, self.opacity]),
                self.message,
                self.answer,
                self.output,
            ]
        )
        if example is not None:
            self.show(example)

    def _on_upload(self, change: dict) -> None:
        files = change["new"]
        if files:
            self.show(bytes(files[0]["content"]))

    def show(self, image: object) -> None:
        """Classify `image` (bytes, a path, a PIL image or an array) and draw the result."""
        self._image = image
        self._redraw()

    def _redraw(self) -> None:
        from cifarlab.errors import ImageError
        from cifarlab.inference import explain
        from cifarlab.plots import prediction_figure

        if self._image is None:
            return
        try:
            result = explain(
                self._image, self.loaded, self.k.value, self.show_cam.value, self.layer.value, self.opacity.value
            )
        except ImageError as error:
            self.message.value = f"<span style='color:#b00020'>⚠ {html.escape(str(error))}</span>"
            self.answer.value = ""
            self.result = None
            self.output.clear_output()
            return
        self.result = result
        caption = f"what the model sees, GradCAM at {result.layer}" if result.layer else "what the model sees"
        figure = prediction_figure(
            result.shown, [tuple(s) for s in result.scores], original=result.preview, caption=caption
        )
        self.output.clear_output(wait=True)
        with self.output:
            display(figure)
        # the text changes with the picture, not a drawing before it
        self.message.value = ""
        self.answer.value = f"top {len(result.scores)}: " + ", ".join(
            f"<b>{html.escape(s.name)}</b> {s.probability:.1%}"
            if i == 0
            else f"{html.escape(s.name)} {s.probability:.1%}"
            for i, s in enumerate(result.scores)
        )
