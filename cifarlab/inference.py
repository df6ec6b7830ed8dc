"""Predictions for any image a person has: a file, bytes, a PIL image or a numpy array.

The model sees 32x32 RGB, so `to_model_image` first makes one: it decodes files, turns
phone photos upright (EXIF), puts transparent images on white, converts grayscale, palette,
CMYK and 16-bit images to 8-bit RGB, crops the centre square (CIFAR images are square; a
squashed photo would distort the object) and shrinks it with an antialiasing filter.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from cifarlab.augment import normalize_batch
from cifarlab.checkpoint import LoadedModel
from cifarlab.errors import ImageError, OptionError
from cifarlab.gradcam import DEFAULT_LAYER, gradcam, overlay
from cifarlab.model import SIZE, eval_mode

ImageLike = str | os.PathLike | bytes | io.IOBase | Image.Image | np.ndarray

# test/cat/0024.jpg of the JPEG CIFAR-10 (see the README's "Data"), decoded and stored losslessly
EXAMPLE = Path(__file__).parent / "examples" / "cifar10-test-cat-0024.png"


class ClassScore(NamedTuple):
    """One class and the probability the model gives it."""

    name: str
    probability: float


def example_image() -> tuple[Image.Image, str]:
    """A CIFAR-10 test image that ships with the package, and its true class.

    Lesson 07's example: the same pixels whatever data copy or profile a run uses, so the
    predictions the lesson prints about it can be stored and checked.
    """
    with Image.open(EXAMPLE) as image:
        return image.convert("RGB"), "cat"


def open_image(source: str | os.PathLike | bytes | io.IOBase) -> Image.Image:
    """Decode an image file (path, bytes or file object), or raise ImageError saying why not."""
    where = "the uploaded data" if isinstance(source, (bytes, io.IOBase)) else str(source)
    if isinstance(source, (str, os.PathLike)) and not os.path.isfile(source):
        raise ImageError(f"no file at {source}: check the path.")
    try:
        image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        if image.format == "JPEG":
            image.draft("RGB", (SIZE * 8, SIZE * 8))  # JPEG can decode at 1/2..1/8 size: a huge photo stays fast
        image.load()  # decode now, so a truncated file fails here with this message
    except UnidentifiedImageError:
        raise ImageError(
            f"{where} is not an image file Pillow can read. Use a PNG, JPEG, GIF, BMP, TIFF or WebP image."
        ) from None
    except Image.DecompressionBombError as error:
        raise ImageError(
            f"{where} is too large to decode safely ({error}). Shrink it below 100 megapixels first."
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(
            f"{where} looks like an image but could not be decoded ({error}); is the file complete?"
        ) from None
    return image


def _from_array(array: np.ndarray) -> Image.Image:
    """A PIL image from HxW, HxWx1, HxWx3 or HxWx4 arrays (uint8, or floats in 0..1)."""
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        raise ImageError(
            f"the array has shape {array.shape}, which looks channels-first: pass array.transpose(1, 2, 0)."
        )
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ImageError(
            f"an image array must be H x W (gray), H x W x 3 (RGB) or H x W x 4 (RGBA); got shape {array.shape}."
        )
    if min(array.shape[:2]) < 1:
        raise ImageError(f"the image is empty (shape {array.shape}).")
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise ImageError("a float image array must hold values in 0..1; scale it, or pass uint8 values in 0..255.")
        array = (array * 255).round().astype(np.uint8)
    elif array.dtype == np.uint16:
        array = (array // 257).astype(np.uint8)
    elif array.dtype == bool:
        array = array.astype(np.uint8) * 255
    elif array.dtype != np.uint8:
        raise ImageError(f"an image array must be uint8 (0..255), uint16 or float (0..1); got {array.dtype}.")
    return Image.fromarray(np.ascontiguousarray(array))


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB, whatever the mode; transparency becomes white."""
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit and 32-bit grayscale
        values = np.asarray(image, dtype=np.float64)
        low, high = values.min(), values.max()
        image = Image.fromarray(((values - low) / max(high - low, 1e-12) * 255).round().astype(np.uint8))
    if image.mode == "P" or image.mode == "LA" or image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image)
    return image.convert("RGB")


