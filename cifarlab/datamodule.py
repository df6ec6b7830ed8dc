"""A Dataset that applies an Albumentations pipeline, and the course's LightningDataModule."""

from __future__ import annotations

import os
from typing import Any

import cv2
import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from cifarlab.augment import eval_transforms, train_transforms
from cifarlab.data import DataSource, DataSplits, ImageSet, load_splits
from cifarlab.profile import Profile, get_profile


class AugmentedDataset(Dataset):
    """An `ImageSet` seen through an Albumentations pipeline: items are (CHW float tensor, label)."""

    def __init__(self, images: ImageSet, transform: Any) -> None:
        self.images = images
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.transform(image=self.images.images[index])["image"]
        return image, int(self.images.labels[index])


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
    (source, val_size and seed then play no part).
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
        **augmentation: float,
    ) -> None:
        super().__init__()
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
        train_tf = train_transforms(mean, std, **self.augmentation)
        test_tf = eval_transforms(mean, std)
        self.train_set = AugmentedDataset(self.splits.train, train_tf)
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
            raise RuntimeError("call datamodule.setup() first: it loads the data and its statistics.")
        return self.splits

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        workers = self.num_workers
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            drop_last=shuffle and len(dataset) > self.batch_size,
            num_workers=workers,
            worker_init_fn=quiet_worker_threads if workers > 0 else None,
            persistent_workers=workers > 0,
            pin_memory=torch.cuda.is_available(),
            generator=torch.Generator().manual_seed(self.seed) if shuffle else None,
        )

    def train_dataloader(self) -> DataLoader:
        self.setup()
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        self.setup()
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        self.setup()
        return self._loader(self.test_set, shuffle=False)
