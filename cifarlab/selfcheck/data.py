"""Lesson 01's self-checks: the mean and std, the training pipeline."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cifarlab.data.imageset import channel_stats
from cifarlab.selfcheck._core import SIZE, _Problem, _report


def reference_mean_std(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of uint8 NHWC images on the 0..1 scale."""
    return channel_stats(images)


def mean_std(student: Callable[[np.ndarray], Any]) -> Callable:
    """Check `compute_mean_std(images) -> (mean, std)`, per channel, on the 0..1 scale."""

    def test() -> str:
        rng = np.random.default_rng(7)
        images = rng.integers(0, 256, size=(16, SIZE, SIZE, 3), dtype=np.uint8)
        images[..., 2] //= 2  # give the channels different statistics
        want_mean, want_std = channel_stats(images)
        result = student(images.copy())
        if not isinstance(result, tuple) or len(result) != 2:
            raise _Problem("it should return a pair (mean, std).")
        mean, std = (np.asarray(v, dtype=np.float64) for v in result)
        for what, got, want in (("mean", mean, want_mean), ("std", std, want_std)):
            if got.shape != (3,):
                raise _Problem(
                    f"the {what} has shape {got.shape}; it should hold one number per colour "
                    "channel, shape (3,). Average over images, height and width: axis=(0, 1, 2)."
                )
            if np.allclose(got, want * 255, rtol=1e-3):
                raise _Problem(f"the {what} is on the 0..255 scale; divide the pixels by 255 first.")
            if not np.allclose(got, want, atol=1e-3):
                hint = ""
                if what == "std":
                    hint = " Take the std over all pixels of a channel at once, not a std of per-image values."
                raise _Problem(f"the {what} is {np.round(got, 4)} but should be {np.round(want, 4)}.{hint}")
        return "One number per channel, on the 0..1 scale."

    return _report(student, reference_mean_std, test)


EXPECTED_STEPS = ("PadIfNeeded", "RandomCrop", "HorizontalFlip", "CoarseDropout", "Normalize", "ToTensorV2")


def reference_train_transforms(mean: Sequence[float], std: Sequence[float]) -> Any:
    """cifarlab's training pipeline with the course's default parameters."""
    from cifarlab.augment import train_transforms

    return train_transforms(mean, std)


def train_transforms(student: Callable[[Sequence[float], Sequence[float]], Any]) -> Callable:
    """Check `build_train_transforms(mean, std) -> A.Compose` against the recipe in the lesson."""

    def test() -> str:
        import albumentations as A
        import torch

        mean, std = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)
        pipeline = student(mean, std)
        if not isinstance(pipeline, A.Compose):
            raise _Problem(f"it should return an A.Compose([...]), got {type(pipeline).__name__}.")
        steps = [type(t).__name__ for t in pipeline.transforms]
        missing = [s for s in EXPECTED_STEPS if s not in steps]
        if missing:
            raise _Problem(f"the pipeline has {steps} but lacks {missing}.")
        if [s for s in steps if s in EXPECTED_STEPS] != list(EXPECTED_STEPS):
            raise _Problem(
                f"the steps are in the order {steps}; augment first (pad, crop, flip, dropout), "
                "then Normalize, and ToTensorV2 last."
            )
        flip = pipeline.transforms[steps.index("HorizontalFlip")]
        if not 0 < flip.p < 1:
            raise _Problem(f"HorizontalFlip has p={flip.p}: with p=0 nothing flips, with p=1 everything does.")
        # Behaviour: a mean-coloured image must come out as zeros (Normalize uses mean and std).
        flat = np.tile(np.round(np.array(mean) * 255).astype(np.uint8), (SIZE, SIZE, 1))
        outs = [pipeline(image=flat)["image"] for _ in range(8)]  # cutout may apply or not
        if any(not isinstance(o, torch.Tensor) or tuple(o.shape) != (3, SIZE, SIZE) for o in outs):
            raise _Problem("the output should be a (3, 32, 32) tensor: end with ToTensorV2().")
        if max(float(o.abs().max()) for o in outs) > 0.05:
            raise _Problem(
                "a mean-coloured image should normalise to about 0 everywhere: pass the mean and "
                "std you were given to A.Normalize (and fill CoarseDropout holes with the mean)."
            )
        # Behaviour: random crops after padding move the image around.
        rng = np.random.default_rng(0)
        noise = rng.integers(0, 256, size=(SIZE, SIZE, 3), dtype=np.uint8)
        outs = {pipeline(image=noise)["image"].numpy().tobytes() for _ in range(12)}
        if len(outs) < 4:
            raise _Problem("12 runs gave almost the same image: is the pad-then-random-crop in place?")
        return f"Steps: {' -> '.join(steps)}."

    return _report(student, reference_train_transforms, test)
