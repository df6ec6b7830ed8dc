"""The learning and localisation figures that tests hold to a threshold, one function each.

A threshold on a training result depends on the seed, the CPU (which kernels oneDNN and
ATen pick: AVX-512 or AVX2) and the torch build. The tests call these functions with
their fixed seed; `benchmarks/threshold_spread.py` calls the same functions over several
seeds, so the spread written beside each assertion is measured on exactly what the test
measures. Every training run here pins its precision and layout (fp32, NCHW, per-image
augmentation): "auto" chooses per machine, and a test must compute the same thing on
every machine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cifarlab.data import ImageSet, make_synthetic

SMALL_WIDTHS = (16, 32, 64, 128)  # the same architecture, narrower: seconds per epoch on a CPU
PINNED = {"precision": "32-true", "channels_last": False, "augment": "albumentations"}


def plain_loop_accuracy(seed: int = 0, epochs: int = 6) -> tuple[float, float]:
    """Validation accuracy of lesson 03's plain loop on the synthetic shapes: (before, after)."""
    from torch.utils.data import DataLoader, TensorDataset

    from cifarlab.loop import evaluate_batches, fit
    from cifarlab.model import ResNet9

    def as_tensors(s: ImageSet) -> TensorDataset:
        x = torch.from_numpy(s.images).permute(0, 3, 1, 2).float().div(255).sub(0.5).div(0.25)
        return TensorDataset(x, torch.from_numpy(s.labels))

    train = make_synthetic(600, seed=0)
    val = make_synthetic(200, seed=0, split="test")
    generator = torch.Generator().manual_seed(seed)
    train_batches = DataLoader(as_tensors(train), batch_size=50, shuffle=True, generator=generator)
    val_batches = DataLoader(as_tensors(val), batch_size=100)
    torch.manual_seed(seed)
    model = ResNet9(widths=SMALL_WIDTHS)
    before = evaluate_batches(model, val_batches)["acc"]
    history = fit(model, train_batches, val_batches, epochs=epochs, label_smoothing=0.0)
    assert [r["epoch"] for r in history] == list(range(1, epochs + 1))
    return before, history[-1]["val_acc"]


def train_synthetic(out: Path, seed: int = 0, epochs: int = 6):  # -> cifarlab.train.RunResult
    """A finished `cifarlab train` run on the synthetic shapes: narrow widths, `epochs` epochs
    of the whole smoke-sized set (about 20 s on two cores)."""
    from cifarlab.profile import get_profile
    from cifarlab.train import TrainConfig, train

    profile = get_profile("smoke").with_overrides(limit_batches=None, lr_find_steps=20)
    config = TrainConfig(
        out=str(out),
        profile=profile,
        source="synthetic",
        epochs=epochs,
        seed=seed,
        extra={"widths": SMALL_WIDTHS},
        **PINNED,
    )
    return train(config)


def cam_localisation(model: torch.nn.Module, mean, std, test: ImageSet, layer: str) -> dict[str, float]:
    """GradCAM for the true class at `layer`, scored against each image's object mask:

    ratio: mean mass inside the mask / mean share of the image the masks cover (1: blind);
    above: fraction of images whose mass beats their own mask's share.
    control_ratio, control_above: the same maps scored against *another* image's mask (the
    test set rolled by one): what a map that ignores where the object is would score.
    """
    from cifarlab.augment import normalize_batch
    from cifarlab.gradcam import gradcam, mass_in_mask

    x = normalize_batch(test.images, mean, std)
    cams = gradcam(model, x, layer, targets=test.labels)
    assert cams.shape == (len(test), 32, 32) and cams.min() >= 0 and cams.max() <= 1 + 1e-6

    def score(masks) -> tuple[float, float]:
        mass, share = mass_in_mask(cams, masks), masks.mean(axis=(1, 2))
        return float(mass.mean() / share.mean()), float((mass > share).mean())

    ratio, above = score(test.masks)
    control_ratio, control_above = score(np.roll(test.masks, 1, axis=0))
    return {"ratio": ratio, "above": above, "control_ratio": control_ratio, "control_above": control_above}


def small_cnn_accuracy(seed: int = 0) -> float:
    """Test accuracy of a three-layer CNN after 4 epochs of Adam on 2,000 synthetic shapes."""
    from torch import nn

    from cifarlab.data.synthetic import load_synthetic

    torch.manual_seed(seed)
    train, test = load_synthetic(2000, 500, seed=0)

    def as_tensor(s):
        return torch.tensor(s.images).permute(0, 3, 1, 2).float() / 255 - 0.5

    x, y = as_tensor(train), torch.tensor(train.labels)
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    )  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(4):
        for batch in torch.randperm(len(x)).split(64):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        return (model(as_tensor(test)).argmax(1) == torch.tensor(test.labels)).float().mean().item()


def synthetic_test_set() -> ImageSet:
    """Synthetic test images with object masks, from a stream the models never trained on."""
    return make_synthetic(300, seed=5, split="test")
