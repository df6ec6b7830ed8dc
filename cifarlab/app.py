"""The Gradio app: upload an image, see the top classes and where the model looked.

    cifarlab app                  # the shipped pretrained model
    cifarlab app runs/x/checkpoints/best.ckpt

Needs the `app` extra (`pip install -e ".[app]"`). It binds to 127.0.0.1, so only this
machine can reach it; pass --host 0.0.0.0 to serve a network you trust.

Two tabs:
* **Classify**: an image file (up to the limits below; any colour mode; the examples are
  test images), the picture itself, the top-k classes, and GradCAM on or off with its layer
  and opacity;
* **Mistakes**: the test images the model got most confidently wrong, each with GradCAM for
  the predicted and for the true class side by side.

The upload is a file field rather than an image field on purpose: Gradio's image field
decodes the upload itself and answers a non-image with a generic error, while here every
file goes through `read_upload` and `cifarlab.inference`, whose errors say what was wrong.
It takes any file, for the same reason: with `file_types=["image"]` Gradio's page refused a
text file itself ("Invalid file type"), without saying which formats work. A file field
shows only the file's name, so the picture itself is shown beside the answer (decoded once,
with the answer: `classify` takes the image `read_upload` returned).

Bounded, for an app that strangers may use (see the limits below, and the README):
* an upload has at most MAX_UPLOAD_BYTES bytes (Gradio refuses a bigger one while it
  arrives, and `read_upload` checks again) and MAX_UPLOAD_PIXELS pixels, read from the
  file's header before anything is decoded: a 122 KB GIF of 13000x13000 pixels is refused at
  once instead of taking 2 GB and seconds;
* at most CLASSIFY_CONCURRENCY uploads are decoded at a time, and the model (one, shared)
  runs one request at a time (MODEL_LOCK): GradCAM hooks the model, and two GradCAMs at
  once on one model raised errors, or crashed the process;
* the upload is read once and decoded from its bytes, so an error names "the uploaded file",
  never a path on the server; an unexpected error shows a generic message and goes to the
  server's log (stderr) with its traceback;
* answers are written once, under a name made from their content, and never rewritten:
  Gradio rewrites an identical answer's file in place, so a person downloading it at that
  moment got a truncated or empty picture (0.4% of the requests of 8 clients; 3.5% when
  all 8 sent the same file).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cifarlab.augment import normalize_batch
from cifarlab.checkpoint import LoadedModel
from cifarlab.data.imageset import ImageSet
from cifarlab.errors import ImageError, OptionError
from cifarlab.evaluation import evaluate, misclassified
from cifarlab.files import write_bytes
from cifarlab.gradcam import DEFAULT_LAYER, TARGET_LAYERS, gradcam, overlay
from cifarlab.inference import explain, open_image, square_rgb, whole_rgb

DISPLAY = 224  # the 32x32 images are shown this big, pixels kept sharp
PREVIEW = 320  # the uploaded picture is shown at most this big (its longer side)

# The limits. 16 MB holds a 24-megapixel camera JPEG (6000x4000 is 8-14 MB) and any phone
# photo (12 MP: 2-5 MB); an upload is held in memory once, as bytes. 24 megapixels is that
# camera's frame, and bounds what one request decodes: at most 4 bytes a pixel (RGBA,
# 32-bit), 96 MB, plus strips and a reduced square (cifarlab.inference): a 24-megapixel
# RGBA PNG peaked at 123 MB over the idle server (a 16-bit one 85 MB, a GIF 63 MB). JPEGs
# count at the size they decode at (1/8 of each side for a big photo), so the pixel limit
# never refuses a photo's JPEG. The model needs 32x32: larger buys nothing.
MAX_UPLOAD_BYTES = 16_000_000
MAX_UPLOAD_PIXELS = 24_000_000
# Uploads decoded at once (each up to the memory above); the model itself runs one request
# at a time (MODEL_LOCK), so a second one only overlaps decoding and encoding with it.
CLASSIFY_CONCURRENCY = 2
# One lock for every use of a model in this process: GradCAM registers hooks on the model and
# `eval_mode` flips its mode, so two requests on one model at once would see each other's.
MODEL_LOCK = threading.Lock()
UNEXPECTED = (
    "something went wrong on the server while {doing} (the details are in the server's log). Try again, or "
    "tell whoever runs this app."
)
log = logging.getLogger(__name__)


def _enlarge(image: np.ndarray, size: int = DISPLAY) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.NEAREST))


def read_upload(
    path: str | os.PathLike, max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_UPLOAD_PIXELS
) -> Image.Image:
    """The image uploaded to `path`, read once and decoded from its bytes.

    Raises ImageError if it has more than max_bytes bytes (checked on disk before reading) or
    more than max_pixels pixels (checked from its header before decoding), or is not an
    image. The messages say "the uploaded file", never the server's path.
    """
    try:
        size = os.path.getsize(path)
        if size <= max_bytes:
            with open(path, "rb") as file:
                data = file.read(max_bytes + 1)  # +1: a file that grew since is still caught
                size = len(data)
    except OSError:
        raise ImageError("the uploaded file could not be read on the server; upload it again.") from None
    if size > max_bytes:
        raise ImageError(
            f"the uploaded file is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB. Shrink the image "
            "(a 4000x3000 JPEG is 2-5 MB) and upload it again."
        )
    return open_image(data, max_pixels=max_pixels, name="the uploaded file")


def classify(
    loaded: LoadedModel,
    upload: str | os.PathLike | Image.Image,
    k: int = 3,
    show_cam: bool = True,
    layer: str = DEFAULT_LAYER,
    opacity: float = 0.5,
) -> tuple[dict[str, float], np.ndarray]:
    """What the Classify tab shows: {class: probability} for the top k, and the 32x32 image
    the model saw (with GradCAM of the top class when show_cam), enlarged.

    `upload` is the path of an upload (read with `read_upload`'s limits) or the image
    `read_upload` returned, when the caller shows it too. The model runs under MODEL_LOCK.
    """
    image = upload if isinstance(upload, Image.Image) else read_upload(upload)
    square = square_rgb(image)  # decoding and shrinking need no lock
    with MODEL_LOCK:
        result = explain(square, loaded, k, show_cam, layer, opacity)
    return {s.name: s.probability for s in result.scores}, _enlarge(result.shown)


def answer_file(picture: np.ndarray, folder: str | os.PathLike) -> str:
    """`picture` as a PNG in `folder`, named by its content, for Gradio to serve.

    Written under a temporary name and renamed into place, and only if no file has that
    content yet: a file someone may be downloading is never rewritten. (Gradio saves the
    arrays a function returns to a name made from their content too, but rewrites the file
    in place each time, so two identical answers at once broke one of their downloads.)
    """
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "PNG")
    data = buffer.getvalue()
    path = Path(folder) / f"cifarlab-{hashlib.sha256(data).hexdigest()}" / "picture.png"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, data)  # a temporary name, then a rename (cifarlab.files)
    return str(path)


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

    def answering(what: str, answer: Callable[[], tuple]) -> tuple:
        """answer(), with the app's errors as messages for the page (gr.Error)."""
        try:
            return answer()
        except (ImageError, OptionError) as error:  # their messages say what to do, and name no path
            raise gr.Error(str(error)) from None
        except Exception:  # a bug: the details (paths, traceback) go to the server's log only
            log.exception("%s failed", what)
            raise gr.Error(UNEXPECTED.format(doing=what)) from None

    def on_classify(
        file: str | None, k: float, show_cam: bool, layer: str, opacity: float
    ) -> tuple[dict[str, float], str]:
        if file is None:
            raise gr.Error("Upload an image file first (or click an example).")

        def answer() -> tuple[dict[str, float], str]:
            scores, seen = classify(loaded, file, int(k), show_cam, layer, opacity)
            return scores, answer_file(seen, answers)

        return answering("classifying this file", answer)

    def on_upload(
        file: str | None, k: float, show_cam: bool, layer: str, opacity: float
    ) -> tuple[dict[str, float] | None, str | None, str | None]:
        """The answer and the uploaded picture itself, from one decoding of the file."""
        if file is None:  # the upload was cleared
            return None, None, None

        def answer() -> tuple[dict[str, float], str, str]:
            image = read_upload(file)
            scores, seen = classify(loaded, image, int(k), show_cam, layer, opacity)
            return scores, answer_file(seen, answers), answer_file(whole_rgb(image, PREVIEW), answers)

        return answering("classifying this file", answer)

    with gr.Row():
        with gr.Column():
            upload = gr.File(
                label=f"image file (at most {MAX_UPLOAD_BYTES / 1e6:.0f} MB, {MAX_UPLOAD_PIXELS / 1e6:.0f} megapixels)",
                # no file_types: Gradio's page would refuse a .txt itself ("Invalid file type"), and the
                # app's own message, which names the formats it reads, would never be seen
                type="filepath",
            )
            k = gr.Slider(1, len(loaded.classes), value=3, step=1, label="top k")
            show_cam = gr.Checkbox(value=True, label="GradCAM for the top class")
            layer = gr.Dropdown(list(TARGET_LAYERS), value=DEFAULT_LAYER, label="GradCAM layer")
            opacity = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="GradCAM opacity")
            button = gr.Button("Classify", variant="primary")
        with gr.Column():
            with gr.Row():
                yours = gr.Image(label="your image", type="filepath", height=DISPLAY)
                seen = gr.Image(label="what the model sees (32x32), with GradCAM", type="filepath", height=DISPLAY)
            label = gr.Label(label="top classes")
    answers = getattr(seen, "GRADIO_CACHE", None) or tempfile.mkdtemp(prefix="cifarlab-answers-")
    inputs = [upload, k, show_cam, layer, opacity]
    limits = {"concurrency_limit": CLASSIFY_CONCURRENCY, "concurrency_id": "classify"}  # every event below

    # The last answer goes first, so that an upload that fails (its error shows as a message)
    # never sits beside the answer for the file before it.
    def clear(*outputs: Any) -> dict:
        return {"fn": lambda: (None,) * len(outputs), "outputs": list(outputs), "api_name": False, "queue": False}

    button.click(**clear(label, seen)).then(on_classify, inputs, [label, seen], api_name="classify", **limits)
    upload.change(**clear(label, seen, yours)).then(on_upload, inputs, [label, seen, yours], api_name=False, **limits)
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
    folder = getattr(gallery, "GRADIO_CACHE", None) or tempfile.mkdtemp(prefix="cifarlab-mistakes-")
    cache: dict[str, list] = {}

    def on_load() -> list[tuple[str, str]]:  # computed once, on the first visit; files written once
        try:
            if "gallery" not in cache:
                with MODEL_LOCK:
                    if "gallery" not in cache:  # another visit may have made it meanwhile
                        pictures = mistakes_gallery(loaded, test_images, gallery_size)
                        cache["gallery"] = [(answer_file(image, folder), caption) for image, caption in pictures]
            return cache["gallery"]
        except Exception:
            log.exception("the gallery of mistakes failed")
            raise gr.Error(UNEXPECTED.format(doing="finding the mistakes")) from None

    app.load(on_load, None, gallery, api_name="mistakes")


def launch(app: Any, host: str = "127.0.0.1", port: int | None = None, block: bool = True) -> str:
    """Start the app's server; returns its URL. block=False returns at once (tests, notebooks).

    Uploads over MAX_UPLOAD_BYTES are refused while they arrive. Only the messages the app
    writes for people (gr.Error) are shown; any other error shows Gradio's generic one, and
    its details (which may hold the server's paths) go to the log.
    """
    app.launch(
        server_name=host,
        server_port=port,
        show_error=False,
        prevent_thread_lock=not block,
        quiet=not block,
        max_file_size=MAX_UPLOAD_BYTES,
    )
    return app.local_url
