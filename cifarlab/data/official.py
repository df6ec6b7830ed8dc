"""The official CIFAR-10, downloaded through torchvision (which checks the MD5 of the archive and of each
extracted batch file at every load)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cifarlab.data.imageset import ImageSet
from cifarlab.data.integrity import check_complete
from cifarlab.errors import DataError

OFFLINE_HELP = (
    "If this machine is offline, point the course at a local copy instead: "
    "`export CIFARLAB_DATA=/path/to/cifar10` (a folder or .tar.gz in ImageFolder layout, "
    "train/<class>/*.png and test/<class>/*.png), or `export CIFARLAB_DATA=synthetic` "
    "to run on generated data."
)


def load_official(root: Path, download: bool = True) -> tuple[ImageSet, ImageSet]:
    """Load (train, test) of the official CIFAR-10 from `root`, downloading it if needed."""
    from torchvision.datasets import CIFAR10

    sets = []
    for train in (True, False):
        try:
            dataset = CIFAR10(root=str(root), train=train, download=download)
        except Exception as error:  # torchvision raises URLError, OSError or RuntimeError
            raise DataError(
                f"could not get the official CIFAR-10 into '{root}' ({type(error).__name__}: {error}). {OFFLINE_HELP}"
            ) from error
        sets.append(
            ImageSet(
                images=np.asarray(dataset.data, dtype=np.uint8),
                labels=np.asarray(dataset.targets, dtype=np.int64),
                classes=tuple(dataset.classes),
                source=f"official CIFAR-10 ({'train' if train else 'test'})",
            )
        )
    train, test = sets
    # torchvision has checked each file's MD5; the counts are checked like any copy's
    check_complete(root, {"classes": np.array(train.classes), "train_labels": train.labels, "test_labels": test.labels})
    return train, test


def official_is_downloaded(root: Path) -> bool:
    """Whether torchvision's extracted CIFAR-10 batches are already under `root`."""
    return (Path(root) / "cifar-10-batches-py" / "batches.meta").exists()
