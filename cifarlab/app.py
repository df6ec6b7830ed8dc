"""The Gradio app: upload an image, see the top classes and where the model looked.

    cifarlab app                  # the shipped pretrained model
    cifarlab app runs/x/checkpoints/best.ckpt

Needs the `app` extra (`pip install -e ".[app]"`). It binds to 127.0.0.1, so only this
machine can reach it; pass --host 0.0.0.0 to serve a network you trust.

Two tabs:
* **Classify**: an image file (any size; RGB, RGBA or grayscale; the examples are test
  images), the top-k classes, and GradCAM on or off with its layer and opacity;
* **Mistakes**: the test images the model got most confidently wrong, each with GradCAM for
  the predicted and for the true class side by side.

The upload is a file field rather than an image field on purpose: Gradio's image field
decodes the upload itself and answers a non-image with a generic error, while here every
file goes through `cifarlab.inference.to_model_image`, whose errors say what was wrong.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cifarlab.augment import normalize_batch
from cifarlab.checkpoint import LoadedModel
from cifarlab.data.imageset import ImageSet
from cifarlab.errors import ImageError, OptionError
from cifarlab.evaluation import evaluate, misclassified
from cifarlab.gradcam import DEFAULT_LAYER, TARGET_LAYERS, gradcam, overlay
from cifarlab.inference import explain

DISPLAY = 224  # the 32x32 images are shown this big, pixels kept sharp


def _enlarge(image: np.ndarray, size: int = DISPLAY) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.NEAREST))


def classify(
    loaded: LoadedModel,
    file: str | os.PathLike,
    k: int = 3,
    show_cam: bool = True,
    layer: str = DEFAULT_LAYER,
    opacity: float = 0.5,
) -> tuple[dict[str, float], np.ndarray]:
    """What the Classify tab shows: {class: probability} for the top k, and the 32x32 image
    the model saw (with GradCAM of the top class when show_cam), enlarged."""
    result = explain(file, loaded, k, show_cam, layer, opacity)
    return {s.name: s.probability for s in result.scores}, _enlarge(result.shown)


def mistakes_gallery(
    loaded: LoadedModel, images: ImageSet, count: int = 24, layer: str = DEFAULT_LAYER, opacity: float = 0.5
) -> list[tuple[np.ndarray, str]]:
    """(picture, caption) for the `count` most confident mistakes on `images`: each picture is
    the image, GradCAM for the predicted class and GradCAM for the true class, side by side."""
    result = evaluate(loaded.model, images, loaded.mean, loaded.std)
    wrong = misclassified(result, images, limit=count)
    if len(wrong) == 0:
        return []
    x = normalize_batch(wrong.images, loaded.mean, loaded.std, next(loaded.model.parameters()).device)
    cam_predicted = gradcam(loaded.model, x, layer, targets=wrong.predicted)
    cam_true = gradcam(loaded.model, x, layer, targets=wrong.true)
    gallery = []
    for i, image in enumerate(wrong.images):
        panels = [image, overlay(image, cam_predicted[i], opacity), overlay(image, cam_true[i], opacity)]
        picture = np.concatenate([_enlarge(p, 160) for p in panels], axis=1)
        caption = (
            f"true {loaded.classes[wrong.true[i]]}, predicted {loaded.classes[wrong.predicted[i]]} "
            f"({wrong.confidence[i]:.0%}). Left to right: image, CAM for the prediction, CAM for the truth"
        )
        gallery.append((picture, caption))
    return gallery


def example_files(images: ImageSet, folder: str | os.PathLike) -> list[str]:
    """Write the first test image of each class as PNG into `folder` (the app's examples)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for label, name in enumerate(images.classes):
        hits = np.flatnonzero(images.labels == label)
        if len(hits):
            path = folder / f"{name}.png"
            Image.fromarray(images.images[hits[0]]).save(path)
            paths.append(str(path))
    return paths


def build_app(
    loaded: LoadedModel, test_images: ImageSet | None = None, gallery_size: int = 24, description: str = ""
) -> Any:
    """The Gradio Blocks app for `loaded`. test_images (optional) give the examples and the
    gallery of mistakes; without them those parts say how to get the data."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home (and none possible offline)
    import gradio as gr

    if test_images is not None and tuple(test_images.classes) != tuple(loaded.classes):
        raise OptionError(
            f"the test images' classes {test_images.classes} are not the model's {loaded.classes}: give the "
            "app the data it was trained for."
        )
    with gr.Blocks(title="cifarlab: CIFAR-10 classifier") as app:
        gr.Markdown("# CIFAR-10 classifier with GradCAM\n" + description)
        with gr.Tab("Classify"):
            _classify_tab(loaded, test_images)
        with gr.Tab("Mistakes"):
            _mistakes_tab(app, loaded, test_images, gallery_size)
    return app


def _classify_tab(loaded: LoadedModel, test_images: ImageSet | None) -> None:
    """Upload, top-k and GradCAM controls, the result, and one example per class."""
    import gradio as gr

    def on_classify(
        file: str | None, k: float, show_cam: bool, layer: str, opacity: float
    ) -> tuple[dict[str, float], np.ndarray]:
        if file is None:
            raise gr.Error("Upload an image file first (or click an example).")
        try:
            return classify(loaded, file, int(k), show_cam, layer, opacity)
        except ImageError as error:
            raise gr.Error(str(error)) from None

    with gr.Row():
        with gr.Column():
            upload = gr.File(
                label="image file (any size; RGB, RGBA or grayscale)", file_types=["image"], type="filepath"
            )
            k = gr.Slider(1, len(loaded.classes), value=3, step=1, label="top k")
            show_cam = gr.Checkbox(value=True, label="GradCAM for the top class")
            layer = gr.Dropdown(list(TARGET_LAYERS), value=DEFAULT_LAYER, label="GradCAM layer")
            opacity = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="GradCAM opacity")
            button = gr.Button("Classify", variant="primary")
        with gr.Column():
            label = gr.Label(label="top classes")
            seen = gr.Image(label="what the model sees (32x32), with GradCAM", type="numpy")
    inputs = [upload, k, show_cam, layer, opacity]
    button.click(on_classify, inputs, [label, seen], api_name="classify")
    upload.change(lambda *a: on_classify(*a) if a[0] else (None, None), inputs, [label, seen], api_name=False)
    if test_images is not None:
        folder = tempfile.mkdtemp(prefix="cifarlab-examples-")
        examples = [[p] for p in example_files(test_images, folder)]
        gr.Examples(examples, inputs=[upload], label="test images, one per class")


def _mistakes_tab(app: Any, loaded: LoadedModel, test_images: ImageSet | None, gallery_size: int) -> None:
    """The most confident mistakes on the test images, computed on the first visit."""
    import gradio as gr

    if test_images is None:
        gr.Markdown("No test images: set CIFARLAB_DATA (see the README) to see the model's mistakes here.")
        return
    gr.Markdown(f"The {gallery_size} test images (of {len(test_images):,}) the model got wrong most confidently.")
    gallery = gr.Gallery(label="mistakes", columns=2, height="auto")
    cache: dict[str, list] = {}

    def on_load() -> list[tuple[np.ndarray, str]]:  # computed once, on the first visit
        if "gallery" not in cache:
            cache["gallery"] = mistakes_gallery(loaded, test_images, gallery_size)
        return cache["gallery"]

    app.load(on_load, None, gallery, api_name="mistakes")


def launch(app: Any, host: str = "127.0.0.1", port: int | None = None, block: bool = True) -> str:
    """Start the app's server; returns its URL. block=False returns at once (tests, notebooks)."""
    app.launch(server_name=host, server_port=port, show_error=True, prevent_thread_lock=not block, quiet=not block)
    return app.local_url
