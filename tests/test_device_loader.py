"""The data-on-device fast path (cifarlab.device_loader): the same batches as the DataLoader, without one."""

import lightning as L
import pytest
import torch

from cifarlab.datamodule import CIFAR10DataModule
from cifarlab.device_loader import DeviceLoader
from cifarlab.errors import OptionError
from cifarlab.precision import choose_settings
from cifarlab.profile import get_profile
from cifarlab.train import train

from .test_training import config


def datamodules(batch_size=64):
    profile = get_profile("smoke")
    loader = CIFAR10DataModule("synthetic", profile, batch_size=batch_size, augment="batch", seed=5)
    loader.setup()
    device = CIFAR10DataModule(splits=loader.splits, profile=profile, batch_size=batch_size, augment="batch", seed=5)
    device.on_device = True
    device.setup()
    return loader, device


def test_the_device_path_serves_the_dataloaders_batches_in_the_same_order():
    loader, device = datamodules()
    plain, fast = loader.train_dataloader(), device.train_dataloader()
    assert isinstance(fast, DeviceLoader) and len(fast) == len(plain) == len(loader.train_set) // 64  # drop_last
    for epoch in (0, 3):  # Lightning tells both the epoch through .sampler
        plain.sampler.set_epoch(epoch)
        fast.sampler.set_epoch(epoch)
        for (x, y), (fx, fy) in zip(plain, fast, strict=True):
            assert torch.equal(y, fy) and fx.dtype == torch.float32 and fx.shape == x.shape
            torch.testing.assert_close(fx, x, atol=1e-5, rtol=0)  # Normalize's arithmetic, batched
    first = [int(i) for _, i in fast.sampler]
    fast.sampler.set_epoch(4)
    assert sorted(first) == list(range(len(loader.train_set))) != [int(i) for _, i in fast.sampler]
    for name in ("val_dataloader", "test_dataloader"):  # in order, every image, the last batch kept
        (x, y), (fx, fy) = (
            (torch.cat(parts) for parts in zip(*getattr(loader, name)())),
            (torch.cat(parts) for parts in zip(*getattr(device, name)())),
        )
        assert torch.equal(y, fy)
        torch.testing.assert_close(fx, x, atol=1e-5, rtol=0)


def test_the_device_path_cannot_augment_image_by_image():
    with pytest.raises(OptionError, match='augment="batch"'):
        CIFAR10DataModule("synthetic", get_profile("smoke"), augment="albumentations", on_device=True)
    with pytest.raises(OptionError, match="--augment batch"):
        choose_settings(augment="albumentations", on_device=True)
    on_cpu = choose_settings(accelerator="cpu")
    assert on_cpu.on_device is False and not any(r.startswith("data on") for r in on_cpu.reasons)


class Batches(L.Callback):
    """What the training step is given: (epoch, batch, labels, images)."""

    def __init__(self) -> None:
        self.seen = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.seen.append((trainer.current_epoch, batch_idx, batch[1].clone(), batch[0].clone()))


def test_a_run_with_its_data_on_the_device_trains_on_the_dataloader_runs_batches(tmp_path):
    pinned = {"augment": "batch", "epochs": 2, "limit": 3}
    plain_batches, fast_batches = Batches(), Batches()
    plain = train(config(tmp_path, name="loader", data_on_device=False, **pinned), callbacks=[plain_batches])
    fast = train(config(tmp_path, name="device", data_on_device=True, **pinned), callbacks=[fast_batches])
    assert fast.summary["data_on_device"] and not plain.summary["data_on_device"]
    assert "data on the device" in (fast.out / "summary.txt").read_text()
    assert len(plain_batches.seen) == len(fast_batches.seen) == 6  # Lightning told it the second epoch too
    for (epoch, index, y, x), (f_epoch, f_index, fy, fx) in zip(plain_batches.seen, fast_batches.seen):
        assert (epoch, index) == (f_epoch, f_index) and torch.equal(y, fy)
        torch.testing.assert_close(fx, x, atol=1e-5, rtol=0)
    # The weights agree after one step (2e-6 measured); after six, float rounding in the
    # normalisation (1e-6) has grown through the high learning rate to about 1e-2, so the
    # runs are compared by their batches above, not by their final weights.
    one = {"augment": "batch", "epochs": 1, "limit": 1}
    a = torch.load(train(config(tmp_path, name="a", data_on_device=False, **one)).last_checkpoint, weights_only=True)
    b = torch.load(train(config(tmp_path, name="b", data_on_device=True, **one)).last_checkpoint, weights_only=True)
    for name, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][name], value, atol=1e-5, rtol=0)


def test_feeding_rates_time_every_path_and_the_device_path_feeds_the_same_batches():
    from cifarlab.feeding import PATHS, _batches, feeding_rates, feeding_table

    loader, _ = datamodules()
    splits, profile = loader.splits, get_profile("smoke")
    rates = feeding_rates(splits, seconds=1.5, batch_size=32, profile=profile, device="cpu")
    assert [r.path for r in rates] == list(PATHS)
    assert all(r.images_per_second > 0 and r.batches >= 1 for r in rates)
    epoch = len(splits.train) // 32
    assert rates[-1].batches > epoch  # the budget, not the end of an epoch, ends the timing
    table = feeding_table(rates)
    assert all(path in table for path in PATHS) and "x" in table and "device: cpu" in table
    # What is timed is the same work on both batch paths: the same images, augmented alike.
    cpu = torch.device("cpu")
    (a, ya), (b, yb) = (next(_batches(splits, path, 32, cpu, profile)) for path in list(PATHS)[1:])
    assert torch.equal(ya, yb)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)  # Normalize's arithmetic, batched


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        ({"path": "GPU"}, "choose one of"),
        ({"seconds": 0}, "time budget"),
        ({"batch_size": 4096}, "smaller batch_size"),
        ({"batch_size": 0}, "whole number of images"),
    ],
)
def test_feeding_rate_checks_its_options_first(kwargs, phrase):
    from cifarlab.feeding import feeding_rate

    loader, _ = datamodules()
    arguments = {"path": "data on the device", "seconds": 1.0, "batch_size": 32, **kwargs}
    with pytest.raises(OptionError, match=phrase):
        feeding_rate(loader.splits, profile=get_profile("smoke"), **arguments)
