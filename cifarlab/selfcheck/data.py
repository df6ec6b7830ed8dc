"""Lesson 01's self-checks: the mean and std per channel, and the training pipeline.

`mean_std` runs the student's function on a few images whose channels, and whose images,
have clearly different statistics, so that each wrong reduction (wrong axes, wrong scale, a
std of per-image values, the pair swapped) gives numbers that only it gives.

`train_transforms` looks at what the pipeline *does*. Two test images go through it many
times (with a fixed seed): a flat image in the mean colour, which a right pipeline turns
into zeros everywhere, holes included; and a coded image whose pixels spell out their own
row and column, from which every output tells how it was shifted and flipped, where its
border came from and where its hole is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cifarlab.data.imageset import channel_stats
from cifarlab.recipe import RECIPE
from cifarlab.selfcheck._core import SIZE, _Problem, check

EXPECTED_STEPS = ("PadIfNeeded", "RandomCrop", "HorizontalFlip", "CoarseDropout", "Normalize", "ToTensorV2")
CHANNELS = ("red", "green", "blue")


def reference_mean_std(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of uint8 NHWC images on the 0..1 scale."""
    return channel_stats(images)


# ---------------------------------------------------------------------------------------------
# Exercise 1: mean and std per channel


def _test_images() -> np.ndarray:
    """6 images (a count unlike any other axis) whose channels, and whose images, differ."""
    rng = np.random.default_rng(7)
    count = 6
    channel_means = np.array([150.0, 110.0, 70.0])
    channel_spreads = np.array([20.0, 35.0, 50.0])
    brightness = np.linspace(-40, 40, count)[:, None, None, None]  # some images darker than others
    noise = rng.normal(size=(count, SIZE, SIZE, 3)) * channel_spreads
    return np.clip(np.round(channel_means + brightness + noise), 0, 255).astype(np.uint8)


def _shape_problem(what: str, shape: tuple[int, ...], images: np.ndarray) -> str | None:
    """What a wrong shape says about the axes the student reduced over, or None if (3,)."""
    n, h, w, _ = images.shape
    if shape == (3,):
        return None
    what = f"for the check's {n} images of shape {images.shape[1:]}, the {what}"
    if shape == ():
        return (
            f"{what} is a single number for all three colour channels: without an axis, the whole array "
            "is reduced, colours included. Keep one number per channel (the last axis)."
        )
    if int(np.prod(shape)) == 3:
        return f"{what} has shape {shape}: drop keepdims, so that it is a plain array of 3 numbers."
    if shape == (h, w, 3):
        return (
            f"{what} has shape {shape}, one value per pixel position: you averaged over the images "
            "only (axis 0). Average over the images, the height and the width at once."
        )
    if shape == (n, 3):
        return (
            f"{what} has shape {shape}, one value per image and channel: you averaged over height and "
            "width but not over the images. Include the image axis too."
        )
    if shape == (n, h, w):
        return (
            f"{what} has shape {shape}: you reduced over the channel axis (the last one), which is the "
            "axis to keep. Reduce over the other three."
        )
    return (
        f"{what} has shape {shape}; it should hold one number per colour "
        "channel, shape (3,): reduce over the images, the height and the width, keep the channels."
    )


def _as_pair(result: Any) -> tuple[np.ndarray, np.ndarray]:
    if result is None:
        raise _Problem("it returns nothing: return the pair (mean, std).")
    if isinstance(result, dict) or not hasattr(result, "__len__") or len(result) != 2:
        shape = getattr(result, "shape", None)
        got = f"an array of shape {tuple(shape)}" if shape is not None else type(result).__name__
        raise _Problem(f"it returns {got}; it should return two things, the pair (mean, std).")
    try:
        return tuple(np.asarray(v, dtype=np.float64) for v in result)  # type: ignore[return-value]
    except (TypeError, ValueError) as error:
        raise _Problem(f"its mean and std should be arrays of numbers ({error}).") from error


