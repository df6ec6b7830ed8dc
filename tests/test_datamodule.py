import numpy as np
import pytest
import torch

from cifarlab.augment import denormalize
from cifarlab.datamodule import AugmentedDataset, CIFAR10DataModule, quiet_worker_threads
from cifarlab.errors import CifarlabError
from cifarlab.profile import get_profile


def test_loaders_in_the_smoke_profile():
    dm = CIFAR10DataModule("synthetic", profile=get_profile("smoke"))
    dm.setup()
    profile = dm.profile
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (
        profile.train_size,
        profile.val_size,
        profile.test_size,
    )
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (profile.batch_size, 3, 32, 32) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and len(dm.classes) == 10
    assert dm.mean.shape == (3,) and np.all(dm.std > 0)


def test_validation_and_test_are_not_augmented():
    dm = CIFAR10DataModule("synthetic", profile=get_profile("smoke"))
    first = next(iter(dm.val_dataloader()))[0]
    second = next(iter(dm.val_dataloader()))[0]
    assert torch.equal(first, second)
    restored = denormalize(first, dm.mean, dm.std)
    assert np.array_equal(restored, dm.splits.val.images[: len(first)])


def test_training_batches_are_augmented_and_seeded():
    dm = CIFAR10DataModule("synthetic", profile=get_profile("smoke"), seed=1)
    _, y = next(iter(dm.train_dataloader()))
    again = CIFAR10DataModule("synthetic", profile=get_profile("smoke"), seed=1)
    _, y2 = next(iter(again.train_dataloader()))
    assert torch.equal(y, y2)  # the same seed shuffles the same way
    clean = AugmentedDataset(dm.splits.train, dm.val_set.transform)
    changed = sum(not torch.equal(dm.train_set[i][0], clean[i][0]) for i in range(40))
    assert changed >= 30  # crops, flips and cutout alter almost every image


def test_worker_processes_load_batches():
    dm = CIFAR10DataModule("synthetic", profile=get_profile("smoke"), num_workers=2)
    loader = dm.train_dataloader()
    assert loader.num_workers == 2 and loader.worker_init_fn is quiet_worker_threads
    x, _ = next(iter(loader))
    assert x.shape[1:] == (3, 32, 32)


def test_quiet_worker_threads_limits_opencv_and_torch():
    import cv2

    before = (cv2.getNumThreads(), torch.get_num_threads())
    try:
        quiet_worker_threads()
        assert torch.get_num_threads() == 1 and cv2.getNumThreads() <= 1
    finally:
        cv2.setNumThreads(before[0])
        torch.set_num_threads(before[1])


def test_properties_before_setup_explain_themselves():
    dm = CIFAR10DataModule("synthetic")
    with pytest.raises(CifarlabError, match="setup"):
        _ = dm.mean


def test_splits_already_loaded_are_served_without_loading_again(monkeypatch):
    import cifarlab.datamodule as datamodule_module
    from cifarlab.data import load_splits

    splits = load_splits("synthetic", get_profile("smoke"))
    monkeypatch.setattr(datamodule_module, "load_splits", lambda *a, **k: pytest.fail("loaded again"))
    dm = CIFAR10DataModule(splits=splits, batch_size=16)
    dm.prepare_data()
    x, _ = next(iter(dm.val_dataloader()))
    assert dm.splits is splits and x.shape == (16, 3, 32, 32)
    np.testing.assert_array_equal(dm.mean, splits.mean)


def test_prepare_data_then_setup_loads_the_data_once(monkeypatch):
    import cifarlab.datamodule as datamodule_module

    calls = []
    real = datamodule_module.load_splits

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(datamodule_module, "load_splits", counting)
    dm = CIFAR10DataModule("synthetic", profile=get_profile("smoke"))
    dm.prepare_data()  # what a Trainer does first, then setup for each stage
    dm.setup("fit")
    dm.setup("test")
    next(iter(dm.train_dataloader()))
    assert len(calls) == 1
