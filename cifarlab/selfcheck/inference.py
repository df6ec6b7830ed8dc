"""Lesson 07's self-check: turning a person's image into the model's 32x32 RGB input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cifarlab.selfcheck._core import SIZE, _Problem, _report


def reference_prepare(image: Any) -> np.ndarray:
    """cifarlab's preparation: RGB, centre square, shrunk to 32x32 with antialiasing."""
    from cifarlab.inference import to_model_image

    return to_model_image(image)


def prepare_image(student: Callable[[Any], Any]) -> Callable:
    """Check `prepare(image: PIL.Image) -> uint8 array (32, 32, 3)`."""

    def test() -> str:
        from PIL import Image

        rng = np.random.default_rng(3)
        wide = np.zeros((120, 360, 3), np.uint8)
        wide[:, :120] = (255, 0, 0)
        wide[:, 120:240] = (0, 0, 255)  # the centre square is blue
        wide[:, 240:] = (255, 0, 0)
        textured = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize(
            (256, 256), Image.Resampling.BICUBIC
        )
        cases = {
            "a wide RGB photo": Image.fromarray(wide),
            "a grayscale image": Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).convert("L"),
            "a large textured image": textured,
        }
        for name, image in cases.items():
            got = student(image.copy())
            got = np.asarray(got)
            if got.shape != (SIZE, SIZE, 3):
                hint = (
                    " Convert to RGB first: image.convert('RGB')."
                    if got.shape[:2] == (SIZE, SIZE)
                    else " Resize to (32, 32)."
                )
                raise _Problem(f"for {name} it returns shape {got.shape}, not (32, 32, 3).{hint}")
            if got.dtype != np.uint8:
                raise _Problem(
                    f"for {name} it returns {got.dtype}; the model's input pipeline expects uint8 pixels 0..255."
                )
            want = reference_prepare(image)
            if name == "a wide RGB photo" and got[..., 0].mean() > 60:
                raise _Problem(
                    "the wide photo came out with red in it: it was squashed, not cropped. Crop the centre "
                    "square first (ImageOps.fit(image, (side, side)) or image.crop(...))."
                )
            difference = np.abs(got.astype(int) - want.astype(int)).mean()
            if difference > 8:
                raise _Problem(
                    f"for {name} the result differs from cifarlab's by {difference:.1f} levels on average. "
                    "Centre-crop, then resize with an antialiasing filter (Image.Resampling.LANCZOS)."
                )
        return "RGB, centre square, 32x32, uint8."

    return _report(student, reference_prepare, test)
