"""The official source, through torchvision. No network here: its download is replaced."""

from urllib.error import URLError

import numpy as np
import pytest
import torchvision.datasets

from cifarlab.data import DataError, load_cifar10, resolve_source
from cifarlab.data.cache import cache_dir


class FakeCIFAR10:
    """Stands in for torchvision's CIFAR10 with the same attributes, without the download."""

    calls: list = []
    short_by = 0  # images missing from the training split

    def __init__(self, root, train, download):
        FakeCIFAR10.calls.append((root, train, download))
        n = 50_000 - FakeCIFAR10.short_by if train else 10_000
        self.data = np.broadcast_to(np.uint8(7 if train else 9), (n, 32, 32, 3))  # full size, no memory
        self.targets = list(np.arange(n) % 10)
        self.classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def test_default_source_is_the_official_download(monkeypatch):
    monkeypatch.delenv("CIFARLAB_DATA", raising=False)
    assert resolve_source().kind == "official"
    assert resolve_source("torchvision").kind == "official"


def test_official_gives_the_common_form(monkeypatch):
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    FakeCIFAR10.calls.clear()
    train, test = load_cifar10("torchvision")
    assert (len(train), len(test)) == (50_000, 10_000)
    assert train.images[0, 0, 0, 0] == 7 and test.images[0, 0, 0, 0] == 9
    assert train.classes[0] == "airplane" and train.labels.dtype == np.int64
    assert all(root.startswith(str(cache_dir())) and download for root, _, download in FakeCIFAR10.calls)


def test_an_incomplete_official_set_is_refused(monkeypatch):
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    monkeypatch.setattr(FakeCIFAR10, "short_by", 10)
    with pytest.raises(DataError, match=r"incomplete CIFAR-10: train/ holds 49,990 images, not 50,000"):
        load_cifar10("torchvision")


def test_offline_download_says_how_to_use_a_local_copy(monkeypatch):
    def offline(*args, **kwargs):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(DataError, match=r"URLError.*CIFARLAB_DATA=/path/to/cifar10.*synthetic"):
        load_cifar10("torchvision")
