"""Predictions for any image a person has: a file, bytes, a PIL image or a numpy array.

The model sees 32x32 RGB, so `to_model_image` first makes one: it decodes files, turns
phone photos upright (EXIF), puts transparent images on white, converts grayscale, palette,
CMYK and 16-bit images to 8-bit RGB, crops the centre square (CIFAR images are square; a
squashed photo would distort the object) and shrinks it with an antialiasing filter.

Colour modes, as Pillow names them: 16-bit grayscale ("I;16", as 16-bit PNG and TIFF open)
is scaled by its full range (value // 257, so 65535 is white, whatever the image holds);
32-bit integer "I" (as 16-bit PGM and PPM open) is read the same way, clipped to 0..65535;
floating-point "F" is read as 0..1 (0 black, 1 white) and clipped to that range; "1" (1-bit)
is black and white; palette images ("P", with or without a transparent colour), "PA", "LA"
and "RGBA" are shown on white; "CMYK" uses Pillow's conversion.

Memory: a file is checked against a pixel limit from its header, before it is decoded
(`open_image`); JPEGs decode at 1/2..1/8 of their size when that is still large enough. A
large image is then cut to its centre square and converted and reduced (a box average) a
strip of rows at a time, so that beside the decoded image itself only a strip and the
reduced square (at least `WORKING_SIDE` pixels wide) are ever held.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import ExifTags, Image, UnidentifiedImageError

from cifarlab.augment import normalize_batch
from cifarlab.checkpoint import LoadedModel
from cifarlab.errors import ImageError, OptionError
from cifarlab.gradcam import DEFAULT_LAYER, gradcam, overlay
from cifarlab.model import SIZE, eval_mode

ImageLike = str | os.PathLike | bytes | io.IOBase | Image.Image | np.ndarray

# test/cat/0024.jpg of the JPEG CIFAR-10 (see the README's "Data"), decoded and stored losslessly
EXAMPLE = Path(__file__).parent / "examples" / "cifar10-test-cat-0024.png"

# The library's pixel limit: Pillow's own warning threshold (about 89 megapixels, 0.36 GB
# as RGBA). Apps that serve strangers pass a stricter one (cifarlab.app.MAX_UPLOAD_PIXELS).
DEFAULT_MAX_PIXELS = 89_478_485
# A large image's centre square is reduced by a whole factor to no less than this side before
# anything else: the model needs 32 pixels, the preview 256, and LANCZOS shrinks from here.
WORKING_SIDE = 1024
STRIP_PIXELS = 1 << 22  # pixels converted at a time (4 MP: 16 MB as RGBA)


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


def open_image(
    source: str | os.PathLike | bytes | io.IOBase,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    name: str | None = None,
) -> Image.Image:
    """Decode an image file (path, bytes or file object), or raise ImageError saying why not.

    max_pixels: the most pixels the decoded image may have (None: no limit). It is checked
    from the file's header, before anything is decoded; a JPEG counts at the reduced size it
    decodes at (see the module's docstring). name: what the messages call the file (default:
    its path, or "the uploaded data" for bytes and file objects).
    """
    where = name or ("the uploaded data" if isinstance(source, (bytes, io.IOBase)) else str(source))
    if isinstance(source, (str, os.PathLike)) and not os.path.isfile(source):
        raise ImageError(f"no file at {where}: check the path.")
    image = None
    try:
        # Image.open reads only the header. Pillow warns above its own limit and refuses
        # above twice that; the warning is caught too where warnings are made errors.
        image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        header_size = image.size
        if image.format == "JPEG":
            image.draft("RGB", (SIZE * 8, SIZE * 8))  # JPEG can decode at 1/2..1/8 size: a huge photo stays fast
        _check_pixels(image, header_size, max_pixels, where)
        image.load()  # decode now, so a truncated file fails here with this message
    except UnidentifiedImageError:
        raise ImageError(
            f"{where} is not an image file Pillow can read. Use a PNG, JPEG, GIF, BMP, TIFF or WebP image."
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        _close(image)
        limit = DEFAULT_MAX_PIXELS if max_pixels is None else min(max_pixels, DEFAULT_MAX_PIXELS)
        raise ImageError(
            f"{where} is too large to decode safely ({error}). Shrink it below {limit / 1e6:.0f} megapixels "
            "and try again."
        ) from None
    except ImageError:
        _close(image)
        raise
    except (OSError, SyntaxError, ValueError) as error:
        _close(image)
        raise ImageError(
            f"{where} looks like an image but could not be decoded ({error}); is the file complete?"
        ) from None
    return image


def _check_pixels(image: Image.Image, header_size: tuple[int, int], max_pixels: int | None, where: str) -> None:
    """Raise ImageError if `image` would decode to more than max_pixels (checked before decoding)."""
    width, height = image.size
    if max_pixels is None or width * height <= max_pixels:
        return
    found = f"{header_size[0]}x{header_size[1]} pixels"
    if image.size != header_size:
        found += f", decoded at {width}x{height}"
    raise ImageError(
        f"{where} is {found} ({width * height / 1e6:.1f} megapixels); the limit is {max_pixels / 1e6:.1f} "
        "megapixels. Shrink the image (4000x3000 is 12 megapixels, far more than the model's 32x32 needs) "
        "and try again."
    )


def _close(image: Image.Image | None) -> None:
    if image is not None:
        image.close()


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


_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_EXIF_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB, whatever the mode (see the module's docstring); transparency becomes white."""
    if image.mode in _SIXTEEN_BIT:  # 16-bit samples: value // 257 maps 0..65535 onto 0..255
        values = np.clip(np.asarray(image), 0, 65535).astype(np.uint32)
        return Image.fromarray((values // 257).astype(np.uint8)).convert("RGB")
    if image.mode == "F":  # floats: 0..1
        values = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0)
        return Image.fromarray((np.clip(values, 0, 1) * 255).round().astype(np.uint8)).convert("RGB")
    try:
        if image.mode == "La":  # premultiplied; Pillow converts it to LA only
            image = image.convert("LA")
        if image.mode in ("P", "PA", "LA", "RGBa"):
            image = image.convert("RGBA")  # a palette's transparent colour becomes alpha
        if image.mode == "RGBA":
            white = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(white, image)
        return image.convert("RGB")
    except ValueError:
        raise ImageError(
            f"images in Pillow's {image.mode!r} mode cannot be converted to RGB here; save the image as an RGB "
            "PNG or JPEG and try again."
        ) from None


def _upright_rgb(image: Image.Image, box: tuple[int, int, int, int], factor: int) -> Image.Image:
    """The part `box` (left, top, right, bottom) of `image` as 8-bit RGB, reduced by the whole
    `factor`, and turned upright (EXIF).

    Converted a strip of rows at a time (memory: a strip, not a copy of the whole image, per
    conversion), and turned upright at the end, at the reduced size.
    """
    transpose = _EXIF_TRANSPOSE.get(image.getexif().get(ExifTags.Base.Orientation))
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    rows = max(1, STRIP_PIXELS // width // factor) * factor  # whole reduction boxes per strip
    reduced = Image.new("RGB", (-(-width // factor), -(-height // factor)))  # reduce() keeps a partial box
    for y in range(0, height, rows):
        strip = _to_rgb(image.crop((left, top + y, right, top + min(y + rows, height))))
        reduced.paste(strip.reduce(factor) if factor > 1 else strip, (0, y // factor))
    return reduced.transpose(transpose) if transpose is not None else reduced


def _centre_square_rgb(image: Image.Image) -> Image.Image:
    """The upright 8-bit RGB centre square of `image`; a large one reduced by a whole factor."""
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return _upright_rgb(image, (left, top, left + side, top + side), max(1, side // WORKING_SIDE))


def _as_pil(image: ImageLike) -> Image.Image:
    """A PIL image from any of the inputs the functions here take, checked as the module's docstring says."""
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
    return image


def whole_rgb(image: ImageLike, longest: int = 320) -> np.ndarray:
    """The whole image, upright 8-bit RGB, at most `longest` pixels on its longer side: the
    picture a person gave, to show beside the answer (the model sees only its centre square)."""
    image = _as_pil(image)
    whole = _upright_rgb(image, (0, 0, *image.size), max(1, max(image.size) // longest))
    whole.thumbnail((longest, longest), Image.Resampling.LANCZOS)
    return np.array(whole, dtype=np.uint8)


def square_rgb(image: ImageLike) -> Image.Image:
    """Any image -> an 8-bit RGB PIL image of its centre square (see the module's docstring).

    A square wider than 2 x WORKING_SIDE comes back reduced by a whole factor (to between
    WORKING_SIDE and twice that); smaller ones keep every pixel.
    """
    return _centre_square_rgb(_as_pil(image))


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
