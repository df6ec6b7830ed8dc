"""Lesson 07's self-checks: a person's image as the model's 32x32 RGB input, and the top-k classes.

`prepare_image` runs the student's function on images chosen so that each usual mistake
shows: a wide and a tall photo whose left, centre and right (top, middle, bottom) squares
have different colours (squashed, or the first square instead of the centre), a grayscale
scan (one channel), and a large photo of fine noise (shrunk without antialiasing, the result
stays noise instead of averaging to grey). Each result is compared with what each mistake
would give, and the closest one is named. Transparency is left out on purpose: putting a
transparent image on white is `cifarlab.inference.to_model_image`'s job, not the exercise's.

`top_k` compares the returned (name, probability) pairs with the logits' softmax and with
what the usual mistakes return: the logits themselves, a softmax over the batch axis,
the wrong order, one entry too many or too few, names shifted by one. The probabilities must
be plain Python floats: the web app's answer goes out as text and JSON, which a tensor is not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from cifarlab.recipe import RECIPE
from cifarlab.selfcheck._core import SIZE, Problem, check

CLOSE = 4.0  # mean difference in levels (0..255) under which two 32x32 images count as the same
NO_ANTIALIASING = (
    "it was shrunk without antialiasing (nearest neighbour, or every n-th pixel): each output pixel is one input "
    "pixel, so fine detail turns into noise. Shrink with a filter that averages what it drops, such as LANCZOS."
)

# ----------------------------------------------------------------------------------------
# Exercise 1: prepare an image


def reference_prepare(image: Any) -> np.ndarray:
    """cifarlab's preparation: RGB, centre square, shrunk to 32x32 with antialiasing."""
    from cifarlab.inference import to_model_image

    return to_model_image(image)


def _thirds(size: tuple[int, int], colours: Sequence[tuple[int, int, int]]) -> Any:
    """A photo of three squares in a row (wide) or a column (tall), one colour each, with a
    little texture so that nothing is a flat colour."""
    from PIL import Image

    width, height = size
    rng = np.random.default_rng(width + height)
    pixels = np.zeros((height, width, 3), np.float64)
    side = min(width, height)
    for third, colour in enumerate(colours):
        if width > height:
            pixels[:, third * side : (third + 1) * side] = colour
        else:
            pixels[third * side : (third + 1) * side] = colour
    pixels += rng.normal(0, 2, pixels.shape)
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def _prepare_cases() -> dict[str, Any]:
    """The images the check prepares, by what they are (each exposes another mistake)."""
    from PIL import Image

    rng = np.random.default_rng(7)
    red, blue, green = (220, 30, 30), (30, 40, 220), (30, 200, 60)
    return {
        "a wide photo (red, blue, green squares side by side)": _thirds((288, 96), (red, blue, green)),
        "a tall photo (green, blue, red squares one above the other)": _thirds((80, 240), (green, blue, red)),
        "a grayscale scan": Image.fromarray(np.add.outer(np.arange(96), np.arange(128) * 1.2).astype(np.uint8)),
        "a large photo of fine noise": Image.fromarray(rng.integers(0, 256, (384, 512, 3), dtype=np.uint8)),
    }


def _prepare_variants(image: Any) -> dict[str, np.ndarray]:
    """What the right preparation and the usual mistakes make of `image` (right: "")."""
    from PIL import Image, ImageOps

    rgb = image.convert("RGB")
    side = min(rgb.size)
    centre = ImageOps.fit(rgb, (side, side), centering=(0.5, 0.5))
    small = (SIZE, SIZE)
    return {
        "": reference_prepare(image),
        "it was squashed, not cropped: the whole photo was resized to a square, which distorts the object. "
        "Cut out the centre square first, then shrink it.": np.asarray(rgb.resize(small, Image.Resampling.LANCZOS)),
        "it kept the first square (the left one of a wide photo, the top one of a tall one), not the centre "
        "one: centre the crop.": np.asarray(rgb.crop((0, 0, side, side)).resize(small, Image.Resampling.LANCZOS)),
        NO_ANTIALIASING: np.asarray(centre.resize(small, Image.Resampling.NEAREST)),
    }


def prepare_image(student: Callable[[Any], Any]) -> Callable:
    """Check `prepare(image: PIL.Image) -> uint8 array (32, 32, 3)`: RGB, centre square, antialiased."""

    def test() -> str:
        for name, image in _prepare_cases().items():
            got = student(image.copy())
            got = _as_image_array(got, name)
            _check_prepared(got, name, _prepare_variants(image))
        return "RGB, the centre square, 32x32 with antialiasing, uint8, for wide, tall, gray and noisy images."

    return check(student, reference_prepare, "prepare_image", test)


