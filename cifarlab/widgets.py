"""Interactive explorers for the notebooks. The drawing is done by pure functions in the
package (tested directly); this module only wires sliders to them."""

from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
import numpy as np
from IPython.display import display

from cifarlab.augment import augmentation_grid
from cifarlab.plots import augmentation_figure


def augmentation_explorer(
    images: np.ndarray, fill: Sequence[float], versions: int = 6
) -> widgets.VBox:
    """Sliders for each augmentation parameter over a grid of augmented versions of `images`.

    fill: cutout colour in 0..255 (the training mean times 255).
    """
    sliders = {
        "pad": widgets.IntSlider(4, 0, 8, description="pad (px)"),
        "flip_p": widgets.FloatSlider(0.5, min=0, max=1, step=0.1, description="flip p"),
        "holes": widgets.IntSlider(1, 0, 4, description="holes"),
        "hole_size": widgets.IntSlider(8, 0, 16, description="hole size"),
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
