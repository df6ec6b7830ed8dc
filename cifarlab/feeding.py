"""How fast each data path delivers augmented training batches to the device (lesson 08).

A training step can only be as fast as its batches arrive. On a GPU the ResNet-9 trains on
tens of thousands of images a second; a path that cannot deliver augmented batches that fast
leaves the GPU waiting, however fast its arithmetic. This measures the feeding alone: batches
drawn from the training split in the training order, augmented, and on the device, exactly as
the training step receives them, with no model. The three paths:

- DataLoader + Albumentations: crop, flip and cutout per image in DataLoader workers (CPU),
- DataLoader + batch augmentation: the loader gathers plain images, the device augments batches,
- data on the device: no DataLoader, batches cut by indexing (`cifarlab.device_loader`).

Each path gets the same time budget, epoch after epoch until it is spent (the first batch,
when workers start, is not counted), so a cell that calls this costs about the same on any
machine. benchmarks/data_paths.py measures the same paths with the model training behind them.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from cifarlab.batch_augment import batch_augment, batch_generator
from cifarlab.data import DataSplits
from cifarlab.datamodule import CIFAR10DataModule, EpochSampler
from cifarlab.device_loader import DeviceLoader
from cifarlab.errors import OptionError
from cifarlab.profile import Profile, get_profile
from cifarlab.recipe import RECIPE

PATHS = {  # name: (augment, on_device)
    "DataLoader + Albumentations": ("albumentations", False),
    "DataLoader + batch augmentation": ("batch", False),
    "data on the device": ("batch", True),
}


@dataclass
class FeedRate:
    """Augmented training images a data path delivered per second on one device."""

    path: str
    images_per_second: float
    batches: int  # timed batches
    device: str


def _batches(
    splits: DataSplits, path: str, batch_size: int, device: torch.device, profile: Profile
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The path's training batches, epoch after epoch, as the training step would receive them."""
    augment, on_device = PATHS[path]
    if on_device:
        sampler = EpochSampler(len(splits.train), seed=0)
        loader = DeviceLoader(splits.train, splits.mean, splits.std, batch_size, device, sampler, drop_last=True)
    else:
        data = CIFAR10DataModule(splits=splits, profile=profile, batch_size=batch_size, augment=augment)
        loader = data.train_dataloader()  # its workers persist from one epoch to the next
    for epoch in itertools.count():
        loader.sampler.set_epoch(epoch)  # as Lightning tells it: a new order (and augmentation) each epoch
        for index, (x, y) in enumerate(loader):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if augment == "batch":  # what LitResNet9's training step does before the forward pass
                x = batch_augment(x, batch_generator(0, epoch, index), cutout_p=RECIPE.cutout_p)
            yield x, y


def _wait(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def feeding_rate(
    splits: DataSplits,
    path: str,
    seconds: float = 5.0,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
    profile: Profile | None = None,
) -> FeedRate:
    """Images per second that `path` (a key of PATHS) delivers for about `seconds`.

    The first batch is taken untimed (worker processes start, memory is allocated); then
    batches are timed, over as many epochs as it takes, until the budget is spent.
    """
    if path not in PATHS:
        raise OptionError(f"path {path!r}: choose one of {list(PATHS)}.")
    if not seconds > 0:
        raise OptionError(f"seconds={seconds!r}: give the time budget per path in seconds, e.g. 5.")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise OptionError(f"batch_size={batch_size!r}: give a whole number of images, e.g. 128, or None.")
    profile = profile or get_profile()
    batch_size = batch_size or profile.batch_size
    if len(splits.train) < 2 * batch_size:
        raise OptionError(
            f"{len(splits.train)} training images make fewer than two batches of {batch_size}: "
            "pass a smaller batch_size."
        )
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    batches = _batches(splits, path, batch_size, device, profile)
    next(batches)
    _wait(device)
    started, images, count = time.perf_counter(), 0, 0
    while time.perf_counter() - started < seconds:
        x, _ = next(batches)
        images, count = images + len(x), count + 1
    _wait(device)
    elapsed = time.perf_counter() - started
    batches.close()  # the DataLoader's worker processes stop now, not when collected: they would slow the next path
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return FeedRate(path, images / elapsed, count, name)


def feeding_rates(splits: DataSplits, seconds: float = 15.0, **kwargs: Any) -> list[FeedRate]:
    """`feeding_rate` for every path in one run, with `seconds` shared out evenly."""
    return [feeding_rate(splits, path, seconds / len(PATHS), **kwargs) for path in PATHS]


def feeding_table(rates: list[FeedRate]) -> str:
    """Images/s of each path and its speed-up over the first, one line each."""
    base = rates[0].images_per_second
    lines = [f"{'data path':<34} {'images/s':>10} {'vs the first':>13}"]
    lines += [f"{r.path:<34} {r.images_per_second:>10.0f} {r.images_per_second / base:>12.1f}x" for r in rates]
    return "\n".join(lines) + f"\n(device: {rates[0].device}; {sum(r.batches for r in rates)} batches timed)"