def _as_image_array(got: Any, name: str) -> np.ndarray:
    """The returned value as an array, after the checks on its type, shape and values."""
    if got is None:
        raise Problem("it returns nothing; return the prepared image as a numpy array.")
    if isinstance(got, torch.Tensor):
        raise Problem(
            "it returns a tensor; return a numpy array (height x width x 3, uint8), as a PIL image converts to."
        )
    array = np.asarray(got)
    if array.shape == (3, SIZE, SIZE):
        raise Problem(
            f"for {name} it returns shape {array.shape}, channels first; return height x width x channels "
            f"({SIZE}, {SIZE}, 3), the layout of a PIL image as an array (the model's input step reorders it)."
        )
    if array.shape == (SIZE, SIZE):
        raise Problem(
            f"for {name} it returns shape {array.shape}: a single channel. The model reads 3 colour channels: "
            "convert every image to RGB first, whatever its mode."
        )
    if array.shape == (SIZE, SIZE, 4):
        raise Problem(f"for {name} it returns 4 channels (RGBA); convert to RGB, 3 channels.")
    if array.ndim == 3 and array.shape[2] == 3 and array.shape[:2] != (SIZE, SIZE):
        if SIZE in array.shape[:2]:
            raise Problem(
                f"for {name} it returns {array.shape[1]}x{array.shape[0]} pixels: the aspect ratio was kept "
                f"(as thumbnail() does), so the image is not square. Cut out the centre square, then make it "
                f"{SIZE}x{SIZE}."
            )
        raise Problem(f"for {name} it returns shape {array.shape}; the model reads ({SIZE}, {SIZE}, 3).")
    if array.shape != (SIZE, SIZE, 3):
        raise Problem(f"for {name} it returns shape {array.shape}; the model reads ({SIZE}, {SIZE}, 3).")
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and array.max() <= 1.0:
            raise Problem(
                f"for {name} it returns {array.dtype} values in 0..1: it was divided by 255. Return the uint8 "
                "pixels (0..255); the model's input step scales and normalises them."
            )
        raise Problem(
            f"for {name} it returns {array.dtype} values; the model's input step expects uint8 pixels 0..255."
        )
    return array


def _check_prepared(got: np.ndarray, name: str, variants: dict[str, np.ndarray]) -> None:
    distance = {why: float(np.abs(got.astype(int) - want.astype(int)).mean()) for why, want in variants.items()}
    closest = min(distance, key=lambda why: distance[why])
    if closest == "" and distance[""] <= CLOSE:
        return
    if closest and distance[closest] <= CLOSE:
        raise Problem(f"for {name}, {closest}")
    spread, averaged = float(got.std()), float(variants[""].std())
    if spread > 2 * averaged + 10:  # one input pixel per output pixel keeps the input's noise
        raise Problem(
            f"for {name}, {NO_ANTIALIASING} (The result's pixels spread {spread:.0f} levels around their mean; "
            f"shrunk with averaging, {averaged:.0f}.)"
        )
    raise Problem(
        f"for {name} the result differs from cifarlab's by {distance['']:.1f} levels on average (0..255). "
        "Convert to RGB, cut out the centre square, and shrink it with an antialiasing filter."
    )


# ----------------------------------------------------------------------------------------
# Exercise 2: the top-k classes


def reference_top_k(logits: torch.Tensor, classes: Sequence[str], k: int) -> list[tuple[str, float]]:
    """The k most probable classes of one image's logits (shape (1, classes)), most probable first,
    as (class name, probability) pairs with plain float probabilities."""
    from cifarlab.inference import ClassScore

    probabilities = logits.detach().float().softmax(1)[0].cpu()
    order = torch.argsort(probabilities, descending=True, stable=True)[:k]
    return [ClassScore(classes[i], float(probabilities[i])) for i in order.tolist()]


CLASSES = tuple(f"class-{c}" for c in "abcdefghij")[: RECIPE.num_classes]  # names no index can be mistaken for


def _top_k_logits(device: str | torch.device) -> torch.Tensor:
    """One image's logits: distinct, some negative, some above 1 (so that they cannot pass for probabilities)."""
    spread = torch.linspace(-2.5, 3.0, RECIPE.num_classes)
    order = torch.randperm(RECIPE.num_classes, generator=torch.Generator().manual_seed(4))
    return spread[order][None].to(device)


