"""Choosing a data source and loading it into train, validation and test splits.

`CIFARLAB_DATA` picks the source (this module is the only one that reads it):

- unset, or `torchvision`: the official CIFAR-10, downloaded through torchvision;
- a path: a local copy in ImageFolder layout, a folder or a `.tar.gz`;
- `synthetic`: generated shapes with object masks, for tests and for running offline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cifarlab.data.cache import cache_dir
from cifarlab.data.folder import load_image_folder
from cifarlab.data.imageset import DataSplits, ImageSet, channel_stats, holdout_split, take
from cifarlab.data.official import OFFLINE_HELP, load_official, official_is_downloaded
from cifarlab.data.synthetic import load_synthetic
from cifarlab.errors import DataError
from cifarlab.profile import Profile, get_profile

DATA_ENV_VAR = "CIFARLAB_DATA"
OFFICIAL_NAMES = {"", "torchvision", "official", "cifar10"}


@dataclass(frozen=True)
class DataSource:
    """Which data the course uses: kind is "official", "folder" or "synthetic"."""

    kind: str
    path: Path | None = None

    def describe(self) -> str:
        """The source in words, for headers and reports."""
        if self.kind == "official":
            return "official CIFAR-10 (torchvision download)"
        if self.kind == "synthetic":
            return "synthetic shapes (generated offline)"
        form = "tarball" if self.path and self.path.is_file() else "folder"
        return f"local copy {self.path.name if self.path else '?'} (ImageFolder {form})"

    def status(self) -> tuple[bool, str]:
        """(ready, detail) without loading anything: is the data there, or what is missing."""
        if self.kind == "synthetic":
            return True, "generated on demand"
        if self.kind == "official":
            root = cache_dir() / "torchvision"
            if official_is_downloaded(root):
                return True, f"downloaded in {root}"
            return False, f"not downloaded yet: the first load fetches about 170 MB into {root}"
        assert self.path is not None
        if not self.path.exists():
            return False, f"{self.path} does not exist"
        return True, str(self.path)


def resolve_source(spec: str | os.PathLike | None = None) -> DataSource:
    """Turn a source spec (or $CIFARLAB_DATA when spec is None) into a `DataSource`."""
    from_env = spec is None
    text = os.environ.get(DATA_ENV_VAR, "") if from_env else os.fspath(spec)
    text = text.strip()
    if text.lower() in OFFICIAL_NAMES:
        return DataSource("official")
    if text.lower() == "synthetic":
        return DataSource("synthetic")
    path = Path(text).expanduser()
    if not path.exists():
        where = f"{DATA_ENV_VAR}={text!r}" if from_env else f"data source {text!r}"
        raise DataError(
            f"{where} points to '{path}', which does not exist. Set it to a CIFAR-10 copy in "
            "ImageFolder layout (a folder or .tar.gz with train/<class>/<image> and "
            f"test/<class>/<image>), to 'synthetic', or unset it to download the official "
            "CIFAR-10."
        )
    return DataSource("folder", path.resolve())


def load_cifar10(
    source: str | os.PathLike | DataSource | None = None, profile: Profile | None = None
) -> tuple[ImageSet, ImageSet]:
    """Load the whole (train, test) pair of the chosen source; see the module docstring."""
    chosen = source if isinstance(source, DataSource) else resolve_source(source)
    profile = profile or get_profile()
    if chosen.kind == "synthetic":
        return load_synthetic(profile.synthetic_train, profile.synthetic_test)
    if chosen.kind == "official":
        return load_official(cache_dir() / "torchvision")
    assert chosen.path is not None
    return load_image_folder(chosen.path)


def load_splits(
    source: str | os.PathLike | DataSource | None = None,
    profile: Profile | None = None,
    val_size: int | None = None,
    seed: int = 0,
) -> DataSplits:
    """Train, validation and test splits sized by the profile, with training mean and std.

    Validation is a seeded hold-out of the training set (the profile's `val_size`, 5,000 in
    full; 0 for a final model trained on all of it); the test set is left alone for the final
    report. Mean and std are computed from the training split, never pasted.
    """
    profile = profile or get_profile()
    chosen = source if isinstance(source, DataSource) else resolve_source(source)
    train_all, test = load_cifar10(chosen, profile)
    train, val = holdout_split(train_all, profile.val_size if val_size is None else val_size, seed)
    train = take(train, profile.train_size, seed)
    test = take(test, profile.test_size, seed)
    mean, std = channel_stats(train.images)
    return DataSplits(train, val, test, mean, std, source=chosen.describe())


__all__ = ["DataSource", "resolve_source", "load_cifar10", "load_splits", "OFFLINE_HELP"]