def _mean_std_test(student: Callable[[np.ndarray], Any]) -> str:
    images = _test_images()
    want_mean, want_std = (v.astype(np.float64) for v in channel_stats(images))
    mean, std = _as_pair(student(images.copy()))
    for what, got in (("mean", mean), ("std", std)):
        problem = _shape_problem(what, got.shape, images)
        if problem:
            raise _Problem(problem)

    def close(a: np.ndarray, b: np.ndarray) -> bool:
        return bool(np.allclose(a, b, rtol=1e-3, atol=1e-4))

    if close(mean, want_std) and close(std, want_mean):
        raise _Problem("it returns (std, mean): the pair is swapped. Return the mean first, then the std.")
    for what, got, want in (("mean", mean, want_mean), ("std", std, want_std)):
        if close(got, want * 255):
            raise _Problem(f"the {what} is on the 0..255 scale; divide the pixels by 255 first, to get 0..1.")
        if close(got, want * 255 / 256):
            raise _Problem(f"the {what} is a little too small: divide by 255 (the largest pixel value), not 256.")
    if not close(mean, want_mean):
        ratio = mean / want_mean
        if np.allclose(ratio, ratio[0], rtol=1e-3):
            raise _Problem(
                f"the mean is {np.round(mean, 4)}, {ratio[0]:.4g} times the right one in every channel: a sum "
                "divided by the wrong count? Divide by the number of values summed (images x height x width)."
            )
        raise _Problem(f"the mean is {np.round(mean, 4)} but should be {np.round(want_mean, 4)}.")
    pixels = images / 255.0
    if close(std, pixels.std(axis=(1, 2)).mean(axis=0)):
        raise _Problem(
            "the std is the average of each image's own std: that misses how much the images differ from "
            "each other (some are brighter). Take the std over all pixels of a channel at once."
        )
    if close(std, pixels.mean(axis=(1, 2)).std(axis=0)):
        raise _Problem(
            "the std is the std of the images' mean colours: it measures how the images differ, not how the "
            "pixels vary. Take the std over all pixels of a channel at once."
        )
    if close(std, want_std**2):
        raise _Problem("that std is the variance: take its square root (or use .std instead of .var).")
    if not close(std, want_std):
        raise _Problem(
            f"the std is {np.round(std, 4)} but should be {np.round(want_std, 4)}: take it over all pixels "
            "of a channel at once (images, height and width), on the 0..1 scale."
        )
    return "One number per channel, on the 0..1 scale, over all pixels of the images."


def mean_std(student: Callable[[np.ndarray], Any]) -> Callable:
    """Check `compute_mean_std(images) -> (mean, std)`, per channel, on the 0..1 scale."""
    return check(student, reference_mean_std, "mean_std", lambda: _mean_std_test(student))


# ---------------------------------------------------------------------------------------------
# Exercise 2: the training pipeline

MEAN = np.array([0.55, 0.45, 0.35], dtype=np.float32)  # made up: far from ImageNet's, and unlike STD
STD = np.array([0.2, 0.25, 0.3], dtype=np.float32)
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))  # Albumentations' Normalize defaults
RUNS = 48  # passes of each test image through the pipeline
CODED_BLUE = 200  # the coded image's blue: unlike black, and unlike the mean colour's


def reference_train_transforms(mean: Sequence[float], std: Sequence[float]) -> Any:
    """cifarlab's training pipeline with the course's default parameters."""
    from cifarlab.augment import train_transforms

    return train_transforms(mean, std)


def _coded_image() -> np.ndarray:
    """Red = 40 + 5 x column, green = 40 + 5 x row, blue constant: each pixel names its place."""
    ramp = 40 + 5 * np.arange(SIZE)
    image = np.empty((SIZE, SIZE, 3), dtype=np.uint8)
    image[..., 0] = ramp[None, :]
    image[..., 1] = ramp[:, None]
    image[..., 2] = CODED_BLUE
    return image


def _normalised(pixels: np.ndarray, mean: Sequence[float], std: Sequence[float], top: float = 255.0) -> np.ndarray:
    """What Albumentations' Normalize makes of 0..255 `pixels` (its formula)."""
    return (pixels - np.asarray(mean) * top) / (np.asarray(std) * top)


def _check_steps(pipeline: Any) -> None:
    """The order of the steps: augmentations, then Normalize, then ToTensorV2 last."""
    import albumentations as A
    from albumentations.pytorch import ToTensorV2

    steps = list(pipeline.transforms)
    names = [type(t).__name__ for t in steps]
    tensor_at = [i for i, t in enumerate(steps) if isinstance(t, ToTensorV2)]
    if tensor_at and tensor_at[-1] != len(steps) - 1:
        after = names[tensor_at[-1] + 1 :]
        raise _Problem(
            f"ToTensorV2 comes before {after}: it must be the last step. It turns the HWC numpy image into a "
            "CHW tensor, which the other steps do not expect."
        )
    normalize_at = [i for i, t in enumerate(steps) if isinstance(t, A.Normalize)]
    if normalize_at:
        later = [n for i, n in enumerate(names) if i > normalize_at[0] and i not in normalize_at + tensor_at]
        if later:
            raise _Problem(
                f"Normalize comes before {later}: augment first, on ordinary 0..255 pixels (cutout's fill "
                "colour and the padding are in those units), then Normalize, then ToTensorV2."
            )


