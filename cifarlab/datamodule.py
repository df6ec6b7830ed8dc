"""A Dataset that applies an Albumentations pipeline, and the course's LightningDataModule."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import cv2
import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from cifarlab.augment import eval_transforms, train_transforms
from cifarlab.data import DataSource, DataSplits, ImageSet, load_splits
from cifarlab.device_loader import DeviceLoader
from cifarlab.errors import CifarlabError, OptionError
from cifarlab.profile import Profile, get_profile
from cifarlab.recipe import AUGMENT_MODES


class AugmentedDataset(Dataset):
    """An `ImageSet` seen through an Albumentations pipeline: items are (CHW float tensor, label).

    Index it with an int, or with an (epoch, index) pair from `EpochSampler`: the pipeline's
    randomness is then seeded by (seed, epoch, index), so image 7 in epoch 3 gets the same
    crop, flip and cutout in every run with this seed, whichever worker makes it and
    whether or not the run was stopped and resumed in between.
    """

    def __init__(self, images: ImageSet, transform: Any, seed: int = 0) -> None:
        self.images = images
        self.transform = transform
        self.seed = seed

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, int]:
        if isinstance(key, tuple):
            epoch, index = key
            seed_pipeline(self.transform, (self.seed, epoch, index))
        else:
            index = key
        image = self.transform(image=self.images.images[index])["image"]
        return image, int(self.images.labels[index])


def seed_pipeline(pipeline: Any, key: tuple[int, ...]) -> None:
    """Seed an Albumentations Compose and give each of its steps a different seed.

    (`Compose.set_random_seed` gives every step the same seed, so the flip and the cutout
    would draw the same first number and always happen together.)
    """
    seeds = np.random.SeedSequence(list(key)).generate_state(len(pipeline.transforms) + 1)
    pipeline.set_random_seed(int(seeds[0]))
    for step, seed in zip(pipeline.transforms, seeds[1:]):
        step.set_random_seed(int(seed))


class EpochSampler(Sampler):
    """Shuffles anew each epoch from (seed, epoch) and yields (epoch, index) pairs.

    Lightning calls `set_epoch` at the start of every epoch, including the first epoch after
    a resume, so a resumed run sees the same order as one that never stopped. Under DDP each
    of `world_size` processes takes every world_size-th index of the same permutation (the
    tail that does not divide evenly is dropped, as DistributedSampler does with drop_last).
    """

    def __init__(self, length: int, seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise OptionError(f"rank {rank} is not in 0..{world_size - 1}.")
        self.length, self.seed, self.rank, self.world_size = length, seed, rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length // self.world_size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = torch.randperm(self.length, generator=torch.Generator().manual_seed(hash((self.seed, self.epoch))))
        mine = order[: len(self) * self.world_size][self.rank :: self.world_size]
        return iter([(self.epoch, int(i)) for i in mine])


def quiet_worker_threads(worker_id: int = 0) -> None:
    """Run each DataLoader worker single-threaded.

    Every worker is its own process; if OpenCV (under Albumentations) and torch each start
    one thread per core inside every worker, N workers fight over N*cores threads and the
    CPU thrashes. One thread per worker keeps the cores for the workers themselves.
    """
    cv2.setNumThreads(0)
    torch.set_num_threads(1)


class CIFAR10DataModule(L.LightningDataModule):
    """Train, validation and test loaders for the chosen source, sized by the profile.

    Mean and std come from the training split; augmentation keywords go to
    `cifarlab.augment.augmentations` (pad, flip_p, holes, hole_size, cutout_p).
    Pass `splits` you have already loaded to serve those instead of loading again
    (source and val_size then play no part).

    augment: "albumentations" (per image, in the loader), "batch" (the loader serves plain
    normalised images and the model augments whole batches on its device, see
    `cifarlab.batch_augment`), or "none". The training order and the augmentation are
    seeded by (seed, epoch), so runs repeat and resume exactly.

    on_device: hold every split on the training device as uint8 and cut batches there
    (`cifarlab.device_loader`): no DataLoader and no workers, the same batches in the same
    order. It needs augment "batch" or "none".
    """

    def __init__(
        self,
        source: str | os.PathLike | DataSource | None = None,
        profile: Profile | None = None,
        batch_size: int | None = None,
        num_workers: int | None = None,
        val_size: int | None = None,
        seed: int = 0,
        splits: DataSplits | None = None,
        augment: str = "albumentations",
        on_device: bool = False,
        **augmentation: float,
    ) -> None:
        super().__init__()
        if augment not in AUGMENT_MODES:
            raise OptionError(f"augment={augment!r}: choose one of {AUGMENT_MODES}.")
        if on_device and augment == "albumentations":
            raise OptionError(
                "on_device=True serves batches without a DataLoader, so nothing can augment image by image: "
                'use augment="batch" (the same augmentation, on the device) or on_device=False.'
            )
        self.on_device = on_device
        self.augment = augment
        self.source = source
        self.profile = profile or get_profile()
        self.batch_size = batch_size or self.profile.batch_size
        self.num_workers = self.profile.num_workers if num_workers is None else num_workers
        self.val_size = val_size
        self.seed = seed
        self.augmentation = augmentation
        self.splits = splits
        self._built = False

    def prepare_data(self) -> None:
        """Download or decode once and keep the splits.

        Lightning calls this on one process only; under DDP the other processes find no
        splits and load them (from the cache this filled) in `setup`.
        """
        if self.splits is None:
            self.splits = load_splits(self.source, self.profile, self.val_size, self.seed)

    def setup(self, stage: str | None = None) -> None:
        if self._built:
            return
        if self.splits is None:
            self.splits = load_splits(self.source, self.profile, self.val_size, self.seed)
        mean, std = self.splits.mean, self.splits.std
        test_tf = eval_transforms(mean, std)
        train_tf = train_transforms(mean, std, **self.augmentation) if self.augment == "albumentations" else test_tf
        self.train_set = AugmentedDataset(self.splits.train, train_tf, seed=self.seed)
        self.val_set = AugmentedDataset(self.splits.val, test_tf)
        self.test_set = AugmentedDataset(self.splits.test, test_tf)
        self._built = True

    @property
    def classes(self) -> tuple[str, ...]:
        return self._ready().classes

    @property
    def mean(self) -> np.ndarray:
        return self._ready().mean

    @property
    def std(self) -> np.ndarray:
        return self._ready().std

    def _ready(self) -> DataSplits:
        if self.splits is None:
            raise CifarlabError("call datamodule.setup() first: it loads the data and its statistics.")
        return self.splits

    def _loader(self, dataset: Dataset, sampler: Sampler | None = None) -> DataLoader:
        workers = self.num_workers
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            # a partial last batch would be noisier and, under BatchNorm, can be a batch of 1
            drop_last=sampler is not None and len(sampler) > self.batch_size,
            num_workers=workers,
            worker_init_fn=quiet_worker_threads if workers > 0 else None,
            persistent_workers=workers > 0,
            pin_memory=torch.cuda.is_available(),
            # The loader's own generator: each new iterator draws a base seed for its workers, and
            # from the global generator that draw would shift dropout's stream by one per epoch
            # (and differently after a resume). Order and augmentation are seeded elsewhere.
            generator=torch.Generator().manual_seed(self.seed),
        )

    def _on_device(self, images: ImageSet, sampler: Sampler | None = None) -> DeviceLoader:
        trainer = getattr(self, "trainer", None)
        device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
        drop_last = sampler is not None and len(sampler) > self.batch_size  # as _loader does
        return DeviceLoader(images, self.mean, self.std, self.batch_size, device, sampler, drop_last)

    def train_dataloader(self) -> DataLoader | DeviceLoader:
        self.setup()
        trainer = getattr(self, "trainer", None)  # under DDP each process takes its share
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        sampler = EpochSampler(len(self.train_set), self.seed, rank, world)
        if self.on_device:
            return self._on_device(self.splits.train, sampler)
        return self._loader(self.train_set, sampler)

    def val_dataloader(self) -> DataLoader | DeviceLoader:
        self.setup()
        return self._on_device(self.splits.val) if self.on_device else self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader | DeviceLoader:
        self.setup()
        return self._on_device(self.splits.test) if self.on_device else self._loader(self.test_set)
