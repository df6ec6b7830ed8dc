"""The data held on the device: the fast path that needs no DataLoader.

A DataLoader decodes nothing here (the images are already an array) but still gathers every
batch image by image on the CPU, in worker processes, and copies it to the GPU. On Colab, two
CPU cores sit beside the GPU: that is the bottleneck. CIFAR-10's 50,000 training images take
150 MB as uint8, which fits on any GPU, so we copy them there once and make each batch by
indexing: normalised on the device, augmented on the device (`cifarlab.batch_augment`, in the
LightningModule's training step), no worker processes. airbench and Page's fast code do the same.

`DeviceLoader` is an iterable that Lightning takes wherever it takes a DataLoader. Its order
comes from the same `EpochSampler` as the default path (shuffled from (seed, epoch), shared
out across DDP processes, and told the epoch by Lightning through `.sampler`), and it drops
the same partial last batch, so a seeded run sees the same batches on either path.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch

from cifarlab.augment import normalize_tensor
from cifarlab.data import ImageSet


class DeviceLoader:
    """Batches of (normalised float NCHW images, labels), cut from an ImageSet held on `device`.

    sampler: an `EpochSampler` for training (shuffled, epoch by epoch), or None for the
    images in order (validation and test). drop_last: leave out a partial last batch.
    """

    def __init__(
        self,
        images: ImageSet,
        mean: Sequence[float],
        std: Sequence[float],
        batch_size: int,
        device: str | torch.device,
        sampler: torch.utils.data.Sampler | None = None,
        drop_last: bool = False,
    ) -> None:
        # once, as uint8 (a quarter of float32's bytes); NHWC -> NCHW, as the model wants
        self.images = torch.from_numpy(images.images).to(device).permute(0, 3, 1, 2).contiguous()
        self.labels = torch.from_numpy(images.labels).to(device)
        self.mean, self.std = tuple(mean), tuple(std)
        self.batch_size, self.sampler, self.drop_last = batch_size, sampler, drop_last
        self.batch_sampler = None  # Lightning reads a loader's sampler and batch_sampler (to tell it the epoch)

    def _order(self) -> torch.Tensor:
        if self.sampler is None:
            return torch.arange(len(self.labels), device=self.labels.device)
        return torch.tensor([index for _, index in self.sampler], device=self.labels.device)

    def __len__(self) -> int:
        count = len(self.sampler) if self.sampler is not None else len(self.labels)
        return count // self.batch_size if self.drop_last else math.ceil(count / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self._order()
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            chosen = order[start : start + self.batch_size]
            yield normalize_tensor(self.images[chosen], self.mean, self.std), self.labels[chosen]
