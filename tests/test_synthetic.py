import numpy as np

from cifarlab.data import make_synthetic
from cifarlab.data.synthetic import SHAPES, load_synthetic


def test_form_balance_and_masks():
    data = make_synthetic(200, seed=0)
    assert data.images.shape == (200, 32, 32, 3) and data.images.dtype == np.uint8
    assert data.classes == SHAPES and len(SHAPES) == 10
    assert set(data.class_counts().values()) == {20}
    areas = data.masks.reshape(200, -1).mean(axis=1)
    assert areas.min() > 0.02 and areas.max() < 0.6  # every object visible, none fills the frame


def test_object_stands_out_from_its_background():
    data = make_synthetic(100, seed=1)
    for image, mask in zip(data.images.astype(float), data.masks):
        inside, outside = image[mask].mean(axis=0), image[~mask].mean(axis=0)
        assert np.abs(inside - outside).mean() > 15


def test_seeded_reproducible_and_test_split_differs():
    a, b = make_synthetic(30, seed=5), make_synthetic(30, seed=5)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.masks, b.masks)
    train, test = load_synthetic(30, 30, seed=5)
    assert not np.array_equal(train.images, test.images)
    assert not np.array_equal(make_synthetic(30, seed=6).images, a.images)


def test_learnable_by_a_small_cnn():
    """Shape, not background, carries the class: a tiny CNN learns it in seconds on the CPU."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    train, test = load_synthetic(2000, 500, seed=0)
    as_tensor = lambda s: torch.tensor(s.images).permute(0, 3, 1, 2).float() / 255 - 0.5  # noqa: E731
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
        accuracy = (model(as_tensor(test)).argmax(1) == torch.tensor(test.labels)).float().mean().item()
    assert accuracy > 0.5, f"a small CNN reached only {accuracy:.2f} (chance is 0.10)"
