"""Benchmark: the Lightning training loop against the plain PyTorch loop, same model and batches.

    python benchmarks/lightning_overhead.py [--batches 12] [--batch-size 64] [--repeats 2]

Both train the same ResNet9 (same seed, same SGD + OneCycle) on the same in-memory
batches. Each times one epoch after a warm-up epoch, alternating plain and Lightning runs
`repeats` times; the ratio is Lightning's median epoch time over the plain loop's.
"""

from __future__ import annotations

import argparse
import statistics
import time

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from cifarlab.lit import LitResNet9
from cifarlab.loop import train_epoch
from cifarlab.model import ResNet9
from cifarlab.recipe import RECIPE
from cifarlab.schedule import one_cycle


class EpochTimer(L.Callback):
    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer, module):
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, module):
        self.seconds.append(time.perf_counter() - self._start)


def plain_epoch_seconds(loader: DataLoader) -> float:
    torch.manual_seed(0)
    model = ResNet9()
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=RECIPE.max_lr,
        momentum=RECIPE.momentum,
        nesterov=RECIPE.nesterov,
        weight_decay=RECIPE.weight_decay,
    )
    schedule = one_cycle(optimizer, RECIPE.max_lr, 2 * len(loader))
    train_epoch(model, loader, optimizer, schedule, label_smoothing=RECIPE.label_smoothing)  # warm-up
    start = time.perf_counter()
    train_epoch(model, loader, optimizer, schedule, label_smoothing=RECIPE.label_smoothing)
    return time.perf_counter() - start


def lightning_epoch_seconds(loader: DataLoader) -> float:
    torch.manual_seed(0)
    timer = EpochTimer()
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[timer],
    )
    trainer.fit(LitResNet9(), train_dataloaders=loader)
    return timer.seconds[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    n = args.batches * args.batch_size
    data = TensorDataset(
        torch.randn(n, 3, 32, 32, generator=generator), torch.randint(0, 10, (n,), generator=generator)
    )
    loader = DataLoader(data, batch_size=args.batch_size)
    plain, lightning = [], []
    for _ in range(args.repeats):
        plain.append(plain_epoch_seconds(loader))
        lightning.append(lightning_epoch_seconds(loader))
    p, lit = statistics.median(plain), statistics.median(lightning)
    print(
        f"{args.batches} batches of {args.batch_size} on {torch.get_num_threads()} CPU threads, {args.repeats} repeats"
    )
    print(f"plain loop   {p / args.batches * 1000:8.1f} ms/step   ({n / p:.0f} images/s)")
    print(f"Lightning    {lit / args.batches * 1000:8.1f} ms/step   ({n / lit:.0f} images/s)")
    print(f"Lightning / plain step time = {lit / p:.3f}")


if __name__ == "__main__":
    main()
