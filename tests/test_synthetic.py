import numpy as np

from cifarlab.data import make_synthetic
from cifarlab.data.synthetic import SHAPES, load_synthetic

from .figures import small_cnn_accuracy


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
    """Shape, not background, carries the class: a tiny CNN learns it in seconds on the CPU.
    Measured over seeds 0-4, AVX-512 (1 and 2 threads) and AVX2 kernels, torch 2.14.1 and
    2.15.0 (benchmarks/threshold_spread.py): 0.982 - 1.000 (mean 0.991, sd 0.006); chance is 0.1."""
    accuracy = small_cnn_accuracy(seed=0)
    assert accuracy > 0.95, f"a small CNN reached only {accuracy:.2f} (chance is 0.10)"
