"""The one in-memory form every data source gives: uint8 images NHWC, int labels, class names.

Whatever the source (torchvision's CIFAR-10, a local ImageFolder copy, the synthetic set),
the rest of the course sees an `ImageSet`, so everything downstream is the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cifarlab.errors import DataError


@dataclass(frozen=True)
class ImageSet:
    """Images with their labels.

    images:  uint8 array (N, H, W, 3), channels last, values 0..255
    labels:  int64 array (N,), each in 0..len(classes)-1
    classes: the class names, in label order
    source:  where the images came from, in words
    masks:   optional bool array (N, H, W), True on the object (synthetic data only)
    """

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    source: str
    masks: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        check_images(self.images, what=f"images from {self.source}")
        labels = np.asarray(self.labels)
        if labels.shape != (len(self.images),):
            raise DataError(
                f"{self.source}: expected one label per image ({len(self.images)}), got labels of shape {labels.shape}."
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"{self.source}: labels must be integers, got {labels.dtype}.")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise DataError(
                f"{self.source}: labels must lie in 0..{len(self.classes) - 1} "
                f"(one per class name), got {labels.min()}..{labels.max()}."
            )
        object.__setattr__(self, "labels", labels.astype(np.int64, copy=False))
        object.__setattr__(self, "classes", tuple(self.classes))
        if self.masks is not None and self.masks.shape != self.images.shape[:3]:
            raise DataError(f"{self.source}: masks must have shape {self.images.shape[:3]}, got {self.masks.shape}.")

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: np.ndarray, source: str | None = None) -> ImageSet:
        """The images at `indices`, in that order."""
        return ImageSet(
            images=self.images[indices],
            labels=self.labels[indices],
            classes=self.classes,
            source=source or self.source,
            masks=None if self.masks is None else self.masks[indices],
        )

    def class_counts(self) -> dict[str, int]:
        """How many images each class has."""
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {name: int(n) for name, n in zip(self.classes, counts)}


def check_images(images: object, what: str = "images") -> None:
    """Raise a `DataError` unless `images` is a uint8 array of shape (N, H, W, 3)."""
    if not isinstance(images, np.ndarray):
        raise DataError(f"{what} must be a numpy array, got {type(images).__name__}.")
    if images.ndim != 4 or images.shape[-1] != 3:
        hint = ""
        if images.ndim == 4 and images.shape[1] == 3:
            hint = " It looks channels-first (N, 3, H, W): use images.transpose(0, 2, 3, 1)."
        raise DataError(f"{what} must have shape (N, H, W, 3) (channels last), got {images.shape}.{hint}")
    if images.dtype != np.uint8:
        hint = (
            " Scale floats in 0..1 with (x * 255).round().astype(np.uint8)."
            if np.issubdtype(images.dtype, np.floating)
            else ""
        )
        raise DataError(f"{what} must be uint8 (0..255), got {images.dtype}.{hint}")


def take(images: ImageSet, n: int | None, seed: int = 0) -> ImageSet:
    """A seeded random subset of `n` images (all of them when n is None or too large)."""
    if n is None or n >= len(images):
        return images
    rng = np.random.default_rng(seed)
    return images.subset(np.sort(rng.permutation(len(images))[:n]))


def holdout_split(images: ImageSet, val_size: int, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """Split a training set into (train, validation), holding out `val_size` seeded-random images.

    val_size=0 holds out nothing: all of the images train, and the validation set is empty.
    """
    if not 0 <= val_size < len(images):
        raise DataError(
            f"cannot hold out {val_size} validation images from {len(images)} training images: "
            f"choose a val_size between 0 and {len(images) - 1}."
        )
    order = np.random.default_rng(seed).permutation(len(images))
    val, train = np.sort(order[:val_size]), np.sort(order[val_size:])
    return (
        images.subset(train, source=f"{images.source} (train part)"),
        images.subset(val, source=f"{images.source} (validation hold-out)"),
    )


def channel_stats(images: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of uint8 NHWC images, on the 0..1 scale.

    Computed in float64 over chunks, so the full training set needs little memory.
    """
    check_images(images)
    total = np.zeros(3)
    total_sq = np.zeros(3)
    for start in range(0, len(images), chunk):
        block = images[start : start + chunk].reshape(-1, 3).astype(np.float64) / 255.0
        total += block.sum(axis=0)
        total_sq += np.square(block).sum(axis=0)
    count = images.shape[0] * images.shape[1] * images.shape[2]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    return mean.astype(np.float32), std.astype(np.float32)


@dataclass(frozen=True)
class DataSplits:
    """Train, validation (held out of training) and test sets, with the training statistics."""

    train: ImageSet
    val: ImageSet
    test: ImageSet
    mean: np.ndarray  # per-channel mean of the training images, 0..1 scale
    std: np.ndarray  # per-channel std of the training images, 0..1 scale
    source: str = "unknown source"  # where the data came from, in words

    @property
    def classes(self) -> tuple[str, ...]:
        return self.train.classes

    def summary(self) -> str:
        """A few lines that say what the splits hold and where they came from."""

        def fmt(v: Sequence[float]) -> str:
            return "(" + ", ".join(f"{x:.4f}" for x in v) + ")"

        return "\n".join(
            [
                f"source : {self.source}",
                f"train  : {len(self.train):>6} images",
                f"val    : {len(self.val):>6} images (held out of training)",
                f"test   : {len(self.test):>6} images",
                f"classes: {', '.join(self.classes)}",
                f"mean   : {fmt(self.mean)}   std: {fmt(self.std)}  (training images, 0..1)",
            ]
        )