def _outputs(pipeline: Any, image: np.ndarray, seed: int) -> list[np.ndarray]:
    """RUNS outputs of the pipeline for `image`, as (3, H, W) float arrays; names a wrong output type."""
    import torch

    if hasattr(pipeline, "set_random_seed"):
        pipeline.set_random_seed(seed)
    outputs = []
    for _ in range(RUNS):
        out = pipeline(image=image.copy())["image"]
        if isinstance(out, np.ndarray):
            raise _Problem(
                f"the output is a numpy array of shape {out.shape} (height, width, channels): end the pipeline "
                "with ToTensorV2, which turns it into a (3, height, width) torch tensor, channels first."
            )
        if not isinstance(out, torch.Tensor) or out.ndim != 3 or out.shape[0] != 3:
            raise _Problem(f"the output should be a (3, {SIZE}, {SIZE}) tensor, got {getattr(out, 'shape', out)}.")
        if not out.is_floating_point():
            raise _Problem(
                f"the output holds {out.dtype} values, 0..255 bytes: the pipeline does not normalise. Add "
                "Normalize with the mean and std you were given, before ToTensorV2."
            )
        if tuple(out.shape[1:]) != (SIZE, SIZE):
            raise _Problem(
                f"the output is {out.shape[1]}x{out.shape[2]} pixels, not {SIZE}x{SIZE}: after padding, crop "
                f"back to {SIZE}x{SIZE}."
            )
        outputs.append(out.double().numpy())
    return outputs


def _check_normalize(outputs: list[np.ndarray], flat: np.ndarray) -> None:
    """A mean-coloured image must come out as 0 wherever it is not a hole or a border."""
    background = np.median(np.stack([o.reshape(3, -1) for o in outputs], axis=1).reshape(3, -1), axis=1)
    if np.abs(background).max() < 0.05:
        return
    pixel = flat[0, 0].astype(np.float64)
    m, s = MEAN.astype(np.float64), STD.astype(np.float64)
    candidates = {
        "mean and std are swapped in Normalize: the mean comes first.": _normalised(pixel, s, m),
        "Normalize has max_pixel_value=1.0, so it takes the 0..255 pixels for 0..1 values: leave it at 255 "
        "(the pixels are still bytes when Normalize runs).": _normalised(pixel, m, s, 1.0),
        "Normalize uses Albumentations' default mean and std (ImageNet's), not the ones you were given: "
        "pass them to it.": _normalised(pixel, *IMAGENET),
        "Normalize got the mean you were given but the default std (ImageNet's): pass the std too.": _normalised(
            pixel, m, IMAGENET[1]
        ),
        "Normalize got the mean and std on the 0..255 scale; it multiplies them by 255 itself "
        "(max_pixel_value): pass them on the 0..1 scale, as given.": _normalised(pixel, m * 255, s * 255),
    }
    for message, value in candidates.items():
        if np.allclose(background, value, rtol=0.02, atol=0.02):
            raise _Problem(
                f"an image in the mean colour should come out as 0 in every channel, not "
                f"{background.round(2)}: {message}"
            )
    raise _Problem(
        f"an image in the mean colour should come out as 0 in every channel (that is what subtracting the "
        f"mean does), but comes out as {background.round(2)}: give Normalize the mean and std you were given."
    )


def _full_lines(mask: np.ndarray) -> np.ndarray:
    """The pixels of `mask` (H, W) that lie on a row or column that is all True."""
    return mask.all(axis=1)[:, None] | mask.all(axis=0)[None, :]