def square_rgb(image: ImageLike) -> Image.Image:
    """Any image -> an 8-bit RGB PIL image of its centre square (see the module's docstring)."""
    if isinstance(image, np.ndarray):
        image = _from_array(image)
    elif isinstance(image, torch.Tensor):
        raise ImageError(
            "pass a PIL image or a numpy array (H x W x 3), not a tensor; for a batch of tensors call the model."
        )
    elif not isinstance(image, Image.Image):
        if not isinstance(image, (str, os.PathLike, bytes, io.IOBase)):
            raise ImageError(
                f"cannot read an image from a {type(image).__name__}: pass a path, bytes, a PIL image or a numpy array."
            )
        image = open_image(image)
    if image.width < 1 or image.height < 1:
        raise ImageError(f"the image is empty ({image.width}x{image.height}).")
    rgb = _to_rgb(image)
    side = min(rgb.size)
    return ImageOps.fit(rgb, (side, side), centering=(0.5, 0.5)) if rgb.width != rgb.height else rgb


def to_model_image(image: ImageLike) -> np.ndarray:
    """Any image -> the uint8 32x32x3 RGB array the model reads (centre square, shrunk)."""
    return _shrink(square_rgb(image), SIZE)


def _shrink(square: Image.Image, size: int) -> np.ndarray:
    if square.width <= size:
        return (
            np.array(square, dtype=np.uint8)
            if square.width == size
            else np.array(square.resize((size, size), Image.Resampling.BICUBIC), dtype=np.uint8)
        )
    return np.array(square.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0), dtype=np.uint8)


@torch.no_grad()
def probabilities(loaded: LoadedModel, images: np.ndarray) -> np.ndarray:
    """Softmax probabilities (N, classes) for uint8 32x32 RGB images (N, 32, 32, 3)."""
    model = loaded.model
    device = next(model.parameters()).device
    with eval_mode(model):
        logits = model(normalize_batch(images, loaded.mean, loaded.std, device)).float()
    return logits.softmax(1).cpu().numpy()


def predict(image: ImageLike, loaded: LoadedModel, k: int = 3) -> list[ClassScore]:
    """The model's top-k classes for one image, most probable first."""
    if not 1 <= k <= len(loaded.classes):
        raise OptionError(f"k must be between 1 and {len(loaded.classes)}, got {k}.")
    probs = probabilities(loaded, to_model_image(image)[None])[0]
    top = np.argsort(-probs, kind="stable")[:k]
    return [ClassScore(loaded.classes[i], float(probs[i])) for i in top]


@dataclass
class Explanation:
    """A prediction with what it was made from: what both inference apps show."""

    scores: list[ClassScore]  # the top k, most probable first
    model_image: np.ndarray  # the 32x32 RGB image the model saw
    shown: np.ndarray  # model_image, with the GradCAM overlay of the top class when asked
    preview: np.ndarray  # the centre square of the given image, at most 256 pixels wide
    layer: str | None  # the GradCAM layer, None without GradCAM


def explain(
    image: ImageLike,
    loaded: LoadedModel,
    k: int = 3,
    show_cam: bool = True,
    layer: str = DEFAULT_LAYER,
    opacity: float = 0.5,
) -> Explanation:
    """`predict`, plus the image the model saw and (show_cam) where it looked for its top class."""
    square = square_rgb(image)
    model_image = _shrink(square, SIZE)
    scores = predict(model_image, loaded, k)
    shown = model_image
    if show_cam:
        top = loaded.classes.index(scores[0].name)
        x = normalize_batch(model_image[None], loaded.mean, loaded.std, next(loaded.model.parameters()).device)
        shown = overlay(model_image, gradcam(loaded.model, x, layer, targets=[top])[0], opacity)
    preview = _shrink(square, min(square.width, 256))
    return Explanation(scores, model_image, shown, preview, layer if show_cam else None)
