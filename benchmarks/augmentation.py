"""Benchmark: Albumentations in a DataLoader against the batched on-device augmentation.

    python benchmarks/augmentation.py [--images 4096] [--batch-size 512]

Both produce augmented, normalised training batches (crop, flip, cutout) from the same
uint8 images: the first one image at a time through `CIFAR10DataModule`'s pipeline and
DataLoader (0 workers, then 2), the second by normalising whole batches and calling
`batch_augment` on them. Prints images/s for each and the ratios, measured in one run on
whatever device is there (the CPU here; on a GPU the batched path runs on the GPU).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader

from cifarlab.augment import normalize_batch, train_transforms
from cifarlab.batch_augment import batch_augment, batch_generator
from cifarlab.data import make_synthetic
from cifarlab.datamodule import AugmentedDataset, EpochSampler, quiet_worker_threads


def albumentations_rate(images, batch_size: int, workers: int) -> float:
    dataset = AugmentedDataset(images, train_transforms((0.49, 0.48, 0.45), (0.25, 0.24, 0.26)))
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=EpochSampler(len(dataset)),
        num_workers=workers,
        worker_init_fn=quiet_worker_threads if workers else None,
    )
    start = time.perf_counter()
    count = sum(len(x) for x, _ in loader)
    return count / (time.perf_counter() - start)


def batched_rate(images, batch_size: int, device: str) -> float:
    start = time.perf_counter()
    count = 0
    for i, first in enumerate(range(0, len(images), batch_size)):
        x = normalize_batch(images.images[first : first + batch_size], (0.49, 0.48, 0.45), (0.25, 0.24, 0.26), device)
        count += len(batch_augment(x, batch_generator(0, 0, i)))
    if device == "cuda":
        torch.cuda.synchronize()
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=512)
    args = parser.parse_args()
    images = make_synthetic(args.images, seed=0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    batched_rate(images, args.batch_size, device)  # warm-up
    rates = {
        "Albumentations, DataLoader, 0 workers": albumentations_rate(images, args.batch_size, 0),
        "Albumentations, DataLoader, 2 workers": albumentations_rate(images, args.batch_size, 2),
        f"batch_augment on {device}": batched_rate(images, args.batch_size, device),
    }
    base = rates["Albumentations, DataLoader, 0 workers"]
    print(f"{args.images} images, batches of {args.batch_size}")
    for name, rate in rates.items():
        print(f"{name:<40} {rate:>10.0f} images/s   {rate / base:6.1f}x")


if __name__ == "__main__":
    main()