def top_k(student: Callable[..., Any], device: str | torch.device = "cpu") -> Callable:
    """Check `top_k(logits, classes, k) -> [(class name, probability), ...]`, most probable first, for
    one image's logits of shape (1, classes) on `device`."""

    def test() -> str:
        logits = _top_k_logits(device)
        for k in (3, 1, RECIPE.num_classes):
            got = student(logits.clone(), CLASSES, k)
            _check_top_k(got, logits.cpu(), k)
        return "the k most probable classes as (name, probability), most probable first, for k = 3, 1 and 10."

    return check(student, reference_top_k, "top_k", test)


def _pairs(got: Any, k: int) -> tuple[list[Any], list[Any]]:
    """(names, probabilities) of the returned pairs, after the checks on their form."""
    if isinstance(got, torch.Tensor) or not isinstance(got, (list, tuple)):
        raise Problem(f"it returns {type(got).__name__}; return a list of (class name, probability) pairs.")
    if len(got) != k:
        extra = ""
        if len(got) in (k - 1, k + 1):
            extra = " One too few or one too many: check where the slice or the range stops."
        elif len(got) == 1:
            extra = (
                " The logits have a batch axis of one image: was the batch iterated instead of the classes? "
                "Take that one image's row."
            )
        entries = "1 entry" if len(got) == 1 else f"{len(got)} entries"
        raise Problem(f"it returns {entries} for k={k}; one per class asked for, k of them.{extra}")
    if not all(isinstance(pair, (tuple, list)) and len(pair) == 2 for pair in got):
        raise Problem("each entry should be a pair (class name, probability).")
    names, probabilities = [pair[0] for pair in got], [pair[1] for pair in got]
    if all(isinstance(n, str) for n in probabilities) and not any(isinstance(n, str) for n in names):
        raise Problem("each pair is (probability, name); put the class name first: (name, probability).")
    if not all(isinstance(n, str) for n in names):
        raise Problem(
            f"the first item of each pair is {names[0]!r} ({type(names[0]).__name__}), not a class name: look the "
            "name up in classes."
        )
    if any(isinstance(p, torch.Tensor) for p in probabilities):
        raise Problem(
            "the probabilities are tensors; return plain Python numbers (float(p) or p.item()). A tensor prints "
            "as tensor(0.57), cannot go into the app's JSON answer, and may hold on to GPU memory."
        )
    if not all(isinstance(p, float) for p in probabilities):
        kind = type(next(p for p in probabilities if not isinstance(p, float))).__name__
        raise Problem(f"the probabilities are {kind}; return plain Python floats (float(p)).")
    return names, probabilities


def _check_top_k(got: Any, logits: torch.Tensor, k: int) -> None:
    names, probabilities = _pairs(got, k)
    probs = logits.softmax(1)[0]
    order = torch.argsort(probs, descending=True).tolist()
    values = np.array(probabilities)
    wanted = probs[order[:k]].numpy()
    if not np.allclose(values, wanted, atol=1e-5):
        mistakes = {
            "these are the logits (raw scores), not probabilities: apply a softmax over the classes first.": (
                logits[0].sort(descending=True).values[:k]
            ),
            "every probability is 1: the softmax ran over the batch axis (dimension 0), which holds a single "
            "image. Run it over the class axis (dimension 1).": torch.ones(k),
            "these are log-probabilities: a softmax, not a log_softmax.": logits.log_softmax(1)[0]
            .sort(descending=True)
            .values[:k],
            "they are in increasing order, the least probable first: sort from the most probable down.": (
                probs.sort().values[-k:]
            ),
            "these are the k least probable classes: sort from the most probable down, then keep the first k.": (
                probs.sort().values[:k]
            ),
        }
        for why, variant in mistakes.items():
            if np.allclose(values, variant.numpy(), atol=1e-5):
                raise Problem(f"for k={k}, {why}")
        raise Problem(
            f"for k={k} the probabilities are {np.round(values, 3).tolist()}; the k largest of the softmax of "
            f"the logits are {np.round(wanted, 3).tolist()}."
        )
    if names != [CLASSES[i] for i in order[:k]]:
        for shift in (1, -1):
            if names == [CLASSES[(i + shift) % len(CLASSES)] for i in order[:k]]:
                raise Problem(
                    "the probabilities are right, but each name is its neighbour's in classes (off by one): "
                    "name each probability with the class at the same index."
                )
        raise Problem(
            "the probabilities are right, but the names do not go with them: each probability's name is the "
            "class at the index the probability came from."
        )
