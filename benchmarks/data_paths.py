"""Benchmark: the three ways to feed the ResNet-9, and Lightning's overhead on the fastest.

    CIFARLAB_DATA=../shared/data/cifar10-jpeg.tar.gz python benchmarks/data_paths.py \\
        [--batches 8] [--batch-size 128] [--repeats 2]

Each path trains the real ResNet-9 through Lightning (fp32, the same seed and batches) for
two epochs of `--batches` batches, and the second epoch is timed; the paths take turns,
`--repeats` times, and the median is kept:

- DataLoader + Albumentations: crop, flip and cutout per image in DataLoader workers,
- DataLoader + batch augmentation: the loader gathers plain images, the model augments batches,
- data on the device: no DataLoader, batches cut by indexing (`cifarlab.device_loader`).

Then Lightning against the plain loop of lesson 03 on the device path's batches (no
augmentation on either side): what Lightning itself costs per step. On a CPU read the
ratios; the absolute figures belong to a GPU (`cifarlab reproduce`).
"""

from __future__ import annotations

import argparse
import statistics
import time

import lightning as L
import torch
from lightning_overhead import EpochTimer  # the same epoch clock (benchmarks/ is on the path of a script run from it)

from cifarlab.data import load_splits
from cifarlab.datamodule import CIFAR10DataModule
from cifarlab.feeding import PATHS  # the three paths, as lesson 08 names them
from cifarlab.lit import LitResNet9
from cifarlab.loop import train_epoch
from cifarlab.model import ResNet9
from cifarlab.profile import get_profile
from cifarlab.recipe import RECIPE
from cifarlab.schedule import one_cycle


def lightning_epoch(datamodule: CIFAR10DataModule, batches: int, batch_augment: bool) -> float:
    """Seconds of the second of two Lightning epochs of `batches` batches."""
    torch.manual_seed(0)
    timer = EpochTimer()
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=2,
        limit_train_batches=batches,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        callbacks=[timer],
    )
    module = LitResNet9(batch_augment=batch_augment, mean=datamodule.mean, std=datamodule.std)
    trainer.fit(module, datamodule=datamodule)
    return timer.seconds[-1]


def plain_epoch(datamodule: CIFAR10DataModule, batches: int) -> float:
    """Seconds of lesson 03's loop over the same number of the device path's batches (after a warm-up)."""
    torch.manual_seed(0)
    model = ResNet9()
    optimizer = torch.optim.SGD(
        model.parameters(), lr=RECIPE.max_lr, momentum=RECIPE.momentum, nesterov=True, weight_decay=RECIPE.weight_decay
    )
    schedule = one_cycle(optimizer, RECIPE.max_lr, 2 * batches)
    loader = list(datamodule.train_dataloader())[:batches]
    train_epoch(model, loader, optimizer, schedule, label_smoothing=RECIPE.label_smoothing)
    start = time.perf_counter()
    train_epoch(model, loader, optimizer, schedule, label_smoothing=RECIPE.label_smoothing)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    profile = get_profile("cpu")
    splits = load_splits(None, profile)
    workers = profile.num_workers

    def datamodule(augment: str, on_device: bool) -> CIFAR10DataModule:
        return CIFAR10DataModule(
            splits=splits, profile=profile, batch_size=args.batch_size, augment=augment, on_device=on_device
        )

    times: dict[str, list[float]] = {name: [] for name in [*PATHS, "plain loop (device batches)", "Lightning (same)"]}
    for _ in range(args.repeats):
        for name, (augment, on_device) in PATHS.items():
            times[name].append(lightning_epoch(datamodule(augment, on_device), args.batches, augment == "batch"))
        device = datamodule("none", True)
        device.setup()
        times["plain loop (device batches)"].append(plain_epoch(device, args.batches))
        times["Lightning (same)"].append(lightning_epoch(device, args.batches, batch_augment=False))
    median = {name: statistics.median(seconds) for name, seconds in times.items()}
    images = args.batches * args.batch_size
    print(
        f"{args.batches} batches of {args.batch_size}, {torch.get_num_threads()} CPU threads, {workers} loader "
        f"workers, {args.repeats} repeats, {splits.source}"
    )
    base = median["DataLoader + Albumentations"]
    for name in PATHS:
        print(f"{name:<34} {images / median[name]:7.0f} images/s   {base / median[name]:5.2f}x the first")
    plain, lightning = median["plain loop (device batches)"], median["Lightning (same)"]
    print(f"Lightning / plain loop step time on the device path, no augmentation: {lightning / plain:.3f}")


if __name__ == "__main__":
    main()
