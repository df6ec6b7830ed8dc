"""The real CIFAR-10 (re-encoded as JPEG) from ../shared: CI makes sure it is there."""

import numpy as np
import pytest

from cifarlab.data import load_splits
from cifarlab.data.folder import load_image_folder
from cifarlab.profile import get_profile

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@pytest.fixture(scope="module")
def cifar(jpeg_tarball, shared_cache):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CIFARLAB_CACHE", str(shared_cache))
        return load_image_folder(jpeg_tarball)


def test_all_sixty_thousand_images_in_ten_classes(cifar):
    train, test = cifar
    assert train.classes == CLASSES
    assert train.images.shape == (50_000, 32, 32, 3) and test.images.shape == (10_000, 32, 32, 3)
    assert set(train.class_counts().values()) == {5_000}
    assert set(test.class_counts().values()) == {1_000}


def test_training_statistics_match_the_data_readme(cifar):
    from cifarlab.data import channel_stats

    mean, std = channel_stats(cifar[0].images)
    np.testing.assert_allclose(mean, [0.4913, 0.4821, 0.4465], atol=6e-4)
    np.testing.assert_allclose(std, [0.2452, 0.2428, 0.2606], atol=6e-4)


def test_full_profile_splits(cifar, jpeg_tarball, shared_cache, monkeypatch):
    monkeypatch.setenv("CIFARLAB_CACHE", str(shared_cache))
    splits = load_splits(jpeg_tarball, get_profile("full"))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (45_000, 5_000, 10_000)
    train_keys = {x.tobytes() for x in splits.train.images[:2000]}
    assert not train_keys & {x.tobytes() for x in splits.val.images}