def _check_fill(outputs: list[np.ndarray], flat: np.ndarray) -> None:
    """On the mean-coloured image, a hole filled with the mean colour is invisible; any other is not."""
    for out in outputs:
        holes = np.abs(out).max(axis=0) > 0.1  # (the border is known to be right by now)
        if not holes.any():
            continue
        colour = (out[:, holes] * STD[:, None] + MEAN[:, None]) * 255  # back to 0..255
        if colour.std(axis=1).max() > 8:
            raise _Problem(
                "the cutout holes are filled with noise: fill them with one colour, the mean colour "
                "(the mean you were given times 255, as pixels are 0..255 when cutout runs)."
            )
        fill = np.median(colour, axis=1)
        if fill.max() < 3:
            raise _Problem(
                "the cutout holes are black (0): fill them with the mean colour, on the 0..255 scale (the mean "
                "you were given times 255). A black square is a strong signal no real photo has; a hole in "
                "the average colour carries no information. (The mean itself, 0..1, is black on 0..255 pixels.)"
            )
        raise _Problem(
            f"the cutout holes are filled with the colour {fill.round().astype(int).tolist()}, not the mean "
            f"colour {flat[0, 0].tolist()} (the mean you were given times 255)."
        )


def _decode(out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a coded image's output: where each pixel came from (row, column) and which pixels are the image's."""
    pixels = (out * STD[:, None, None] + MEAN[:, None, None]) * 255
    image_pixel = np.abs(pixels[2] - CODED_BLUE) < 4
    return (pixels[1] - 40) / 5, (pixels[0] - 40) / 5, image_pixel


def _motion(src: np.ndarray, position: np.ndarray, valid: np.ndarray) -> tuple[bool, int] | None:
    """(mirrored, shift) along one axis, from the source coordinate of each output pixel; None if neither."""
    last = SIZE - 1
    straight, mirrored = (src - position)[valid], (src + position - last)[valid]
    if straight.size and np.ptp(straight) < 1:
        return False, int(round(float(np.median(straight))))
    if mirrored.size and np.ptp(mirrored) < 1:
        return True, int(round(float(np.median(mirrored))))
    return None


def _components(mask: np.ndarray) -> list[tuple[int, int, int]]:
    """(height, width, area) of each connected region of `mask`."""
    from scipy import ndimage

    labels, count = ndimage.label(mask)
    found = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        found.append((box[0].stop - box[0].start, box[1].stop - box[1].start, int((labels[box] == index).sum())))
    return found


def _plausible(count: int, p: float) -> bool:
    """Is `count` of RUNS a likely outcome for a coin with probability p (3.5 standard deviations)?"""
    spread = 3.5 * np.sqrt(RUNS * p * (1 - p))
    return RUNS * p - spread <= count <= RUNS * p + spread


def _check_border(outputs: list[np.ndarray]) -> None:
    """Where a shift uncovers the padding, a reflected border shows the image; a constant one a frame."""
    for out in outputs:
        border = _full_lines(~_decode(out)[2])
        if not border.any():
            continue
        colour = np.median((out[:, border] * STD[:, None] + MEAN[:, None]) * 255, axis=1)
        if colour.max() < 3:
            raise _Problem(
                "the padding is black: a shifted image gets a black frame along its edge, which no photo "
                "has. Pad by reflecting the image at its border (PadIfNeeded's border_mode)."
            )
        raise _Problem(
            f"the padding is a flat colour {colour.round().astype(int).tolist()}: a shifted image gets a "
            "frame along its edge. Pad by reflecting the image at its border (PadIfNeeded's border_mode)."
        )


def _check_geometry(outputs: list[np.ndarray]) -> str:
    """Shifts, flips, border and holes, read off the coded image's outputs."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    centre = (rows >= SIZE // 4) & (rows < SIZE - SIZE // 4) & (cols >= SIZE // 4) & (cols < SIZE - SIZE // 4)
    shifts, hflips, vflips, holed, hole_shapes, hole_counts = set(), 0, 0, 0, set(), set()
    for out in outputs:
        src_row, src_col, image_pixel = _decode(out)
        valid = centre & image_pixel
        across, down = _motion(src_col, cols, valid), _motion(src_row, rows, valid)
        if across is None or down is None:
            raise _Problem(
                "it moves pixels in ways other than a shift and a mirror image (a rotation, a resize, a "
                "transpose?): the recipe only pads and crops, and flips left-right."
            )
        hflips, vflips = hflips + across[0], vflips + down[0]
        shifts.add((down[1], across[1]))
        holes = ~image_pixel
        if holes.any():
            holed += 1
            parts = _components(holes)
            hole_counts.add(len(parts))
            hole_shapes.update((h, w) for h, w, area in parts if area == h * w)
    pad = RECIPE.pad
    if vflips:
        raise _Problem(
            f"it flipped {vflips} of {RUNS} images upside down: a vertical flip. Photos are not taken upside "
            "down, so the network would learn to recognise things it never meets. Flip left-right only."
        )
    if hflips == 0:
        raise _Problem(
            f"none of {RUNS} images came out mirrored left-right: the horizontal flip is missing or has p=0. "
            f"p is the probability of a flip; the recipe's is RECIPE.flip_p = {RECIPE.flip_p}."
        )
    if hflips == RUNS:
        raise _Problem(
            f"all {RUNS} images came out mirrored: the flip has p=1, so the network sees only mirrored images. "
            f"p is the probability of a flip; the recipe's is RECIPE.flip_p = {RECIPE.flip_p}."
        )
    if not _plausible(hflips, RECIPE.flip_p):
        raise _Problem(
            f"{hflips} of {RUNS} images were mirrored; with RECIPE.flip_p = {RECIPE.flip_p} about "
            f"{RUNS * RECIPE.flip_p:.0f} should be."
        )
    if shifts == {(0, 0)}:
        raise _Problem(
            f"the crops never shift: all {RUNS} outputs show the image exactly where it was. A {SIZE}x{SIZE} "
            f"crop of a {SIZE}x{SIZE} image can only be the whole image: pad first (RECIPE.pad = {pad} px on "
            "each side), then take a *random* crop back to the original size."
        )
    reach = max(max(abs(dy), abs(dx)) for dy, dx in shifts)
    if reach != pad:
        raise _Problem(
            f"the crops shift the image by up to {reach} px; padding by RECIPE.pad = {pad} px on each side "
            f"gives shifts of up to {pad} px."
        )
    if {dy for dy, _ in shifts} == {0} or {dx for _, dx in shifts} == {0}:
        which = "sideways" if {dy for dy, _ in shifts} == {0} else "up and down"
        raise _Problem(f"the crops only shift the image {which}: pad all four sides, so that it moves both ways.")
    size, holes_wanted = RECIPE.hole_size, RECIPE.holes
    if holed == 0:
        raise _Problem(
            f"none of {RUNS} images got a cutout hole: CoarseDropout is missing, or its p or hole size is 0 "
            f"(the recipe: RECIPE.cutout_p = {RECIPE.cutout_p})."
        )
    if max(hole_counts) > holes_wanted:
        raise _Problem(
            f"some images got {max(hole_counts)} holes; the recipe cuts RECIPE.holes = {holes_wanted} per image: "
            "set CoarseDropout's range for the number of holes to exactly that."
        )
    if hole_shapes != {(size, size)}:
        seen = ", ".join(f"{h}x{w}" for h, w in sorted(hole_shapes))
        raise _Problem(
            f"the holes measure {seen} px; the recipe's are RECIPE.hole_size = {size} px square, every time: "
            "set both of CoarseDropout's hole size ranges to exactly that (in pixels, not a fraction)."
        )
    if not _plausible(holed, RECIPE.cutout_p):
        raise _Problem(
            f"{holed} of {RUNS} images got a hole; with RECIPE.cutout_p = {RECIPE.cutout_p} about "
            f"{RUNS * RECIPE.cutout_p:.0f} should: pass p=RECIPE.cutout_p to CoarseDropout (left out, its p is 0.5)."
        )
    return (
        f"Shifts of up to {pad} px with a reflected border, {hflips} of {RUNS} images mirrored left-right, "
        f"{holed} of {RUNS} with a hole of {size}x{size} px in the mean colour, then normalised."
    )


def _train_transforms_test(student: Callable[[Sequence[float], Sequence[float]], Any]) -> str:
    import albumentations as A

    pipeline = student(MEAN.copy(), STD.copy())
    if isinstance(pipeline, (list, tuple)):
        raise _Problem("it returns a list of steps: wrap them in A.Compose([...]), which runs them in order.")
    if not isinstance(pipeline, A.Compose):
        raise _Problem(f"it should return an A.Compose([...]), got {type(pipeline).__name__}.")
    _check_steps(pipeline)
    flat = np.tile(np.round(MEAN * 255).astype(np.uint8), (SIZE, SIZE, 1))
    plain = _outputs(pipeline, flat, seed=1)
    _check_normalize(plain, flat)
    coded = _outputs(pipeline, _coded_image(), seed=2)
    _check_border(coded)
    _check_fill(plain, flat)
    return _check_geometry(coded)


def train_transforms(student: Callable[[Sequence[float], Sequence[float]], Any]) -> Callable:
    """Check `build_train_transforms(mean, std) -> A.Compose` by what it does to two test images."""
    return check(student, reference_train_transforms, "train_transforms", lambda: _train_transforms_test(student))
