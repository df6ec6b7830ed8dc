"""Data: three sources (official, local copy, synthetic) that all give the same `ImageSet`."""

from cifarlab.data.imageset import DataSplits, ImageSet, channel_stats, holdout_split, take
from cifarlab.data.sources import DataSource, load_cifar10, load_splits, resolve_source
from cifarlab.data.synthetic import make_synthetic
from cifarlab.errors import DataError

__all__ = [
    "DataError",
    "DataSource",
    "DataSplits",
    "ImageSet",
    "channel_stats",
    "holdout_split",
    "load_cifar10",
    "load_splits",
    "make_synthetic",
    "resolve_source",
    "take",
]
